/* Clock, watchdog, restart and identity: esp_timer milliseconds, the task watchdog fed per completed cycle, the serial from the factory MAC. */
#include "esp_log.h"
#include "esp_mac.h"
#include "esp_system.h"
#include "esp_task_wdt.h"
#include "esp_timer.h"
#include "alfa/esp32/sys.h"
#include "esp32_idf.h"

static uint32_t now_ms(void *user)
{
    (void)user;
    return alfa_esp32_ms_from_us(esp_timer_get_time());
}

/* SPEC.md §12: the core calls this only after a completed 2-s cycle; a pack task that stops
 * completing cycles stops feeding, and the 10-s task watchdog restarts the board. */
static void watchdog_feed(void *user)
{
    alfa_esp32_t *b = user;
    if (esp_task_wdt_reset() != ESP_OK) {
        b->errors++;
    }
}

static void reboot(void *user)
{
    (void)user;
    esp_restart();
}

int32_t alfa_esp32_sys_init(alfa_esp32_t *b)
{
    uint8_t mac[6];
    if (esp_efuse_mac_get_default(mac) != ESP_OK || alfa_esp32_serial_from_mac(mac, &b->serial) != ALFA_PORT_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "factory MAC unreadable: no serial");
        return ALFA_PORT_E_IO;
    }
    /* The calling task is the pack task: it alone is watched. */
    if (esp_task_wdt_add(NULL) != ESP_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "task watchdog refused the pack task");
        return ALFA_PORT_E_IO;
    }
    b->port.now_ms = now_ms;
    b->port.watchdog_feed = watchdog_feed;
    b->port.reboot = reboot;
    return ALFA_PORT_OK;
}
