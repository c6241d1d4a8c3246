/* Tests of the protocol library: identifiers, every codec's round trip, and refusal of bad frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alfa/proto.h"

static alfa_telemetry_t sample_telem(uint32_t cycle)
{
    alfa_telemetry_t t;
    memset(&t, 0, sizeof(t));
    t.cycle = cycle;
    t.p_grid_w = 2310;
    t.p_home_w = 4180;
    t.p_pool_w = 880;
    t.p_heater_w = -1; /* CT noise can read slightly negative after offset; the wire keeps the sign */
    t.p_batt_w = -1500;
    t.p_solar_w = 370;
    t.v_pack_mv = 52160;
    t.i_batt_ma = -28750;
    t.soc_pct = 36;
    t.relays_closed = 0x0B;
    t.mode = ALFA_MODE_ECO;
    t.is_master = 1;
    t.faults = (1u << ALFA_FAULT_TIME_NOT_SET) | (1u << ALFA_FAULT_CT_RANGE);
    t.warnings = 1u << ALFA_WARN_LOADS_LIMIT;
    t.grid_import_today_wh = 12345;
    t.solar_today_wh = 6789;
    t.batt_charge_today_wh = 4321;
    t.batt_discharge_today_wh = 9876;
    t.day = 20530; /* 2026-03-16: the site day the counters belong to, high byte nonzero */
    return t;
}

static void test_identifier_fields_and_priority(void **state)
{
    (void)state;
    /* The documented example: telemetry part 0 from node 5. */
    assert_int_equal(ALFA_PROTO_ID(ALFA_CLS_TELEM_0, 127, 0, 5), 0x043F8005u);
    uint32_t id = ALFA_PROTO_ID(ALFA_CLS_CMD, 9, ALFA_CMD_SET_MODE, 126);
    assert_int_equal(ALFA_PROTO_ID_CLASS(id), ALFA_CLS_CMD);
    assert_int_equal(ALFA_PROTO_ID_DST(id), 9);
    assert_int_equal(ALFA_PROTO_ID_AUX(id), ALFA_CMD_SET_MODE);
    assert_int_equal(ALFA_PROTO_ID_SRC(id), 126);
    /* Founder's order: heartbeat < telemetry < commands < acks < firmware, whatever the node IDs. */
    alfa_heartbeat_t hb = {.node_id = 125, .device_type = ALFA_DEV_PACK, .state = 0x1F,
                           .serial = 0xFFFFFFFFFFFFull, .fw_major = 2, .fw_minor = 5};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), 0);
    assert_true(f.id < ALFA_PROTO_ID(ALFA_CLS_TELEM_0, 0, 0, 1));
    assert_true(ALFA_PROTO_ID(ALFA_CLS_TELEM_0 + 6, 127, 255, 127) < ALFA_PROTO_ID(ALFA_CLS_CMD, 0, 0, 0));
    assert_true(ALFA_PROTO_ID(ALFA_CLS_CMD, 127, 255, 127) < ALFA_PROTO_ID(ALFA_CLS_ACK, 0, 0, 0));
    assert_true(ALFA_PROTO_ID(ALFA_CLS_SETTING, 127, 255, 127) < ALFA_PROTO_ID(ALFA_CLS_FW_FIRST, 0, 0, 0));
    assert_true(ALFA_PROTO_ID(ALFA_CLS_FW_LAST, 127, 255, 127) <= 0x1FFFFFFFu);
}

