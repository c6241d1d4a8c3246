/* Whole firmware updates on the timed bus: real packs with slots, the real sender; resume, refusals, rollback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alfa/otasite.h"
#include "fwu_keys.h"

#define PAYLOAD 40000u
#define SLOT_SIZE (16u * 4096u)

static fwu_keys_t g_keys;
static uint8_t g_factory[128 + PAYLOAD], g_new[128 + PAYLOAD], g_payload[PAYLOAD];

/* `bus_load_pct` 0: the sender's default pacing. */
static ota_site_t *site_paced(uint32_t packs, uint32_t loss_ppm, uint32_t bus_load_pct)
{
    ota_site_cfg_t c;
    memset(&c, 0, sizeof(c));
    c.packs = packs;
    c.geom = (alfa_slot_geom_t){SLOT_SIZE, 4096u, 16u, 0xFFu};
    c.loss_ppm = loss_ppm;
    c.seed = 7;
    c.keys = (const uint8_t(*)[65])g_keys.pub;
    c.nkeys = 1;
    gw_ota_cfg_defaults(&c.gw);
    c.gw.confirm_timeout_ms = 90000u;
    if (bus_load_pct != 0u) {
        c.gw.bus_load_pct = bus_load_pct;
    }
    c.factory_image = g_factory;
    c.factory_len = sizeof(g_factory);
    ota_site_t *s = ota_site_new(&c);
    assert_non_null(s);
    ota_site_run_ms(s, 6000); /* every pack settled on the bus */
    return s;
}

static ota_site_t *site(uint32_t packs, uint32_t loss_ppm) { return site_paced(packs, loss_ppm, 0); }

static int version_is(const ota_site_t *s, uint32_t i, uint8_t maj, uint8_t min, uint8_t pat)
{
    alfa_fw_version_t v = ota_site_version(s, i);
    return v.major == maj && v.minor == min && v.patch == pat;
}

/* Run until the session is over (or `limit_ms`); returns the simulated time it took. */
static uint32_t run_to_end(ota_site_t *s, uint32_t limit_ms)
{
    uint32_t t0 = ota_site_now_ms(s);
    while (gw_ota_active(ota_site_gw(s)) && ota_site_now_ms(s) - t0 < limit_ms) {
        ota_site_run_ms(s, 100);
    }
    return ota_site_now_ms(s) - t0;
}

static const gw_ota_target_t *target(ota_site_t *s, uint32_t i)
{
    return gw_ota_target(ota_site_gw(s), ota_site_serial(s, i));
}

static void start(ota_site_t *s, const uint8_t *img, size_t len, int force)
{
    char why[160] = "";
    int rc = gw_ota_start(ota_site_gw(s), img, len, NULL, 0, force, ota_site_now_ms(s), why, sizeof(why));
    if (rc != 0) {
        fail_msg("start refused: %s", why);
    }
}

static int setup(void **state)
{
    (void)state;
    if (fwu_keys_make(&g_keys) != 0) return -1;
    fwu_payload(g_payload, PAYLOAD, 1);
    if (fwu_image(&g_keys.key, 2, 5, 0, 1, 1, g_payload, PAYLOAD, g_factory) != 0) return -1;
    fwu_payload(g_payload, PAYLOAD, 2);
    return fwu_image(&g_keys.key, 2, 6, 0, 1, 1, g_payload, PAYLOAD, g_new);
}

static int teardown(void **state)
{
    (void)state;
    fwu_keys_drop(&g_keys);
    return 0;
}

/* Every pack gets the image at once, checks it, and comes back with the new version confirmed. */
static void test_update_all(void **state)
{
    (void)state;
    ota_site_t *s = site(4, 10000u); /* 1 % of the update frames lost, independently per pack */
    for (uint32_t i = 0; i < 4; i++) {
        assert_true(version_is(s, i, 2, 5, 0));
    }
    start(s, g_new, sizeof(g_new), 0);
    uint32_t took = run_to_end(s, 200000);
    assert_int_equal(gw_ota_phase(ota_site_gw(s)), GW_OTA_DONE);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(target(s, i)->st, GW_T_CONFIRMED);
        assert_true(version_is(s, i, 2, 6, 0));
        assert_int_equal(alfa_fwu_state(alfa_pack_fwu(ota_site_pack(s, i))), ALFA_FWU_ST_CONFIRMED);
        assert_int_equal(alfa_slot_sim_state_of(ota_site_slots(s, i), ALFA_SLOT_RUNNING), ALFA_SLOT_VALID);
    }
    const gw_ota_stats_t *st = gw_ota_stats(ota_site_gw(s));
    print_message("update of 4 packs, 40 kB, 1 %% loss: %u ms, %u rounds, %llu data + %llu repair + %llu parity frames\n",
                  took, st->rounds, (unsigned long long)st->data_frames, (unsigned long long)st->repair_frames,
                  (unsigned long long)st->parity_frames);
    ota_site_free(s);
}

