/* The update's whole life on the ESP32 port: a real pack, the slot port's logic and mbedTLS check on a model of ESP-IDF's OTA state machine, through activation, the trial, confirmation and every way back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alfa/esp32/fw_verify.h"
#include "alfa/esp32/ota.h"
#include "alfa/flash_sim.h"
#include "alfa/pack.h"
#include "fwsign.h"
#include "idf_ota_model.h"

#define SERIAL 0x240AC4ABCDEFull
#define PAYLOAD 9000u                          /* three 4-KiB blocks, the last partial */
#define NCHUNKS ((PAYLOAD + 7u) / 8u)
#define RXQ 4096u
#define WDT_MS 10000u                          /* CONFIG_ESP_TASK_WDT_TIMEOUT_S */

/* The board as the tests see it: what survives a restart (the model's flash and otadata, the
 * settings partition) and what a restart wipes (the port's RAM, the pack, the CAN queue). */
typedef struct rig {
    idf_model_t m;
    alfa_flash_sim_t store;
    alfa_esp32_ota_t ota;
    alfa_port_t port;
    alfa_pack_t pack;
    uint32_t now, last_feed;
    alfa_can_frame_t rxq[RXQ];
    uint32_t head, tail;
    uint8_t keys[1][ALFA_ESP32_FW_KEY_SIZE];
    /* what the gateway's place saw */
    uint8_t node;
    alfa_heartbeat_t hb;
    alfa_fwu_reply_t status;
    uint32_t statuses, nacked;
    /* the world */
    int bms_answers;                            /* the BMS answers (a new image that cannot: 0) */
    int hung;                                   /* the pack task stopped (a new image that hangs) */
    uint32_t next_bms, boots, wdt_resets;
} rig_t;

static rig_t g_rig;
static alfa_fwsign_key_t g_key;
static uint8_t g_factory[1024], g_v26[128 + PAYLOAD], g_v27[128 + PAYLOAD];

static rig_t *R(void *u) { return (rig_t *)u; }

/* ---------------------------------------------------------------- the port */

static uint32_t p_now(void *u) { return R(u)->now; }
static void p_relays(void *u, uint8_t m) { (void)u, (void)m; }
static void p_leds(void *u, uint8_t m) { (void)u, (void)m; }
static void p_feed(void *u) { R(u)->last_feed = R(u)->now; }
static void p_reboot(void *u) { (void)alfa_esp32_ota_reboot(&R(u)->ota); /* the model records the restart */ }

static int32_t p_send(void *u, const alfa_can_frame_t *f)
{
    rig_t *r = R(u);
    alfa_heartbeat_t hb;
    alfa_fwu_reply_t rep;
    if (alfa_proto_classify(f) == ALFA_CLS_HEARTBEAT && alfa_proto_heartbeat_decode(f, &hb) == 0 && hb.serial == SERIAL) {
        r->hb = hb;
        r->node = hb.node_id;
    } else if (alfa_proto_classify(f) == ALFA_CLS_FWU_REPLY && alfa_fwu_reply_decode(f, &rep) == 0) {
        if (rep.op == ALFA_FWU_REP_STATUS) {
            r->status = rep;
            r->statuses++;
        } else {
            r->nacked++;
        }
    }
    return ALFA_PORT_OK;
}

static int32_t p_recv(void *u, alfa_can_frame_t *f)
{
    rig_t *r = R(u);
    if (r->tail == r->head) {
        return 0;
    }
    *f = r->rxq[r->tail++ % RXQ];
    return 1;
}

static int32_t p_fread(void *u, uint32_t a, void *b, uint32_t n) { return alfa_flash_sim_read(&R(u)->store, a, b, n); }
static int32_t p_fprog(void *u, uint32_t a, const void *b, uint32_t n) { return alfa_flash_sim_prog(&R(u)->store, a, b, n); }
static int32_t p_ferase(void *u, uint32_t b) { return alfa_flash_sim_erase(&R(u)->store, b); }