static void test_heartbeat_round_trip(void **state)
{
    (void)state;
    alfa_heartbeat_t hb = {.node_id = 42, .device_type = ALFA_DEV_PACK,
                           .state = ALFA_HB_MASTER | ALFA_HB_WARNING, .serial = 0x24A1B2C3D4E5ull,
                           .fw_major = 2, .fw_minor = 5, .fw_patch = 0};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), 0);
    assert_int_equal(f.len, 8);
    assert_int_equal(f.flags, ALFA_CAN_FLAG_EXT);
    /* Serial little-endian, then the version word 2.5.0 = 0x10A0 as documented. */
    const uint8_t want[8] = {0xE5, 0xD4, 0xC3, 0xB2, 0xA1, 0x24, 0xA0, 0x10};
    assert_memory_equal(f.data, want, 8);
    assert_int_equal((f.id >> 7) & 0xFF, 0xE5);
    alfa_heartbeat_t out;
    memset(&out, 0xAA, sizeof(out));
    assert_int_equal(alfa_proto_heartbeat_decode(&f, &out), 0);
    assert_int_equal(out.node_id, 42);
    assert_int_equal(out.device_type, ALFA_DEV_PACK);
    assert_int_equal(out.state, ALFA_HB_MASTER | ALFA_HB_WARNING);
    assert_true(out.serial == 0x24A1B2C3D4E5ull);
    assert_int_equal(out.fw_major, 2);
    assert_int_equal(out.fw_minor, 5);
    assert_int_equal(out.fw_patch, 0);
}

static void test_heartbeat_refuses_bad(void **state)
{
    (void)state;
    alfa_heartbeat_t hb = {.node_id = 0, .device_type = ALFA_DEV_PACK, .serial = 1};
    alfa_can_frame_t f;
    memset(&f, 0x5A, sizeof(f));
    alfa_can_frame_t before = f;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), ALFA_PROTO_E_RANGE);
    hb.node_id = 127;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), ALFA_PROTO_E_RANGE);
    hb.node_id = 3;
    hb.serial = 1ull << 48;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), ALFA_PROTO_E_RANGE);
    hb.serial = 7;
    hb.device_type = 0;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), ALFA_PROTO_E_RANGE);
    assert_memory_equal(&f, &before, sizeof(f));

    hb.device_type = ALFA_DEV_PACK;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), 0);
    alfa_heartbeat_t out;
    memset(&out, 0x77, sizeof(out));
    alfa_heartbeat_t untouched = out;
    alfa_can_frame_t g = f;
    g.len = 7;
    assert_int_equal(alfa_proto_heartbeat_decode(&g, &out), ALFA_PROTO_E_LEN);
    g = f;
    g.data[0] ^= 1; /* serial bits in the identifier no longer agree */
    assert_int_equal(alfa_proto_heartbeat_decode(&g, &out), ALFA_PROTO_E_RANGE);
    g = f;
    g.flags = 0; /* 11-bit frame: not ours */
    assert_int_equal(alfa_proto_heartbeat_decode(&g, &out), ALFA_PROTO_E_ID);
    g = f;
    g.flags |= ALFA_CAN_FLAG_RTR;
    assert_int_equal(alfa_proto_heartbeat_decode(&g, &out), ALFA_PROTO_E_ID);
    g = f;
    g.id &= ~0x7Fu; /* sender 0 */
    assert_int_equal(alfa_proto_heartbeat_decode(&g, &out), ALFA_PROTO_E_ID);
    assert_memory_equal(&out, &untouched, sizeof(out));
}

static void test_time_round_trip_and_range(void **state)
{
    (void)state;
    alfa_time_msg_t t = {.src = ALFA_NODE_LINUX_GATEWAY, .unix_s = 1795000000u, .utc_offset_min = 60};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_time_encode(&t, &f), 0);
    assert_int_equal(f.len, 6);
    assert_int_equal(ALFA_PROTO_ID_CLASS(f.id), ALFA_CLS_TIME);
    assert_int_equal(ALFA_PROTO_ID_DST(f.id), 127);
    alfa_time_msg_t out;
    assert_int_equal(alfa_proto_time_decode(&f, &out), 0);
    assert_int_equal(out.unix_s, 1795000000u);
    assert_int_equal(out.utc_offset_min, 60);
    assert_int_equal(out.src, 126);
    t.utc_offset_min = 841;
    assert_int_equal(alfa_proto_time_encode(&t, &f), ALFA_PROTO_E_RANGE);
    alfa_can_frame_t g = f;
    g.data[4] = 0x00;
    g.data[5] = 0x80; /* -32768 minutes */
    memset(&out, 0, sizeof(out));
    assert_int_equal(alfa_proto_time_decode(&g, &out), ALFA_PROTO_E_RANGE);
    assert_int_equal(out.unix_s, 0);
}

