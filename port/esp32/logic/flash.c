/* Flash adapter over a raw partition: the store's geometry, bounds, blank-before-program and encrypted blanks (no ESP-IDF headers: host-tested). */
#include "alfa/esp32/flash.h"

static alfa_esp32_flash_t *F(void *user) { return (alfa_esp32_flash_t *)user; }

static bool inside(const alfa_esp32_flash_t *f, uint32_t addr, uint32_t len)
{
    uint32_t size = f->geom.block_size * f->geom.block_count;
    return addr <= size && len <= size - addr;
}

static int32_t counted(alfa_esp32_flash_t *f, int32_t rc)
{
    if (rc < 0) {
        f->errors++;
    }
    return rc;
}

int32_t alfa_esp32_flash_init(alfa_esp32_flash_t *f, const alfa_esp32_flash_ops_t *ops, void *ctx, uint32_t size,
                              bool encrypted)
{
    if (f == 0 || ops == 0 || ops->read == 0 || ops->write == 0 || ops->erase == 0 || (encrypted && ops->read_raw == 0) ||
        size % ALFA_ESP32_FLASH_SECTOR != 0u || size / ALFA_ESP32_FLASH_SECTOR < 2u) {
        return ALFA_PORT_E_RANGE;
    }
    *f = (alfa_esp32_flash_t){
        .ops = ops,
        .ctx = ctx,
        .geom = {.block_size = ALFA_ESP32_FLASH_SECTOR, .block_count = size / ALFA_ESP32_FLASH_SECTOR,
                 .prog_size = ALFA_ESP32_FLASH_UNIT, .erased_value = 0xFFu},
        .encrypted = encrypted ? 1u : 0u,
    };
    return ALFA_PORT_OK;
}

static bool unit_erased(const uint8_t *u)
{
    for (uint32_t i = 0; i < ALFA_ESP32_FLASH_UNIT; i++) {
        if (u[i] != 0xFFu) {
            return false;
        }
    }
    return true;
}

int32_t alfa_esp32_flash_read(void *user, uint32_t addr, void *buf, uint32_t len)
{
    alfa_esp32_flash_t *f = F(user);
    if (buf == 0 || !inside(f, addr, len)) {
        f->refused++;
        return ALFA_PORT_E_RANGE;
    }
    int32_t rc = counted(f, f->ops->read(f->ctx, addr, buf, len));
    if (rc < 0 || !f->encrypted || len == 0u) {
        return rc;
    }
    /* Decrypting an erased unit yields noise: report units that are raw-erased as erased. */
    uint8_t *out = buf;
    uint32_t first = addr / ALFA_ESP32_FLASH_UNIT, last = (addr + len - 1u) / ALFA_ESP32_FLASH_UNIT;
    for (uint32_t u = first; u <= last; u++) {
        uint8_t raw[ALFA_ESP32_FLASH_UNIT];
        rc = counted(f, f->ops->read_raw(f->ctx, u * ALFA_ESP32_FLASH_UNIT, raw, ALFA_ESP32_FLASH_UNIT));
        if (rc < 0) {
            return rc;
        }
        if (unit_erased(raw)) {
            uint32_t lo = u * ALFA_ESP32_FLASH_UNIT > addr ? u * ALFA_ESP32_FLASH_UNIT : addr;
            uint32_t hi = (u + 1u) * ALFA_ESP32_FLASH_UNIT < addr + len ? (u + 1u) * ALFA_ESP32_FLASH_UNIT : addr + len;
            for (uint32_t a = lo; a < hi; a++) {
                out[a - addr] = 0xFFu;
            }
        }
    }
    return ALFA_PORT_OK;
}

int32_t alfa_esp32_flash_prog(void *user, uint32_t addr, const void *buf, uint32_t len)
{
    alfa_esp32_flash_t *f = F(user);
    if (buf == 0 || len == 0u || addr % ALFA_ESP32_FLASH_UNIT != 0u || len % ALFA_ESP32_FLASH_UNIT != 0u ||
        !inside(f, addr, len)) {
        f->refused++;
        return ALFA_PORT_E_RANGE;
    }
    for (uint32_t a = addr; a < addr + len; a += ALFA_ESP32_FLASH_UNIT) {
        uint8_t raw[ALFA_ESP32_FLASH_UNIT];
        int32_t (*rd)(void *, uint32_t, void *, uint32_t) = f->encrypted ? f->ops->read_raw : f->ops->read;
        int32_t rc = counted(f, rd(f->ctx, a, raw, ALFA_ESP32_FLASH_UNIT));
        if (rc < 0) {
            return rc;
        }
        if (!unit_erased(raw)) {
            f->refused++;
            return ALFA_PORT_E_REPROG; /* NOR would AND the bits: never let that happen silently */
        }
    }
    return counted(f, f->ops->write(f->ctx, addr, buf, len));
}

int32_t alfa_esp32_flash_erase(void *user, uint32_t block)
{
    alfa_esp32_flash_t *f = F(user);
    if (block >= f->geom.block_count) {
        f->refused++;
        return ALFA_PORT_E_RANGE;
    }
    return counted(f, f->ops->erase(f->ctx, block * ALFA_ESP32_FLASH_SECTOR, ALFA_ESP32_FLASH_SECTOR));
}
