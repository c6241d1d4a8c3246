/* Unit tests of the gateway's command parser, JSON reader/writer and core logic on a simulated clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "alfa/gw_cmd.h"
#include "alfa/gw_config.h"
#include "alfa/gw_core.h"
#include "alfa/gw_json.h"

/* ---------------------------------------------------------------- parser */

static int parse(const char *topic, const char *payload, gw_cmd_req_t *r)
{
    return gw_cmd_parse("home", topic, strlen(topic), payload, strlen(payload), r);
}

static void test_json_reader(void **state)
{
    (void)state;
    gw_json_doc_t d;
    const char *ok = " {\"a\": -12, \"b\":\"x\\u00e9\\ud83d\\ude00\\n\", \"c\":true, \"d\":null, \"e\":[1,{\"f\":2}], \"g\":1.5}";
    assert_int_equal(gw_json_parse(&d, ok, strlen(ok)), 0);
    assert_int_equal(d.count, 6);
    assert_int_equal(gw_json_get(&d, "a")->i, -12);
    assert_string_equal(gw_json_get(&d, "b")->s, "x\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_int_equal(gw_json_get(&d, "c")->type, GW_JSON_BOOL);
    assert_int_equal(gw_json_get(&d, "e")->type, GW_JSON_NESTED);
    assert_int_equal(gw_json_get(&d, "g")->type, GW_JSON_REAL);
    static const char *const bad[] = {"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}", "{\"a\":1}x",
                                      "{\"a\":1,\"a\":2}", "{\"a\":\"\\ud800\"}", "{\"a\":tru}", "{\"a\":\"\x01\"}",
                                      "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", "{'a':1}", "{\"a\":-}", "{\"a\":1e}"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(gw_json_parse(&d, bad[k], strlen(bad[k])), -1);
        assert_non_null(d.error);
    }
    /* the writer escapes and reports overflow */
    char buf[32];
    gw_jw_t w;
    gw_jw_init(&w, buf, sizeof buf);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "k");
    gw_jw_str(&w, "a\"b\\\x01");
    gw_jw_key(&w, "n");
    gw_jw_int(&w, -5);
    gw_jw_obj_end(&w);
    assert_int_equal(gw_jw_finish(&w), (int)strlen("{\"k\":\"a\\\"b\\\\\\u0001\",\"n\":-5}"));
    assert_string_equal(buf, "{\"k\":\"a\\\"b\\\\\\u0001\",\"n\":-5}");
    gw_jw_init(&w, buf, 8);
    gw_jw_str(&w, "far too long for eight");
    assert_int_equal(gw_jw_finish(&w), -1);
}

