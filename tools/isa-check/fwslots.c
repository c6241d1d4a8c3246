/* The isa-check board's firmware slots: two slots and ESP-IDF-like boot records on a NOR region, the slot callbacks, a stand-in fw_verify and the 2nd-stage bootloader. */
#include "isa.h"

/*
 * Region layout: [boot record 0][boot record 1][slot 0: 3 sectors][slot 1: 3 sectors], 4-KiB sectors,
 * 16-byte units. A boot record (ESP-IDF's otadata entry) is the first 16 bytes of its sector: seq u32,
 * state u32 (alfa_slot_state_t), check = ~seq, 0; it is rewritten as ESP-IDF does, erase then program.
 * Valid: seq neither 0 nor 0xFFFFFFFF, check holds, state neither INVALID nor ABORTED; the valid one with
 * the highest seq selects slot (seq - 1) % 2. No valid record: slot 0, the factory image (no trailer:
 * the pack reports the build's version).
 */

#define SEQ_NONE 0xFFFFFFFFu

typedef struct rec {
    uint32_t seq, state;
    int ok;       /* written and its check holds */
} rec_t;

static isa_world_t *W(void *user) { return (isa_world_t *)user; }
static uint8_t update_slot(const isa_world_t *w) { return (uint8_t)(1u - w->fw.running); }
static uint8_t slot_of(const isa_world_t *w, uint8_t which) { return which == ALFA_SLOT_RUNNING ? w->fw.running : update_slot(w); }
static uint32_t slot_base(uint8_t slot) { return (ISA_FW_OTADATA + (uint32_t)slot * ISA_FW_SLOT_SECTORS) * ISA_FW_SECTOR; }
static uint32_t trailer_off(void) { return ISA_FW_SLOT - ISA_FW_SECTOR; }

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static rec_t rec_read(const isa_world_t *w, uint32_t k)
{
    const uint8_t *p = w->fw.nor.mem + k * ISA_FW_SECTOR;
    rec_t r = {get32(p), get32(p + 4), 0};
    r.ok = r.seq != SEQ_NONE && r.seq != 0u && get32(p + 8) == ~r.seq;
    return r;
}

static int rec_valid(rec_t r) { return r.ok && r.state != ALFA_SLOT_INVALID && r.state != ALFA_SLOT_ABORTED; }

static int rec_active(const isa_world_t *w)
{
    rec_t a = rec_read(w, 0), b = rec_read(w, 1);
    if (rec_valid(a) && rec_valid(b)) {
        return a.seq >= b.seq ? 0 : 1;
    }
    return rec_valid(a) ? 0 : rec_valid(b) ? 1 : -1;
}

static int32_t rec_write(isa_world_t *w, uint32_t k, uint32_t seq, uint32_t state)
{
    uint8_t b[16] = {0};
    put32(b, seq);
    put32(b + 4, state);
    put32(b + 8, ~seq);
    int32_t rc = isa_nor_erase(w, &w->fw.nor, k);
    return rc < 0 ? rc : isa_nor_prog(w, &w->fw.nor, k * ISA_FW_SECTOR, b, sizeof b);
}

static alfa_slot_state_t state_of_slot(const isa_world_t *w, uint8_t slot)
{
    for (uint32_t k = 0; k < 2u; k++) {
        rec_t r = rec_read(w, k);
        if (r.ok && (r.seq - 1u) % 2u == slot) {
            return (alfa_slot_state_t)r.state;
        }
    }
    return slot == w->fw.running ? ALFA_SLOT_VALID : ALFA_SLOT_EMPTY; /* running without a record: factory */
}

/* ---------------------------------------------------------------- port callbacks */

static alfa_slot_state_t cb_slot_state(void *user, uint8_t which)
{
    isa_world_t *w = W(user);
    return state_of_slot(w, slot_of(w, which));
}

