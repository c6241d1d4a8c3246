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
#include "fwu_wire.h"

#define PAYLOAD 9000u /* 1125 chunks: three blocks, the last partial, an odd chunk count */
#define NCHUNKS ((PAYLOAD + 7u) / 8u)

static fwu_keys_t g_keys;
static uint8_t g_factory[128 + 1024], g_img[128 + PAYLOAD], g_other[128 + PAYLOAD];
static fwu_tap_t g_tap;

static ota_site_t *one_pack(void)
{
    /* small sectors, 8-byte programs */
    ota_site_t *s = fwu_wire_pack((alfa_slot_geom_t){16u * 1024u, 1024u, 8u, 0xFFu}, (const uint8_t(*)[65])g_keys.pub,
                                  g_factory, sizeof(g_factory), &g_tap);
    assert_non_null(s);
    return s;
}

static uint8_t node_of(ota_site_t *s) { return fwu_wire_node(s); }
static const alfa_fwu_t *fwu(ota_site_t *s) { return fwu_wire_fwu(s); }

/* A CTRL op; a POLL asks for every block and a STATUS. */
static void ctrl(ota_site_t *s, uint8_t src, uint8_t dst, uint8_t op, uint32_t session, uint8_t flags)
{
    assert_int_equal(fwu_wire_ctrl(s, src, dst, op, session, flags, 0, (NCHUNKS - 1u) / ALFA_FWU_BLOCK_CHUNKS), 0);
}

static void manifest(ota_site_t *s, const uint8_t *img) { assert_int_equal(fwu_wire_manifest(s, img), 0); }

static void chunks(ota_site_t *s, const uint8_t *img, uint32_t from, uint32_t to, int (*drop)(uint32_t), int parity)
{
    assert_int_equal(fwu_wire_chunks(s, img, PAYLOAD, from, to, drop, parity), 0);
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
