/* Test helpers that speak the update protocol frame by frame to one real pack on the timed bus (the test plays the gateway). */
#ifndef FWU_WIRE_H
#define FWU_WIRE_H

#include <stdint.h>
#include <string.h>

#include "alfa/otasite.h"

#define FWU_WIRE_CHUNKS_MAX 16384u /* images up to 128 KiB */

/* What the pack said: its last heartbeat's flags, its STATUS frames, and every chunk it NACKed. */
typedef struct fwu_tap {
    uint8_t hb_state;
    alfa_fwu_reply_t last_status;
    int statuses, nacks;
    uint32_t nacked;                           /* chunks named missing, summed over NACK frames */
    uint8_t nacked_map[FWU_WIRE_CHUNKS_MAX / 8u];
} fwu_tap_t;

static inline void fwu_tap_nack(fwu_tap_t *t, uint32_t c)
{
    t->nacked++;
    if (c < FWU_WIRE_CHUNKS_MAX) {
        t->nacked_map[c / 8u] = (uint8_t)(t->nacked_map[c / 8u] | (1u << (c % 8u)));
    }
}

static inline int fwu_tap_was_nacked(const fwu_tap_t *t, uint32_t c)
{
    return c < FWU_WIRE_CHUNKS_MAX && ((t->nacked_map[c / 8u] >> (c % 8u)) & 1u) != 0u;
}

/* Forget the NACKs seen so far (before a POLL whose answer is checked). */
static inline void fwu_tap_clear_nacks(fwu_tap_t *t)
{
    t->nacks = 0;
    t->nacked = 0;
    memset(t->nacked_map, 0, sizeof(t->nacked_map));
}

static inline void fwu_tap_on_frame(void *ctx, const alfa_can_frame_t *f)
{
    fwu_tap_t *t = ctx;
    alfa_fwu_reply_t r;
    alfa_heartbeat_t hb;
    if (alfa_proto_classify(f) == ALFA_CLS_HEARTBEAT && alfa_proto_heartbeat_decode(f, &hb) == 0 &&
        hb.device_type == ALFA_DEV_PACK) {
        t->hb_state = hb.state;
    }
    if (alfa_proto_classify(f) != ALFA_CLS_FWU_REPLY || alfa_fwu_reply_decode(f, &r) != 0) {
        return;
    }
    if (r.op == ALFA_FWU_REP_STATUS) {
        t->last_status = r;
        t->statuses++;
        return;
    }
    t->nacks++;
    if (r.op == ALFA_FWU_REP_NACK_RANGE) {
        for (uint32_t k = 0; k < r.count; k++) {
            fwu_tap_nack(t, r.first + k);
        }
        return;
    }
    for (uint32_t k = 0; k < ALFA_FWU_NACK_BITS; k++) {
        if ((r.map[k / 8u] >> (k % 8u)) & 1u) {
            fwu_tap_nack(t, r.first + k);
        }
    }
}

/* One pack with slots of geometry `g` (factory image `factory`), its frames going to `tap`,
 * settled on the bus. NULL when the site cannot be made. */
static inline ota_site_t *fwu_wire_pack(alfa_slot_geom_t g, const uint8_t (*keys)[65], const uint8_t *factory,
                                        uint32_t factory_len, fwu_tap_t *tap)
{
    ota_site_cfg_t c;
    memset(&c, 0, sizeof(c));
    c.packs = 1;
    c.geom = g;
    c.seed = 3;
    c.keys = keys;
    c.nkeys = 1;
    gw_ota_cfg_defaults(&c.gw);
    c.factory_image = factory;
    c.factory_len = factory_len;
    ota_site_t *s = ota_site_new(&c);
    if (s == NULL) {
        return NULL;
    }
    memset(tap, 0, sizeof(*tap));
    ota_site_tap(s, fwu_tap_on_frame, tap);
    ota_site_run_ms(s, 6000);
    return s;
}

