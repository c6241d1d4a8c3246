/* Two firmware slots and their boot records on the flash simulator, with an ESP-IDF-like bootloader (rollback, image check). */
#include "alfa/slot_sim.h"

#include <stdlib.h>
#include <string.h>

#include "alfa/bytes.h"
#include "alfa/fwimg.h"
#include "alfa/fwu.h"

#define OTADATA_SECTORS 2u
#define REC_SIZE 16u

typedef struct rec {
    uint32_t seq, state;
    int valid;
} rec_t;

static uint32_t slot_sectors(const alfa_slot_sim_t *s) { return s->geom.slot_size / s->geom.sector_size; }
static uint32_t slot_base(const alfa_slot_sim_t *s, uint8_t slot)
{
    return (OTADATA_SECTORS + (uint32_t)slot * slot_sectors(s)) * s->geom.sector_size;
}
static uint8_t update_slot(const alfa_slot_sim_t *s) { return (uint8_t)(1u - s->running); }

int alfa_slot_sim_init(alfa_slot_sim_t *s, const alfa_slot_geom_t *g, alfa_slot_sim_verify_fn verify, void *ctx)
{
    if (s == NULL || g == NULL || g->sector_size < 512u || g->prog_size == 0u || 16u % g->prog_size != 0u ||
        g->slot_size % g->sector_size != 0u || g->slot_size < 2u * g->sector_size) {
        return -1;
    }
    memset(s, 0, sizeof(*s));
    s->geom = *g;
    s->verify = verify;
    s->verify_ctx = ctx;
    alfa_flash_geom_t fg = {g->sector_size, OTADATA_SECTORS + 2u * (g->slot_size / g->sector_size), g->prog_size,
                            g->erased_value};
    return alfa_flash_sim_init(&s->flash, &fg);
}

void alfa_slot_sim_free(alfa_slot_sim_t *s)
{
    if (s != NULL) {
        alfa_flash_sim_free(&s->flash);
    }
}

/* ---------------------------------------------------------------- boot records */

static void read_recs(const alfa_slot_sim_t *s, rec_t r[2])
{
    for (uint32_t k = 0; k < 2u; k++) {
        const uint8_t *p = s->flash.mem + k * s->geom.sector_size;
        r[k].seq = alfa_get_le32(p);
        r[k].state = alfa_get_le32(p + 4);
        r[k].valid = r[k].seq != 0u && r[k].seq != 0xFFFFFFFFu && alfa_crc32(0, p, 8u) == alfa_get_le32(p + 8) &&
                     r[k].state <= ALFA_SLOT_ABORTED;
    }
}

static int active_rec(const rec_t r[2])
{
    if (r[0].valid && (!r[1].valid || r[0].seq >= r[1].seq)) {
        return 0;
    }
    return r[1].valid ? 1 : -1;
}

/* Erase record sector k and program a record into it: two flash operations, as ESP-IDF does. */
static int32_t write_rec(alfa_slot_sim_t *s, uint32_t k, uint32_t seq, uint32_t state)
{
    uint8_t b[REC_SIZE];
    memset(b, 0, sizeof(b));
    alfa_put_le32(b, seq);
    alfa_put_le32(b + 4, state);
    alfa_put_le32(b + 8, alfa_crc32(0, b, 8u));
    int32_t rc = alfa_flash_sim_erase(&s->flash, k);
    if (rc < 0) {
        return rc;
    }
    return alfa_flash_sim_prog(&s->flash, k * s->geom.sector_size, b, REC_SIZE);
}

alfa_slot_state_t alfa_slot_sim_state(alfa_slot_sim_t *s, uint8_t slot)
{
    rec_t r[2];
    read_recs(s, r);
    int best = -1;
    for (int k = 0; k < 2; k++) {
        if (r[k].valid && (r[k].seq - 1u) % 2u == slot && (best < 0 || r[k].seq > r[best].seq)) {
            best = k;
        }
    }
    if (best >= 0) {
        return (alfa_slot_state_t)r[best].state;
    }
    if (slot == 0u && active_rec(r) < 0) {
        return ALFA_SLOT_VALID; /* no record at all: the factory-flashed image */
    }
    return slot == s->running && !s->no_slot ? ALFA_SLOT_VALID : ALFA_SLOT_EMPTY;
}

/* ---------------------------------------------------------------- image check */

