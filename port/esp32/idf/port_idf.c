/* The ESP32 port assembled: pin checks, every peripheral's bring-up, the pack task's wait (CAN + UART events or the tick) and poll. */
#include <string.h>
#include "driver/gpio.h"
#include "driver/uart.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/semphr.h"
#include "esp32_idf.h"

#define UART_EVENTS 8 /* = uart485_idf.c's event queue */

static bool out_ok(int8_t pin) { return GPIO_IS_VALID_OUTPUT_GPIO(pin); }
static bool in_ok(int8_t pin) { return GPIO_IS_VALID_GPIO(pin); }

static int32_t pins_ok(const alfa_esp32_pins_t *p)
{
    bool ok = out_ok(p->rs485_tx) && in_ok(p->rs485_rx) && out_ok(p->rs485_de) && out_ok(p->can_tx) && in_ok(p->can_rx) &&
              out_ok(p->ws2812) && out_ok(p->tm1637_clk) && out_ok(p->tm1637_dio) && p->uart_num < UART_NUM_MAX;
    for (uint32_t i = 0; i < ALFA_RELAY_COUNT; i++) {
        ok = ok && out_ok(p->relay[i]) && in_ok(p->ct[i]);
    }
    for (uint32_t i = 0; i < 3u; i++) {
        ok = ok && out_ok(p->led[i]);
    }
    return ok ? ALFA_PORT_OK : ALFA_PORT_E_RANGE;
}

int32_t alfa_esp32_init(alfa_esp32_t *b, const alfa_esp32_pins_t *pins)
{
    memset(b, 0, sizeof *b);
    b->pins = *pins;
    b->port.user = b;
    if (pins_ok(pins) != ALFA_PORT_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "board pins do not exist on this chip (the board is an ESP32-WROOM-32)");
        return ALFA_PORT_E_RANGE;
    }
    int32_t rc = alfa_esp32_sys_init(b);
    rc = rc < 0 ? rc : alfa_esp32_gpio_init(b);
    if (rc == ALFA_PORT_OK && alfa_esp32_flash_open(b) != ALFA_PORT_OK) {
        b->port.flash_geom = NULL; /* run without persistence; the pack raises the fault */
    }
    if (rc == ALFA_PORT_OK && alfa_esp32_ota_open(b) != ALFA_PORT_OK) {
        b->port.slot_geom = NULL; /* no slots: the pack refuses updates (no_slots) and runs on */
    }
    rc = rc < 0 ? rc : alfa_esp32_twai_init(b);
    rc = rc < 0 ? rc : alfa_esp32_uart_init(b);
    rc = rc < 0 ? rc : alfa_esp32_adc_start(b);
    rc = rc < 0 ? rc : alfa_esp32_ws2812_init(b);
    rc = rc < 0 ? rc : alfa_esp32_tm1637_init(b);
    if (rc < 0) {
        return rc;
    }
    /* The pack task sleeps on one set: the TWAI ISR's semaphore and the UART driver's events. */
    SemaphoreHandle_t sem = xSemaphoreCreateBinary();
    QueueSetHandle_t set = xQueueCreateSet(UART_EVENTS + 1);
    if (sem == NULL || set == NULL || xQueueAddToSet(sem, set) != pdPASS ||
        xQueueAddToSet((QueueHandle_t)b->uart_events, set) != pdPASS) {
        ESP_LOGE(ALFA_ESP32_TAG, "wake-up set refused");
        return ALFA_PORT_E_IO;
    }
    b->can_sem = sem;
    b->wake_set = set;
    return ALFA_PORT_OK;
}

void alfa_esp32_wait(alfa_esp32_t *b, uint32_t max_ms)
{
    QueueSetMemberHandle_t m = xQueueSelectFromSet((QueueSetHandle_t)b->wake_set, pdMS_TO_TICKS(max_ms));
    if (m == (QueueSetMemberHandle_t)b->uart_events) {
        uart_event_t ev;
        (void)xQueueReceive((QueueHandle_t)b->uart_events, &ev, 0); /* selected: an event is there */
    } else if (m == (QueueSetMemberHandle_t)b->can_sem) {
        (void)xSemaphoreTake((SemaphoreHandle_t)b->can_sem, 0); /* selected: it is given */
    }
}

void alfa_esp32_poll(alfa_esp32_t *b)
{
    alfa_esp32_adc_drain(b);
    alfa_esp32_ws2812_flush(b);
}