static inline uint8_t fwu_wire_node(ota_site_t *s) { return alfa_node_id(alfa_pack_node(ota_site_pack(s, 0))); }
static inline const alfa_fwu_t *fwu_wire_fwu(ota_site_t *s) { return alfa_pack_fwu(ota_site_pack(s, 0)); }

/* Put a frame on the bus as the gateway; 1 ms runs. 0, or -1 when the bus refused it. */
static inline int fwu_wire_send(ota_site_t *s, const alfa_can_frame_t *f)
{
    int rc = ota_site_send(s, f) == 0 ? 0 : -1;
    ota_site_run_ms(s, 1);
    return rc;
}

/* A CTRL op from `src` to `dst`; a POLL asks for blocks first..last and a STATUS. 30 ms run. */
static inline int fwu_wire_ctrl(ota_site_t *s, uint8_t src, uint8_t dst, uint8_t op, uint32_t session, uint8_t flags,
                                uint16_t first_block, uint16_t last_block)
{
    alfa_fwu_ctrl_t c;
    memset(&c, 0, sizeof(c));
    c.src = src;
    c.dst = dst;
    c.op = op;
    c.session = session;
    c.flags = op == ALFA_FWU_OP_BEGIN ? flags : 0u;
    if (op == ALFA_FWU_OP_POLL) {
        c.first_block = first_block;
        c.last_block = last_block;
        c.want_status = 1;
    }
    alfa_can_frame_t f;
    if (alfa_fwu_ctrl_encode(&c, &f) != 0 || fwu_wire_send(s, &f) != 0) {
        return -1;
    }
    ota_site_run_ms(s, 30);
    return 0;
}

/* The 16 manifest parts of `img` to everyone, then 200 ms (checks, trailer erased and written). */
static inline int fwu_wire_manifest(ota_site_t *s, const uint8_t *img)
{
    for (uint8_t p = 0; p < 16u; p++) {
        alfa_can_frame_t f;
        if (alfa_fwu_manifest_encode(ALFA_NODE_LINUX_GATEWAY, ALFA_NODE_BROADCAST, p, img + 8u * p, &f) != 0 ||
            fwu_wire_send(s, &f) != 0) {
            return -1;
        }
    }
    ota_site_run_ms(s, 200);
    return 0;
}

/* The bytes of chunk c of an image whose payload is `len` bytes (the last one padded with 0xFF). */
static inline void fwu_wire_chunk(const uint8_t *img, uint32_t len, uint32_t c, uint8_t d[8])
{
    memset(d, 0xFF, 8);
    memcpy(d, img + 128u + 8u * c, len - 8u * c < 8u ? len - 8u * c : 8u);
}

/* Chunks [from, to) of `img` (payload `len` bytes), skipping those for which drop(c) is true; a
 * parity frame after each group when `parity`. 100 ms run at the end. */
static inline int fwu_wire_chunks(ota_site_t *s, const uint8_t *img, uint32_t len, uint32_t from, uint32_t to,
                                  int (*drop)(uint32_t), int parity)
{
    uint32_t n = (len + 7u) / 8u;
    uint8_t x[8] = {0};
    for (uint32_t c = from; c < to; c++) {
        uint8_t d[8];
        fwu_wire_chunk(img, len, c, d);
        if (c % 16u == 0u) memset(x, 0, 8);
        for (int j = 0; j < 8; j++) x[j] ^= d[j];
        alfa_can_frame_t f;
        if (drop == NULL || !drop(c)) {
            if (alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, d, &f) != 0 || fwu_wire_send(s, &f) != 0) {
                return -1;
            }
        }
        if (parity && (c % 16u == 15u || c + 1u == n)) {
            if (alfa_fwu_parity_encode(ALFA_NODE_LINUX_GATEWAY, c / 16u, x, &f) != 0 || fwu_wire_send(s, &f) != 0) {
                return -1;
            }
        }
    }
    ota_site_run_ms(s, 100);
    return 0;
}

#endif
