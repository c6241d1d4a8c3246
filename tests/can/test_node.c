/* The CAN node's duties on the timed bus: dispatch table, gateways, time, import recovery, site limit, bus-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "alfa/cansite.h"

static alfa_cansite_t *site_with(uint32_t n, uint64_t seed)
{
    alfa_cansite_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    alfa_cansite_init(s, seed);
    for (uint32_t k = 0; k < n; k++) {
        assert_non_null(alfa_cansite_add_pack(s, 0x700000000ull + k * 1001u, 0));
    }
    return s;
}

static alfa_cansite_pack_t *master_of(alfa_cansite_t *s)
{
    for (uint32_t i = 0; i < s->n_packs; i++) {
        if (alfa_node_is_master(alfa_pack_node(&s->packs[i].pack))) {
            return &s->packs[i];
        }
    }
    fail_msg("no master");
    return NULL;
}

/* The tool plays the Linux gateway: heartbeat as device type 3 on ID 126. */
static void gateway_heartbeat(alfa_cansite_t *s, uint64_t serial)
{
    alfa_heartbeat_t hb = {.node_id = ALFA_NODE_LINUX_GATEWAY, .device_type = ALFA_DEV_LINUX_GATEWAY,
                           .serial = serial, .fw_major = 2, .fw_minor = 5};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), 0);
    assert_int_equal(alfa_cansite_tool_send(s, &f), 0);
}

static void drain(alfa_cansite_t *s)
{
    alfa_can_frame_t f;
    while (alfa_canbus_recv(s->tool, &f) == 1) {
    }
}

static void test_dispatch_table_matches_protocol(void **state)
{
    (void)state;
    uint32_t rows = 0;
    for (uint32_t code = 0; code < 256; code++) {
        const alfa_dispatch_row_t *r = alfa_dispatch_row((uint8_t)code);
        int len = alfa_cmd_payload_len((uint8_t)code);
        if (r == NULL) {
            assert_true(len < 0); /* every command of the protocol is handled */
            continue;
        }
        rows++;
        assert_int_equal(r->code, code);
        assert_int_equal(r->payload_len, len);
        assert_non_null(r->handler);
        assert_true(r->allowed & ALFA_DISPATCH_FROM_GATEWAY);
    }
    assert_int_equal(rows, ALFA_CMD_CODE_MAX);
    /* Only set_time is also taken from the master pack. */
    assert_true(alfa_dispatch_row(ALFA_CMD_SET_TIME)->allowed & ALFA_DISPATCH_FROM_MASTER);
    assert_false(alfa_dispatch_row(ALFA_CMD_SET_MODE)->allowed & ALFA_DISPATCH_FROM_MASTER);
}

static void test_energy_gateway_rules_linux_gateway_never(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_with(3, 1);
    /* A future Energy-Gateway device with the LOWEST serial still rules. */
    alfa_cansite_pack_t *egw = alfa_cansite_add_device(s, 0x100, 0, ALFA_DEV_ENERGY_GATEWAY);
    assert_non_null(egw);
    for (uint32_t ms = 0; ms < 12000; ms += 1000) {
        gateway_heartbeat(s, 0xFFFFFFFFFFFFull); /* the highest serial of all: ignored */
        alfa_cansite_run_ms(s, 1000);
    }
    assert_int_equal(alfa_cansite_masters(s), 1);
    assert_true(alfa_node_is_master(alfa_pack_node(&egw->pack)));
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(alfa_node_master_id(alfa_pack_node(&s->packs[i].pack)), alfa_node_id(alfa_pack_node(&egw->pack)));
    }
    /* The Energy-Gateway may command the packs too. */
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_SET_ECO_LIMIT;
    c.src = alfa_node_id(alfa_pack_node(&egw->pack));
    c.dst = ALFA_NODE_BROADCAST;
    c.seq = 9;
    c.u.eco_limit.limit_w = 1234;
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    assert_int_equal(alfa_canbus_send(egw->can, &f), 0);
    alfa_cansite_run_ms(s, 100);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(alfa_core_settings(alfa_pack_core(&s->packs[i].pack))->eco_limit_w, 1234);
    }
    /* Without it, the highest-serial pack is master within 3 s. */
    alfa_canbus_set_connected(egw->can, 0);
    alfa_cansite_run_ms(s, 3000);
    assert_int_equal(alfa_cansite_masters(s) - (alfa_node_is_master(alfa_pack_node(&egw->pack)) ? 1u : 0u), 1);
    assert_true(alfa_node_is_master(alfa_pack_node(&s->packs[2].pack)));
    free(s);
}