static void test_import_req_resp(void **state)
{
    (void)state;
    alfa_can_frame_t f;
    alfa_import_msg_t m;
    assert_int_equal(alfa_proto_import_req_encode(17, 20500, &f), 0);
    assert_int_equal(f.len, 2);
    assert_int_equal(alfa_proto_import_decode(&f, &m), ALFA_CLS_IMPORT_REQ);
    assert_int_equal(m.src, 17);
    assert_int_equal(m.day, 20500);
    alfa_import_msg_t r = {.src = 99, .dst = 17, .day = 20500, .serial24 = 0xC3D4E5, .grid_import_today_wh = 7400};
    assert_int_equal(alfa_proto_import_resp_encode(&r, &f), 0);
    assert_int_equal(f.len, 8);
    assert_int_equal(alfa_proto_import_decode(&f, &m), ALFA_CLS_IMPORT_RESP);
    assert_int_equal(m.dst, 17);
    assert_int_equal(m.src, 99);
    assert_int_equal(m.day, 20500);
    assert_int_equal(m.serial24, 0xC3D4E5);
    assert_int_equal(m.grid_import_today_wh, 7400);
    /* the wire: day, energy, serial bits, little-endian */
    assert_int_equal(f.data[0], 0x14);
    assert_int_equal(f.data[1], 0x50);
    assert_int_equal(f.data[2], 0xE8);
    assert_int_equal(f.data[5], 0xE5);
    f.len = 3;
    assert_int_equal(alfa_proto_import_decode(&f, &m), ALFA_PROTO_E_LEN);
    r.grid_import_today_wh = 0x1000000u; /* over 24 bits */
    assert_int_equal(alfa_proto_import_resp_encode(&r, &f), ALFA_PROTO_E_RANGE);
}

static void test_telemetry_round_trip(void **state)
{
    (void)state;
    alfa_telemetry_t t = sample_telem(0x12345678u);
    alfa_can_frame_t fr[ALFA_TELEM_PARTS];
    assert_int_equal(alfa_proto_telem_encode(&t, 7, fr), 0);
    for (unsigned k = 0; k < ALFA_TELEM_PARTS; k++) {
        assert_int_equal(fr[k].len, 8);
        assert_int_equal(ALFA_PROTO_ID_CLASS(fr[k].id), ALFA_CLS_TELEM_0 + k);
        assert_int_equal(ALFA_PROTO_ID_SRC(fr[k].id), 7);
        assert_int_equal(fr[k].data[0], 0x78);
    }
    /* p_grid_w 2310 = 0x000906 little-endian in bytes 1..3 of part 0, SOC in byte 7. */
    assert_int_equal(fr[0].data[1], 0x06);
    assert_int_equal(fr[0].data[2], 0x09);
    assert_int_equal(fr[0].data[3], 0x00);
    assert_int_equal(fr[0].data[7], 36);
    /* Flags: relays 0xB, master bit 4, mode 2 in bits 5..7. */
    assert_int_equal(fr[4].data[7], 0x0B | 0x10 | (2 << 5));
    alfa_telem_rx_t rx;
    alfa_telem_rx_reset(&rx);
    alfa_telemetry_t out;
    /* Parts in a scrambled order still assemble. */
    const unsigned order[ALFA_TELEM_PARTS] = {3, 0, 6, 1, 5, 2, 4};
    for (unsigned k = 0; k < ALFA_TELEM_PARTS; k++) {
        int rc = alfa_telem_rx_feed(&rx, &fr[order[k]], &out);
        assert_int_equal(rc, k + 1 == ALFA_TELEM_PARTS ? 1 : 0);
    }
    assert_memory_equal(&out, &t, sizeof(t));
}