static void test_parse_valid_commands(void **state)
{
    (void)state;
    gw_cmd_req_t r;
    assert_int_equal(parse("alfaspark/home/cmd/set_mode", "{\"id\":\"a\",\"mode\":\"eco\",\"on\":false}", &r), 0);
    assert_int_equal(r.for_pack, 0);
    assert_int_equal(r.cmd.code, ALFA_CMD_SET_MODE);
    assert_int_equal(r.cmd.u.set_mode.mode, ALFA_MODE_ECO);
    assert_int_equal(r.cmd.u.set_mode.on, 0);
    assert_string_equal(r.id_json, "\"a\"");

    assert_int_equal(parse("alfaspark/home/pack/A1B2C3D4E5F6/cmd/set_relay_override",
                           "{\"id\":7,\"relay\":\"heater\",\"override\":\"closed\"}", &r), 0);
    assert_int_equal(r.for_pack, 1);
    assert_true(r.serial == 0xa1b2c3d4e5f6ull);
    assert_string_equal(r.serial_hex, "a1b2c3d4e5f6");
    assert_string_equal(r.id_json, "7");
    assert_int_equal(r.cmd.u.relay_override.relay, 3);
    assert_int_equal(r.cmd.u.relay_override.override, ALFA_OVR_CLOSED);

    assert_int_equal(parse("alfaspark/home/cmd/set_tou_window", "{\"index\":3,\"start_min\":1320,\"end_min\":360}", &r), 0);
    assert_int_equal(r.cmd.u.tou_window.start_min, 1320);
    assert_int_equal(r.cmd.u.tou_window.enabled, 1);
    assert_int_equal(parse("alfaspark/home/cmd/set_grid_limit", "{\"on\":true,\"limit_kwh\":12}", &r), 0);
    assert_int_equal(r.cmd.u.grid_limit.limit_kwh, 12);
    assert_int_equal(parse("alfaspark/home/cmd/set_sc_thresholds", "{\"low_pct\":20,\"high_pct\":60}", &r), 0);
    assert_int_equal(parse("alfaspark/home/cmd/set_calibration", "{\"ct\":\"pool\",\"gain_ua\":24000,\"offset_ma\":-30}", &r), 0);
    assert_int_equal(r.cmd.u.calibration.ct, 2);
    assert_int_equal(r.cmd.u.calibration.offset_ma, -30);
    assert_int_equal(parse("alfaspark/home/cmd/set_time", "{}", &r), 0);
    assert_true(r.time_from_gateway && r.offset_from_gateway);
    assert_int_equal(parse("alfaspark/home/cmd/set_time", "{\"unix_s\":1700000000,\"utc_offset_min\":60}", &r), 0);
    assert_false(r.time_from_gateway);
    assert_int_equal(parse("alfaspark/home/cmd/identify", "{}", &r), 0);
    assert_int_equal(r.cmd.u.identify.seconds, 10);
    assert_int_equal(parse("alfaspark/home/cmd/read_settings", "{}", &r), 0);
    assert_int_equal(parse("alfaspark/home/cmd/reboot", "{\"client\":\"ctl\"}", &r), 0);
    assert_string_equal(r.client, "ctl");
    assert_int_equal(parse("alfaspark/home/cmd/factory_reset", "{\"confirm\":\"factory_reset\"}", &r), 0);
    assert_int_equal(r.cmd.u.factory_reset.confirm, ALFA_FACTORY_RESET_CODE);
    assert_int_equal(parse("alfaspark/home/cmd/set_setting", "{\"setting\":\"eco_min_off_s\",\"value\":120}", &r), 0);
    assert_int_equal(r.cmd.u.set_setting.id, ALFA_SET_ECO_MIN_OFF_S);
    assert_int_equal(r.cmd.u.set_setting.value, 120);
    assert_int_equal(parse("alfaspark/home/cmd/set_eco_limit", "{\"limit_w\":3000}", &r), 0);
    assert_int_equal(r.cmd.u.eco_limit.limit_w, 3000);
}

