/* The firmware slots on the two ota_N app partitions: esp_ota_* and esp_partition_* behind the tested slot logic, the signature check, the restart that rolls back a trial. */
#include "esp_err.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "spi_flash_mmap.h"
#include "alfa/esp32/fw_verify.h"
#include "alfa/esp32/ota.h"
#include "alfa/fw_keys.h"
#include "esp32_idf.h"

/* The logic maps ESP-IDF's numbers without its headers: they must be ESP-IDF's own. */
_Static_assert(ALFA_ESP32_ESP_OK == ESP_OK && ALFA_ESP32_ESP_FAIL == ESP_FAIL, "esp_err_t");
_Static_assert(ALFA_ESP32_ERR_NO_MEM == ESP_ERR_NO_MEM && ALFA_ESP32_ERR_INVALID_ARG == ESP_ERR_INVALID_ARG &&
                   ALFA_ESP32_ERR_INVALID_STATE == ESP_ERR_INVALID_STATE &&
                   ALFA_ESP32_ERR_INVALID_SIZE == ESP_ERR_INVALID_SIZE && ALFA_ESP32_ERR_NOT_FOUND == ESP_ERR_NOT_FOUND,
               "esp_err_t");
_Static_assert(ALFA_ESP32_ERR_OTA_VALIDATE_FAILED == ESP_ERR_OTA_VALIDATE_FAILED &&
                   ALFA_ESP32_ERR_OTA_ROLLBACK_FAILED == ESP_ERR_OTA_ROLLBACK_FAILED &&
                   ALFA_ESP32_ERR_OTA_ROLLBACK_INVALID_STATE == ESP_ERR_OTA_ROLLBACK_INVALID_STATE &&
                   ALFA_ESP32_ERR_FLASH_OP_FAIL == ESP_ERR_FLASH_OP_FAIL,
               "esp_ota_ops.h / spi_flash_mmap.h errors");
_Static_assert(ALFA_ESP32_IMG_NEW == ESP_OTA_IMG_NEW && ALFA_ESP32_IMG_PENDING_VERIFY == ESP_OTA_IMG_PENDING_VERIFY &&
                   ALFA_ESP32_IMG_VALID == ESP_OTA_IMG_VALID && ALFA_ESP32_IMG_INVALID == ESP_OTA_IMG_INVALID &&
                   ALFA_ESP32_IMG_ABORTED == ESP_OTA_IMG_ABORTED && ALFA_ESP32_IMG_UNDEFINED == ESP_OTA_IMG_UNDEFINED,
               "esp_ota_img_states_t");
_Static_assert(sizeof(esp_ota_handle_t) == sizeof(uint32_t), "the handle is kept as uint32_t");
_Static_assert(ALFA_ESP32_FW_KEY_SIZE == ALFA_FW_KEY_SIZE, "one key format");

static alfa_esp32_t *B(void *user) { return (alfa_esp32_t *)user; }
static const esp_partition_t *part(void *ctx, uint8_t which)
{
    return (const esp_partition_t *)B(ctx)->ota_part[which];
}

/* ---- the ESP-IDF calls, one each (ctx = the board) ---- */

static int32_t o_begin(void *ctx, uint32_t *h)
{
    esp_ota_handle_t x = 0;
    esp_err_t e = esp_ota_begin(part(ctx, ALFA_SLOT_UPDATE), OTA_WITH_SEQUENTIAL_WRITES, &x);
    *h = x;
    return e;
}

static int32_t o_resume(void *ctx, uint32_t image_offset, uint32_t *h)
{
    esp_ota_handle_t x = 0;
    esp_err_t e = esp_ota_resume(part(ctx, ALFA_SLOT_UPDATE), 0, image_offset, &x);
    *h = x;
    return e;
}

static int32_t o_write(void *ctx, uint32_t h, uint32_t off, const void *data, uint32_t len)
{
    (void)ctx;
    return esp_ota_write_with_offset(h, data, len, off);
}

static int32_t o_end(void *ctx, uint32_t h)
{
    (void)ctx;
    esp_err_t e = esp_ota_end(h);
    if (e != ESP_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "update slot: esp_ota_end: %s", esp_err_to_name(e));
    }
    return e;
}

static int32_t o_abort(void *ctx, uint32_t h)
{
    (void)ctx;
    return esp_ota_abort(h);
}

static int32_t o_set_boot(void *ctx)
{
    esp_err_t e = esp_ota_set_boot_partition(part(ctx, ALFA_SLOT_UPDATE));
    if (e == ESP_OK) {
        ESP_LOGI(ALFA_ESP32_TAG, "%s boots next, on trial", part(ctx, ALFA_SLOT_UPDATE)->label);
    } else {
        ESP_LOGE(ALFA_ESP32_TAG, "esp_ota_set_boot_partition(%s): %s", part(ctx, ALFA_SLOT_UPDATE)->label,
                 esp_err_to_name(e));
    }
    return e;
}

static int32_t o_confirm(void *ctx)
{
    esp_err_t e = esp_ota_mark_app_valid_cancel_rollback();
    if (e == ESP_OK) {
        ESP_LOGI(ALFA_ESP32_TAG, "%s passed its self-test: confirmed", part(ctx, ALFA_SLOT_RUNNING)->label);
    }
    return e;
}