static void test_time_from_gateway_then_master(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_with(2, 2);
    alfa_cansite_run_ms(s, 6000);
    assert_false(alfa_core_time_valid(alfa_pack_core(&s->packs[0].pack)));
    alfa_time_msg_t t = {.src = ALFA_NODE_LINUX_GATEWAY, .unix_s = 1800000000u, .utc_offset_min = 120};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_time_encode(&t, &f), 0);
    assert_int_equal(alfa_cansite_tool_send(s, &f), 0);
    uint32_t t_gw = alfa_cansite_now_ms(s);
    alfa_cansite_run_ms(s, 10);
    assert_true(alfa_core_time_valid(alfa_pack_core(&s->packs[0].pack)));
    assert_true(alfa_core_time_valid(alfa_pack_core(&s->packs[1].pack)));
    /* A time frame from a pack that is not the master is ignored. */
    alfa_cansite_pack_t *m = master_of(s);
    alfa_cansite_pack_t *other = m == &s->packs[0] ? &s->packs[1] : &s->packs[0];
    alfa_time_msg_t rogue = {.src = alfa_node_id(alfa_pack_node(&other->pack)), .unix_s = 1900000000u, .utc_offset_min = 0};
    assert_int_equal(alfa_proto_time_encode(&rogue, &f), 0);
    assert_int_equal(alfa_canbus_send(other->can, &f), 0);
    alfa_cansite_run_ms(s, 10);
    int16_t off_min = 0;
    assert_true(alfa_core_wall_time(alfa_pack_core(&m->pack), NULL, &off_min));
    assert_int_equal(off_min, 120);
    /* The gateway goes silent: after 90 s the master broadcasts time itself. */
    drain(s);
    uint32_t t_silent = alfa_cansite_now_ms(s);
    alfa_can_frame_t g;
    uint32_t t_seen = 0;
    alfa_time_msg_t got;
    memset(&got, 0, sizeof(got));
    while (t_seen == 0 && alfa_cansite_now_ms(s) - t_silent < 160000u) {
        alfa_cansite_run_ms(s, 1);
        while (alfa_canbus_recv(s->tool, &g) == 1) {
            if (alfa_proto_time_decode(&g, &got) == 0 && t_seen == 0) {
                t_seen = alfa_cansite_now_ms(s);
            }
        }
    }
    assert_true(t_seen != 0);
    assert_true(t_seen - t_gw >= 90000u);
    assert_true(t_seen - t_gw <= 150000u);
    assert_int_equal(got.src, alfa_node_id(alfa_pack_node(&m->pack)));
    assert_int_equal(got.utc_offset_min, 120);
    uint32_t expect = 1800000000u + (t_seen - t_gw) / 1000u;
    assert_true(got.unix_s + 2u >= expect && got.unix_s <= expect + 2u);
    /* A rebooted pack gets its time from the master's next broadcast. */
    alfa_cansite_reboot(other);
    assert_false(alfa_core_time_valid(alfa_pack_core(&other->pack)));
    alfa_cansite_run_ms(s, 65000);
    assert_true(alfa_core_time_valid(alfa_pack_core(&other->pack)));
    free(s);
}

static void test_grid_import_recovered_after_reboot(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_with(3, 3);
    alfa_cansite_run_ms(s, 8000);
    alfa_cansite_pack_t *m = master_of(s);
    alfa_cansite_pack_t *b = m == &s->packs[0] ? &s->packs[1] : &s->packs[0];
    alfa_core_restore_grid_import(alfa_pack_core(&b->pack), 7400, alfa_core_day(alfa_pack_core(&b->pack)));
    alfa_core_restore_grid_import(alfa_pack_core(&m->pack), 5100, alfa_core_day(alfa_pack_core(&m->pack)));
    alfa_cansite_run_ms(s, 5000); /* their telemetry reaches everybody */
    alfa_cansite_reboot(b);
    assert_int_equal(alfa_core_grid_import_today_wh(alfa_pack_core(&b->pack)), 0);
    alfa_cansite_run_ms(s, 10000);
    assert_int_equal(alfa_core_grid_import_today_wh(alfa_pack_core(&b->pack)), 7400);
    /* The master itself reboots: the highest-serial other pack answers for it. */
    alfa_cansite_reboot(m);
    alfa_cansite_run_ms(s, 10000);
    assert_int_equal(alfa_core_grid_import_today_wh(alfa_pack_core(&m->pack)), 5100);
    free(s);
}