static void test_parse_refusals(void **state)
{
    (void)state;
    gw_cmd_req_t r;
    assert_int_equal(parse("alfaspark/home/cmd/result", "{}", &r), GW_CMD_NOT_A_COMMAND);
    assert_int_equal(parse("alfaspark/other/cmd/reboot", "{}", &r), GW_CMD_NOT_A_COMMAND);
    assert_int_equal(parse("alfaspark/home/pack/a1/state", "{}", &r), GW_CMD_NOT_A_COMMAND);
    assert_int_equal(parse("alfaspark/home/cmd/reboot", "not json", &r), -GW_R_INVALID_JSON);
    assert_int_equal(parse("alfaspark/home/cmd/frobnicate", "{\"id\":\"x\"}", &r), -GW_R_UNKNOWN_COMMAND);
    assert_string_equal(r.id_json, "\"x\"");
    assert_int_equal(parse("alfaspark/home/pack/zz/cmd/reboot", "{}", &r), -GW_R_UNKNOWN_PACK);
    /* ranges come from the settings table */
    const alfa_setting_desc_t *eco = alfa_settings_desc(ALFA_SET_ECO_LIMIT_W);
    char p[96];
    snprintf(p, sizeof p, "{\"limit_w\":%d}", eco->max + 1);
    assert_int_equal(parse("alfaspark/home/cmd/set_eco_limit", p, &r), -GW_R_OUT_OF_RANGE);
    snprintf(p, sizeof p, "{\"limit_w\":%d}", eco->max);
    assert_int_equal(parse("alfaspark/home/cmd/set_eco_limit", p, &r), 0);
    assert_int_equal(parse("alfaspark/home/cmd/set_grid_limit", "{\"on\":true,\"limit_kwh\":31}", &r), -GW_R_OUT_OF_RANGE);
    assert_int_equal(parse("alfaspark/home/cmd/set_grid_limit", "{\"on\":true,\"limit_kwh\":1}", &r), -GW_R_OUT_OF_RANGE);
    assert_int_equal(parse("alfaspark/home/cmd/set_sc_thresholds", "{\"low_pct\":40,\"high_pct\":42}", &r), -GW_R_OUT_OF_RANGE);
    assert_int_equal(parse("alfaspark/home/cmd/set_tou_window", "{\"index\":4,\"start_min\":0,\"end_min\":1}", &r), -GW_R_OUT_OF_RANGE);
    assert_int_equal(parse("alfaspark/home/cmd/set_tou_window", "{\"index\":0,\"start_min\":0,\"end_min\":1440}", &r), -GW_R_OUT_OF_RANGE);
    assert_int_equal(parse("alfaspark/home/cmd/set_time", "{\"utc_offset_min\":900}", &r), -GW_R_OUT_OF_RANGE);
    assert_int_equal(parse("alfaspark/home/cmd/set_mode", "{\"mode\":\"turbo\"}", &r), -GW_R_OUT_OF_RANGE);
    assert_int_equal(parse("alfaspark/home/cmd/set_mode", "{\"mode\":\"none\"}", &r), -GW_R_OUT_OF_RANGE);
    /* types, missing and unknown members */
    assert_int_equal(parse("alfaspark/home/cmd/set_eco_limit", "{\"limit_w\":\"3000\"}", &r), -GW_R_BAD_VALUE);
    assert_int_equal(parse("alfaspark/home/cmd/set_eco_limit", "{\"limit_w\":3000.5}", &r), -GW_R_BAD_VALUE);
    assert_int_equal(parse("alfaspark/home/cmd/set_eco_limit", "{}", &r), -GW_R_BAD_VALUE);
    assert_int_equal(parse("alfaspark/home/cmd/set_eco_limit", "{\"limit_w\":3000,\"limt_w\":1}", &r), -GW_R_BAD_VALUE);
    assert_non_null(strstr(r.detail, "limt_w"));
    assert_int_equal(parse("alfaspark/home/cmd/factory_reset", "{}", &r), -GW_R_BAD_VALUE);
    assert_int_equal(parse("alfaspark/home/cmd/reboot", "{\"id\":[1]}", &r), -GW_R_BAD_VALUE);
    assert_int_equal(parse("alfaspark/home/cmd/set_setting", "{\"setting\":\"node_id\",\"value\":3}", &r), -GW_R_NOT_ALLOWED);
    assert_int_equal(parse("alfaspark/home/cmd/set_setting", "{\"setting\":\"nope\",\"value\":3}", &r), -GW_R_OUT_OF_RANGE);
    assert_int_equal(parse("alfaspark/home/cmd/set_setting", "{\"setting\":\"mains_hz\",\"value\":55}", &r), -GW_R_OUT_OF_RANGE);
}

/* ---------------------------------------------------------------- core on a simulated clock */

typedef struct cap {
    char topic[64][160];
    char payload[64][2048];
    int retain[64];
    int n;            /* ring of the last 64 */
    long total;
    alfa_can_frame_t frames[256];
    int nf;
} cap_t;

static int cap_publish(void *user, const char *topic, const char *payload, size_t len, int retain)
{
    cap_t *c = user;
    int i = c->n % 64;
    snprintf(c->topic[i], sizeof c->topic[i], "%s", topic);
    snprintf(c->payload[i], sizeof c->payload[i], "%.*s", (int)len, payload);
    c->retain[i] = retain;
    c->n++;
    c->total++;
    return 0;
}

static int32_t cap_send(void *user, const alfa_can_frame_t *f)
{
    cap_t *c = user;
    if (c->nf < 256) c->frames[c->nf++] = *f;
    return 0;
}

/* The most recent message on topic (containing needle), or NULL. */
static const char *last(const cap_t *c, const char *topic, const char *needle)
{
    for (int k = c->n - 1; k >= 0 && k >= c->n - 64; k--) {
        int i = k % 64;
        if (strcmp(c->topic[i], topic) == 0 && (!needle || strstr(c->payload[i], needle))) return c->payload[i];
    }
    return NULL;
}

static gw_core_t g_core;
static cap_t g_cap;