/* port.h hands the board; the slot logic takes its own object (as port/esp32/idf/ota_idf.c does) */
static int32_t s_begin(void *u, uint8_t res) { return alfa_esp32_slot_begin(&R(u)->ota, res); }
static int32_t s_erase(void *u, uint8_t w, uint32_t s) { return alfa_esp32_slot_erase(&R(u)->ota, w, s); }
static int32_t s_write(void *u, uint8_t w, uint32_t o, const void *d, uint32_t n) { return alfa_esp32_slot_write(&R(u)->ota, w, o, d, n); }
static int32_t s_read(void *u, uint8_t w, uint32_t o, void *b, uint32_t n) { return alfa_esp32_slot_read(&R(u)->ota, w, o, b, n); }
static int32_t s_end(void *u, uint32_t n) { return alfa_esp32_slot_end(&R(u)->ota, n); }
static int32_t s_set_boot(void *u) { return alfa_esp32_slot_set_boot(&R(u)->ota); }
static int32_t s_confirm(void *u) { return alfa_esp32_slot_confirm(&R(u)->ota); }
static alfa_slot_state_t s_state(void *u, uint8_t w) { return alfa_esp32_slot_state(&R(u)->ota, w); }
static int32_t s_verify(void *u, const uint8_t d[32], const uint8_t s[64])
{
    return alfa_esp32_fw_verify((const uint8_t(*)[ALFA_ESP32_FW_KEY_SIZE])R(u)->keys, 1, d, s);
}

/* Power on (or a restart of any kind): the bootloader, then the port and the pack from scratch. */
static void boot(rig_t *r)
{
    assert_true(idf_model_boot(&r->m) >= 0);
    r->boots++;
    r->head = r->tail = 0;
    r->hung = 0;
    r->last_feed = r->now;
    memset(&r->ota, 0, sizeof r->ota);
    assert_int_equal(idf_model_port(&r->m, &r->ota), ALFA_PORT_OK);
    assert_int_equal(alfa_pack_init(&r->pack, &r->port, &(alfa_pack_config_t){.serial = SERIAL, .bms_external = 1,
                                                                               .hw_class = 1}),
                     ALFA_OK);
}

static void rig_new(rig_t *r)
{
    alfa_flash_sim_free(&r->store);
    memset(r, 0, sizeof *r);
    idf_model_init(&r->m, g_factory, sizeof g_factory);
    const alfa_flash_geom_t g = {4096u, 4u, 16u, 0xFFu};
    assert_int_equal(alfa_flash_sim_init(&r->store, &g), 0);
    memcpy(r->keys[0], g_key.point, 65);
    r->port = (alfa_port_t){
        .user = r, .now_ms = p_now, .relays_set = p_relays, .status_leds_set = p_leds, .can_send = p_send,
        .can_recv = p_recv, .flash_geom = &r->store.geom, .flash_read = p_fread, .flash_prog = p_fprog,
        .flash_erase = p_ferase, .slot_geom = &r->ota.geom, .slot_begin = s_begin, .slot_erase = s_erase,
        .slot_write = s_write, .slot_read = s_read, .slot_end = s_end, .slot_set_boot = s_set_boot,
        .slot_confirm = s_confirm, .slot_state = s_state, .fw_verify = s_verify, .watchdog_feed = p_feed,
        .reboot = p_reboot,
    };
    r->now = 1000;
    r->bms_answers = 1;
    boot(r);
}

/* Run the board for `ms`: the BMS answers every 2 s, the pack task runs every millisecond unless it
 * hangs, the task watchdog resets the chip 10 s after the last feed, a restart boots again. */
static void run(rig_t *r, uint32_t ms)
{
    for (uint32_t i = 0; i < ms; i++) {
        r->now++;
        if (r->bms_answers && (int32_t)(r->now - r->next_bms) >= 0) {
            r->next_bms = r->now + 2000u;
            alfa_bms_result_t b;
            memset(&b, 0, sizeof b);
            b.finished = 1;
            b.alarms_valid = 1;
            b.reading.v_pack_mv = 52000u;
            b.reading.i_batt_ma = 1000;
            alfa_pack_bms_result(&r->pack, &b);
        }
        if (!r->hung) {
            alfa_pack_process(&r->pack);
        }
        if (r->now - r->last_feed > WDT_MS) {
            r->wdt_resets++; /* panic, then the chip restarts: no port call, the bootloader decides */
            boot(r);
        } else if (r->m.restart_requested) {
            boot(r);
        }
    }
}