/* Six fake packs (IDs 40..45, serials below the real pack's) heartbeat from the tool. */
static void fake_heartbeats(alfa_cansite_t *s)
{
    for (uint8_t k = 0; k < 6; k++) {
        alfa_heartbeat_t hb = {.node_id = (uint8_t)(40u + k), .device_type = ALFA_DEV_PACK,
                               .serial = 0x100u + k, .fw_major = 2, .fw_minor = 5};
        alfa_can_frame_t f;
        assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), 0);
        assert_int_equal(alfa_cansite_tool_send(s, &f), 0);
    }
}

static void fake_telemetry(uint8_t k, int32_t batt_w, int32_t grid_w, uint32_t cycle, alfa_can_frame_t fr[ALFA_TELEM_PARTS])
{
    alfa_telemetry_t t;
    memset(&t, 0, sizeof(t));
    t.p_batt_w = batt_w;
    t.p_grid_w = grid_w;
    t.p_home_w = 100;
    t.soc_pct = 50;
    t.v_pack_mv = 52000;
    t.cycle = cycle;
    assert_int_equal(alfa_proto_telem_encode(&t, (uint8_t)(40u + k), fr), 0);
}

/* Run `ms` with the fake packs' heartbeats every second, then the master's site totals. */
static alfa_site_totals_t site_after(alfa_cansite_t *s, alfa_cansite_pack_t *m, uint32_t ms)
{
    for (uint32_t t = 0; t < ms; t += 500) {
        if (t % 1000 == 0) {
            fake_heartbeats(s);
        }
        alfa_cansite_run_ms(s, 500);
        drain(s);
    }
    alfa_site_totals_t st;
    assert_true(alfa_site_totals(alfa_pack_site(&m->pack), &st));
    return st;
}

/* The node lends ALFA_TLM_RX_SLOTS reassemblers to senders on demand. When more bursts overlap
 * than it has, the extra records are lost whole (counted), never mixed with other parts. */
static void test_reassembler_pool_exhausted(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_with(1, 9);
    alfa_cansite_pack_t *m = &s->packs[0];
    alfa_cansite_run_ms(s, 6000);
    assert_true(alfa_node_is_master(alfa_pack_node(&m->pack)));
    alfa_site_totals_t st = site_after(s, m, 3000);
    assert_int_equal(st.packs_online, 1);
    alfa_telemetry_t own;
    alfa_core_telemetry(alfa_pack_core(&m->pack), &own);
    const int32_t own_batt = own.p_batt_w, own_grid = own.p_grid_w;

    /* Six bursts interleaved part by part, last part first: the first four senders get the
     * reassemblers, the parts of the other two find none until those complete. */
    _Static_assert(ALFA_TLM_RX_SLOTS == 4u, "the test overlaps six bursts on four reassemblers");
    alfa_can_frame_t fr[6][ALFA_TELEM_PARTS];
    for (uint8_t k = 0; k < 6; k++) {
        fake_telemetry(k, 1000 * (k + 1), 10 * (k + 1), 5, fr[k]);
    }
    for (int part = (int)ALFA_TELEM_PARTS - 1; part >= 0; part--) {
        for (uint8_t k = 0; k < 6; k++) {
            assert_int_equal(alfa_cansite_tool_send(s, &fr[k][part]), 0);
        }
    }
    st = site_after(s, m, 2500);
    assert_int_equal(st.packs_online, 5);
    assert_int_equal(st.p_batt_w, own_batt + 1000 + 2000 + 3000 + 4000);
    assert_int_equal(st.p_grid_w, own_grid + 10 + 20 + 30 + 40);
    assert_int_equal(alfa_tlm_stats(alfa_pack_tlm(&m->pack))->lost, 2u * (ALFA_TELEM_PARTS - 1u));

    /* Fake pack 4 got a reassembler for its part 0 only. Its next burst loses part 0 on the way
     * and, the cycle byte being the same, would complete with the old part 0: it must not. */
    alfa_can_frame_t again[ALFA_TELEM_PARTS];
    fake_telemetry(4, 7777, 888, 5, again);
    for (uint32_t part = 1; part < ALFA_TELEM_PARTS; part++) {
        assert_int_equal(alfa_cansite_tool_send(s, &again[part]), 0);
    }
    st = site_after(s, m, 2500);
    assert_int_equal(st.packs_online, 5);
    assert_int_equal(st.p_grid_w, own_grid + 10 + 20 + 30 + 40);
    /* A whole burst from it counts, with its own values only. */
    fake_telemetry(4, 7777, 888, 6, again);
    for (uint32_t part = 0; part < ALFA_TELEM_PARTS; part++) {
        assert_int_equal(alfa_cansite_tool_send(s, &again[part]), 0);
    }
    st = site_after(s, m, 2500);
    assert_int_equal(st.packs_online, 6);
    assert_int_equal(st.p_batt_w, own_batt + 1000 + 2000 + 3000 + 4000 + 7777);
    assert_int_equal(st.p_grid_w, own_grid + 10 + 20 + 30 + 40 + 888);
    free(s);
}

