/* The four relays and three status LEDs on plain GPIO outputs, with the board's drive polarity; levels are set before the outputs are enabled. */
#include "driver/gpio.h"
#include "esp_log.h"
#include "alfa/esp32/sys.h"
#include "esp32_idf.h"

static alfa_esp32_t *B(void *user) { return (alfa_esp32_t *)user; }

static void drive(alfa_esp32_t *b, const int8_t *pins, uint32_t count, uint32_t on, uint32_t on_level)
{
    uint32_t levels = alfa_esp32_levels(on, count, on_level);
    for (uint32_t i = 0; i < count; i++) {
        if (gpio_set_level((gpio_num_t)pins[i], (levels >> i) & 1u) != ESP_OK) {
            b->errors++;
        }
    }
}

/* The core has applied the NC/NO contact polarity; this is the coil driver's level only. */
static void relays_set(void *user, uint8_t energised)
{
    alfa_esp32_t *b = B(user);
    b->relays_mask = energised;
    drive(b, b->pins.relay, ALFA_RELAY_COUNT, energised, b->pins.relay_on_level);
}

static void status_leds_set(void *user, uint8_t on)
{
    alfa_esp32_t *b = B(user);
    b->leds_mask = on;
    drive(b, b->pins.led, 3u, on, b->pins.led_on_level);
}

static int32_t outputs(const int8_t *pins, uint32_t count, uint32_t on_level)
{
    uint32_t off = alfa_esp32_levels(0u, count, on_level);
    for (uint32_t i = 0; i < count; i++) {
        const gpio_config_t gc = {.pin_bit_mask = 1ull << pins[i], .mode = GPIO_MODE_OUTPUT};
        /* Output register first, driver second: the pin never shows the opposite level. */
        if (gpio_set_level((gpio_num_t)pins[i], (off >> i) & 1u) != ESP_OK || gpio_config(&gc) != ESP_OK) {
            ESP_LOGE(ALFA_ESP32_TAG, "GPIO%d refused as an output", pins[i]);
            return ALFA_PORT_E_IO;
        }
    }
    return ALFA_PORT_OK;
}

int32_t alfa_esp32_gpio_init(alfa_esp32_t *b)
{
    int32_t rc = outputs(b->pins.relay, ALFA_RELAY_COUNT, b->pins.relay_on_level);
    if (rc == ALFA_PORT_OK) {
        rc = outputs(b->pins.led, 3u, b->pins.led_on_level);
    }
    b->port.relays_set = relays_set;
    b->port.status_leds_set = status_leds_set;
    return rc;
}