int alfa_slot_sim_valid(const alfa_slot_sim_t *s, uint8_t slot, uint8_t manifest_out[128])
{
    const uint8_t *base = s->flash.mem + slot_base(s, slot);
    const uint8_t *t = base + s->geom.slot_size - s->geom.sector_size;
    alfa_fwimg_hdr_t h;
    if (alfa_fwu_trailer_check(t, &h) < 0 || h.image_size > s->geom.slot_size - s->geom.sector_size) {
        return 0;
    }
    uint8_t d[ALFA_SHA256_SIZE];
    alfa_sha256(base, h.image_size, d);
    if (memcmp(d, h.sha256, sizeof(d)) != 0) {
        return 0;
    }
    alfa_fwimg_signed_digest(t, d);
    if (s->verify == NULL || s->verify(s->verify_ctx, d, t + ALFA_FWIMG_HEADER_SIZE) != 0) {
        return 0;
    }
    if (manifest_out != NULL) {
        memcpy(manifest_out, t, 128u);
    }
    return 1;
}

static int has_trailer(const alfa_slot_sim_t *s, uint8_t slot)
{
    const uint8_t *t = s->flash.mem + slot_base(s, slot) + s->geom.slot_size - s->geom.sector_size;
    return alfa_get_le32(t + 128) == ALFA_FWU_TRAILER_MAGIC;
}

int alfa_slot_sim_factory(alfa_slot_sim_t *s, uint8_t slot, const uint8_t *image, uint32_t len)
{
    if (len < ALFA_FWIMG_MANIFEST_SIZE || len - ALFA_FWIMG_MANIFEST_SIZE > s->geom.slot_size - s->geom.sector_size) {
        return -1;
    }
    uint8_t *base = s->flash.mem + slot_base(s, slot);
    memset(base, s->geom.erased_value, s->geom.slot_size);
    memcpy(base, image + ALFA_FWIMG_MANIFEST_SIZE, len - ALFA_FWIMG_MANIFEST_SIZE);
    alfa_fwu_trailer_make(image, base + s->geom.slot_size - s->geom.sector_size);
    size_t total = (size_t)s->flash.geom.block_size * s->flash.geom.block_count;
    alfa_flash_sim_load(&s->flash, s->flash.mem, total); /* recompute which units are programmed */
    return 0;
}

/* ---------------------------------------------------------------- the bootloader */

int alfa_slot_sim_boot(alfa_slot_sim_t *s)
{
    s->boots++;
    s->begun = 0;
    s->no_slot = 0;
    rec_t r[2];
    read_recs(s, r);
    int order[2] = {0, 1};
    if (r[1].valid && (!r[0].valid || r[1].seq > r[0].seq)) {
        order[0] = 1;
        order[1] = 0;
    }
    for (int i = 0; i < 2; i++) {
        int k = order[i];
        if (!r[k].valid || r[k].state == ALFA_SLOT_INVALID || r[k].state == ALFA_SLOT_ABORTED) {
            continue;
        }
        uint8_t slot = (uint8_t)((r[k].seq - 1u) % 2u);
        if (r[k].state == ALFA_SLOT_PENDING) {
            /* Started before and never confirmed: roll back. A cut here just repeats it. */
            s->rollbacks++;
            if (write_rec(s, (uint32_t)k, r[k].seq, ALFA_SLOT_ABORTED) < 0) {
                return -1;
            }
            continue;
        }
        if (!alfa_slot_sim_valid(s, slot, NULL)) {
            continue; /* the bootloader checks the image before it starts it */
        }
        if (r[k].state == ALFA_SLOT_NEW && write_rec(s, (uint32_t)k, r[k].seq, ALFA_SLOT_PENDING) < 0) {
            return -1;
        }
        s->running = slot;
        return slot;
    }
    /* No usable record: the factory image in slot 0 (unchecked when it has no trailer, as a
     * board flashed at the factory has none). */
    if (!has_trailer(s, 0) || alfa_slot_sim_valid(s, 0, NULL)) {
        s->running = 0;
        return 0;
    }
    if (alfa_slot_sim_valid(s, 1, NULL)) {
        s->running = 1;
        return 1;
    }
    s->no_slot = 1;
    return -1;
}

/* ---------------------------------------------------------------- port callbacks */

static uint8_t slot_of(const alfa_slot_sim_t *s, uint8_t which)
{
    return which == ALFA_SLOT_RUNNING ? s->running : update_slot(s);
}

