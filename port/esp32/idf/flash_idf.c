/* The settings store's region: the raw `alfastore` data partition (subtype 0x40) through esp_partition_*, behind the tested adapter. */
#include "esp_log.h"
#include "esp_partition.h"
#include "alfa/esp32/flash.h"
#include "esp32_idf.h"

#define ALFASTORE_SUBTYPE ((esp_partition_subtype_t)0x40)
#define ALFASTORE_LABEL "alfastore"

static const esp_partition_t *P(void *ctx) { return (const esp_partition_t *)ctx; }
static int32_t rc_of(esp_err_t e) { return e == ESP_OK ? ALFA_PORT_OK : e == ESP_ERR_INVALID_SIZE ? ALFA_PORT_E_RANGE : ALFA_PORT_E_IO; }

static int32_t op_read(void *ctx, uint32_t off, void *buf, uint32_t len) { return rc_of(esp_partition_read(P(ctx), off, buf, len)); }
static int32_t op_read_raw(void *ctx, uint32_t off, void *buf, uint32_t len) { return rc_of(esp_partition_read_raw(P(ctx), off, buf, len)); }
static int32_t op_write(void *ctx, uint32_t off, const void *buf, uint32_t len) { return rc_of(esp_partition_write(P(ctx), off, buf, len)); }
static int32_t op_erase(void *ctx, uint32_t off, uint32_t len) { return rc_of(esp_partition_erase_range(P(ctx), off, len)); }

/* Any partition through the adapter: ctx = its esp_partition_t (the settings store here, the firmware slots in ota_idf.c). */
const alfa_esp32_flash_ops_t alfa_esp32_partition_ops = {op_read, op_read_raw, op_write, op_erase};

/* port.h's flash callbacks receive the port's `user` (the board): hand the adapter its own object. */
static int32_t fl_read(void *user, uint32_t addr, void *buf, uint32_t len)
{
    return alfa_esp32_flash_read(&((alfa_esp32_t *)user)->flash, addr, buf, len);
}
static int32_t fl_prog(void *user, uint32_t addr, const void *buf, uint32_t len)
{
    return alfa_esp32_flash_prog(&((alfa_esp32_t *)user)->flash, addr, buf, len);
}
static int32_t fl_erase(void *user, uint32_t block) { return alfa_esp32_flash_erase(&((alfa_esp32_t *)user)->flash, block); }

int32_t alfa_esp32_flash_open(alfa_esp32_t *b)
{
    const esp_partition_t *part = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ALFASTORE_SUBTYPE, ALFASTORE_LABEL);
    if (part == NULL) {
        /* The pack then runs on defaults with "settings store corrupt" raised: visible, not fatal. */
        ESP_LOGE(ALFA_ESP32_TAG, "no '%s' partition (data, 0x40): settings will not be kept", ALFASTORE_LABEL);
        return ALFA_PORT_E_IO;
    }
    int32_t rc = alfa_esp32_flash_init(&b->flash, &alfa_esp32_partition_ops, (void *)part, (uint32_t)part->size, part->encrypted);
    if (rc != ALFA_PORT_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "'%s' is %u bytes: not a whole number (>= 2) of 4-KiB sectors", ALFASTORE_LABEL,
                 (unsigned)part->size);
        return rc;
    }
    b->partition = part;
    b->port.flash_geom = &b->flash.geom;
    b->port.flash_read = fl_read;
    b->port.flash_prog = fl_prog;
    b->port.flash_erase = fl_erase;
    return ALFA_PORT_OK;
}