static void test_telemetry_never_mixes_cycles(void **state)
{
    (void)state;
    alfa_telemetry_t a = sample_telem(100);
    alfa_telemetry_t b = sample_telem(101);
    b.p_grid_w = 9999;
    b.soc_pct = 37;
    b.grid_import_today_wh = 12400;
    alfa_can_frame_t fa[ALFA_TELEM_PARTS], fb[ALFA_TELEM_PARTS];
    assert_int_equal(alfa_proto_telem_encode(&a, 7, fa), 0);
    assert_int_equal(alfa_proto_telem_encode(&b, 7, fb), 0);
    alfa_telem_rx_t rx;
    alfa_telem_rx_reset(&rx);
    alfa_telemetry_t out;
    memset(&out, 0, sizeof(out));
    /* Parts 0..3 of cycle 100 are received, 4..6 lost; then all of cycle 101 arrives. */
    for (unsigned k = 0; k < 4; k++) {
        assert_int_equal(alfa_telem_rx_feed(&rx, &fa[k], &out), 0);
    }
    int completed = 0;
    for (unsigned k = ALFA_TELEM_PARTS; k-- > 0;) {
        int rc = alfa_telem_rx_feed(&rx, &fb[k], &out);
        assert_true(rc == 0 || rc == 1);
        completed += rc;
    }
    assert_int_equal(completed, 1);
    assert_memory_equal(&out, &b, sizeof(b));
    /* A late part of cycle 100 after that restarts, it never completes a record with 101's parts. */
    assert_int_equal(alfa_telem_rx_feed(&rx, &fa[5], &out), 0);
    for (unsigned k = 0; k < 6; k++) {
        if (k == 5) {
            continue;
        }
        assert_int_equal(alfa_telem_rx_feed(&rx, &fb[k], &out), 0);
    }
    /* Another sender's part restarts too. */
    alfa_can_frame_t other[ALFA_TELEM_PARTS];
    assert_int_equal(alfa_proto_telem_encode(&b, 8, other), 0);
    assert_int_equal(alfa_telem_rx_feed(&rx, &other[6], &out), 0);
    assert_memory_equal(&out, &b, sizeof(b));
}

static void test_telemetry_refuses_bad(void **state)
{
    (void)state;
    alfa_telemetry_t t = sample_telem(5);
    alfa_can_frame_t fr[ALFA_TELEM_PARTS];
    memset(fr, 0x33, sizeof(fr));
    t.soc_pct = 101;
    assert_int_equal(alfa_proto_telem_encode(&t, 7, fr), ALFA_PROTO_E_RANGE);
    t = sample_telem(5);
    t.p_grid_w = 8388608;
    assert_int_equal(alfa_proto_telem_encode(&t, 7, fr), ALFA_PROTO_E_RANGE);
    t = sample_telem(5);
    t.mode = ALFA_MODE_COUNT;
    assert_int_equal(alfa_proto_telem_encode(&t, 7, fr), ALFA_PROTO_E_RANGE);
    t = sample_telem(5);
    assert_int_equal(alfa_proto_telem_encode(&t, 127, fr), ALFA_PROTO_E_INVAL);
    assert_int_equal(fr[0].data[0], 0x33);
    assert_int_equal(alfa_proto_telem_encode(&t, 7, fr), 0);

    alfa_telem_rx_t rx;
    alfa_telem_rx_reset(&rx);
    alfa_telemetry_t out;
    for (unsigned k = 0; k < 3; k++) {
        assert_int_equal(alfa_telem_rx_feed(&rx, &fr[k], &out), 0);
    }
    alfa_telem_rx_t snapshot = rx;
    alfa_can_frame_t bad = fr[0];
    bad.data[7] = 200; /* SOC 200 % */
    assert_int_equal(alfa_telem_rx_feed(&rx, &bad, &out), ALFA_PROTO_E_RANGE);
    bad = fr[4];
    bad.data[7] = (uint8_t)(7u << 5); /* mode 7 */
    assert_int_equal(alfa_telem_rx_feed(&rx, &bad, &out), ALFA_PROTO_E_RANGE);
    bad = fr[1];
    bad.len = 9;
    assert_int_equal(alfa_telem_rx_feed(&rx, &bad, &out), ALFA_PROTO_E_ID);
    bad = fr[1];
    bad.len = 7;
    assert_int_equal(alfa_telem_rx_feed(&rx, &bad, &out), ALFA_PROTO_E_LEN);
    /* A bad part from another cycle must not restart (and so destroy) the collection. */
    bad = fr[1];
    bad.data[0] = 99;
    bad.data[6] = 0x80; /* p_solar_w negative */
    assert_int_equal(alfa_telem_rx_feed(&rx, &bad, &out), ALFA_PROTO_E_RANGE);
    assert_memory_equal(&rx, &snapshot, sizeof(rx));
}