/* A pack that misses nothing has nothing to say while the image streams: on a slow share of the
 * bus a round lasts far beyond the sender's pack timeout (20 s), and the pack is asked, not
 * dropped as silent. */
static void test_silent_because_complete_is_not_dropped(void **state)
{
    (void)state;
    ota_site_t *s = site_paced(2, 0u, 2u); /* 2 % of 500 kbit/s: 40 kB take about a minute */
    start(s, g_new, sizeof(g_new), 0);
    uint32_t took = run_to_end(s, 600000);
    assert_true(took > 2u * 20000u);
    assert_int_equal(gw_ota_phase(ota_site_gw(s)), GW_OTA_DONE);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(target(s, i)->st, GW_T_CONFIRMED);
        assert_true(version_is(s, i, 2, 6, 0));
    }
    ota_site_free(s);
}

/* Progress of a pack as the gateway publishes it, in bytes. */
static uint32_t have_bytes(ota_site_t *s, uint32_t i)
{
    const alfa_pack_t *p = ota_site_pack(s, i);
    if (p == NULL || alfa_fwu_state(alfa_pack_fwu(p)) != ALFA_FWU_ST_RECEIVING) {
        return 0u;
    }
    return PAYLOAD - alfa_fwu_missing_chunks(alfa_pack_fwu(p)) * 8u;
}

static void run_until_have(ota_site_t *s, uint32_t i, uint32_t bytes)
{
    for (uint32_t k = 0; k < 600 && have_bytes(s, i) < bytes; k++) {
        ota_site_run_ms(s, 50);
    }
    assert_true(have_bytes(s, i) >= bytes);
}

/* Refused images: every pack refuses, nothing is written or activated, versions stay. */
static void refused(const uint8_t *img, size_t len, int force, const char *why)
{
    ota_site_t *s = site(3, 0);
    start(s, img, len, force);
    run_to_end(s, 60000);
    assert_int_equal(gw_ota_phase(ota_site_gw(s)), GW_OTA_DONE);
    for (uint32_t i = 0; i < 3; i++) {
        const gw_ota_target_t *t = target(s, i);
        assert_int_equal(t->st, GW_T_REFUSED);
        assert_string_equal(t->error, why);
        assert_true(version_is(s, i, 2, 5, 0));
        const alfa_fwu_t *u = alfa_pack_fwu(ota_site_pack(s, i));
        assert_int_equal(alfa_fwu_state(u), ALFA_FWU_ST_REFUSED);
        assert_int_equal(alfa_fwu_stats(u)->writes + alfa_fwu_stats(u)->erases, 0); /* nothing written */
        assert_int_equal(ota_site_slots(s, i)->flash.progs + ota_site_slots(s, i)->flash.erases, 0);
        assert_int_equal(alfa_slot_sim_state_of(ota_site_slots(s, i), ALFA_SLOT_RUNNING), ALFA_SLOT_VALID);
    }
    ota_site_free(s);
}

static uint8_t g_bad[128 + PAYLOAD];

static void test_refuse_tampered(void **state)
{
    (void)state;
    /* An attacker changes the payload and fixes the header's hash: only the signature tells. */
    memcpy(g_bad, g_new, sizeof(g_bad));
    g_bad[128 + 1234] ^= 0x40u;
    alfa_sha256(g_bad + 128, PAYLOAD, g_bad + 32);
    refused(g_bad, sizeof(g_bad), 0, "bad_signature");
}

static void test_refuse_unsigned(void **state)
{
    (void)state;
    fwu_payload(g_payload, PAYLOAD, 2);
    assert_int_equal(fwu_image(NULL, 2, 6, 0, 1, 1, g_payload, PAYLOAD, g_bad), 0);
    refused(g_bad, sizeof(g_bad), 0, "bad_signature");
}

static void test_refuse_other_key(void **state)
{
    (void)state;
    assert_int_equal(fwu_image(&g_keys.other, 2, 6, 0, 1, 1, g_payload, PAYLOAD, g_bad), 0);
    refused(g_bad, sizeof(g_bad), 0, "bad_signature");
}

static void test_refuse_wrong_hardware(void **state)
{
    (void)state;
    assert_int_equal(fwu_image(&g_keys.key, 2, 6, 0, 1, 7, g_payload, PAYLOAD, g_bad), 0);
    refused(g_bad, sizeof(g_bad), 0, "wrong_hardware");
}