static void test_site_grid_limit_reaches_every_pack(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_with(3, 4);
    alfa_cansite_run_ms(s, 8000);
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_SET_GRID_LIMIT;
    c.dst = ALFA_NODE_BROADCAST;
    c.u.grid_limit.on = 1;
    c.u.grid_limit.limit_kwh = 2;
    assert_true(alfa_cansite_command(s, &c) > 0);
    alfa_cansite_run_ms(s, 100);
    /* 800 + 700 + 400 Wh: under 2 kWh, no pack reached it on its own. */
    const uint32_t wh[3] = {800, 700, 400};
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(alfa_core_settings(alfa_pack_core(&s->packs[i].pack))->grid_limit_on, 1);
        alfa_core_restore_grid_import(alfa_pack_core(&s->packs[i].pack), wh[i], alfa_core_day(alfa_pack_core(&s->packs[i].pack)));
    }
    alfa_cansite_run_ms(s, 5000);
    for (uint32_t i = 0; i < 3; i++) {
        alfa_site_totals_t st;
        assert_true(alfa_site_totals(alfa_pack_site(&s->packs[i].pack), &st));
        assert_int_equal(st.grid_import_today_wh, 1900);
        assert_int_equal(st.grid_limit_reached, 0);
        assert_false(alfa_core_warnings(alfa_pack_core(&s->packs[i].pack)) & (1u << ALFA_WARN_GRID_LIMIT_REACHED));
    }
    /* One more pack's import takes the SITE over the limit: everybody's grid relay opens. */
    alfa_core_restore_grid_import(alfa_pack_core(&s->packs[2].pack), 500, alfa_core_day(alfa_pack_core(&s->packs[2].pack)));
    alfa_cansite_run_ms(s, 5000);
    for (uint32_t i = 0; i < 3; i++) {
        alfa_site_totals_t st;
        assert_true(alfa_site_totals(alfa_pack_site(&s->packs[i].pack), &st));
        assert_int_equal(st.grid_import_today_wh, 2000);
        assert_int_equal(st.grid_limit_reached, 1);
        assert_true(alfa_core_warnings(alfa_pack_core(&s->packs[i].pack)) & (1u << ALFA_WARN_GRID_LIMIT_REACHED));
        assert_false(alfa_core_relays_closed(alfa_pack_core(&s->packs[i].pack)) & (1u << ALFA_RELAY_GRID));
    }
    free(s);
}

static void test_bus_off_fault_and_recovery(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_with(2, 5);
    alfa_cansite_run_ms(s, 8000);
    alfa_cansite_pack_t *p = &s->packs[0];
    uint8_t id = alfa_node_id(alfa_pack_node(&p->pack));
    /* A wiring fault keeps the controller bus-off for 3 s whatever recovery is asked. */
    for (uint32_t ms = 0; ms < 3000; ms++) {
        alfa_canbus_node_force_bus_off(p->can);
        alfa_cansite_run_ms(s, 1);
    }
    assert_true(alfa_core_faults(alfa_pack_core(&p->pack)) & (1u << ALFA_FAULT_CAN_BUS_OFF));
    assert_true(alfa_node_stats(alfa_pack_node(&p->pack))->bus_off_events == 1);
    /* Fault gone: the node's own recovery request brings it back within a few ms. */
    alfa_cansite_run_ms(s, 100);
    assert_int_equal(alfa_canbus_state(p->can), ALFA_CAN_ERROR_ACTIVE);
    assert_false(alfa_core_faults(alfa_pack_core(&p->pack)) & (1u << ALFA_FAULT_CAN_BUS_OFF));
    alfa_cansite_run_ms(s, 5000);
    assert_int_equal(alfa_node_phase(alfa_pack_node(&p->pack)), ALFA_NODE_PHASE_RUN);
    assert_int_equal(alfa_node_id(alfa_pack_node(&p->pack)), id);
    assert_int_equal(alfa_cansite_masters(s), 1);
    free(s);
}