static void test_site_totals_round_trip(void **state)
{
    (void)state;
    alfa_site_totals_t s = {.packs_online = 32, .soc_avg_pct = 64, .grid_limit_reached = 1,
                            .p_batt_w = -120000, .p_solar_w = 250000, .p_home_w = 98000,
                            .p_grid_w = 31000, .grid_import_today_wh = 30000000u, .day = 20530,
                            .master_serial = 0xA1B2C3D4E5F6ull};
    alfa_can_frame_t fr[ALFA_SITE_PARTS];
    assert_int_equal(alfa_proto_site_encode(&s, 12, 777, fr), 0);
    alfa_site_rx_t rx;
    alfa_site_rx_reset(&rx);
    alfa_site_totals_t out;
    assert_int_equal(alfa_site_rx_feed(&rx, &fr[2], &out), 0);
    assert_int_equal(alfa_site_rx_feed(&rx, &fr[0], &out), 0);
    assert_int_equal(alfa_site_rx_feed(&rx, &fr[3], &out), 0);
    assert_int_equal(alfa_site_rx_feed(&rx, &fr[1], &out), 1);
    assert_int_equal(out.packs_online, 32);
    assert_int_equal(out.soc_avg_pct, 64);
    assert_int_equal(out.grid_limit_reached, 1);
    assert_int_equal(out.p_batt_w, -120000);
    assert_int_equal(out.p_solar_w, 250000);
    assert_int_equal(out.p_home_w, 98000);
    assert_int_equal(out.p_grid_w, 31000);
    assert_int_equal(out.grid_import_today_wh, 30000000u);
    assert_true(out.master_serial == 0xA1B2C3D4E5F6ull);
    assert_int_equal(out.day, 20530);
    s.soc_avg_pct = 101;
    assert_int_equal(alfa_proto_site_encode(&s, 12, 777, fr), ALFA_PROTO_E_RANGE);
    alfa_can_frame_t bad = fr[0];
    bad.data[3] = 2; /* reserved flag bit */
    assert_int_equal(alfa_site_rx_feed(&rx, &bad, &out), ALFA_PROTO_E_RANGE);
}