static void test_refuse_downgrade(void **state)
{
    (void)state;
    assert_int_equal(fwu_image(&g_keys.key, 2, 4, 9, 1, 1, g_payload, PAYLOAD, g_bad), 0);
    refused(g_bad, sizeof(g_bad), 0, "downgrade");
    /* The security counter is never lowered, forced or not. */
    assert_int_equal(fwu_image(&g_keys.key, 2, 7, 0, 0, 1, g_payload, PAYLOAD, g_bad), 0);
    refused(g_bad, sizeof(g_bad), 1, "counter");
}

/* An installer may force an older version (same counter). */
static void test_forced_downgrade(void **state)
{
    (void)state;
    assert_int_equal(fwu_image(&g_keys.key, 2, 4, 9, 1, 1, g_payload, PAYLOAD, g_bad), 0);
    ota_site_t *s = site(2, 0);
    start(s, g_bad, sizeof(g_bad), 1);
    run_to_end(s, 120000);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(target(s, i)->st, GW_T_CONFIRMED);
        assert_true(version_is(s, i, 2, 4, 9));
    }
    ota_site_free(s);
}

/* A pack loses power in the middle of the transfer: it keeps what it had and asks only for the rest. */
static void test_pack_power_cut_resumes(void **state)
{
    (void)state;
    ota_site_t *s = site(3, 0);
    start(s, g_new, sizeof(g_new), 0);
    run_until_have(s, 1, PAYLOAD / 2u);
    ota_site_power(s, 1, 0);
    ota_site_run_ms(s, 3000);
    ota_site_power(s, 1, 1);
    run_to_end(s, 200000);
    const gw_ota_target_t *t = target(s, 1);
    assert_int_equal(t->st, GW_T_CONFIRMED);
    assert_true(version_is(s, 1, 2, 6, 0));
    /* It resumed: most of the first half was already on its flash. */
    assert_true(t->resumed_from * 8u >= PAYLOAD / 4u);
    ota_site_free(s);
}

/* The gateway restarts in the middle: it takes the session up from its state file and the packs
 * resume; far fewer data frames than an image are sent again. */
static void test_gateway_restart_resumes(void **state)
{
    (void)state;
    ota_site_t *s = site(3, 0);
    start(s, g_new, sizeof(g_new), 0);
    run_until_have(s, 0, (PAYLOAD * 6u) / 10u);
    assert_int_equal(ota_site_gateway_restart(s), 1);
    run_to_end(s, 200000);
    const gw_ota_stats_t *st = gw_ota_stats(ota_site_gw(s));
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(target(s, i)->st, GW_T_CONFIRMED);
        assert_true(version_is(s, i, 2, 6, 0));
        assert_true(target(s, i)->resumed_from * 8u >= PAYLOAD / 2u);
    }
    assert_true(st->data_frames < (PAYLOAD / 8u) / 2u);
    ota_site_free(s);
}

/* The canary's new image fails its self-test (no BMS): it restarts into the old image, says why,
 * and the roll-out stops: the other packs keep the old version. */
static void test_failed_selftest_rolls_back(void **state)
{
    (void)state;
    ota_site_t *s = site(3, 0);
    ota_site_selftest_fail(s, 0, 1); /* pack 1 is the canary (lowest serial, not the master) */
    start(s, g_new, sizeof(g_new), 0);
    run_to_end(s, 300000);
    assert_int_equal(gw_ota_phase(ota_site_gw(s)), GW_OTA_DONE);
    const gw_ota_target_t *t = target(s, 0);
    assert_int_equal(t->st, GW_T_ROLLED_BACK);
    assert_string_equal(t->error, "selftest (bms)");
    assert_true(version_is(s, 0, 2, 5, 0));
    const alfa_fwu_t *u = alfa_pack_fwu(ota_site_pack(s, 0));
    assert_int_equal(alfa_fwu_state(u), ALFA_FWU_ST_ROLLED_BACK);
    assert_int_equal(alfa_fwu_result(u), ALFA_FWU_R_SELFTEST);
    assert_int_equal(alfa_slot_sim_state_of(ota_site_slots(s, 0), ALFA_SLOT_UPDATE), ALFA_SLOT_ABORTED);
    for (uint32_t i = 1; i < 3; i++) {
        assert_int_equal(target(s, i)->st, GW_T_SKIPPED);
        assert_true(version_is(s, i, 2, 5, 0));
    }
    ota_site_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_all),
        cmocka_unit_test(test_silent_because_complete_is_not_dropped),
        cmocka_unit_test(test_refuse_tampered),
        cmocka_unit_test(test_refuse_unsigned),
        cmocka_unit_test(test_refuse_other_key),
        cmocka_unit_test(test_refuse_wrong_hardware),
        cmocka_unit_test(test_refuse_downgrade),
        cmocka_unit_test(test_forced_downgrade),
        cmocka_unit_test(test_pack_power_cut_resumes),
        cmocka_unit_test(test_gateway_restart_resumes),
        cmocka_unit_test(test_failed_selftest_rolls_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
