/* The pack's update module frame by frame: a test speaks the protocol to one real pack (hash failure, parity, busy, cancel, refusals of senders). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alfa/otasite.h"
#include "fwu_keys.h"

#define PAYLOAD 9000u /* 1125 chunks: three blocks, the last partial, an odd chunk count */
#define NCHUNKS ((PAYLOAD + 7u) / 8u)

static fwu_keys_t g_keys;
static uint8_t g_factory[128 + 1024], g_img[128 + PAYLOAD], g_other[128 + PAYLOAD];

typedef struct tap {
    uint8_t hb_state;          /* flags of the pack's last heartbeat */
    alfa_fwu_reply_t last_status;
    int statuses, nacks;
    uint32_t nacked;
} tap_t;

static tap_t g_tap;

static void on_frame(void *ctx, const alfa_can_frame_t *f)
{
    tap_t *t = ctx;
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
    } else {
        t->nacks++;
        if (r.op == ALFA_FWU_REP_NACK_RANGE) {
            t->nacked += r.count;
        } else {
            for (uint32_t k = 0; k < ALFA_FWU_NACK_BITS; k++) {
                t->nacked += (r.map[k / 8u] >> (k % 8u)) & 1u;
            }
        }
    }
}

static ota_site_t *one_pack(void)
{
    ota_site_cfg_t c;
    memset(&c, 0, sizeof(c));
    c.packs = 1;
    c.geom = (alfa_slot_geom_t){16u * 1024u, 1024u, 8u, 0xFFu}; /* small sectors, 8-byte programs */
    c.seed = 3;
    c.keys = (const uint8_t(*)[65])g_keys.pub;
    c.nkeys = 1;
    gw_ota_cfg_defaults(&c.gw);
    c.factory_image = g_factory;
    c.factory_len = sizeof(g_factory);
    ota_site_t *s = ota_site_new(&c);
    assert_non_null(s);
    memset(&g_tap, 0, sizeof(g_tap));
    ota_site_tap(s, on_frame, &g_tap);
    ota_site_run_ms(s, 6000);
    return s;
}

static uint8_t node_of(ota_site_t *s) { return alfa_node_id(alfa_pack_node(ota_site_pack(s, 0))); }
static const alfa_fwu_t *fwu(ota_site_t *s) { return alfa_pack_fwu(ota_site_pack(s, 0)); }

static void send(ota_site_t *s, const alfa_can_frame_t *f)
{
    assert_int_equal(ota_site_send(s, f), 0);
    ota_site_run_ms(s, 1);
}

static void ctrl(ota_site_t *s, uint8_t src, uint8_t dst, uint8_t op, uint32_t session, uint8_t flags)
{
    alfa_fwu_ctrl_t c;
    memset(&c, 0, sizeof(c));
    c.src = src;
    c.dst = dst;
    c.op = op;
    c.session = session;
    c.flags = op == ALFA_FWU_OP_BEGIN ? flags : 0u;
    if (op == ALFA_FWU_OP_POLL) {
        c.first_block = 0;
        c.last_block = (NCHUNKS - 1u) / ALFA_FWU_BLOCK_CHUNKS;
        c.want_status = 1;
    }
    alfa_can_frame_t f;
    assert_int_equal(alfa_fwu_ctrl_encode(&c, &f), 0);
    send(s, &f);
    ota_site_run_ms(s, 30);
}

static void manifest(ota_site_t *s, const uint8_t *img)
{
    for (uint8_t p = 0; p < 16u; p++) {
        alfa_can_frame_t f;
        assert_int_equal(alfa_fwu_manifest_encode(ALFA_NODE_LINUX_GATEWAY, ALFA_NODE_BROADCAST, p, img + 8u * p, &f), 0);
        send(s, &f);
    }
    ota_site_run_ms(s, 200); /* checks, trailer erased and written */
}

/* Chunks [from, to) of `img`, skipping those for which drop(c) is true; a parity frame after
 * each group when `parity`. */
static void chunks(ota_site_t *s, const uint8_t *img, uint32_t from, uint32_t to, int (*drop)(uint32_t), int parity)
{
    uint8_t x[8] = {0};
    for (uint32_t c = from; c < to; c++) {
        uint8_t d[8];
        memset(d, 0xFF, 8);
        memcpy(d, img + 128u + 8u * c, c + 1u == NCHUNKS ? PAYLOAD - 8u * c : 8u);
        if (c % 16u == 0u) memset(x, 0, 8);
        for (int j = 0; j < 8; j++) x[j] ^= d[j];
        alfa_can_frame_t f;
        if (drop == NULL || !drop(c)) {
            assert_int_equal(alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, d, &f), 0);
            send(s, &f);
        }
        if (parity && (c % 16u == 15u || c + 1u == NCHUNKS)) {
            assert_int_equal(alfa_fwu_parity_encode(ALFA_NODE_LINUX_GATEWAY, c / 16u, x, &f), 0);
            send(s, &f);
        }
    }
    ota_site_run_ms(s, 100);
}

