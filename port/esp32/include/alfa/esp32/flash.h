/* The settings store's flash region on a raw ESP-IDF data partition: geometry, bounds, the encrypted-blank rule (port/esp32/logic/flash.c). */
#ifndef ALFA_ESP32_FLASH_H
#define ALFA_ESP32_FLASH_H

/*
 * The partition `alfastore` (data, subtype 0x40, 16 KiB; docs/store.md "ESP32 raw partition plan")
 * is the store's region: 4 KiB erase blocks (the flash sector), 16-byte program units (what flash
 * encryption writes), erased 0xFF. The adapter checks every request against that geometry before it
 * reaches the partition, and refuses to program a unit that is not erased (ALFA_PORT_E_REPROG, as the
 * flash simulator does) instead of silently ANDing bits.
 *
 * Encrypted partitions: an erased sector read through decryption is not 0xFF. For each 16-byte unit
 * the adapter reads the raw bytes and reports a raw-erased unit as 0xFF, so the store's blank checks
 * hold whether or not encryption is on.
 *
 * The partition is reached through four operations (idf/flash.c maps them onto esp_partition_read,
 * _read_raw, _write, _erase_range); each returns 0 or a negative alfa_port_err_t. The callbacks below
 * have the port.h signatures with `user` = the alfa_esp32_flash_t.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/port.h"

#define ALFA_ESP32_FLASH_SECTOR 4096u
#define ALFA_ESP32_FLASH_UNIT 16u

typedef struct alfa_esp32_flash_ops {
    int32_t (*read)(void *ctx, uint32_t off, void *buf, uint32_t len);      /* decrypted when encrypted */
    int32_t (*read_raw)(void *ctx, uint32_t off, void *buf, uint32_t len);  /* as stored; used when encrypted */
    int32_t (*write)(void *ctx, uint32_t off, const void *buf, uint32_t len);
    int32_t (*erase)(void *ctx, uint32_t off, uint32_t len);                /* whole sectors */
} alfa_esp32_flash_ops_t;

typedef struct alfa_esp32_flash {
    const alfa_esp32_flash_ops_t *ops;
    void *ctx;
    alfa_flash_geom_t geom;
    uint8_t encrypted;
    uint32_t errors;          /* operations the partition reported failed */
    uint32_t refused;         /* requests outside the geometry's rules */
} alfa_esp32_flash_t;

/* Adopt a partition of `size` bytes. ALFA_PORT_E_RANGE unless size is a whole number (>= 2) of sectors
 * and ops (with read_raw when `encrypted`) are given. */
int32_t alfa_esp32_flash_init(alfa_esp32_flash_t *f, const alfa_esp32_flash_ops_t *ops, void *ctx, uint32_t size,
                              bool encrypted);

int32_t alfa_esp32_flash_read(void *user, uint32_t addr, void *buf, uint32_t len);
int32_t alfa_esp32_flash_prog(void *user, uint32_t addr, const void *buf, uint32_t len);
int32_t alfa_esp32_flash_erase(void *user, uint32_t block);

#endif