static void feed_hb(gw_core_t *gw, uint64_t serial, uint8_t node, const gw_now_t *now)
{
    alfa_heartbeat_t hb = {node, ALFA_DEV_PACK, 0, serial, 2, 5, 0};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), 0);
    gw_core_on_can(gw, &f, now);
}

static void feed_telem(gw_core_t *gw, const alfa_telemetry_t *t, uint8_t node, const gw_now_t *now)
{
    alfa_can_frame_t fr[ALFA_TELEM_PARTS];
    assert_int_equal(alfa_proto_telem_encode(t, node, fr), 0);
    for (unsigned k = 0; k < ALFA_TELEM_PARTS; k++) gw_core_on_can(gw, &fr[k], now);
}

static gw_core_t *start(gw_now_t *now)
{
    gw_cfg_t cfg;
    gw_cfg_defaults(&cfg);
    snprintf(cfg.site, sizeof cfg.site, "home");
    memset(&g_cap, 0, sizeof g_cap);
    gw_io_t io = {&g_cap, cap_publish, cap_send, NULL};
    now->ms = 1000;
    now->unix_s = 1700000000; /* 2023-11-14 22:13:20 UTC */
    now->utc_offset_min = 60;
    now->clock_synced = 1;
    gw_core_init(&g_core, &cfg, &io, now);
    gw_core_on_connect(&g_core, now);
    return &g_core;
}

