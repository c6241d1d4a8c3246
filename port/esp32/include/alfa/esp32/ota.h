/* The firmware slots on ESP-IDF's app_update: geometry, which slot is which, the OTA handle's life, states and errors (port/esp32/logic/ota.c). */
#ifndef ALFA_ESP32_OTA_H
#define ALFA_ESP32_OTA_H

/*
 * port.h's slot callbacks on the two `ota_N` app partitions, written against a table of ESP-IDF
 * calls (idf/ota_idf.c fills it, one call each; the host tests fill it with a model of ESP-IDF's OTA
 * state machine). Everything that decides lives here and is tested on the host:
 *
 *   slot_begin(0)   begin (esp_ota_begin(next, OTA_WITH_SEQUENTIAL_WRITES): refuses while the
 *                   running app is PENDING_VERIFY, erases nothing, invalidates the update slot's
 *                   otadata entry), then abort + resume(0) for a handle esp_ota_write_with_offset
 *                   accepts (a sequential-erase handle trips its assert)
 *   slot_begin(1)   the running app's state first (esp_ota_resume does not check it: PENDING_VERIFY
 *                   is ALFA_PORT_E_STATE here), then resume(0)
 *   slot_erase      UPDATE only, one whole sector: esp_partition_erase_range
 *   slot_write      UPDATE through the handle (esp_ota_write_with_offset; no handle: E_STATE);
 *                   RUNNING only inside its trailer sector, through the partition adapter (flash.h:
 *                   blank-before-program), never the running code
 *   slot_read       either slot through the partition adapter (raw-erased units read as erased when
 *                   the partitions are encrypted, so the core's blank checks hold)
 *   slot_end        the handle is taken again with image_offset = image_size, then esp_ota_end:
 *                   ESP-IDF refuses to end a handle "never written to", which is what a handle
 *                   resumed after a restart is when the slot already held every byte
 *   slot_set_boot   esp_ota_set_boot_partition(next) (it verifies the ESP-IDF image)
 *   slot_confirm    esp_ota_mark_app_valid_cancel_rollback
 *   slot_state      esp_ota_get_state_partition, mapped by alfa_esp32_ota_state_of
 *   reboot          running app PENDING_VERIFY (a trial that failed, or was told to restart):
 *                   esp_ota_mark_app_invalid_rollback_and_reboot, and if that returns (no slot to go
 *                   back to) esp_restart, after which the bootloader still turns PENDING_VERIFY into
 *                   ABORTED; otherwise esp_restart. A watchdog reset, a panic or a power cut on trial
 *                   takes the bootloader's path (PENDING_VERIFY -> ABORTED -> the previous slot).
 *
 * Every request is checked against the geometry before it reaches ESP-IDF (ALFA_PORT_E_RANGE, counted
 * in `refused`); an ESP-IDF error is counted in `errors`, kept in `last_err` for the log, and mapped
 * by alfa_esp32_ota_err. Callbacks have port.h's signatures with `user` = the alfa_esp32_ota_t.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/esp32/flash.h"
#include "alfa/port.h"

/* ESP-IDF values the logic maps (esp_err.h, esp_ota_ops.h, spi_flash_mmap.h, esp_flash_partitions.h);
 * idf/ota_idf.c asserts each equals ESP-IDF's own. */
#define ALFA_ESP32_ESP_OK 0
#define ALFA_ESP32_ESP_FAIL (-1)
#define ALFA_ESP32_ERR_NO_MEM 0x101
#define ALFA_ESP32_ERR_INVALID_ARG 0x102
#define ALFA_ESP32_ERR_INVALID_STATE 0x103
#define ALFA_ESP32_ERR_INVALID_SIZE 0x104
#define ALFA_ESP32_ERR_NOT_FOUND 0x105
#define ALFA_ESP32_ERR_OTA_VALIDATE_FAILED 0x1503
#define ALFA_ESP32_ERR_OTA_ROLLBACK_FAILED 0x1505
#define ALFA_ESP32_ERR_OTA_ROLLBACK_INVALID_STATE 0x1506
#define ALFA_ESP32_ERR_FLASH_OP_FAIL 0x6001
/* esp_ota_img_states_t */
#define ALFA_ESP32_IMG_NEW 0x0u
#define ALFA_ESP32_IMG_PENDING_VERIFY 0x1u
#define ALFA_ESP32_IMG_VALID 0x2u
#define ALFA_ESP32_IMG_INVALID 0x3u
#define ALFA_ESP32_IMG_ABORTED 0x4u
#define ALFA_ESP32_IMG_UNDEFINED 0xFFFFFFFFu

#define ALFA_ESP32_OTA_SECTOR 4096u  /* the partitions' erase size, and the trailer */
#define ALFA_ESP32_OTA_UNIT 16u      /* program unit: what flash encryption writes */

/* The ESP-IDF calls, each returning its esp_err_t (as int32_t). `which` is ALFA_SLOT_RUNNING or
 * ALFA_SLOT_UPDATE (esp_ota_get_running_partition / esp_ota_get_next_update_partition(NULL)). */