static void test_every_command_round_trips(void **state)
{
    (void)state;
    alfa_cmd_t cmds[13];
    memset(cmds, 0, sizeof(cmds));
    for (unsigned i = 0; i < 13; i++) {
        cmds[i].code = (uint8_t)(i + 1);
        cmds[i].seq = (uint8_t)(200 + i);
        cmds[i].src = ALFA_NODE_LINUX_GATEWAY;
        cmds[i].dst = (i % 2) ? ALFA_NODE_BROADCAST : 9;
    }
    cmds[0].u.set_mode.mode = ALFA_MODE_TOU;
    cmds[0].u.set_mode.on = 1;
    cmds[1].u.sc_thresholds.low_pct = 10;
    cmds[1].u.sc_thresholds.high_pct = 50;
    cmds[2].u.eco_limit.limit_w = 3500;
    cmds[3].u.tou_window.index = 2;
    cmds[3].u.tou_window.start_min = 22 * 60;
    cmds[3].u.tou_window.end_min = 6 * 60;
    cmds[3].u.tou_window.enabled = 1;
    cmds[4].u.grid_limit.on = 1;
    cmds[4].u.grid_limit.limit_kwh = 12;
    cmds[5].u.relay_override.relay = 2; /* pool pump relay */
    cmds[5].u.relay_override.override = ALFA_OVR_OPEN;
    cmds[6].u.calibration.ct = 3;
    cmds[6].u.calibration.gain_ua = 24100;
    cmds[6].u.calibration.offset_ma = -120;
    cmds[7].u.set_time.unix_s = 1800000000u;
    cmds[7].u.set_time.utc_offset_min = -300;
    cmds[8].u.identify.seconds = 30;
    cmds[11].u.factory_reset.confirm = ALFA_FACTORY_RESET_CODE;
    cmds[12].u.set_setting.id = 0x0102;
    cmds[12].u.set_setting.value = -70000;
    for (unsigned i = 0; i < 13; i++) {
        alfa_can_frame_t f;
        assert_int_equal(alfa_proto_cmd_encode(&cmds[i], &f), 0);
        assert_int_equal(f.len, 1 + alfa_cmd_payload_len(cmds[i].code));
        assert_int_equal(ALFA_PROTO_ID_AUX(f.id), cmds[i].code);
        alfa_cmd_t out;
        memset(&out, 0, sizeof(out));
        assert_int_equal(alfa_proto_cmd_decode(&f, &out), 0);
        assert_memory_equal(&out, &cmds[i], sizeof(out));
        const char *name = alfa_cmd_name(cmds[i].code);
        assert_non_null(name);
        assert_int_equal(alfa_cmd_from_name(name), cmds[i].code);
    }
    assert_int_equal(alfa_cmd_from_name("launch_rockets"), ALFA_PROTO_E_CMD);
    assert_null(alfa_cmd_name(0));
    assert_null(alfa_cmd_name(0x7F));
}

static void test_command_refusals(void **state)
{
    (void)state;
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_SET_MODE;
    c.src = 126;
    c.dst = 127;
    c.u.set_mode.mode = ALFA_MODE_NONE;
    c.u.set_mode.on = 1;
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), ALFA_PROTO_E_RANGE);
    c.u.set_mode.mode = ALFA_MODE_BACKUP;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    alfa_cmd_t out;
    memset(&out, 0x11, sizeof(out));
    alfa_cmd_t untouched = out;
    alfa_can_frame_t g = f;
    g.len = 2; /* one payload byte missing */
    assert_int_equal(alfa_proto_cmd_decode(&g, &out), ALFA_PROTO_E_LEN);
    g = f;
    g.data[2] = 2; /* on = 2 */
    assert_int_equal(alfa_proto_cmd_decode(&g, &out), ALFA_PROTO_E_RANGE);
    g = f;
    g.id = ALFA_PROTO_ID(ALFA_CLS_CMD, 127, 0x55, 126);
    assert_int_equal(alfa_proto_cmd_decode(&g, &out), ALFA_PROTO_E_CMD);
    g.len = 0;
    assert_int_equal(alfa_proto_cmd_decode(&g, &out), ALFA_PROTO_E_LEN);
    assert_memory_equal(&out, &untouched, sizeof(out));
    /* The envelope still gives what an ack needs, even for an unknown command. */
    uint8_t pl[ALFA_CMD_PAYLOAD_MAX];
    uint8_t plen = 0;
    g = f;
    g.id = ALFA_PROTO_ID(ALFA_CLS_CMD, 127, 0x55, 126);
    assert_int_equal(alfa_proto_cmd_envelope(&g, &out, pl, &plen), 0);
    assert_int_equal(out.code, 0x55);
    assert_int_equal(out.src, 126);
    assert_int_equal(plen, 2);
    /* TOU minutes beyond a day and relay 4 are format errors. */
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_SET_TOU_WINDOW;
    c.src = 126;
    c.dst = 3;
    c.u.tou_window.start_min = 1440;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), ALFA_PROTO_E_RANGE);
    c.code = ALFA_CMD_SET_RELAY_OVERRIDE;
    c.u.relay_override.relay = 4;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), ALFA_PROTO_E_RANGE);
}