static void test_core_status_state_and_time(void **state)
{
    (void)state;
    gw_now_t now;
    gw_core_t *gw = start(&now);
    assert_non_null(last(&g_cap, "alfaspark/home/gateway/status", "online"));
    gw_core_process(gw, &now);
    assert_int_equal(g_cap.nf, 2); /* our heartbeat and the time, at start */
    alfa_heartbeat_t hb;
    assert_int_equal(alfa_proto_heartbeat_decode(&g_cap.frames[0], &hb), 0);
    assert_int_equal(hb.node_id, ALFA_NODE_LINUX_GATEWAY);
    assert_int_equal(hb.device_type, ALFA_DEV_LINUX_GATEWAY);
    alfa_time_msg_t tm;
    assert_int_equal(alfa_proto_time_decode(&g_cap.frames[1], &tm), 0);
    assert_int_equal(tm.unix_s, 1700000000u);
    assert_int_equal(tm.utc_offset_min, 60);
    feed_hb(gw, 0x112233445566ull, 4, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/112233445566/status", "online"));
    alfa_telemetry_t t = {0};
    t.p_solar_w = 900;
    t.soc_pct = 80;
    t.faults = 1u << ALFA_FAULT_BMS_COMM_LOST;
    long before = g_cap.total;
    feed_telem(gw, &t, 4, &now);
    const char *s = last(&g_cap, "alfaspark/home/pack/112233445566/state", NULL);
    assert_non_null(s);
    assert_non_null(strstr(s, "\"p_solar_w\":900"));
    assert_non_null(strstr(s, "\"faults\":[\"bms_comm_lost\"]"));
    assert_non_null(last(&g_cap, "alfaspark/home/event", "\"name\":\"bms_comm_lost\",\"active\":true"));
    assert_int_equal(g_cap.total - before, 2); /* one state + one event for 7 frames */
    /* offline exactly when 3 s passed without a heartbeat */
    now.ms += 2999;
    gw_core_process(gw, &now);
    assert_null(last(&g_cap, "alfaspark/home/pack/112233445566/status", "offline"));
    g_cap.nf = 0;
    now.ms += 1;
    gw_core_process(gw, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/112233445566/status", "offline"));
    /* time every 60 s (heartbeats every second in between) */
    int times = 0;
    for (int k = 0; k < 120; k++) {
        now.ms += 1000;
        int nf0 = g_cap.nf;
        gw_core_process(gw, &now);
        assert_true(g_cap.nf > nf0); /* a heartbeat every second */
        for (int j = nf0; j < g_cap.nf; j++) times += alfa_proto_classify(&g_cap.frames[j]) == ALFA_CLS_TIME;
        if (g_cap.nf > 200) g_cap.nf = 0;
    }
    assert_int_equal(times, 2);
}

static void test_core_commands_acks_timeouts(void **state)
{
    (void)state;
    gw_now_t now;
    gw_core_t *gw = start(&now);
    feed_hb(gw, 0xaaull, 3, &now);
    feed_hb(gw, 0xbbull, 7, &now);
    int nf = g_cap.nf;
    const char *topic = "alfaspark/home/cmd/set_eco_limit";
    const char *pl = "{\"id\":\"e1\",\"limit_w\":2000}";
    gw_core_on_mqtt(gw, topic, pl, strlen(pl), &now);
    assert_int_equal(g_cap.nf, nf + 1);
    alfa_cmd_t c;
    assert_int_equal(alfa_proto_cmd_decode(&g_cap.frames[nf], &c), 0);
    assert_int_equal(c.u.eco_limit.limit_w, 2000);
    alfa_ack_t a = {3, ALFA_NODE_LINUX_GATEWAY, c.code, c.seq, ALFA_ACK_OK};
    alfa_can_frame_t f;
    alfa_proto_ack_encode(&a, &f);
    gw_core_on_can(gw, &f, &now);
    gw_core_on_can(gw, &f, &now); /* a repeated ack gives no second result */
    assert_non_null(last(&g_cap, "alfaspark/home/cmd/result", "\"pack\":\"0000000000aa\",\"command\":\"set_eco_limit\",\"result\":\"ok\""));
    assert_int_equal(gw_core_stats(&g_core)->results, 1);
    now.ms += 999;
    gw_core_process(gw, &now);
    assert_int_equal(gw_core_stats(&g_core)->results, 1);
    now.ms += 1;
    gw_core_process(gw, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/cmd/result", "\"pack\":\"0000000000bb\",\"command\":\"set_eco_limit\",\"result\":\"timeout\""));
    assert_int_equal(gw_core_stats(&g_core)->results, 2);

    /* read_settings: the result carries the values the pack sent after its ack */
    feed_hb(gw, 0xaaull, 3, &now);
    nf = g_cap.nf;
    pl = "{\"id\":\"rs\"}";
    gw_core_on_mqtt(gw, "alfaspark/home/pack/0000000000aa/cmd/read_settings", pl, strlen(pl), &now);
    assert_int_equal(alfa_proto_cmd_decode(&g_cap.frames[nf], &c), 0);
    assert_int_equal(c.dst, 3);
    alfa_ack_t a2 = {3, ALFA_NODE_LINUX_GATEWAY, c.code, c.seq, ALFA_ACK_OK};
    alfa_proto_ack_encode(&a2, &f);
    gw_core_on_can(gw, &f, &now);
    assert_null(last(&g_cap, "alfaspark/home/cmd/result", "\"id\":\"rs\""));
    alfa_setting_msg_t sm = {3, ALFA_NODE_LINUX_GATEWAY, c.seq, 0, ALFA_SET_ECO_LIMIT_W, 2000};
    alfa_proto_setting_encode(&sm, &f);
    gw_core_on_can(gw, &f, &now);
    sm.last = 1;
    sm.id = ALFA_SET_DWELL_S;
    sm.value = 30;
    alfa_proto_setting_encode(&sm, &f);
    gw_core_on_can(gw, &f, &now);
    const char *r = last(&g_cap, "alfaspark/home/cmd/result", "\"id\":\"rs\"");
    assert_non_null(r);
    assert_non_null(strstr(r, "\"settings\":{\"eco_limit_w\":2000,\"dwell_s\":30}"));
    assert_non_null(last(&g_cap, "alfaspark/home/pack/0000000000aa/settings", "\"dwell_s\":30"));
}

/* "Today" as published follows the PACK's site day (its telemetry says which), never the
 * gateway's own calendar: a pack whose clock passed 05:00 earlier or later than the gateway's,
 * or a gateway with no clock at all, still shows the right counters (issue 10, item 11). */
static void test_core_energy_follows_the_packs_day(void **state)
{
    (void)state;
    gw_now_t now;
    gw_core_t *gw = start(&now);
    now.unix_s = 1700006400 + 11 * 3600; /* 2023-11-15 11:00 UTC = 12:00 local (UTC+1) */
    feed_hb(gw, 0x77ull, 2, &now);
    alfa_telemetry_t t = {0};
    t.day = 19675;
    t.grid_import_today_wh = 5000;
    t.solar_today_wh = 8000;
    feed_telem(gw, &t, 2, &now);
    t.cycle++;
    t.grid_import_today_wh = 0; /* pack rebooted, same day: hidden until it recovers */
    t.solar_today_wh = 0;
    feed_telem(gw, &t, 2, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"grid_import_today_wh\":5000"));
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"solar_today_wh\":8000"));
    t.cycle++;
    t.grid_import_today_wh = 5100;
    t.solar_today_wh = 8100;
    feed_telem(gw, &t, 2, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"grid_import_today_wh\":5100"));
    /* The gateway's own clock says a new day began hours ago (its 05:00 passed): nothing changes
     * as long as the pack is still on its day — the old gateway froze the counters here. */
    now.unix_s += 20 * 3600;
    t.cycle++;
    t.solar_today_wh = 9000;
    feed_telem(gw, &t, 2, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"solar_today_wh\":9000"));
    /* the pack turns its day: the counters start again, whatever the gateway's clock says */
    t.cycle++;
    t.day = 19676;
    t.grid_import_today_wh = 3;
    t.solar_today_wh = 40;
    feed_telem(gw, &t, 2, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"grid_import_today_wh\":3"));
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"solar_today_wh\":40"));
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"day\":19676"));
    /* the pack reboots: until it learns the time again it reports no day, and what was published
     * for its day stands (a dip to 0 would be a meter reset to Home Assistant) */
    t.cycle++;
    t.day = ALFA_DAY_NONE;
    t.grid_import_today_wh = 0;
    t.solar_today_wh = 0;
    feed_telem(gw, &t, 2, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"solar_today_wh\":40"));
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"day\":19676"));
    t.cycle++;
    t.day = 19676;
    t.solar_today_wh = 45; /* recovered and counting on */
    feed_telem(gw, &t, 2, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"solar_today_wh\":45"));
    /* a late figure of the day before is never taken */
    t.cycle++;
    t.day = 19675;
    t.grid_import_today_wh = 5100;
    feed_telem(gw, &t, 2, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"grid_import_today_wh\":3"));
}