static void test_read_settings_reboot_factory_reset_identify(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_with(2, 6);
    alfa_cansite_run_ms(s, 8000);
    alfa_cansite_pack_t *p = &s->packs[1];
    uint8_t id = alfa_node_id(alfa_pack_node(&p->pack));
    assert_int_equal(alfa_core_setting_set(alfa_pack_core(&p->pack), ALFA_SET_ECO_LIMIT_W, 3333, NULL), ALFA_OK);
    drain(s);
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_READ_SETTINGS;
    c.dst = id;
    int seq = alfa_cansite_command(s, &c);
    alfa_cansite_run_ms(s, 100);
    alfa_can_frame_t f;
    uint32_t acks = 0, values = 0, last = 0;
    while (alfa_canbus_recv(s->tool, &f) == 1) {
        alfa_ack_t a;
        alfa_setting_msg_t m;
        if (alfa_proto_ack_decode(&f, &a) == 0 && a.seq == (uint8_t)seq) {
            assert_int_equal(a.result, ALFA_ACK_OK);
            assert_int_equal(values, 0); /* the ack comes first */
            acks++;
        }
        if (alfa_proto_setting_decode(&f, &m) == 0) {
            assert_int_equal(m.seq, (uint8_t)seq);
            assert_int_equal(m.src, id);
            assert_int_equal(m.id, values); /* in id order, none missing */
            int32_t v;
            assert_int_equal(alfa_core_setting_get(alfa_pack_core(&p->pack), m.id, &v), ALFA_OK);
            assert_int_equal(m.value, v);
            values++;
            last += m.last;
        }
    }
    assert_int_equal(acks, 1);
    assert_int_equal(values, ALFA_SET_COUNT);
    assert_int_equal(last, 1);
    /* Identify blinks. */
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_IDENTIFY;
    c.dst = id;
    c.u.identify.seconds = 20;
    assert_true(alfa_cansite_command(s, &c) > 0);
    alfa_cansite_run_ms(s, 50);
    assert_true(alfa_core_identifying(alfa_pack_core(&p->pack)));
    /* Reboot: acknowledged, then the pack restarts and comes back with its ID. */
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_REBOOT;
    c.dst = id;
    assert_true(alfa_cansite_command(s, &c) > 0);
    alfa_cansite_run_ms(s, 200);
    assert_int_equal(p->reboots, 1);
    alfa_cansite_run_ms(s, 6000);
    assert_int_equal(alfa_node_id(alfa_pack_node(&p->pack)), id);
    assert_int_equal(alfa_core_settings(alfa_pack_core(&p->pack))->eco_limit_w, 3333); /* settings survived */
    /* Factory reset with the confirmation code: defaults, same node ID, restarted. */
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_FACTORY_RESET;
    c.dst = id;
    c.u.factory_reset.confirm = ALFA_FACTORY_RESET_CODE;
    assert_true(alfa_cansite_command(s, &c) > 0);
    alfa_cansite_run_ms(s, 200);
    assert_int_equal(p->reboots, 2);
    alfa_cansite_run_ms(s, 6000);
    alfa_settings_t def;
    alfa_settings_defaults(&def);
    assert_int_equal(alfa_core_settings(alfa_pack_core(&p->pack))->eco_limit_w, def.eco_limit_w);
    assert_int_equal(alfa_node_id(alfa_pack_node(&p->pack)), id);
    free(s);
}