static int32_t cb_slot_begin(void *user, uint8_t resume)
{
    isa_world_t *w = W(user);
    if (state_of_slot(w, w->fw.running) == ALFA_SLOT_PENDING) {
        return ALFA_PORT_E_STATE; /* esp_ota_begin: the running app is not confirmed */
    }
    if (resume) {
        return ALFA_PORT_OK;
    }
    /* esp_ota_begin invalidates the inactive record when it names the slot about to be written. */
    int a = rec_active(w);
    rec_t in = rec_read(w, a < 0 ? 1u : (uint32_t)(1 - a));
    if (in.ok && (in.seq - 1u) % 2u == update_slot(w)) {
        CB_BEGIN(w);
        int32_t rc = isa_nor_erase(w, &w->fw.nor, a < 0 ? 1u : (uint32_t)(1 - a));
        CB_END(w);
        return rc;
    }
    return ALFA_PORT_OK;
}

static int32_t cb_slot_erase(void *user, uint8_t which, uint32_t sector)
{
    isa_world_t *w = W(user);
    if (which != ALFA_SLOT_UPDATE || sector >= ISA_FW_SLOT_SECTORS) {
        w->fw.nor.rule_breaks++;
        return ALFA_PORT_E_RANGE; /* the running image is never erased */
    }
    CB_BEGIN(w);
    int32_t rc = isa_nor_erase(w, &w->fw.nor, slot_base(update_slot(w)) / ISA_FW_SECTOR + sector);
    CB_END(w);
    return rc;
}

static int32_t cb_slot_write(void *user, uint8_t which, uint32_t off, const void *data, uint32_t len)
{
    isa_world_t *w = W(user);
    if (off > ISA_FW_SLOT || len > ISA_FW_SLOT - off || (which == ALFA_SLOT_RUNNING && off < trailer_off())) {
        w->fw.nor.rule_breaks++;
        return ALFA_PORT_E_RANGE; /* of the running slot only its trailer */
    }
    CB_BEGIN(w);
    int32_t rc = isa_nor_prog(w, &w->fw.nor, slot_base(slot_of(w, which)) + off, data, len);
    CB_END(w);
    return rc;
}

static int32_t cb_slot_read(void *user, uint8_t which, uint32_t off, void *buf, uint32_t len)
{
    isa_world_t *w = W(user);
    if (off > ISA_FW_SLOT || len > ISA_FW_SLOT - off) {
        w->fw.nor.rule_breaks++;
        return ALFA_PORT_E_RANGE;
    }
    CB_BEGIN(w);
    int32_t rc = isa_nor_read(w, &w->fw.nor, slot_base(slot_of(w, which)) + off, buf, len);
    CB_END(w);
    return rc;
}

/* The stand-in for an ECDSA check: the digest and signature must be the ones the harness put in the
 * manifest (fwsend.c); anything else is refused like an unknown key. */
static int32_t cb_fw_verify(void *user, const uint8_t digest[32], const uint8_t sig[64])
{
    isa_world_t *w = W(user);
    w->fw.verify_calls++;
    for (uint32_t i = 0; i < 32u; i++) {
        if (digest[i] != w->send.digest[i]) {
            return ALFA_PORT_E_IO;
        }
    }
    for (uint32_t i = 0; i < 64u; i++) {
        if (sig[i] != w->send.manifest[ALFA_FWIMG_HEADER_SIZE + i]) {
            return ALFA_PORT_E_IO;
        }
    }
    return ALFA_PORT_OK;
}

/* esp_ota_set_boot_partition: the slot must hold a whole, signed image (trailer, hash, signature);
 * the next sequence for it goes into the inactive record, state NEW. */