/* ---------------------------------------------------------------- the sender (node 126) */

static void to_pack(rig_t *r, const alfa_can_frame_t *f)
{
    assert_true(r->head - r->tail < RXQ);
    r->rxq[r->head++ % RXQ] = *f;
}

static void ctrl(rig_t *r, uint8_t op, uint32_t session)
{
    alfa_fwu_ctrl_t c;
    memset(&c, 0, sizeof c);
    c.src = ALFA_NODE_LINUX_GATEWAY;
    c.dst = r->node;
    c.op = op;
    c.session = session;
    c.flags = op == ALFA_FWU_OP_BEGIN ? ALFA_FWU_BEGIN_FEC : 0u;
    if (op == ALFA_FWU_OP_POLL) {
        c.last_block = (NCHUNKS - 1u) / ALFA_FWU_BLOCK_CHUNKS;
        c.want_status = 1;
    }
    alfa_can_frame_t f;
    assert_int_equal(alfa_fwu_ctrl_encode(&c, &f), 0);
    to_pack(r, &f);
    run(r, 50);
}

static void manifest(rig_t *r, const uint8_t *img)
{
    for (uint8_t p = 0; p < ALFA_FWU_MANIFEST_PARTS; p++) {
        alfa_can_frame_t f;
        assert_int_equal(alfa_fwu_manifest_encode(ALFA_NODE_LINUX_GATEWAY, ALFA_NODE_BROADCAST, p, img + 8u * p, &f), 0);
        to_pack(r, &f);
    }
    run(r, 300); /* checks (mbedTLS), slot_begin, the trailer erased and written */
}

/* Chunks [from, to) with a parity frame after each group, four frames a millisecond. */
static void chunks(rig_t *r, const uint8_t *img, uint32_t from, uint32_t to)
{
    uint8_t x[8] = {0};
    for (uint32_t c = from; c < to; c++) {
        uint8_t d[8];
        memset(d, 0xFF, sizeof d);
        memcpy(d, img + 128u + 8u * c, c + 1u == NCHUNKS ? PAYLOAD - 8u * c : 8u);
        if (c % ALFA_FWU_GROUP == 0u) {
            memset(x, 0, sizeof x);
        }
        for (int j = 0; j < 8; j++) {
            x[j] ^= d[j];
        }
        alfa_can_frame_t f;
        assert_int_equal(alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, d, &f), 0);
        to_pack(r, &f);
        if (c % ALFA_FWU_GROUP == ALFA_FWU_GROUP - 1u || c + 1u == NCHUNKS) {
            assert_int_equal(alfa_fwu_parity_encode(ALFA_NODE_LINUX_GATEWAY, c / ALFA_FWU_GROUP, x, &f), 0);
            to_pack(r, &f);
        }
        if (c % 4u == 3u) {
            run(r, 1);
        }
    }
    run(r, 2000); /* windows written, sectors recorded */
}

static void wait_state(rig_t *r, uint8_t st, uint32_t max_ms)
{
    for (uint32_t t = 0; t < max_ms && alfa_fwu_state(alfa_pack_fwu(&r->pack)) != st; t += 10u) {
        run(r, 10);
    }
    assert_int_equal(alfa_fwu_state(alfa_pack_fwu(&r->pack)), st);
}

/* A whole transfer of `img` up to READY. */
static void deliver(rig_t *r, const uint8_t *img)
{
    uint32_t session = alfa_fwimg_session_id(img);
    ctrl(r, ALFA_FWU_OP_BEGIN, session);
    assert_int_equal(r->status.state, ALFA_FWU_ST_MANIFEST);
    manifest(r, img);
    assert_int_equal(r->status.state, ALFA_FWU_ST_RECEIVING);
    chunks(r, img, 0, NCHUNKS);
    ctrl(r, ALFA_FWU_OP_POLL, session);
    assert_int_equal(r->status.missing, 0);
    ctrl(r, ALFA_FWU_OP_VERIFY, session);
    wait_state(r, ALFA_FWU_ST_READY, 2000);
}