static int setup(void **state)
{
    (void)state;
    uint8_t p[PAYLOAD];
    if (fwu_keys_make(&g_keys) != 0) return -1;
    fwu_payload(p, 1024, 9);
    if (fwu_image(&g_keys.key, 2, 5, 0, 1, 1, p, 1024, g_factory) != 0) return -1;
    fwu_payload(p, PAYLOAD, 10);
    if (fwu_image(&g_keys.key, 2, 6, 1, 1, 1, p, PAYLOAD, g_img) != 0) return -1;
    fwu_payload(p, PAYLOAD, 11);
    return fwu_image(&g_keys.key, 2, 6, 1, 1, 1, p, PAYLOAD, g_other);
}

static int teardown(void **state)
{
    (void)state;
    fwu_keys_drop(&g_keys);
    return 0;
}

static void test_query_idle(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_QUERY, 0, 0);
    assert_int_equal(g_tap.statuses, 1);
    assert_int_equal(g_tap.last_status.state, ALFA_FWU_ST_IDLE);
    ota_site_free(s);
}

/* Only the gateway drives an update: a BEGIN from a pack's node ID changes nothing. */
static void test_foreign_sender_ignored(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    uint32_t session = alfa_fwimg_session_id(g_img);
    ctrl(s, 5, node_of(s), ALFA_FWU_OP_BEGIN, session, ALFA_FWU_BEGIN_FEC);
    assert_int_equal(g_tap.statuses, 0);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_IDLE);
    ota_site_free(s);
}

/* A manifest that is not the session's (another image) is refused, nothing written. */
static void test_manifest_of_another_session(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_BEGIN, alfa_fwimg_session_id(g_other), ALFA_FWU_BEGIN_FEC);
    assert_int_equal(g_tap.last_status.state, ALFA_FWU_ST_MANIFEST);
    assert_int_equal(g_tap.last_status.missing, 0xFFFFu); /* every part missing */
    manifest(s, g_img);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_REFUSED);
    assert_int_equal(alfa_fwu_result(fwu(s)), ALFA_FWU_R_BAD_MANIFEST);
    assert_int_equal(ota_site_slots(s, 0)->flash.progs + ota_site_slots(s, 0)->flash.erases, 0);
    ota_site_free(s);
}

static int skip_first_of_group(uint32_t c) { return c % 16u == 3u; }

/* One chunk lost per group of 16: the parity frames rebuild every one, no repair is needed. */
static void test_parity_repairs(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    uint32_t session = alfa_fwimg_session_id(g_img);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_BEGIN, session, ALFA_FWU_BEGIN_FEC);
    manifest(s, g_img);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_RECEIVING);
    chunks(s, g_img, 0, NCHUNKS, skip_first_of_group, 1);
    ota_site_run_ms(s, 500);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_READY);
    assert_int_equal(alfa_fwu_stats(fwu(s))->fec_recovered, (NCHUNKS + 15u) / 16u);
    assert_int_equal(g_tap.last_status.state, ALFA_FWU_ST_READY);
    ota_site_free(s);
}

/* Missing chunks are reported exactly; ACTIVATE before the image is verified is refused. */
static void test_nack_and_not_ready(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    uint32_t session = alfa_fwimg_session_id(g_img);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_BEGIN, session, 0);
    manifest(s, g_img);
    chunks(s, g_img, 0, 700, NULL, 0);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_POLL, session, 0);
    ota_site_run_ms(s, 100);
    assert_int_equal(g_tap.nacked, NCHUNKS - 700u); /* one range: 700 .. end */
    assert_int_equal(g_tap.last_status.missing, NCHUNKS - 700u);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_ACTIVATE, session, 0);
    assert_int_equal(g_tap.last_status.result, ALFA_FWU_R_NOT_READY);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_RECEIVING);
    ota_site_free(s);
}

/* Chunks that pass every frame check but are not the signed image: the hash check catches it,
 * the pack starts the transfer of this image again and never offers it for activation. */