/* A pack that rebooted while cut off says its grid figure counts since its boot
 * (import_recovering): the gateway publishes what it had before plus that, and a pack asking
 * for the day's import is told the "before" part, which the pack adds to its own count. */
static void test_core_energy_of_a_recovering_pack(void **state)
{
    (void)state;
    gw_now_t now;
    gw_core_t *gw = start(&now);
    now.unix_s = 1700006400 + 11 * 3600;
    feed_hb(gw, 0x77ull, 2, &now);
    feed_hb(gw, 0x88ull, 3, &now);
    alfa_telemetry_t t = {0};
    t.day = 19675;
    t.grid_import_today_wh = 2000;
    feed_telem(gw, &t, 2, &now);
    t.cycle++;
    t.warnings = 1u << ALFA_WARN_IMPORT_RECOVERING; /* back from a cut with a reboot in it */
    t.grid_import_today_wh = 3000;
    feed_telem(gw, &t, 2, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"grid_import_today_wh\":5000"));
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"import_recovering\""));
    g_cap.nf = 0;
    alfa_can_frame_t req;
    assert_int_equal(alfa_proto_import_req_encode(2, 19675, &req), 0);
    gw_core_on_can(gw, &req, &now);
    assert_int_equal(g_cap.nf, 1); /* pack 3 never reported for the day: nothing to say of it */
    alfa_import_msg_t m;
    assert_int_equal(alfa_proto_import_decode(&g_cap.frames[0], &m), ALFA_CLS_IMPORT_RESP);
    assert_int_equal(m.dst, 2);
    assert_int_equal(m.serial24, 0x77u);
    assert_int_equal(m.grid_import_today_wh, 2000);
    /* It added the 2000 and reports the whole figure again. */
    t.cycle++;
    t.warnings = 0;
    t.grid_import_today_wh = 5010;
    feed_telem(gw, &t, 2, &now);
    assert_non_null(last(&g_cap, "alfaspark/home/pack/000000000077/state", "\"grid_import_today_wh\":5010"));
    g_cap.nf = 0;
    gw_core_on_can(gw, &req, &now);
    assert_int_equal(g_cap.nf, 1);
    assert_int_equal(alfa_proto_import_decode(&g_cap.frames[0], &m), ALFA_CLS_IMPORT_RESP);
    assert_int_equal(m.grid_import_today_wh, 5010);
}