/* ACTIVATE: the pack restarts into the new image, which runs on trial. */
static void activate(rig_t *r, const uint8_t *img)
{
    uint32_t boots = r->boots;
    ctrl(r, ALFA_FWU_OP_ACTIVATE, alfa_fwimg_session_id(img));
    run(r, 1000);
    assert_int_equal(r->boots, boots + 1u);
    assert_int_equal(alfa_fwu_state(alfa_pack_fwu(&r->pack)), ALFA_FWU_ST_TRIAL);
}

static void version_is(rig_t *r, uint8_t maj, uint8_t min)
{
    alfa_fw_version_t v = alfa_core_fw_version(alfa_pack_core(&r->pack));
    assert_int_equal(v.major, maj);
    assert_int_equal(v.minor, min);
    assert_int_equal(r->hb.fw_major, maj); /* and so says its heartbeat */
    assert_int_equal(r->hb.fw_minor, min);
}

static void esp_idf_was_used_by_its_rules(rig_t *r)
{
    assert_int_equal(r->m.asserts, 0);     /* no write through a sequential-erase handle */
    assert_int_equal(r->m.rule_breaks, 0); /* no byte programmed twice */
    assert_int_equal(idf_model_open_handles(&r->m), 0);
    assert_int_equal(r->ota.refused, 0);
    assert_int_equal(r->store.rule_breaks, 0);
}

/* ---------------------------------------------------------------- the tests */

static int setup(void **state)
{
    (void)state;
    if (alfa_fwsign_key_from_seed(2025, &g_key) != 0) {
        return -1;
    }
    memset(g_factory, 0x5A, sizeof g_factory);
    g_factory[0] = 0xE9u; /* an ESP-IDF app image flashed over serial: no trailer, the build's version */
    uint8_t p[PAYLOAD];
    for (uint32_t i = 0; i < PAYLOAD; i++) {
        p[i] = (uint8_t)(i * 31u + (i >> 7));
    }
    p[0] = 0xE9u;
    alfa_fwimg_hdr_t h = {.device_type = 1, .hw_class = 1, .major = 2, .minor = 6, .security_counter = 1};
    if (alfa_fwsign_image(&g_key, &h, p, PAYLOAD, g_v26) != 0) {
        return -1;
    }
    p[100] ^= 0x55u;
    h.minor = 7;
    return alfa_fwsign_image(&g_key, &h, p, PAYLOAD, g_v27);
}

static int teardown(void **state)
{
    (void)state;
    alfa_flash_sim_free(&g_rig.store);
    return 0;
}

/* ota_0 -> ota_1, confirmed after the self-test; then ota_1 -> ota_0 the same way (seq 3). */
static void update_is_confirmed_after_its_self_test(void **state)
{
    (void)state;
    rig_t *r = &g_rig;
    rig_new(r);
    run(r, 6000); /* node ID claimed, heartbeats */
    assert_int_not_equal(r->node, 0);
    version_is(r, ALFA_FW_VERSION_MAJOR, ALFA_FW_VERSION_MINOR);
    deliver(r, g_v26);
    assert_int_equal(r->m.begins, 1);
    activate(r, g_v26);
    assert_int_equal(r->m.running, 1);
    uint32_t st = 0;
    assert_int_equal(idf_model_state(&r->m, 1, &st), ALFA_ESP32_ESP_OK);
    assert_int_equal(st, ALFA_ESP32_IMG_PENDING_VERIFY); /* the bootloader: NEW -> PENDING_VERIFY */
    wait_state(r, ALFA_FWU_ST_CONFIRMED, 20000);
    assert_int_equal(idf_model_state(&r->m, 1, &st), ALFA_ESP32_ESP_OK);
    assert_int_equal(st, ALFA_ESP32_IMG_VALID);
    run(r, 1500);
    version_is(r, 2, 6);
    assert_int_equal(r->status.state, ALFA_FWU_ST_CONFIRMED);
    /* and it stays: a reset now boots ota_1 again */
    r->m.restart_requested = 1;
    run(r, 2000);
    assert_int_equal(r->m.running, 1);
    assert_int_equal(r->m.rollbacks, 0);

    deliver(r, g_v27);
    activate(r, g_v27);
    assert_int_equal(r->m.running, 0);
    wait_state(r, ALFA_FWU_ST_CONFIRMED, 20000);
    assert_int_equal(idf_model_state(&r->m, 0, &st), ALFA_ESP32_ESP_OK);
    assert_int_equal(st, ALFA_ESP32_IMG_VALID);
    assert_true(r->m.otadata[0].seq == 3u || r->m.otadata[1].seq == 3u);
    run(r, 1500);
    version_is(r, 2, 7);
    assert_int_equal(r->wdt_resets, 0);
    esp_idf_was_used_by_its_rules(r);
}