static void test_hash_mismatch_restarts(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    uint32_t session = alfa_fwimg_session_id(g_img);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_BEGIN, session, 0);
    manifest(s, g_img);
    chunks(s, g_other, 0, NCHUNKS, NULL, 0); /* the bytes of another image */
    ota_site_run_ms(s, 500);
    assert_int_equal(alfa_fwu_stats(fwu(s))->hash_failures, 1);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_RECEIVING);
    assert_int_equal(g_tap.last_status.result, ALFA_FWU_R_HASH);
    assert_int_equal(alfa_fwu_missing_chunks(fwu(s)), NCHUNKS);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_ACTIVATE, session, 0);
    assert_int_equal(g_tap.last_status.result, ALFA_FWU_R_NOT_READY);
    chunks(s, g_img, 0, NCHUNKS, NULL, 0); /* the right bytes */
    ota_site_run_ms(s, 500);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_READY);
    ota_site_free(s);
}

/* CANCEL stops the session (the red LED too); the same image later resumes from the slot. */
static void test_cancel_then_resume(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    uint32_t session = alfa_fwimg_session_id(g_img);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_BEGIN, session, 0);
    manifest(s, g_img);
    chunks(s, g_img, 0, 600, NULL, 0);
    ota_site_run_ms(s, 2000); /* idle windows written */
    assert_true(alfa_core_fw_update(alfa_pack_core_const(ota_site_pack(s, 0)))); /* red LED blinks (SPEC §7) */
    assert_true(g_tap.hb_state & ALFA_HB_UPDATING);                              /* heartbeat says UPDATING */
    int red_on = 0, red_off = 0;
    for (int k = 0; k < 24; k++) { /* red blinks at 1 Hz: on, then off */
        ota_site_run_ms(s, 50);
        int on = (alfa_core_indicators(alfa_pack_core((alfa_pack_t *)ota_site_pack(s, 0)))->leds & ALFA_LED_RED) != 0;
        red_on |= on;
        red_off |= !on;
    }
    assert_true(red_on && red_off);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, ALFA_NODE_BROADCAST, ALFA_FWU_OP_CANCEL, session, 0);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_IDLE);
    assert_false(alfa_core_fw_update(alfa_pack_core_const(ota_site_pack(s, 0))));
    ota_site_run_ms(s, 1100);
    assert_false(g_tap.hb_state & ALFA_HB_UPDATING);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_BEGIN, session, 0);
    ota_site_run_ms(s, 300);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_RECEIVING);
    /* What the slot holds is kept; units whose bytes equal the erased value cannot be told from
     * missing ones on flash, so they are asked for once more. */
    uint32_t blank = 0;
    for (uint32_t u = 0; u < 300u; u++) {
        int all = 1;
        for (uint32_t k = 0; k < 16u; k++) all &= g_img[128u + 16u * u + k] == 0xFFu;
        blank += (uint32_t)all;
    }
    assert_true(blank > 0u);
    assert_int_equal(alfa_fwu_missing_chunks(fwu(s)), NCHUNKS - 600u + 2u * blank);
    assert_int_equal(alfa_fwu_stats(fwu(s))->resumed_units, 300u - blank);
    ota_site_free(s);
}

/* While a new image is on trial, a new session is refused as busy; the trial goes on. */
static void test_busy_on_trial(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    ota_site_selftest_fail(s, 0, 1);
    char why[128];
    assert_int_equal(gw_ota_start(ota_site_gw(s), g_img, sizeof(g_img), NULL, 0, 0, ota_site_now_ms(s), why, sizeof(why)), 0);
    for (int k = 0; k < 600 && (ota_site_pack(s, 0) == NULL || !alfa_fwu_on_trial(fwu(s))); k++) {
        ota_site_run_ms(s, 100);
    }
    assert_true(alfa_fwu_on_trial(fwu(s)));
    ota_site_run_ms(s, 5000);
    ctrl(s, ALFA_NODE_LINUX_GATEWAY, node_of(s), ALFA_FWU_OP_BEGIN, alfa_fwimg_session_id(g_other), 0);
    assert_int_equal(g_tap.last_status.state, ALFA_FWU_ST_TRIAL);
    assert_int_equal(g_tap.last_status.result, ALFA_FWU_R_BUSY);
    assert_true(alfa_fwu_on_trial(fwu(s)));
    ota_site_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_idle),
        cmocka_unit_test(test_foreign_sender_ignored),
        cmocka_unit_test(test_manifest_of_another_session),
        cmocka_unit_test(test_parity_repairs),
        cmocka_unit_test(test_nack_and_not_ready),
        cmocka_unit_test(test_hash_mismatch_restarts),
        cmocka_unit_test(test_cancel_then_resume),
        cmocka_unit_test(test_busy_on_trial),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