/* A gateway whose clock is not synchronized (an Orange Pi without RTC, before NTP) sends no time
 * to the packs and says so on gateway/time; once synchronized it does (issue 10, item 3). */
static void test_core_time_only_when_synchronized(void **state)
{
    (void)state;
    gw_now_t now;
    gw_core_t *gw = start(&now);
    now.clock_synced = 0;
    now.unix_s = 86400; /* 1970: what a board without RTC believes */
    g_cap.nf = 0;
    for (int k = 0; k < 100; k++) {
        now.ms += 1000;
        gw_core_process(gw, &now);
    }
    for (int i = 0; i < g_cap.nf; i++) {
        assert_int_not_equal(alfa_proto_classify(&g_cap.frames[i]), ALFA_CLS_TIME);
    }
    assert_non_null(last(&g_cap, "alfaspark/home/gateway/time", "\"synchronized\":false"));
    assert_non_null(last(&g_cap, "alfaspark/home/gateway/time", "\"broadcasting\":false"));
    now.clock_synced = 1;
    now.unix_s = 1700000000;
    g_cap.nf = 0;
    now.ms += 1000;
    gw_core_process(gw, &now);
    int time_frames = 0;
    for (int i = 0; i < g_cap.nf; i++) {
        time_frames += alfa_proto_classify(&g_cap.frames[i]) == ALFA_CLS_TIME;
    }
    assert_int_equal(time_frames, 1);
    assert_non_null(last(&g_cap, "alfaspark/home/gateway/time", "\"broadcasting\":true"));
}

static void test_core_discovery_and_rate_limit(void **state)
{
    (void)state;
    gw_now_t now;
    gw_core_t *gw = start(&now);
    feed_hb(gw, 0x99ull, 8, &now);
    const char *soc = last(&g_cap, "homeassistant/sensor/alfaspark_000000000099/soc_pct/config", NULL);
    assert_non_null(soc);
    assert_non_null(strstr(soc, "\"device_class\":\"battery\""));
    assert_non_null(strstr(soc, "alfaspark/home/pack/000000000099/status"));
    long before = g_cap.total;
    gw_core_on_mqtt(gw, "homeassistant/status", "online", 6, &now);
    assert_int_equal(g_cap.total, before); /* jittered, not at once */
    now.ms += 2000;
    gw_core_process(gw, &now);
    assert_true(g_cap.total - before > 20);
    /* rate limit: 10 in a burst, then one per second */
    int refused = 0;
    for (int k = 0; k < 12; k++) {
        const char *pl = "{\"client\":\"x\"}";
        gw_core_on_mqtt(gw, "alfaspark/home/cmd/identify", pl, strlen(pl), &now);
        if (last(&g_cap, "alfaspark/home/cmd/result", "rate_limited")) refused++;
    }
    assert_int_equal(refused, 2);
    now.ms += 1000;
    gw_core_process(gw, &now); /* timeouts of the accepted ones */
    g_cap.n = 0;
    const char *pl = "{\"client\":\"x\"}";
    gw_core_on_mqtt(gw, "alfaspark/home/cmd/identify", pl, strlen(pl), &now);
    assert_null(last(&g_cap, "alfaspark/home/cmd/result", "rate_limited"));
}

static void feed_site(gw_core_t *gw, int32_t solar_w, int32_t home_w, uint32_t cycle, const gw_now_t *now)
{
    alfa_site_totals_t st = {0};
    st.packs_online = 1;
    st.p_solar_w = solar_w;
    st.p_home_w = home_w;
    st.master_serial = 0x99;
    alfa_can_frame_t fr[ALFA_SITE_PARTS];
    assert_int_equal(alfa_proto_site_encode(&st, 8, cycle, fr), 0);
    for (unsigned k = 0; k < ALFA_SITE_PARTS; k++) gw_core_on_can(gw, &fr[k], now);
}

