/* libFuzzer target: arbitrary update frames into a pack whose update module is in a session (receive, parity, polls, control). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "alfa/flash_sim.h"
#include "alfa/fw_verify.h"
#include "alfa/pack.h"
#include "alfa/slot_sim.h"
#include "fwsign.h"

/*
 * A whole pack (core, store, node, update module) on the flash and slot simulators. Once, at the
 * start: it settles on the bus, a signed image's session is begun and its manifest accepted, so
 * every input starts in RECEIVING with all but a few chunks (the fuzzer cannot forge signatures;
 * the manifest check has its own target): the image spans two blocks, the first with units whose
 * bytes equal the erased value; the window holds the second, and the first was written with
 * holes (a whole unit, half of a blank unit, a lone chunk) that only repairs fill. (Two blocks,
 * not more: hashing the image is most of an input's time.) Each input: a snapshot of that state is restored, then the input becomes frames
 * of the update classes from the gateway (data, parity, polls, verify, activate, cancel, begin,
 * manifest parts), each followed by a few milliseconds of processing. Checked: no crash or
 * undefined behaviour, every frame the pack sends decodes, no flash rule is ever broken, and the
 * pack never calls the image READY unless its slot holds exactly the signed payload.
 */

#define RXQ 64u
#define IMG 4400u
#define HOLES 4u
static const uint32_t holes[HOLES] = {100u, 101u, 200u, 301u}; /* unit 50; half of blank unit 100; half of unit 150 */

typedef struct fz {
    uint32_t now_ms;
    alfa_can_frame_t rxq[RXQ];
    uint32_t rx_head, rx_count;
    alfa_flash_sim_t store;
    alfa_slot_sim_t slots;
} fz_t;

static fz_t z, z0;
static uint8_t *store_mem0, *store_prog0, *slot_mem0, *slot_prog0;
static alfa_port_t port;
static alfa_pack_t pack, pack0;
static uint8_t image[128 + IMG];
static alfa_fwsign_key_t key;
static int ready_once;

static uint32_t f_now(void *u) { return ((fz_t *)u)->now_ms; }
static void f_relays(void *u, uint8_t m) { (void)u; (void)m; }
static void f_leds(void *u, uint8_t m) { (void)u; (void)m; }
static int32_t f_serial_w(void *u, const uint8_t *d, uint16_t n) { (void)u; (void)d; return n; }
static int32_t f_serial_r(void *u, uint8_t *d, uint16_t c) { (void)u; (void)d; (void)c; return 0; }
static int32_t f_send(void *u, const alfa_can_frame_t *f)
{
    (void)u;
    if (alfa_proto_classify(f) < 0) {
        __builtin_trap(); /* a pack sends only frames its own protocol accepts */
    }
    return 0;
}
static int32_t f_recv(void *u, alfa_can_frame_t *f)
{
    fz_t *x = u;
    if (x->rx_count == 0u) {
        return 0;
    }
    *f = x->rxq[x->rx_head];
    x->rx_head = (x->rx_head + 1u) % RXQ;
    x->rx_count--;
    return 1;
}
static void f_reboot(void *u) { (void)u; }
static int32_t f_fread(void *u, uint32_t a, void *b, uint32_t n) { return alfa_flash_sim_read(&((fz_t *)u)->store, a, b, n); }
static int32_t f_fprog(void *u, uint32_t a, const void *b, uint32_t n) { return alfa_flash_sim_prog(&((fz_t *)u)->store, a, b, n); }
static int32_t f_ferase(void *u, uint32_t b) { return alfa_flash_sim_erase(&((fz_t *)u)->store, b); }
static alfa_slot_sim_t *S(void *u) { return &((fz_t *)u)->slots; }
static int32_t s_begin(void *u, uint8_t r) { return alfa_slot_sim_begin(S(u), r); }
static int32_t s_erase(void *u, uint8_t w, uint32_t s) { return alfa_slot_sim_erase(S(u), w, s); }
static int32_t s_write(void *u, uint8_t w, uint32_t o, const void *d, uint32_t n) { return alfa_slot_sim_write(S(u), w, o, d, n); }
static int32_t s_read(void *u, uint8_t w, uint32_t o, void *b, uint32_t n) { return alfa_slot_sim_read(S(u), w, o, b, n); }
static int32_t s_boot(void *u) { return alfa_slot_sim_set_boot(S(u)); }
static int32_t s_confirm(void *u) { return alfa_slot_sim_confirm(S(u)); }
static alfa_slot_state_t s_state(void *u, uint8_t w) { return alfa_slot_sim_state_of(S(u), w); }
static int32_t s_verify(void *u, const uint8_t d[32], const uint8_t sig[64]) { return alfa_slot_sim_fw_verify(S(u), d, sig); }
static int32_t verify(void *ctx, const uint8_t d[32], const uint8_t sig[64])
{
    (void)ctx;
    return alfa_fw_verify(key.point, d, sig) == 0 ? 0 : -1;
}