typedef struct alfa_esp32_ota_ops {
    int32_t (*begin)(void *ctx, uint32_t *handle);                          /* esp_ota_begin(next, OTA_WITH_SEQUENTIAL_WRITES) */
    int32_t (*resume)(void *ctx, uint32_t image_offset, uint32_t *handle);  /* esp_ota_resume(next, 0, image_offset) */
    int32_t (*write)(void *ctx, uint32_t handle, uint32_t off, const void *data, uint32_t len); /* esp_ota_write_with_offset */
    int32_t (*end)(void *ctx, uint32_t handle);                             /* esp_ota_end: frees the handle whatever it returns */
    int32_t (*abort)(void *ctx, uint32_t handle);                           /* esp_ota_abort */
    int32_t (*set_boot)(void *ctx);                                         /* esp_ota_set_boot_partition(next) */
    int32_t (*confirm)(void *ctx);                                          /* esp_ota_mark_app_valid_cancel_rollback */
    int32_t (*state)(void *ctx, uint8_t which, uint32_t *img_state);        /* esp_ota_get_state_partition */
    int32_t (*rollback)(void *ctx);   /* esp_ota_mark_app_invalid_rollback_and_reboot: returns only when it failed */
    void (*restart)(void *ctx);       /* esp_restart */
} alfa_esp32_ota_ops_t;

/* The two app partitions as ESP-IDF describes them. */
typedef struct alfa_esp32_ota_parts {
    uint32_t run_size, next_size;       /* esp_partition_t.size */
    uint32_t run_erase, next_erase;     /* esp_partition_t.erase_size */
    uint8_t run_is_ota, next_is_ota;    /* subtype ota_0..ota_15 (a factory app has no slots to update) */
    uint8_t run_encrypted, next_encrypted; /* esp_partition_t.encrypted (flash encryption on) */
} alfa_esp32_ota_parts_t;

typedef struct alfa_esp32_ota {
    const alfa_esp32_ota_ops_t *ops;
    void *ctx;
    alfa_slot_geom_t geom;
    alfa_esp32_flash_t part[2];         /* [ALFA_SLOT_RUNNING], [ALFA_SLOT_UPDATE]: raw partition access */
    uint32_t handle;
    uint8_t has_handle;
    int32_t last_err;                   /* the last ESP-IDF error (for the log), 0 when none */
    uint32_t errors;                    /* ESP-IDF calls that failed */
    uint32_t refused;                   /* requests outside the geometry or the slot rules */
} alfa_esp32_ota_t;

/* What a reboot did (alfa_esp32_ota_reboot). */
typedef enum alfa_esp32_reboot {
    ALFA_ESP32_REBOOT_RESTART = 0,       /* esp_restart */
    ALFA_ESP32_REBOOT_ROLLBACK = 1,      /* marked invalid and restarted (returns only in tests) */
    ALFA_ESP32_REBOOT_ROLLBACK_FAILED = 2, /* marking refused: esp_restart, the bootloader aborts the trial */
} alfa_esp32_reboot_t;

/* The slots' geometry from the partitions: both ota_N, the same size, 4-KiB erase, at least two
 * sectors. ALFA_PORT_E_RANGE otherwise (the board then takes no updates). */
int32_t alfa_esp32_ota_geom(const alfa_esp32_ota_parts_t *p, alfa_slot_geom_t *g);

/* Adopt the partitions: `flash_ops` with `run_ctx` / `next_ctx` reach them raw (flash.h), `ops` with
 * `ctx` are the OTA calls. ALFA_PORT_E_RANGE when alfa_esp32_ota_geom refuses or an op is missing. */
int32_t alfa_esp32_ota_init(alfa_esp32_ota_t *o, const alfa_esp32_ota_ops_t *ops, void *ctx,
                            const alfa_esp32_flash_ops_t *flash_ops, void *run_ctx, void *next_ctx,
                            const alfa_esp32_ota_parts_t *parts);

/* esp_err_t -> alfa_port_err_t: ESP_OK 0; ESP_ERR_OTA_ROLLBACK_INVALID_STATE (running app not
 * confirmed) ALFA_PORT_E_STATE; ESP_ERR_INVALID_SIZE ALFA_PORT_E_RANGE; every other error ALFA_PORT_E_IO. */
int32_t alfa_esp32_ota_err(int32_t esp_err);

/* esp_ota_get_state_partition's answer (its esp_err_t and state) -> alfa_slot_state_t. ESP_ERR_NOT_FOUND
 * (no otadata entry) is EMPTY for the update slot and VALID for the running one (an image flashed over
 * serial: nothing to confirm); ESP_OTA_IMG_UNDEFINED (rollback off) is VALID; another error counts as
 * no entry; an unknown state value is INVALID (never booted). */
alfa_slot_state_t alfa_esp32_ota_state_of(int32_t esp_err, uint32_t img_state, uint8_t which);

/* port.h's slot callbacks, `user` = the alfa_esp32_ota_t. */
int32_t alfa_esp32_slot_begin(void *user, uint8_t resume);
int32_t alfa_esp32_slot_erase(void *user, uint8_t which, uint32_t sector);
int32_t alfa_esp32_slot_write(void *user, uint8_t which, uint32_t offset, const void *data, uint32_t len);
int32_t alfa_esp32_slot_read(void *user, uint8_t which, uint32_t offset, void *buf, uint32_t len);
int32_t alfa_esp32_slot_end(void *user, uint32_t image_size);
int32_t alfa_esp32_slot_set_boot(void *user);
int32_t alfa_esp32_slot_confirm(void *user);
alfa_slot_state_t alfa_esp32_slot_state(void *user, uint8_t which);

/* The port's reboot: a roll-back when the running app is on trial (above), else a plain restart. On
 * the board it does not return; the tests' ops return, and the result says which path was taken. */
alfa_esp32_reboot_t alfa_esp32_ota_reboot(alfa_esp32_ota_t *o);

#endif