static void test_garbage_frames_change_nothing(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_with(2, 7);
    alfa_cansite_run_ms(s, 8000);
    uint32_t gens[2] = {alfa_core_settings_generation(alfa_pack_core(&s->packs[0].pack)),
                        alfa_core_settings_generation(alfa_pack_core(&s->packs[1].pack))};
    uint8_t ids[2] = {alfa_node_id(alfa_pack_node(&s->packs[0].pack)), alfa_node_id(alfa_pack_node(&s->packs[1].pack))};
    alfa_rng_t r;
    alfa_rng_seed(&r, 99);
    /* Frames of our classes from unknown senders, wrong lengths, foreign 11-bit frames. */
    for (uint32_t k = 0; k < 3000; k++) {
        alfa_can_frame_t f;
        memset(&f, 0, sizeof(f));
        uint64_t x = alfa_rng_next(&r);
        f.flags = (x & 1u) ? ALFA_CAN_FLAG_EXT : 0u;
        f.id = (uint32_t)(x >> 8) & (f.flags ? 0x1FFFFFFFu : 0x7FFu);
        if ((x >> 40) % 3u == 0 && f.flags) {
            /* an Alfaspark class, but never the gateway's or a pack's own ID as sender */
            uint8_t src = (uint8_t)(100u + (x >> 24) % 20u);
            if (src == ids[0] || src == ids[1]) {
                src = 99;
            }
            f.id = ALFA_PROTO_ID((x >> 45) % 0x50u, (x >> 52) % 128u, (x >> 16) & 0xFFu, src);
        }
        f.len = (uint8_t)((x >> 32) % 9u);
        for (uint32_t b = 0; b < 8; b++) {
            f.data[b] = (uint8_t)(alfa_rng_next(&r));
        }
        (void)alfa_cansite_tool_send(s, &f); /* a refusal (full queue) is part of the flood, not a failure */
        alfa_cansite_run_ms(s, 1);
    }
    alfa_cansite_run_ms(s, 3000);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(alfa_core_settings_generation(alfa_pack_core(&s->packs[i].pack)), gens[i]);
        assert_int_equal(alfa_node_id(alfa_pack_node(&s->packs[i].pack)), ids[i]);
        assert_int_equal(alfa_node_phase(alfa_pack_node(&s->packs[i].pack)), ALFA_NODE_PHASE_RUN);
    }
    assert_int_equal(alfa_cansite_masters(s), 1);
    free(s);
}

/* Heartbeats of fake packs with IDs first..last (serials below the real pack's), sent by the tool. */
static void fake_range_heartbeats(alfa_cansite_t *s, uint8_t first, uint8_t last)
{
    for (uint32_t id = first; id <= last; id++) {
        alfa_heartbeat_t hb = {.node_id = (uint8_t)id, .device_type = ALFA_DEV_PACK, .serial = 0x1000u + id,
                               .fw_major = 2, .fw_minor = 5};
        alfa_can_frame_t f;
        assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), 0);
        assert_int_equal(alfa_cansite_tool_send(s, &f), 0);
    }
}

static uint32_t known_in(const alfa_node_t *n, uint8_t first, uint8_t last)
{
    uint32_t k = 0;
    for (uint32_t id = first; id <= last; id++) {
        alfa_node_peer_t peer;
        k += alfa_node_peer(n, (uint8_t)id, &peer) ? 1u : 0u;
    }
    return k;
}

/* The node keeps ALFA_NODE_SLOTS other nodes: a 49th live one is counted, not followed, and
 * never pushes a live one out; once some fall silent past the election window, newcomers take
 * their slots. The pack stays master throughout. */
static void test_node_table_full_and_room_again(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_with(1, 7);
    alfa_cansite_run_ms(s, 6000);
    alfa_node_t *n = &s->packs[0].pack.node;
    assert_true(alfa_node_is_master(n));
    for (int k = 0; k < 4; k++) { /* 60 live fakes, IDs 10..69 */
        fake_range_heartbeats(s, 10, 69);
        alfa_cansite_run_ms(s, 1000);
    }
    assert_int_equal(known_in(n, 10, 69), ALFA_NODE_SLOTS);
    assert_int_equal(known_in(n, 10, 57), ALFA_NODE_SLOTS); /* the first heard hold their slots */
    assert_true(n->stats.table_full > 0u);
    assert_true(alfa_node_is_master(n));
    for (int k = 0; k < 6; k++) { /* 10..29 fall silent; 30..69 go on */
        fake_range_heartbeats(s, 30, 69);
        alfa_cansite_run_ms(s, 1000);
    }
    assert_int_equal(known_in(n, 30, 69), 40u);
    assert_true(alfa_node_is_master(n));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch_table_matches_protocol),
        cmocka_unit_test(test_energy_gateway_rules_linux_gateway_never),
        cmocka_unit_test(test_time_from_gateway_then_master),
        cmocka_unit_test(test_grid_import_recovered_after_reboot),
        cmocka_unit_test(test_reassembler_pool_exhausted),
        cmocka_unit_test(test_site_grid_limit_reaches_every_pack),
        cmocka_unit_test(test_bus_off_fault_and_recovery),
        cmocka_unit_test(test_read_settings_reboot_factory_reset_identify),
        cmocka_unit_test(test_garbage_frames_change_nothing),
        cmocka_unit_test(test_node_table_full_and_room_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
