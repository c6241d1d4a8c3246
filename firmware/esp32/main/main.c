/* The Alfaspark pack controller on the ESP32: one FreeRTOS task brings up the port and runs alfa_pack_process. */
#include <inttypes.h>
#include "esp_log.h"
#include "esp_system.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "freertos/idf_additions.h" /* xTaskCreatePinnedToCore */
#include "alfa/esp32/esp32_port.h"
#include "alfa/model.h"
#include "alfa/pack.h"
#include "board.h"

#define TAG "alfaspark"
/* From -fstack-usage (`make size`): the deepest pack_process path plus ESP-IDF's calls and ISR frames; the
 * update's signature check (mbedtls_ecdsa_verify, measured by `make idf-check`) is one of those paths. */
#define PACK_STACK_BYTES 4096
#define PACK_PRIORITY 5
#define RETRY_MS 10000

static alfa_esp32_t board; /* the port's whole state */
static alfa_pack_t pack;   /* core, settings store, BMS poller, CAN node, firmware update */

static const char *boot_name(alfa_pack_boot_t b)
{
    return b == ALFA_PACK_BOOT_RESTORED ? "settings restored"
           : b == ALFA_PACK_BOOT_FACTORY ? "factory settings (reset)"
           : b == ALFA_PACK_BOOT_DEFAULTS ? "defaults (store blank or corrupt)"
                                           : "defaults (no settings partition)";
}

/* The update's story on the console, one line per change of its state or result (the gateway sees it on CAN). */
static void log_update(uint16_t *shown)
{
    const alfa_fwu_t *u = alfa_pack_fwu(&pack);
    uint8_t st = (uint8_t)alfa_fwu_state(u), res = (uint8_t)alfa_fwu_result(u);
    uint16_t now = (uint16_t)((uint16_t)st << 8 | res);
    if (now == *shown) {
        return;
    }
    *shown = now;
    alfa_fw_version_t v = alfa_core_fw_version(alfa_pack_core(&pack));
    ESP_LOGI(TAG, "firmware %u.%u.%u: update %s (%s)", v.major, v.minor, v.patch, alfa_fwu_state_name(st),
             alfa_fwu_result_name(res));
}

static void halt(const char *what, int32_t rc)
{
    /* A board that cannot start its peripherals must not run the relays blind: say why, then retry
     * from a clean restart (the task watchdog would end a hang the same way). */
    ESP_LOGE(TAG, "%s failed (%" PRId32 "): restart in %d s", what, rc, RETRY_MS / 1000);
    vTaskDelay(pdMS_TO_TICKS(RETRY_MS));
    esp_restart();
}

static void pack_task(void *arg)
{
    (void)arg;
    const alfa_esp32_pins_t pins = ALFA_BOARD_PINS;
    int32_t rc = alfa_esp32_init(&board, &pins);
    if (rc != ALFA_PORT_OK) {
        halt("board bring-up", rc);
    }
    const alfa_pack_config_t cfg = {.serial = board.serial, .device_type = ALFA_DEV_PACK, .hw_class = ALFA_BOARD_HW_CLASS};
    alfa_err_t err = alfa_pack_init(&pack, &board.port, &cfg);
    if (err != ALFA_OK) {
        halt("pack start", err);
    }
    /* The running image's version: its slot's signed header, the build's for an image flashed over serial. */
    alfa_fw_version_t v = alfa_core_fw_version(alfa_pack_core(&pack));
    ESP_LOGI(TAG, "%s %u.%u.%u serial %012" PRIx64 ": %s", ALFA_FW_NAME, v.major, v.minor, v.patch, board.serial,
             boot_name(alfa_pack_boot_state(&pack)));
    uint16_t shown = (uint16_t)(ALFA_FWU_ST_IDLE << 8 | ALFA_FWU_R_OK);
    for (;;) {
        log_update(&shown);
        alfa_esp32_wait(&board, ALFA_ESP32_WAKE_MS);
        alfa_esp32_poll(&board);
        alfa_pack_process(&pack);
    }
}

void app_main(void)
{
    /* The last core: on the dual-core ESP32 the pack has the APP CPU to itself. */
    if (xTaskCreatePinnedToCore(pack_task, "alfa_pack", PACK_STACK_BYTES, NULL, PACK_PRIORITY, NULL,
                                portNUM_PROCESSORS - 1) != pdPASS) {
        ESP_LOGE(TAG, "no memory for the pack task");
    }
}