/* The new image cannot reach its BMS: after 60 s it writes why into its trailer and restarts; the
 * port marks it invalid (esp_ota_mark_app_invalid_rollback_and_reboot) and ota_0 comes back. */
static void failed_self_test_rolls_back(void **state)
{
    (void)state;
    rig_t *r = &g_rig;
    rig_new(r);
    run(r, 6000);
    deliver(r, g_v26);
    r->bms_answers = 0;
    activate(r, g_v26);
    run(r, ALFA_FWU_SELFTEST_MS - 5000u);
    assert_int_equal(r->m.running, 1); /* still trying */
    run(r, 8000);
    assert_int_equal(r->m.running, 0);
    uint32_t st = 0;
    assert_int_equal(idf_model_state(&r->m, 1, &st), ALFA_ESP32_ESP_OK);
    assert_int_equal(st, ALFA_ESP32_IMG_INVALID); /* marked by the application, not aborted by the bootloader */
    assert_int_equal(r->m.rollbacks, 0);
    const alfa_fwu_t *u = alfa_pack_fwu(&r->pack);
    assert_int_equal(alfa_fwu_state(u), ALFA_FWU_ST_ROLLED_BACK);
    assert_int_equal(alfa_fwu_result(u), ALFA_FWU_R_SELFTEST);
    ctrl(r, ALFA_FWU_OP_QUERY, 0);
    assert_int_equal(r->status.state, ALFA_FWU_ST_ROLLED_BACK);
    assert_int_equal(r->status.missing, ALFA_FWU_CHECK_BMS | ALFA_FWU_CHECK_CYCLE); /* the checks that failed */
    run(r, 1500);
    version_is(r, ALFA_FW_VERSION_MAJOR, ALFA_FW_VERSION_MINOR);
    assert_int_equal(r->wdt_resets, 0);
    esp_idf_was_used_by_its_rules(r);
}

/* A new image that hangs stops feeding the task watchdog: the chip restarts without asking the port,
 * the bootloader finds ota_1 still PENDING_VERIFY, marks it ABORTED and starts ota_0. */
static void watchdog_on_trial_rolls_back(void **state)
{
    (void)state;
    rig_t *r = &g_rig;
    rig_new(r);
    run(r, 6000);
    deliver(r, g_v26);
    r->bms_answers = 0; /* not confirmed before it hangs */
    activate(r, g_v26);
    run(r, 500);
    r->hung = 1;
    run(r, WDT_MS + 100u);
    assert_int_equal(r->wdt_resets, 1);
    assert_int_equal(r->m.rollbacks, 1);
    assert_int_equal(r->m.running, 0);
    uint32_t st = 0;
    assert_int_equal(idf_model_state(&r->m, 1, &st), ALFA_ESP32_ESP_OK);
    assert_int_equal(st, ALFA_ESP32_IMG_ABORTED);
    const alfa_fwu_t *u = alfa_pack_fwu(&r->pack);
    assert_int_equal(alfa_fwu_state(u), ALFA_FWU_ST_ROLLED_BACK);
    assert_int_equal(alfa_fwu_result(u), ALFA_FWU_R_NOT_CONFIRMED);
    r->bms_answers = 1;
    run(r, 3000);
    version_is(r, ALFA_FW_VERSION_MAJOR, ALFA_FW_VERSION_MINOR);
    /* the site can try again: the aborted entry goes with the next session's esp_ota_begin */
    deliver(r, g_v26);
    activate(r, g_v26);
    wait_state(r, ALFA_FWU_ST_CONFIRMED, 20000);
    esp_idf_was_used_by_its_rules(r);
}