static void test_ack_and_setting(void **state)
{
    (void)state;
    alfa_ack_t a = {.src = 5, .dst = 126, .code = ALFA_CMD_SET_ECO_LIMIT, .seq = 77,
                    .result = ALFA_ACK_OUT_OF_RANGE};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_ack_encode(&a, &f), 0);
    assert_int_equal(ALFA_PROTO_ID_CLASS(f.id), ALFA_CLS_ACK);
    alfa_ack_t out;
    assert_int_equal(alfa_proto_ack_decode(&f, &out), 0);
    assert_memory_equal(&out, &a, sizeof(a));
    assert_string_equal(alfa_ack_result_name(out.result), "out_of_range");
    f.data[1] = ALFA_ACK_RESULT_COUNT;
    assert_int_equal(alfa_proto_ack_decode(&f, &out), ALFA_PROTO_E_RANGE);
    assert_string_equal(alfa_ack_result_name(200), "?");

    alfa_setting_msg_t m = {.src = 5, .dst = 126, .seq = 3, .last = 1, .id = 17, .value = -5};
    assert_int_equal(alfa_proto_setting_encode(&m, &f), 0);
    alfa_setting_msg_t mo;
    assert_int_equal(alfa_proto_setting_decode(&f, &mo), 0);
    assert_int_equal(mo.src, 5);
    assert_int_equal(mo.dst, 126);
    assert_int_equal(mo.seq, 3);
    assert_int_equal(mo.last, 1);
    assert_int_equal(mo.id, 17);
    assert_int_equal(mo.value, -5);
}

static void test_classify_rejects_foreign_frames(void **state)
{
    (void)state;
    alfa_can_frame_t f;
    memset(&f, 0, sizeof(f));
    f.flags = ALFA_CAN_FLAG_EXT;
    f.id = ALFA_PROTO_ID(0x05, 127, 0, 3); /* unassigned class */
    assert_int_equal(alfa_proto_classify(&f), ALFA_PROTO_E_ID);
    f.id = ALFA_PROTO_ID(0x45, 127, 0, 3);
    assert_int_equal(alfa_proto_classify(&f), 0x45);
    f.flags = ALFA_CAN_FLAG_EXT | ALFA_CAN_FLAG_ERR;
    assert_int_equal(alfa_proto_classify(&f), ALFA_PROTO_E_ID);
    f.flags = ALFA_CAN_FLAG_EXT;
    f.id = 0x3FFFFFFFu; /* wider than 29 bits */
    assert_int_equal(alfa_proto_classify(&f), ALFA_PROTO_E_ID);
    assert_string_equal(alfa_proto_err_name(ALFA_PROTO_E_LEN), "len");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identifier_fields_and_priority),
        cmocka_unit_test(test_heartbeat_round_trip),
        cmocka_unit_test(test_heartbeat_refuses_bad),
        cmocka_unit_test(test_time_round_trip_and_range),
        cmocka_unit_test(test_import_req_resp),
        cmocka_unit_test(test_telemetry_round_trip),
        cmocka_unit_test(test_telemetry_never_mixes_cycles),
        cmocka_unit_test(test_telemetry_refuses_bad),
        cmocka_unit_test(test_site_totals_round_trip),
        cmocka_unit_test(test_every_command_round_trips),
        cmocka_unit_test(test_command_refusals),
        cmocka_unit_test(test_ack_and_setting),
        cmocka_unit_test(test_classify_rejects_foreign_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