static void deliver(const alfa_can_frame_t *f)
{
    if (z.rx_count < RXQ) {
        z.rxq[(z.rx_head + z.rx_count) % RXQ] = *f;
        z.rx_count++;
    }
}

static void run(uint32_t ms)
{
    for (uint32_t k = 0; k < ms; k++) {
        z.now_ms++;
        alfa_pack_process(&pack);
    }
}

static void ctrl(uint8_t op, uint8_t dst, uint8_t flags)
{
    alfa_fwu_ctrl_t c = {.src = ALFA_NODE_LINUX_GATEWAY, .dst = dst, .op = op, .session = alfa_fwimg_session_id(image),
                         .flags = flags};
    alfa_can_frame_t f;
    if (alfa_fwu_ctrl_encode(&c, &f) == 0) {
        deliver(&f);
    }
}

static void save(void)
{
    size_t st = (size_t)z.store.geom.block_size * z.store.geom.block_count, sl = (size_t)z.slots.flash.geom.block_size * z.slots.flash.geom.block_count;
    store_mem0 = malloc(st);
    store_prog0 = malloc(st / z.store.geom.prog_size);
    slot_mem0 = malloc(sl);
    slot_prog0 = malloc(sl / z.slots.flash.geom.prog_size);
    memcpy(store_mem0, z.store.mem, st);
    memcpy(store_prog0, z.store.programmed, st / z.store.geom.prog_size);
    memcpy(slot_mem0, z.slots.flash.mem, sl);
    memcpy(slot_prog0, z.slots.flash.programmed, sl / z.slots.flash.geom.prog_size);
    z0 = z;
    pack0 = pack;
}

static void restore(void)
{
    uint8_t *m1 = z.store.mem, *p1 = z.store.programmed, *m2 = z.slots.flash.mem, *p2 = z.slots.flash.programmed;
    uint32_t *w1 = z.store.wear, *w2 = z.slots.flash.wear;
    size_t st = (size_t)z.store.geom.block_size * z.store.geom.block_count, sl = (size_t)z.slots.flash.geom.block_size * z.slots.flash.geom.block_count;
    z = z0;
    z.store.mem = m1;
    z.store.programmed = p1;
    z.store.wear = w1;
    z.slots.flash.mem = m2;
    z.slots.flash.programmed = p2;
    z.slots.flash.wear = w2;
    memcpy(m1, store_mem0, st);
    memcpy(p1, store_prog0, st / z.store.geom.prog_size);
    memcpy(m2, slot_mem0, sl);
    memcpy(p2, slot_prog0, sl / z.slots.flash.geom.prog_size);
    pack = pack0;
}