static int32_t set_boot(isa_world_t *w)
{
    uint8_t slot = update_slot(w);
    const uint8_t *base = w->fw.nor.mem + slot_base(slot);
    alfa_fwimg_hdr_t h;
    uint8_t d[ALFA_SHA256_SIZE];
    if (alfa_fwu_trailer_check(base + trailer_off(), &h) < 0 || h.image_size > trailer_off()) {
        return ALFA_PORT_E_IO;
    }
    alfa_sha256(base, h.image_size, d);
    for (uint32_t i = 0; i < ALFA_SHA256_SIZE; i++) {
        if (d[i] != h.sha256[i]) {
            return ALFA_PORT_E_IO;
        }
    }
    alfa_fwimg_signed_digest(base + trailer_off(), d);
    if (cb_fw_verify(w, d, base + trailer_off() + ALFA_FWIMG_HEADER_SIZE) != ALFA_PORT_OK) {
        return ALFA_PORT_E_IO;
    }
    int a = rec_active(w);
    if (a < 0) {
        return rec_write(w, 0, slot + 1u, ALFA_SLOT_NEW);
    }
    uint32_t seq = rec_read(w, (uint32_t)a).seq;
    while ((seq - 1u) % 2u != slot) {
        seq++;
    }
    return rec_write(w, (uint32_t)(1 - a), seq, ALFA_SLOT_NEW);
}

static int32_t cb_slot_set_boot(void *user)
{
    isa_world_t *w = W(user);
    CB_BEGIN(w);
    int32_t rc = set_boot(w);
    CB_END(w);
    return rc;
}

/* esp_ota_mark_app_valid_cancel_rollback */
static int32_t cb_slot_confirm(void *user)
{
    isa_world_t *w = W(user);
    int a = rec_active(w);
    if (a < 0) {
        return ALFA_PORT_E_STATE; /* the factory image has nothing to confirm */
    }
    rec_t r = rec_read(w, (uint32_t)a);
    if (r.state == ALFA_SLOT_VALID) {
        return ALFA_PORT_OK;
    }
    CB_BEGIN(w);
    int32_t rc = rec_write(w, (uint32_t)a, r.seq, ALFA_SLOT_VALID);
    CB_END(w);
    return rc;
}

/* ---------------------------------------------------------------- the board */

void isa_fw_init(isa_world_t *w)
{
    isa_nor_init(&w->fw.nor, w->fw_flash, w->fw_prog_map, ISA_FW_SIZE, ISA_FW_SECTOR, 'f', 'e');
    w->fw.running = 0;
    w->slot_geom = (alfa_slot_geom_t){.slot_size = ISA_FW_SLOT, .sector_size = ISA_FW_SECTOR,
                                      .prog_size = ISA_FLASH_PROG, .erased_value = 0xFFu};
    w->port.slot_geom = &w->slot_geom;
    w->port.slot_begin = cb_slot_begin;
    w->port.slot_erase = cb_slot_erase;
    w->port.slot_write = cb_slot_write;
    w->port.slot_read = cb_slot_read;
    w->port.slot_end = 0; /* no platform image format to check */
    w->port.slot_set_boot = cb_slot_set_boot;
    w->port.slot_confirm = cb_slot_confirm;
    w->port.slot_state = cb_slot_state;
    w->port.fw_verify = cb_fw_verify;
}

/* ESP-IDF's 2nd-stage bootloader: an image started before and never confirmed is aborted (rollback);
 * the active record's slot starts, a NEW one now pending verification. */
void isa_fw_boot(isa_world_t *w)
{
    for (uint32_t k = 0; k < 2u; k++) {
        rec_t r = rec_read(w, k);
        if (r.ok && r.state == ALFA_SLOT_PENDING) {
            w->fw.rollbacks++;
            if (rec_write(w, k, r.seq, ALFA_SLOT_ABORTED) < 0) {
                isa_world_fail(w, "bootloader record write", (int32_t)k, 0);
            }
        }
    }
    int a = rec_active(w);
    if (a < 0) {
        w->fw.running = 0;
        return;
    }
    rec_t r = rec_read(w, (uint32_t)a);
    w->fw.running = (uint8_t)((r.seq - 1u) % 2u);
    if (r.state == ALFA_SLOT_NEW && rec_write(w, (uint32_t)a, r.seq, ALFA_SLOT_PENDING) < 0) {
        isa_world_fail(w, "bootloader record write", a, 0);
    }
}