int32_t alfa_slot_sim_begin(alfa_slot_sim_t *s, uint8_t resume)
{
    if (alfa_slot_sim_state(s, s->running) == ALFA_SLOT_PENDING) {
        return ALFA_PORT_E_STATE; /* esp_ota_begin: the running app is not confirmed */
    }
    if (!resume) {
        /* esp_ota_invalidate_inactive_ota_data_slot: the update slot is no longer bootable. */
        rec_t r[2];
        read_recs(s, r);
        for (uint32_t k = 0; k < 2u; k++) {
            if (r[k].valid && (r[k].seq - 1u) % 2u == update_slot(s)) {
                int32_t rc = alfa_flash_sim_erase(&s->flash, k);
                if (rc < 0) {
                    return rc;
                }
            }
        }
    }
    s->begun = 1;
    return ALFA_PORT_OK;
}

int32_t alfa_slot_sim_erase(alfa_slot_sim_t *s, uint8_t which, uint32_t sector)
{
    if (which != ALFA_SLOT_UPDATE || sector >= slot_sectors(s)) {
        return ALFA_PORT_E_RANGE; /* the running image is never erased */
    }
    return alfa_flash_sim_erase(&s->flash, slot_base(s, update_slot(s)) / s->geom.sector_size + sector);
}

int32_t alfa_slot_sim_write(alfa_slot_sim_t *s, uint8_t which, uint32_t offset, const void *data, uint32_t len)
{
    uint32_t trailer = s->geom.slot_size - s->geom.sector_size;
    if (offset > s->geom.slot_size || len > s->geom.slot_size - offset ||
        (which == ALFA_SLOT_RUNNING && offset < trailer)) {
        return ALFA_PORT_E_RANGE; /* only the running slot's trailer may be appended to */
    }
    return alfa_flash_sim_prog(&s->flash, slot_base(s, slot_of(s, which)) + offset, data, len);
}

int32_t alfa_slot_sim_read(alfa_slot_sim_t *s, uint8_t which, uint32_t offset, void *buf, uint32_t len)
{
    if (offset > s->geom.slot_size || len > s->geom.slot_size - offset) {
        return ALFA_PORT_E_RANGE;
    }
    return alfa_flash_sim_read(&s->flash, slot_base(s, slot_of(s, which)) + offset, buf, len);
}

int32_t alfa_slot_sim_set_boot(alfa_slot_sim_t *s)
{
    if (s->flash.dead) {
        return ALFA_PORT_E_IO;
    }
    uint8_t slot = update_slot(s);
    if (!alfa_slot_sim_valid(s, slot, NULL)) {
        return ALFA_PORT_E_IO; /* esp_ota_set_boot_partition checks the image */
    }
    rec_t r[2];
    read_recs(s, r);
    int a = active_rec(r);
    if (a >= 0 && (r[a].seq - 1u) % 2u == slot) {
        return write_rec(s, (uint32_t)a, r[a].seq, ALFA_SLOT_NEW);
    }
    uint32_t k = a >= 0 ? (uint32_t)(1 - a) : 0u;
    uint32_t seq = a >= 0 ? r[a].seq + 1u : slot + 1u;
    return write_rec(s, k, seq, ALFA_SLOT_NEW);
}

int32_t alfa_slot_sim_confirm(alfa_slot_sim_t *s)
{
    rec_t r[2];
    read_recs(s, r);
    int a = active_rec(r);
    if (a < 0 || (r[a].seq - 1u) % 2u != s->running) {
        return ALFA_PORT_E_STATE; /* the factory image has nothing to confirm */
    }
    if (r[a].state == ALFA_SLOT_VALID) {
        return ALFA_PORT_OK;
    }
    return write_rec(s, (uint32_t)a, r[a].seq, ALFA_SLOT_VALID);
}

alfa_slot_state_t alfa_slot_sim_state_of(alfa_slot_sim_t *s, uint8_t which)
{
    return alfa_slot_sim_state(s, slot_of(s, which));
}

int32_t alfa_slot_sim_fw_verify(alfa_slot_sim_t *s, const uint8_t digest[32], const uint8_t sig[64])
{
    if (s->verify == NULL || s->verify(s->verify_ctx, digest, sig) != 0) {
        return ALFA_PORT_E_IO;
    }
    return ALFA_PORT_OK;
}