/* Power cut half-way through the transfer: after the restart the same session resumes (esp_ota_resume,
 * not esp_ota_begin), only the missing part travels, and esp_ota_end accepts the slot. */
static void transfer_resumes_after_a_restart(void **state)
{
    (void)state;
    rig_t *r = &g_rig;
    rig_new(r);
    run(r, 6000);
    uint32_t session = alfa_fwimg_session_id(g_v26);
    ctrl(r, ALFA_FWU_OP_BEGIN, session);
    manifest(r, g_v26);
    chunks(r, g_v26, 0, 2u * ALFA_FWU_BLOCK_CHUNKS + 40u);
    r->m.restart_requested = 1; /* power lost */
    run(r, 6000);
    ctrl(r, ALFA_FWU_OP_BEGIN, session);
    wait_state(r, ALFA_FWU_ST_RECEIVING, 2000);
    assert_int_equal(r->m.begins, 1);
    assert_int_equal(r->m.resumes, 2u); /* begin's own swap, and the resume */
    ctrl(r, ALFA_FWU_OP_POLL, session);
    assert_true(r->status.missing <= NCHUNKS - 2u * ALFA_FWU_BLOCK_CHUNKS); /* the first two blocks stayed */
    assert_true(r->status.missing > 0u);
    chunks(r, g_v26, 2u * ALFA_FWU_BLOCK_CHUNKS, NCHUNKS);
    ctrl(r, ALFA_FWU_OP_POLL, session);
    assert_int_equal(r->status.missing, 0);
    ctrl(r, ALFA_FWU_OP_VERIFY, session);
    wait_state(r, ALFA_FWU_ST_READY, 2000);
    activate(r, g_v26);
    wait_state(r, ALFA_FWU_ST_CONFIRMED, 20000);
    run(r, 1500);
    version_is(r, 2, 6);
    esp_idf_was_used_by_its_rules(r);
}

/* esp_ota_set_boot_partition fails: the transfer is reported failed, nothing restarts, ota_0 runs on. */
static void activation_refused_by_esp_idf_changes_nothing(void **state)
{
    (void)state;
    rig_t *r = &g_rig;
    rig_new(r);
    run(r, 6000);
    deliver(r, g_v26);
    r->m.fail_set_boot = 1;
    uint32_t boots = r->boots;
    ctrl(r, ALFA_FWU_OP_ACTIVATE, alfa_fwimg_session_id(g_v26));
    run(r, 2000);
    assert_int_equal(r->boots, boots);
    assert_int_equal(alfa_fwu_state(alfa_pack_fwu(&r->pack)), ALFA_FWU_ST_FAILED);
    assert_int_equal(alfa_fwu_result(alfa_pack_fwu(&r->pack)), ALFA_FWU_R_FLASH);
    assert_int_equal(r->ota.last_err, ALFA_ESP32_ERR_FLASH_OP_FAIL);
    uint32_t st = 0;
    assert_int_equal(idf_model_state(&r->m, 1, &st), ALFA_ESP32_ERR_NOT_FOUND);
    esp_idf_was_used_by_its_rules(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(update_is_confirmed_after_its_self_test),
        cmocka_unit_test(failed_self_test_rolls_back),
        cmocka_unit_test(watchdog_on_trial_rolls_back),
        cmocka_unit_test(transfer_resumes_after_a_restart),
        cmocka_unit_test(activation_refused_by_esp_idf_changes_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