static int32_t o_state(void *ctx, uint8_t which, uint32_t *img_state)
{
    esp_ota_img_states_t st = ESP_OTA_IMG_UNDEFINED;
    esp_err_t e = esp_ota_get_state_partition(part(ctx, which), &st);
    *img_state = (uint32_t)st;
    return e;
}

static int32_t o_rollback(void *ctx)
{
    ESP_LOGW(ALFA_ESP32_TAG, "%s was not confirmed: back to %s", part(ctx, ALFA_SLOT_RUNNING)->label,
             part(ctx, ALFA_SLOT_UPDATE)->label);
    esp_err_t e = esp_ota_mark_app_invalid_rollback_and_reboot(); /* returns only when it failed */
    ESP_LOGE(ALFA_ESP32_TAG, "rollback refused (%s): restarting, the bootloader aborts the trial", esp_err_to_name(e));
    return e;
}

static void o_restart(void *ctx)
{
    (void)ctx;
    esp_restart();
}

static const alfa_esp32_ota_ops_t ops = {o_begin, o_resume, o_write, o_end, o_abort, o_set_boot,
                                         o_confirm, o_state, o_rollback, o_restart};

/* ---- port.h's callbacks receive the board: hand the slot logic its own object ---- */

static int32_t sl_begin(void *u, uint8_t resume) { return alfa_esp32_slot_begin(&B(u)->ota, resume); }
static int32_t sl_erase(void *u, uint8_t which, uint32_t sector) { return alfa_esp32_slot_erase(&B(u)->ota, which, sector); }
static int32_t sl_write(void *u, uint8_t which, uint32_t off, const void *d, uint32_t len)
{
    return alfa_esp32_slot_write(&B(u)->ota, which, off, d, len);
}
static int32_t sl_read(void *u, uint8_t which, uint32_t off, void *buf, uint32_t len)
{
    return alfa_esp32_slot_read(&B(u)->ota, which, off, buf, len);
}
static int32_t sl_end(void *u, uint32_t image_size) { return alfa_esp32_slot_end(&B(u)->ota, image_size); }
static int32_t sl_set_boot(void *u) { return alfa_esp32_slot_set_boot(&B(u)->ota); }
static int32_t sl_confirm(void *u) { return alfa_esp32_slot_confirm(&B(u)->ota); }
static alfa_slot_state_t sl_state(void *u, uint8_t which) { return alfa_esp32_slot_state(&B(u)->ota, which); }

static int32_t fw_verify(void *u, const uint8_t digest[32], const uint8_t sig[64])
{
    (void)u;
    return alfa_esp32_fw_verify(alfa_fw_keys, alfa_fw_key_count, digest, sig);
}

static void reboot(void *u)
{
    /* On the board neither path returns (esp_restart); the result tells the host tests which was taken. */
    (void)alfa_esp32_ota_reboot(&B(u)->ota);
}

static bool is_ota(const esp_partition_t *p)
{
    return p != NULL && p->type == ESP_PARTITION_TYPE_APP && p->subtype >= ESP_PARTITION_SUBTYPE_APP_OTA_MIN &&
           p->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MAX;
}

int32_t alfa_esp32_ota_open(alfa_esp32_t *b)
{
    const esp_partition_t *run = esp_ota_get_running_partition();
    const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
    if (!is_ota(run) || !is_ota(next)) {
        ESP_LOGW(ALFA_ESP32_TAG, "not running from an ota_N partition with another beside it: no firmware updates");
        return ALFA_PORT_E_RANGE;
    }
    b->ota_part[ALFA_SLOT_RUNNING] = run;
    b->ota_part[ALFA_SLOT_UPDATE] = next;
    alfa_esp32_ota_parts_t p = {
        .run_size = (uint32_t)run->size, .next_size = (uint32_t)next->size,
        .run_erase = (uint32_t)run->erase_size, .next_erase = (uint32_t)next->erase_size,
        .run_is_ota = 1, .next_is_ota = 1,
        .run_encrypted = run->encrypted ? 1u : 0u, .next_encrypted = next->encrypted ? 1u : 0u,
    };
    int32_t rc = alfa_esp32_ota_init(&b->ota, &ops, b, &alfa_esp32_partition_ops, (void *)run, (void *)next, &p);
    if (rc != ALFA_PORT_OK) {
        ESP_LOGW(ALFA_ESP32_TAG, "%s and %s are not two slots of one size in 4-KiB sectors: no firmware updates",
                 run->label, next->label);
        return rc;
    }
    b->port.slot_geom = &b->ota.geom;
    b->port.slot_begin = sl_begin;
    b->port.slot_erase = sl_erase;
    b->port.slot_write = sl_write;
    b->port.slot_read = sl_read;
    b->port.slot_end = sl_end;
    b->port.slot_set_boot = sl_set_boot;
    b->port.slot_confirm = sl_confirm;
    b->port.slot_state = sl_state;
    b->port.fw_verify = fw_verify;
    b->port.reboot = reboot;
    ESP_LOGI(ALFA_ESP32_TAG, "running %s (%s); updates go to %s, images up to %u bytes, %u trusted key(s)", run->label,
             alfa_esp32_slot_state(&b->ota, ALFA_SLOT_RUNNING) == ALFA_SLOT_PENDING ? "on trial" : "confirmed",
             next->label, (unsigned)(b->ota.geom.slot_size - b->ota.geom.sector_size), (unsigned)alfa_fw_key_count);
    return ALFA_PORT_OK;
}
