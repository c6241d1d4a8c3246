/* The TM1637 display, bit-banged on two open-drain GPIOs by a low-priority task: segments_set only queues the newest digits. */
#include "driver/gpio.h"
#include "esp_log.h"
#include "esp_rom_sys.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "alfa/esp32/tm1637.h"
#include "esp32_idf.h"

#define TM_STACK 2048
#define TM_PRIORITY (tskIDLE_PRIORITY + 1) /* below the pack task: a preempted clock only stretches */

static alfa_esp32_t *B(void *user) { return (alfa_esp32_t *)user; }

static void segments_set(void *user, const uint8_t segments[ALFA_SEG_DIGITS])
{
    /* A one-slot queue overwritten: the display shows the newest digits, never a backlog. */
    (void)xQueueOverwrite((QueueHandle_t)B(user)->tm_queue, segments); /* cannot fail on a one-slot queue */
}

static void tm_task(void *arg)
{
    alfa_esp32_t *b = arg;
    const gpio_num_t clk = (gpio_num_t)b->pins.tm1637_clk, dio = (gpio_num_t)b->pins.tm1637_dio;
    alfa_tm1637_step_t steps[ALFA_TM1637_STEPS_MAX];
    uint8_t seg[ALFA_SEG_DIGITS];
    for (;;) {
        if (xQueueReceive((QueueHandle_t)b->tm_queue, seg, portMAX_DELAY) != pdTRUE) {
            continue;
        }
        uint32_t n = alfa_tm1637_build(seg, ALFA_TM1637_BRIGHTNESS, steps, ALFA_TM1637_STEPS_MAX);
        for (uint32_t i = 0; i < n; i++) {
            (void)gpio_set_level(steps[i].line == ALFA_TM1637_LINE_CLK ? clk : dio, steps[i].level); /* valid pin, checked at init */
            esp_rom_delay_us(steps[i].hold_us);
            /* A missing ACK (DIO high in the ninth clock) means no display is connected: nothing to do
             * about it here, the next update tries again. */
        }
    }
}

int32_t alfa_esp32_tm1637_init(alfa_esp32_t *b)
{
    const int8_t pins[2] = {b->pins.tm1637_clk, b->pins.tm1637_dio};
    for (uint32_t i = 0; i < 2u; i++) {
        /* Released (high) before the driver is enabled: no stray START at boot. The module carries
         * the pull-ups (see the GPIO12 strapping caution in firmware/esp32/README.md). */
        const gpio_config_t gc = {.pin_bit_mask = 1ull << pins[i], .mode = GPIO_MODE_INPUT_OUTPUT_OD};
        if (gpio_set_level((gpio_num_t)pins[i], 1) != ESP_OK || gpio_config(&gc) != ESP_OK) {
            ESP_LOGE(ALFA_ESP32_TAG, "TM1637: GPIO%d refused", pins[i]);
            return ALFA_PORT_E_IO;
        }
    }
    QueueHandle_t q = xQueueCreate(1, ALFA_SEG_DIGITS);
    if (q == NULL) {
        return ALFA_PORT_E_IO;
    }
    b->tm_queue = q;
    if (xTaskCreate(tm_task, "alfa_tm1637", TM_STACK, b, TM_PRIORITY, NULL) != pdPASS) {
        return ALFA_PORT_E_IO;
    }
    b->port.segments_set = segments_set;
    return ALFA_PORT_OK;
}