static void test_core_sockets_on_solar_surplus(void **state)
{
    (void)state;
    gw_now_t now;
    gw_cfg_t cfg;
    gw_cfg_defaults(&cfg);
    snprintf(cfg.site, sizeof cfg.site, "home");
    snprintf(cfg.sockets[0].topic, sizeof cfg.sockets[0].topic, "cmnd/pool/POWER");
    memset(&g_cap, 0, sizeof g_cap);
    gw_io_t io = {&g_cap, cap_publish, cap_send, NULL};
    now.ms = 1000;
    now.unix_s = 1700000000;
    now.utc_offset_min = 0;
    gw_core_init(&g_core, &cfg, &io, &now);
    gw_core_on_connect(&g_core, &now);
    feed_site(&g_core, 3000, 1000, 1, &now); /* surplus 2000 >= 1500 */
    assert_non_null(last(&g_cap, "cmnd/pool/POWER", "ON"));
    assert_non_null(last(&g_cap, "alfaspark/home/site/state", "\"p_solar_w\":3000"));
    g_cap.n = 0;
    now.ms += 2000;
    feed_site(&g_core, 1500, 1000, 2, &now); /* 500: between the thresholds, stays on */
    now.ms += 8000;
    feed_site(&g_core, 500, 1000, 3, &now); /* -500 < 0, but only 10 s after switching */
    assert_null(last(&g_cap, "cmnd/pool/POWER", NULL));
    now.ms += 50000;
    feed_site(&g_core, 500, 1000, 4, &now); /* 60 s after: off */
    assert_non_null(last(&g_cap, "cmnd/pool/POWER", "OFF"));
}

static void test_config_example_and_errors(void **state)
{
    (void)state;
    static gw_config_t c;
    char path[512];
    const char *src = getenv("ALFA_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/deploy/gateway.ini.example", src ? src : ".");
    gw_config_defaults(&c);
    assert_int_equal(gw_config_load(&c, path), 0);
    assert_int_equal(gw_config_finish(&c), 0);
    assert_string_equal(c.core.site, ""); /* shipped blank: the installer names the site */
    assert_int_equal(gw_config_require_site(&c), 1);
    gw_config_defaults(&c);
    assert_int_equal(gw_config_load(&c, path), 0);
    assert_int_equal(gw_config_override(&c, "gateway.site=home"), 0);
    assert_int_equal(gw_config_finish(&c), 0);
    assert_string_equal(c.core.site, "home");
    assert_string_equal(c.mqtt_client_id, "alfaspark-gw-home");
    assert_int_equal(c.core.offline_ms, 3000);
    /* command-line overrides win */
    assert_int_equal(gw_config_override(&c, "mqtt.port=1884"), 0);
    assert_int_equal(c.mqtt_port, 1884);
    /* a bad file: every problem is reported, not just the first */
    const char *bad = "/tmp/alfa-gw-bad.ini";
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("[gateway]\nsite = my site\nlog_level = loud\n[mqtt]\nport = 70000\nprotocol = 4\ncolour = blue\n"
          "[tls]\nenabled = true\n", f);
    fclose(f);
    gw_config_defaults(&c);
    gw_config_load(&c, bad);
    gw_config_override(&c, "nodot=1");
    int n = gw_config_finish(&c);
    remove(bad);
    assert_int_equal(n, 7);
    assert_non_null(strstr(c.errors, "mqtt.port"));
    assert_non_null(strstr(c.errors, "unknown option mqtt.colour"));
    assert_non_null(strstr(c.errors, "gateway.log_level"));
    assert_non_null(strstr(c.errors, "mqtt.protocol"));
    assert_non_null(strstr(c.errors, "gateway.site"));
    assert_non_null(strstr(c.errors, "ca_file"));
    assert_non_null(strstr(c.errors, "--set nodot=1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_reader),
        cmocka_unit_test(test_parse_valid_commands),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_core_status_state_and_time),
        cmocka_unit_test(test_core_commands_acks_timeouts),
        cmocka_unit_test(test_core_energy_follows_the_packs_day),
        cmocka_unit_test(test_core_energy_of_a_recovering_pack),
        cmocka_unit_test(test_core_time_only_when_synchronized),
        cmocka_unit_test(test_core_discovery_and_rate_limit),
        cmocka_unit_test(test_core_sockets_on_solar_surplus),
        cmocka_unit_test(test_config_example_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