static int init(void)
{
    uint8_t payload[IMG];
    for (uint32_t i = 0; i < IMG; i++) {
        uint32_t in_block = i % 4096u;
        payload[i] = in_block >= 1600u && in_block < 1664u ? 0xFFu : (uint8_t)(i * 7u + 3u); /* 4 blank units per block */
    }
    alfa_fwimg_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.device_type = 1;
    h.hw_class = 1;
    h.major = 2;
    h.minor = 9;
    if (alfa_fwsign_key_from_seed(77, &key) != 0 || alfa_fwsign_image(&key, &h, payload, IMG, image) != 0) {
        return -1;
    }
    const alfa_flash_geom_t fg = {4096u, 2u, 16u, 0xFFu};
    const alfa_slot_geom_t sg = {16u * 1024u, 1024u, 8u, 0xFFu};
    if (alfa_flash_sim_init(&z.store, &fg) != 0 || alfa_slot_sim_init(&z.slots, &sg, verify, NULL) != 0) {
        return -1;
    }
    z.now_ms = 1000u;
    port = (alfa_port_t){.user = &z, .now_ms = f_now, .relays_set = f_relays, .status_leds_set = f_leds,
                         .serial_write = f_serial_w, .serial_read = f_serial_r, .can_send = f_send, .can_recv = f_recv,
                         .flash_geom = &z.store.geom, .flash_read = f_fread, .flash_prog = f_fprog, .flash_erase = f_ferase,
                         .slot_geom = &z.slots.geom, .slot_begin = s_begin, .slot_erase = s_erase, .slot_write = s_write,
                         .slot_read = s_read, .slot_set_boot = s_boot, .slot_confirm = s_confirm, .slot_state = s_state,
                         .fw_verify = s_verify, .reboot = f_reboot};
    alfa_pack_config_t pc = {.serial = 0x00A1B2C3D4E5ull};
    if (alfa_slot_sim_boot(&z.slots) < 0 || alfa_pack_init(&pack, &port, &pc) != ALFA_OK) {
        return -1;
    }
    run(5000); /* settled on the bus: it has a node ID */
    uint8_t me = alfa_node_id(alfa_pack_node(&pack));
    ctrl(ALFA_FWU_OP_BEGIN, me, ALFA_FWU_BEGIN_FEC);
    run(5);
    for (uint8_t p = 0; p < 16u; p++) {
        alfa_can_frame_t f;
        if (alfa_fwu_manifest_encode(ALFA_NODE_LINUX_GATEWAY, ALFA_NODE_BROADCAST, p, image + 8u * p, &f) == 0) {
            deliver(&f);
        }
    }
    run(50);
    /* most of the image already in: inputs can finish it (or spoil it) and reach the verdict */
    uint32_t chunks = (IMG + 7u) / 8u;
    for (uint32_t c = 0; c + 2u < chunks; c++) {
        int hole = 0;
        for (uint32_t k = 0; k < HOLES; k++) {
            hole |= c == holes[k];
        }
        if (hole) {
            continue;
        }
        uint8_t b[8];
        memcpy(b, image + 128 + 8u * c, 8);
        alfa_can_frame_t f;
        if (alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, b, &f) == 0) {
            deliver(&f);
        }
        run(1);
    }
    if (alfa_fwu_state(alfa_pack_fwu(&pack)) != ALFA_FWU_ST_RECEIVING) {
        return -1;
    }
    save();
    return 0;
}

