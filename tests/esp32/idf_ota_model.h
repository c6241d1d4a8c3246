/* A model of ESP-IDF v5.5's app_update and 2nd-stage bootloader (otadata, handles, rollback) for the ESP32 slot port's host tests. */
#ifndef IDF_OTA_MODEL_H
#define IDF_OTA_MODEL_H

/*
 * What it models, read from ESP-IDF v5.5.5 (components/app_update/esp_ota_ops.c,
 * bootloader_support/src/bootloader_utility.c, bootloader_common_loader.c), with
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y, two ota_N partitions and no factory app:
 *  - otadata: two entries {seq, state, crc}; an entry is valid when its seq is not 0xFFFFFFFF, its
 *    CRC holds and its state is neither INVALID nor ABORTED; the active entry is the valid one with the
 *    highest seq; it selects slot (seq - 1) % 2.
 *  - esp_ota_begin(next, OTA_WITH_SEQUENTIAL_WRITES): refuses while the running app's entry is
 *    PENDING_VERIFY, erases nothing, erases the inactive entry unless it names the running slot; its
 *    handle has need_erase set. esp_ota_resume: a handle without need_erase, byte count = offset.
 *  - esp_ota_write_with_offset asserts need_erase == 0 (recorded here as `asserts`); esp_ota_end
 *    refuses a handle whose byte count is 0, checks the image (first byte 0xE9 here) and frees the
 *    handle whatever happens.
 *  - esp_ota_set_boot_partition: checks the image, writes the next seq for the slot into the inactive
 *    entry with state NEW. esp_ota_mark_app_valid_cancel_rollback: the active entry becomes VALID.
 *    esp_ota_mark_app_invalid_rollback_and_reboot: refused (ROLLBACK_FAILED) unless the other entry is
 *    valid and its slot holds an image; else the active entry becomes INVALID and the chip restarts.
 *  - the bootloader: every PENDING_VERIFY entry becomes ABORTED; both invalid -> ota_0 (writing
 *    {seq 1, VALID} when otadata was blank); else the active entry's slot, NEW -> PENDING_VERIFY; an
 *    image that does not check is skipped for the other slot.
 * Partitions are NOR flash: programming a byte that is not erased is a rule break (counted).
 */

#include <stdint.h>
#include "alfa/esp32/flash.h"
#include "alfa/esp32/ota.h"

#define IDF_PART_SIZE (12u * 4096u)
#define IDF_HANDLES 4u

typedef struct idf_entry {
    uint32_t seq, state;
    int crc_ok;
} idf_entry_t;

typedef struct idf_model idf_model_t;

typedef struct idf_part {
    idf_model_t *m;
    uint8_t slot;                     /* physical ota_N */
} idf_part_t;

struct idf_model {
    uint8_t flash[2][IDF_PART_SIZE];
    idf_entry_t otadata[2];
    idf_part_t part[2];
    uint8_t running;                  /* ota_N the app runs from */
    struct {
        uint32_t id, wrote;
        int used, need_erase;
    } h[IDF_HANDLES];
    uint32_t last_handle;
    /* what happened */
    uint32_t rule_breaks, asserts, restarts, rollbacks, boots, begins, resumes, ends, writes, erases;
    int restart_requested;            /* esp_restart was called (or the rollback restarted) */
    int fail_set_boot;                /* the next set_boot fails with ESP_ERR_FLASH_OP_FAIL */
};

/* A blank board flashed over serial with `image` (len bytes) in ota_0; otadata blank. */
void idf_model_init(idf_model_t *m, const uint8_t *image, uint32_t len);
/* The 2nd-stage bootloader: -1 when no slot holds an image, else the slot it starts. Handles are gone. */
int idf_model_boot(idf_model_t *m);

/* The ESP-IDF calls (ctx = the model) and the partitions (ctx = &m->part[slot]). */
extern const alfa_esp32_ota_ops_t idf_model_ops;
extern const alfa_esp32_flash_ops_t idf_model_flash_ops;
/* The slot logic on the model as ESP-IDF sees it now (running / next partitions). */
int32_t idf_model_port(idf_model_t *m, alfa_esp32_ota_t *o);
/* Handles ESP-IDF still holds (a leak when the port forgets one). */
uint32_t idf_model_open_handles(const idf_model_t *m);
/* esp_ota_get_state_partition of ota_N: ESP_OK or ESP_ERR_NOT_FOUND, *state. */
int32_t idf_model_state(const idf_model_t *m, uint8_t slot, uint32_t *state);

#endif