/* READY only for the signed payload, byte for byte. */
static void check_ready(void)
{
    if (alfa_fwu_state(alfa_pack_fwu(&pack)) == ALFA_FWU_ST_READY) {
        uint8_t slot[IMG];
        if (alfa_slot_sim_read(&z.slots, ALFA_SLOT_UPDATE, 0, slot, IMG) != 0 || memcmp(slot, image + 128, IMG) != 0) {
            __builtin_trap();
        }
        if (!ready_once && getenv("FWU_FUZZ_SAY_READY") != NULL) {
            fprintf(stderr, "fuzz-fwu_rx: an input made the image READY\n");
        }
        ready_once = 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ok = -1;
    if (ok < 0) {
        ok = init() == 0;
    }
    if (!ok) {
        __builtin_trap();
    }
    restore();
    uint8_t me = alfa_node_id(alfa_pack_node(&pack));
    uint32_t chunks = (IMG + 7u) / 8u;
    /* The first byte picks a start: as it is (holes and the last two chunks missing), or the
     * holes repaired and those two chunks delivered, right (the pack verifies and is READY: the
     * input then acts on a ready pack) or wrong (the hash check fails and the pack starts the
     * transfer again). */
    uint8_t mode = size > 0u ? (uint8_t)(data[0] % 3u) : 0u;
    for (uint32_t k = 0; mode != 0u && k < HOLES; k++) {
        alfa_can_frame_t f;
        if (alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, holes[k], image + 128 + 8u * holes[k], &f) == 0) {
            deliver(&f);
        }
        run(1);
    }
    for (uint32_t c = chunks - 2u; mode != 0u && c < chunks; c++) {
        uint8_t b[8];
        memset(b, 0xFF, 8);
        memcpy(b, image + 128 + 8u * c, c + 1u == chunks ? IMG - 8u * c : 8u);
        b[0] = (uint8_t)(b[0] ^ (mode == 2u ? 0x01u : 0x00u));
        alfa_can_frame_t f;
        if (alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, b, &f) == 0) {
            deliver(&f);
        }
        run(2);
    }
    run(mode != 0u ? 4u : 0u);
    check_ready();
    for (size_t off = 1; off + 10u <= size; off += 10u) {
        const uint8_t *d = data + off;
        alfa_can_frame_t f;
        memset(&f, 0, sizeof(f));
        uint8_t sel = d[0] % 16u;
        if (sel < 9u) {
            /* a data chunk (near the end, a hole or any): the right bytes of a chunk, or the input's bytes */
            uint32_t c = (d[0] & 0x40u)   ? chunks - 20u + d[1] % 24u
                         : (d[0] & 0x20u) ? holes[d[1] % HOLES] + (uint32_t)(d[1] / HOLES) % 3u
                                          : ((uint32_t)d[1] | (uint32_t)d[2] << 8) % (chunks + 4u);
            uint8_t bytes[8];
            if (d[0] & 0x80u && c < chunks) {
                memset(bytes, 0xFF, 8);
                memcpy(bytes, image + 128 + 8u * c, c + 1u == chunks ? IMG - 8u * c : 8u);
            } else {
                memcpy(bytes, d + 2, 8);
            }
            if (alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, bytes, &f) != 0) continue;
        } else if (sel < 11u) {
            if (alfa_fwu_parity_encode(ALFA_NODE_LINUX_GATEWAY, d[1] % 36u, d + 2, &f) != 0) continue;
        } else if (sel < 15u) {
            alfa_fwu_ctrl_t c = {.src = ALFA_NODE_LINUX_GATEWAY, .dst = (d[1] & 1u) ? ALFA_NODE_BROADCAST : me,
                                 .op = (uint8_t)(1u + d[2] % 6u),
                                 .session = (d[3] & 1u) ? alfa_fwimg_session_id(image) : (uint32_t)d[4] << 8,
                                 .flags = (uint8_t)(d[5] & 3u), .first_block = (uint16_t)(d[6] & 1u), .last_block = (uint16_t)((d[6] & 2u) ? 1u : (d[6] & 1u)),
                                 .want_status = (uint8_t)(d[7] & 1u)};
            if (alfa_fwu_ctrl_encode(&c, &f) != 0) continue;
        } else {
            /* anything at all with an update class */
            f.id = (((uint32_t)0x40u + (d[1] & 0x0Fu)) << 22) | ((uint32_t)d[2] << 14) | ((uint32_t)d[3] << 6) | (d[4] & 0x3Fu);
            f.flags = ALFA_CAN_FLAG_EXT;
            f.len = (uint8_t)(d[5] % 9u);
            memcpy(f.data, d + 2, 8);
        }
        deliver(&f);
        run(1u + (d[9] & 1u));
        if (z.slots.flash.rule_breaks != 0u) {
            __builtin_trap();
        }
        check_ready();
    }
    z.now_ms += 1600u; /* a late caller: idle windows are due */
    run(4);
    check_ready();
    if (z.slots.flash.rule_breaks != 0u) {
        __builtin_trap();
    }
    return 0;
}
