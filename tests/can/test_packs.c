/* 1, 2, 8 and 32 real packs on the timed CAN bus: node IDs, election, failover, commands, telemetry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "alfa/cansite.h"

/* Serials whose preferred node IDs (1 + serial mod 125) collide in groups of four. */
static uint64_t colliding_serial(uint32_t k) { return 0x24A1B2000000ull + (uint64_t)(k / 4u) * 3u + (uint64_t)(k % 4u) * 125u * 1000u; }

static alfa_cansite_t *site_new(uint64_t seed)
{
    alfa_cansite_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    alfa_cansite_init(s, seed);
    return s;
}

/* Every pack settled, IDs unique and in 1..125, exactly one master (the highest serial), and
 * every pack follows it. */
static void assert_settled(alfa_cansite_t *s)
{
    uint8_t seen[128];
    memset(seen, 0, sizeof(seen));
    uint64_t best = 0;
    uint32_t best_i = 0;
    for (uint32_t i = 0; i < s->n_packs; i++) {
        const alfa_cansite_pack_t *p = &s->packs[i];
        assert_int_equal(alfa_node_phase(alfa_pack_node(&p->pack)), ALFA_NODE_PHASE_RUN);
        uint8_t id = alfa_node_id(alfa_pack_node(&p->pack));
        assert_true(id >= 1 && id <= 125);
        assert_int_equal(seen[id], 0);
        seen[id] = 1;
        if (p->serial > best) {
            best = p->serial;
            best_i = i;
        }
    }
    assert_int_equal(alfa_cansite_masters(s), 1);
    assert_true(alfa_node_is_master(alfa_pack_node(&s->packs[best_i].pack)));
    uint8_t mid = alfa_node_id(alfa_pack_node(&s->packs[best_i].pack));
    for (uint32_t i = 0; i < s->n_packs; i++) {
        assert_int_equal(alfa_node_master_id(alfa_pack_node(&s->packs[i].pack)), mid);
        /* The ID is kept in the pack's persistent settings (or on its way there: the store writes
         * after its 2-s quiet period). */
        if (!alfa_store_busy(alfa_pack_store(&s->packs[i].pack))) {
            assert_int_equal(alfa_cansite_stored_node_id(&s->packs[i]), alfa_node_id(alfa_pack_node(&s->packs[i].pack)));
        }
    }
}

/* Drain the tool's receive queue into a handler. */
typedef void (*frame_fn)(void *ctx, const alfa_can_frame_t *f);
static void drain_tool(alfa_cansite_t *s, frame_fn fn, void *ctx)
{
    alfa_can_frame_t f;
    while (alfa_canbus_recv(s->tool, &f) == 1) {
        if (fn != NULL) {
            fn(ctx, &f);
        }
    }
}

typedef struct acks {
    uint32_t n;
    uint8_t code, seq;
    uint8_t from[128];       /* count per node ID */
    uint8_t result[128];
    uint64_t last_end_us;
} acks_t;

static void collect_ack(void *ctx, const alfa_can_frame_t *f)
{
    acks_t *a = ctx;
    alfa_ack_t ack;
    if (alfa_proto_ack_decode(f, &ack) == 0 && ack.code == a->code && ack.seq == a->seq) {
        a->n++;
        a->from[ack.src]++;
        a->result[ack.src] = ack.result;
    }
}

static void test_one_pack_is_its_own_master(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_new(1);
    alfa_cansite_pack_t *p = alfa_cansite_add_pack(s, 0x24A1B2C3D4E5ull, 0);
    alfa_cansite_run_ms(s, 1000);
    assert_int_equal(alfa_node_phase(alfa_pack_node(&p->pack)), ALFA_NODE_PHASE_LISTEN);
    assert_int_equal(alfa_node_id(alfa_pack_node(&p->pack)), 0); /* silent while listening */
    alfa_cansite_run_ms(s, 5000);
    assert_settled(s);
    assert_int_equal(alfa_node_id(alfa_pack_node(&p->pack)), 1 + 0x24A1B2C3D4E5ull % 125);
    /* The tool (the gateway's place) sees heartbeats, complete telemetry and site totals. */
    alfa_telem_rx_t rx;
    alfa_telem_rx_reset(&rx);
    alfa_site_rx_t srx;
    alfa_site_rx_reset(&srx);
    uint32_t hbs = 0, telem = 0, sites = 0;
    alfa_telemetry_t t;
    alfa_site_totals_t st;
    alfa_can_frame_t f;
    drain_tool(s, NULL, NULL);
    alfa_cansite_run_ms(s, 4000);
    while (alfa_canbus_recv(s->tool, &f) == 1) {
        alfa_heartbeat_t hb;
        if (alfa_proto_heartbeat_decode(&f, &hb) == 0) {
            hbs++;
            assert_true(hb.serial == p->serial);
            assert_true(hb.state & ALFA_HB_MASTER);
            assert_int_equal(hb.fw_major, 2);
            assert_int_equal(hb.fw_minor, 5);
        }
        if (alfa_telem_rx_feed(&rx, &f, &t) == 1) {
            telem++;
            assert_int_equal(t.is_master, 1);
            assert_int_equal(t.v_pack_mv, p->v_pack_mv);
        }
        if (alfa_site_rx_feed(&srx, &f, &st) == 1) {
            sites++;
            assert_int_equal(st.packs_online, 1);
            assert_true(st.master_serial == p->serial);
        }
    }
    assert_int_equal(hbs, 4);
    assert_int_equal(telem, 2);
    assert_int_equal(sites, 2);
    free(s);
}

/* What the tool (the gateway's place) saw of a read_settings answer. */
typedef struct rs_seen {
    uint8_t seq;
    uint32_t acks, ack_ok, settings, in_order, last;
} rs_seen_t;

static void collect_rs(void *ctx, const alfa_can_frame_t *f)
{
    rs_seen_t *r = ctx;
    alfa_ack_t a;
    alfa_setting_msg_t m;
    if (alfa_proto_ack_decode(f, &a) == 0 && a.seq == r->seq && a.code == ALFA_CMD_READ_SETTINGS) {
        r->acks++;
        r->ack_ok += a.result == ALFA_ACK_OK;
    } else if (alfa_proto_setting_decode(f, &m) == 0 && m.seq == r->seq) {
        r->in_order += m.id == r->settings;
        r->settings++;
        r->last += m.last;
    }
}

static void gateway_time(alfa_cansite_t *s, uint32_t unix_s)
{
    alfa_time_msg_t tm = {.src = ALFA_NODE_LINUX_GATEWAY, .unix_s = unix_s, .utc_offset_min = 60};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_time_encode(&tm, &f), 0);
    assert_true(alfa_cansite_tool_send(s, &f) >= 0);
}

/* Read the settings of `p` from the tool: acknowledged once and answered in full within 1 s. */
static void expect_full_settings(alfa_cansite_t *s, alfa_cansite_pack_t *p)
{
    drain_tool(s, NULL, NULL);
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_READ_SETTINGS;
    c.dst = alfa_node_id(alfa_pack_node(&p->pack));
    rs_seen_t r;
    memset(&r, 0, sizeof(r));
    int seq = alfa_cansite_command(s, &c);
    assert_true(seq > 0);
    r.seq = (uint8_t)seq;
    alfa_cansite_run_ms(s, 1000);
    drain_tool(s, collect_rs, &r);
    assert_int_equal(r.acks, 1);
    assert_int_equal(r.ack_ok, 1);
    assert_int_equal(r.settings, ALFA_SET_COUNT);
    assert_int_equal(r.in_order, ALFA_SET_COUNT);
    assert_int_equal(r.last, 1);
}

/* SPEC 8.3: a lone pack is its own master and the Linux gateway never takes part. With no gateway
 * heartbeat on the bus, the gateway's sparse frames (time every 60 s, commands after long
 * silences) and minutes in which nobody even acknowledges its frames must not shake its role. */
static void test_lone_pack_steady_master_without_gateway(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_new(7);
    alfa_cansite_pack_t *p = alfa_cansite_add_pack(s, 0x24A1B2C3D4E5ull, 0);
    alfa_cansite_run_ms(s, 6000);
    assert_settled(s);
    uint32_t claims = alfa_node_stats(alfa_pack_node(&p->pack))->claims;
    uint32_t not_master_ms = 0;
    for (uint32_t sec = 0; sec < 300; sec++) {
        if (sec % 60 == 5) {
            gateway_time(s, 1790000000u + sec);
        }
        if (sec == 100 || sec == 250) {
            expect_full_settings(s, p);
        }
        if (sec == 130) {
            alfa_canbus_set_connected(s->tool, 0); /* nobody left to acknowledge its frames */
        }
        if (sec == 200) {
            alfa_canbus_set_connected(s->tool, 1);
        }
        for (uint32_t k = 0; k < 10; k++) {
            alfa_cansite_run_ms(s, 100);
            not_master_ms += (!alfa_node_is_master(alfa_pack_node(&p->pack)) || alfa_node_phase(alfa_pack_node(&p->pack)) != ALFA_NODE_PHASE_RUN) ? 100u : 0u;
        }
        drain_tool(s, NULL, NULL);
    }
    assert_int_equal(not_master_ms, 0);
    assert_int_equal(alfa_node_stats(alfa_pack_node(&p->pack))->claims, claims);
    assert_int_equal(alfa_node_master_id(alfa_pack_node(&p->pack)), alfa_node_id(alfa_pack_node(&p->pack)));
    /* Its heartbeats still say MASTER, steadily. */
    drain_tool(s, NULL, NULL);
    alfa_cansite_run_ms(s, 5000);
    alfa_can_frame_t f;
    uint32_t hbs = 0;
    while (alfa_canbus_recv(s->tool, &f) == 1) {
        alfa_heartbeat_t hb;
        if (alfa_proto_heartbeat_decode(&f, &hb) == 0) {
            hbs++;
            assert_int_equal(hb.state & (ALFA_HB_MASTER | ALFA_HB_CLAIMING), ALFA_HB_MASTER);
        }
    }
    assert_int_equal(hbs, 5);
    free(s);
}

static void test_two_packs_with_the_same_preferred_id(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_new(2);
    uint64_t lo = 0x100000000ull + 7u, hi = lo + 125u * 40u; /* same 1 + serial mod 125 */
    alfa_cansite_pack_t *a = alfa_cansite_add_pack(s, lo, 0);
    alfa_cansite_pack_t *b = alfa_cansite_add_pack(s, hi, 0);
    alfa_cansite_run_ms(s, 10000);
    assert_settled(s);
    /* The higher serial keeps the preferred ID; the lower moved and warns about it. */
    uint8_t pref = (uint8_t)(1 + lo % 125);
    assert_int_equal(alfa_node_id(alfa_pack_node(&b->pack)), pref);
    assert_true(alfa_node_id(alfa_pack_node(&a->pack)) != pref);
    assert_true(alfa_core_warnings(alfa_pack_core(&a->pack)) & (1u << ALFA_WARN_NODE_ID_CONFLICT));
    assert_false(alfa_core_warnings(alfa_pack_core(&b->pack)) & (1u << ALFA_WARN_NODE_ID_CONFLICT));
    assert_true(alfa_node_is_master(alfa_pack_node(&b->pack)));
    /* Nobody collided on the wire: no error frames at all. */
    assert_true(alfa_canbus_error_frames(&s->bus) == 0);
    /* The moved ID survives a reboot. */
    uint8_t a_id = alfa_node_id(alfa_pack_node(&a->pack));
    alfa_cansite_reboot(a);
    alfa_cansite_run_ms(s, 6000);
    assert_int_equal(alfa_node_id(alfa_pack_node(&a->pack)), a_id);
    assert_settled(s);
    free(s);
}

static void run_many(uint32_t n, uint64_t seed)
{
    alfa_cansite_t *s = site_new(seed);
    for (uint32_t k = 0; k < n; k++) {
        assert_non_null(alfa_cansite_add_pack(s, colliding_serial(k), 0));
    }
    alfa_cansite_run_ms(s, 20000);
    assert_settled(s);
    assert_true(alfa_canbus_error_frames(&s->bus) == 0);
    /* Site totals count everybody, with every pack's own figures: the node's few shared
     * reassemblers and pack slots never lost a record. */
    int64_t batt = 0, home = 0;
    for (uint32_t i = 0; i < n; i++) {
        alfa_telemetry_t t;
        alfa_core_telemetry(alfa_pack_core(&s->packs[i].pack), &t);
        batt += t.p_batt_w;
        home += t.p_home_w;
    }
    for (uint32_t i = 0; i < n; i++) {
        alfa_site_totals_t st;
        assert_true(alfa_site_totals(alfa_pack_site(&s->packs[i].pack), &st));
        assert_int_equal(st.packs_online, n);
        assert_int_equal(st.p_batt_w, batt);
        assert_int_equal(st.p_home_w, home);
        assert_int_equal(alfa_tlm_stats(alfa_pack_tlm(&s->packs[i].pack))->lost, 0);
        assert_int_equal(alfa_site_stats(alfa_pack_site(&s->packs[i].pack))->table_full, 0);
    }
    free(s);
}

static void test_eight_packs_unique_ids(void **state)
{
    (void)state;
    run_many(8, 8);
}

static void test_thirty_two_packs_unique_ids(void **state)
{
    (void)state;
    run_many(32, 32);
}

/* Index of the pack with the highest serial among the connected ones (or all). */
static uint32_t highest(const alfa_cansite_t *s, int skip)
{
    uint64_t best = 0;
    uint32_t bi = 0;
    for (uint32_t i = 0; i < s->n_packs; i++) {
        if ((int)i == skip) {
            continue;
        }
        if (s->packs[i].serial > best) {
            best = s->packs[i].serial;
            bi = i;
        }
    }
    return bi;
}

static uint32_t masters_connected(const alfa_cansite_t *s)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < s->n_packs; i++) {
        m += (alfa_canbus_node_connected(s->packs[i].can) && alfa_node_is_master(alfa_pack_node(&s->packs[i].pack))) ? 1u : 0u;
    }
    return m;
}

static void test_failover_and_return_32(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_new(33);
    for (uint32_t k = 0; k < 32; k++) {
        assert_non_null(alfa_cansite_add_pack(s, colliding_serial(k), 0));
    }
    alfa_cansite_run_ms(s, 15000);
    assert_settled(s);
    uint8_t ids[32];
    for (uint32_t i = 0; i < 32; i++) {
        ids[i] = alfa_node_id(alfa_pack_node(&s->packs[i].pack));
    }
    uint32_t old = highest(s, -1);
    uint32_t next = highest(s, (int)old);
    /* Cut the master off. */
    alfa_canbus_set_connected(s->packs[old].can, 0);
    uint32_t t_cut = alfa_cansite_now_ms(s);
    uint32_t t_new = 0;
    for (uint32_t ms = 0; ms < 5000; ms++) {
        alfa_cansite_run_ms(s, 1);
        for (uint32_t i = 0; i < 32; i++) {
            /* Nobody but the expected successor ever takes the role. */
            if (i != old && i != next) {
                assert_false(alfa_node_is_master(alfa_pack_node(&s->packs[i].pack)));
            }
        }
        if (t_new == 0 && alfa_node_is_master(alfa_pack_node(&s->packs[next].pack))) {
            t_new = alfa_cansite_now_ms(s);
        }
    }
    assert_true(t_new != 0);
    assert_true(t_new - t_cut <= 3000u);
    assert_int_equal(masters_connected(s), 1);
    for (uint32_t i = 0; i < 32; i++) {
        if (i != old) {
            assert_int_equal(alfa_node_master_id(alfa_pack_node(&s->packs[i].pack)), ids[next]);
        }
    }
    /* Back after 90 s in total: it keeps its ID and, having the highest serial, takes over with
     * no stretch of two masters or none longer than 3 s. */
    alfa_cansite_run_ms(s, 85000);
    alfa_canbus_set_connected(s->packs[old].can, 1);
    uint32_t bad_run = 0, worst_bad_run = 0;
    for (uint32_t ms = 0; ms < 10000; ms++) {
        alfa_cansite_run_ms(s, 1);
        bad_run = masters_connected(s) == 1 ? 0 : bad_run + 1;
        worst_bad_run = bad_run > worst_bad_run ? bad_run : worst_bad_run;
    }
    assert_true(worst_bad_run < 3000u);
    assert_true(alfa_node_is_master(alfa_pack_node(&s->packs[old].pack)));
    for (uint32_t i = 0; i < 32; i++) {
        assert_int_equal(alfa_node_id(alfa_pack_node(&s->packs[i].pack)), ids[i]);
    }
    assert_settled(s);
    free(s);
}

/* A newcomer that wants the ID of a pack that is away: reserved for 2 minutes, free after. */
static void id_reservation(uint32_t away_ms, int expect_kept)
{
    alfa_cansite_t *s = site_new(44 + away_ms);
    for (uint32_t k = 0; k < 8; k++) {
        assert_non_null(alfa_cansite_add_pack(s, 0x300000000ull + k * 1000u, 0));
    }
    alfa_cansite_run_ms(s, 10000);
    assert_settled(s);
    alfa_cansite_pack_t *x = &s->packs[2];
    uint8_t x_id = alfa_node_id(alfa_pack_node(&x->pack));
    alfa_canbus_set_connected(x->can, 0);
    alfa_cansite_run_ms(s, away_ms - 10000u);
    /* A new pack (first boot) whose preferred ID is x's. */
    uint64_t serial = 0x400000000ull;
    while ((uint8_t)(1 + serial % 125) != x_id) {
        serial++;
    }
    alfa_cansite_pack_t *y = alfa_cansite_add_pack(s, serial, 0);
    alfa_cansite_run_ms(s, 10000);
    alfa_canbus_set_connected(x->can, 1);
    alfa_cansite_run_ms(s, 10000);
    if (expect_kept) {
        assert_int_equal(alfa_node_id(alfa_pack_node(&x->pack)), x_id);
        assert_true(alfa_node_id(alfa_pack_node(&y->pack)) != x_id);
    } else {
        assert_int_equal(alfa_node_id(alfa_pack_node(&y->pack)), x_id);
        assert_true(alfa_node_id(alfa_pack_node(&x->pack)) != x_id);
    }
    assert_settled(s);
    free(s);
}

static void test_away_90s_keeps_id(void **state)
{
    (void)state;
    id_reservation(90000u, 1);
}

static void test_away_3min_may_lose_id(void **state)
{
    (void)state;
    id_reservation(180000u, 0);
}

static void test_newcomer_yields_to_settled_master(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_new(45);
    for (uint32_t k = 0; k < 4; k++) {
        assert_non_null(alfa_cansite_add_pack(s, 0x600000000ull + k * 999u, 0));
    }
    alfa_cansite_run_ms(s, 10000);
    assert_settled(s);
    uint8_t ids[4];
    for (uint32_t i = 0; i < 4; i++) {
        ids[i] = alfa_node_id(alfa_pack_node(&s->packs[i].pack));
    }
    /* A pack with a higher serial than everybody, whose stored ID is the master's. */
    alfa_cansite_pack_t *y = alfa_cansite_add_pack(s, 0x7FFFFFFFFFFFull, ids[3]);
    uint32_t worst_bad_run = 0, bad_run = 0;
    for (uint32_t ms = 0; ms < 12000; ms++) {
        alfa_cansite_run_ms(s, 1);
        bad_run = alfa_cansite_masters(s) == 1 ? 0 : bad_run + 1;
        worst_bad_run = bad_run > worst_bad_run ? bad_run : worst_bad_run;
    }
    /* The settled ID owner keeps it; the newcomer moved, then took over as master cleanly. */
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(alfa_node_id(alfa_pack_node(&s->packs[i].pack)), ids[i]);
    }
    assert_true(alfa_node_id(alfa_pack_node(&y->pack)) != ids[3]);
    assert_true(alfa_node_is_master(alfa_pack_node(&y->pack)));
    assert_true(worst_bad_run < 3000u);
    assert_settled(s);
    /* Later it reboots with a stored ID that another pack holds: it moves again at boot and
     * still recovers today's grid import (found by its serial). */
    alfa_core_restore_grid_import(alfa_pack_core(&y->pack), 6100, alfa_core_day(alfa_pack_core(&y->pack)));
    alfa_cansite_run_ms(s, 5000);
    alfa_cansite_store_node_id(y, ids[0]);
    alfa_cansite_reboot(y);
    alfa_cansite_run_ms(s, 12000);
    assert_true(alfa_node_id(alfa_pack_node(&y->pack)) != ids[0]);
    assert_int_equal(alfa_node_id(alfa_pack_node(&s->packs[0].pack)), ids[0]);
    assert_int_equal(alfa_core_grid_import_today_wh(alfa_pack_core(&y->pack)), 6100);
    assert_settled(s);
    free(s);
}

static alfa_cansite_t *settled_32(uint64_t seed)
{
    alfa_cansite_t *s = site_new(seed);
    for (uint32_t k = 0; k < 32; k++) {
        assert_non_null(alfa_cansite_add_pack(s, colliding_serial(k) + 5u, 0));
    }
    alfa_cansite_run_ms(s, 12000);
    assert_settled(s);
    drain_tool(s, NULL, NULL);
    return s;
}

static void test_broadcast_command_acked_by_all_32(void **state)
{
    (void)state;
    alfa_cansite_t *s = settled_32(50);
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_SET_ECO_LIMIT;
    c.dst = ALFA_NODE_BROADCAST;
    c.u.eco_limit.limit_w = 2500;
    int seq = alfa_cansite_command(s, &c);
    assert_true(seq > 0);
    acks_t a;
    memset(&a, 0, sizeof(a));
    a.code = ALFA_CMD_SET_ECO_LIMIT;
    a.seq = (uint8_t)seq;
    alfa_cansite_run_ms(s, 50);
    drain_tool(s, collect_ack, &a);
    assert_int_equal(a.n, 32);
    for (uint32_t i = 0; i < 32; i++) {
        uint8_t id = alfa_node_id(alfa_pack_node(&s->packs[i].pack));
        assert_int_equal(a.from[id], 1);
        assert_int_equal(a.result[id], ALFA_ACK_OK);
        assert_int_equal(alfa_core_settings(alfa_pack_core(&s->packs[i].pack))->eco_limit_w, 2500);
    }
    /* Unicast: only the addressed pack answers and changes. */
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_SET_RELAY_OVERRIDE;
    c.dst = alfa_node_id(alfa_pack_node(&s->packs[5].pack));
    c.u.relay_override.relay = 3;
    c.u.relay_override.override = ALFA_OVR_OPEN;
    seq = alfa_cansite_command(s, &c);
    memset(&a, 0, sizeof(a));
    a.code = ALFA_CMD_SET_RELAY_OVERRIDE;
    a.seq = (uint8_t)seq;
    alfa_cansite_run_ms(s, 50);
    drain_tool(s, collect_ack, &a);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.from[c.dst], 1);
    assert_int_equal(a.result[c.dst], ALFA_ACK_OK);
    for (uint32_t i = 0; i < 32; i++) {
        assert_int_equal(alfa_core_settings(alfa_pack_core(&s->packs[i].pack))->override[3], i == 5 ? ALFA_OVR_OPEN : ALFA_OVR_AUTO);
    }
    free(s);
}

/* A command from the gateway (ID 126) to every pack, payload still zero. */
static alfa_cmd_t gw_broadcast(uint8_t code, uint8_t seq)
{
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = code;
    c.src = ALFA_NODE_LINUX_GATEWAY;
    c.dst = ALFA_NODE_BROADCAST;
    c.seq = seq;
    return c;
}

/* Send a raw command frame from the tool and expect `want` from every pack, nothing changed. */
static void expect_refusal(alfa_cansite_t *s, const alfa_can_frame_t *f, uint8_t want)
{
    uint32_t gens[32];
    for (uint32_t i = 0; i < 32; i++) {
        gens[i] = alfa_core_settings_generation(alfa_pack_core(&s->packs[i].pack));
    }
    assert_int_equal(alfa_cansite_tool_send(s, f), 0);
    acks_t a;
    memset(&a, 0, sizeof(a));
    a.code = ALFA_PROTO_ID_AUX(f->id);
    a.seq = f->data[0];
    alfa_cansite_run_ms(s, 200);
    drain_tool(s, collect_ack, &a);
    if (a.n != 32) {
        print_message("refusal %u: %u acks\n", want, a.n);
    }
    assert_int_equal(a.n, 32);
    for (uint32_t i = 0; i < 32; i++) {
        uint8_t id = alfa_node_id(alfa_pack_node(&s->packs[i].pack));
        assert_int_equal(a.result[id], want);
        assert_int_equal(alfa_core_settings_generation(alfa_pack_core(&s->packs[i].pack)), gens[i]);
    }
}

static void test_bad_commands_refused_by_all(void **state)
{
    (void)state;
    alfa_cansite_t *s = settled_32(51);
    alfa_settings_t before = *alfa_core_settings(alfa_pack_core(&s->packs[0].pack));
    alfa_cmd_t c;
    alfa_can_frame_t f;
    /* Bad length: eco limit with 3 payload bytes. */
    c = gw_broadcast(ALFA_CMD_SET_ECO_LIMIT, 101);
    c.u.eco_limit.limit_w = 3000;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    f.len = 4;
    expect_refusal(s, &f, ALFA_ACK_BAD_LENGTH);
    /* Out of range: grid limit 31 kWh (2..30). */
    c = gw_broadcast(ALFA_CMD_SET_GRID_LIMIT, 102);
    c.u.grid_limit.on = 1;
    c.u.grid_limit.limit_kwh = 31;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    expect_refusal(s, &f, ALFA_ACK_OUT_OF_RANGE);
    /* Out of range: self-consumption high < low + 5. */
    c = gw_broadcast(ALFA_CMD_SET_SC_THRESHOLDS, 103);
    c.u.sc_thresholds.low_pct = 30;
    c.u.sc_thresholds.high_pct = 32;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    expect_refusal(s, &f, ALFA_ACK_OUT_OF_RANGE);
    /* Format error: mode 9. */
    c = gw_broadcast(ALFA_CMD_SET_MODE, 104);
    c.u.set_mode.mode = ALFA_MODE_ECO;
    c.u.set_mode.on = 1;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    f.data[1] = 9;
    expect_refusal(s, &f, ALFA_ACK_OUT_OF_RANGE);
    /* Unknown command. */
    f.id = ALFA_PROTO_ID(ALFA_CLS_CMD, ALFA_NODE_BROADCAST, 0x66, ALFA_NODE_LINUX_GATEWAY);
    f.data[0] = 105;
    expect_refusal(s, &f, ALFA_ACK_UNKNOWN_CMD);
    /* Factory reset with a wrong confirmation code. */
    c = gw_broadcast(ALFA_CMD_FACTORY_RESET, 106);
    c.u.factory_reset.confirm = 0x12345678u;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    expect_refusal(s, &f, ALFA_ACK_NOT_ALLOWED);
    /* A sender that is neither the gateway nor an Energy-Gateway (a pack's own ID). */
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_SET_ECO_LIMIT;
    c.src = 120;
    c.dst = ALFA_NODE_BROADCAST;
    c.seq = 107;
    c.u.eco_limit.limit_w = 100;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    expect_refusal(s, &f, ALFA_ACK_NOT_ALLOWED);
    /* The node ID is not a setting the app may change. */
    c = gw_broadcast(ALFA_CMD_SET_SETTING, 108);
    c.u.set_setting.id = ALFA_SET_NODE_ID;
    c.u.set_setting.value = 3;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    expect_refusal(s, &f, ALFA_ACK_NOT_ALLOWED);
    alfa_settings_t after = *alfa_core_settings(alfa_pack_core(&s->packs[0].pack));
    assert_memory_equal(&after, &before, sizeof(before));
    free(s);
}

static void test_duplicate_applied_once(void **state)
{
    (void)state;
    alfa_cansite_t *s = settled_32(52);
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_SET_ECO_LIMIT;
    c.dst = ALFA_NODE_BROADCAST;
    c.u.eco_limit.limit_w = 4200;
    int seq = alfa_cansite_command(s, &c);
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), 0);
    uint32_t gens[32];
    alfa_cansite_run_ms(s, 30);
    for (uint32_t i = 0; i < 32; i++) {
        gens[i] = alfa_core_settings_generation(alfa_pack_core(&s->packs[i].pack));
        assert_int_equal(alfa_core_settings(alfa_pack_core(&s->packs[i].pack))->eco_limit_w, 4200);
    }
    /* The gateway did not see the acks and sends the same command again. */
    assert_int_equal(alfa_cansite_tool_send(s, &f), 0);
    acks_t a;
    memset(&a, 0, sizeof(a));
    a.code = ALFA_CMD_SET_ECO_LIMIT;
    a.seq = (uint8_t)seq;
    drain_tool(s, NULL, NULL);
    alfa_cansite_run_ms(s, 50);
    drain_tool(s, collect_ack, &a);
    assert_int_equal(a.n, 32); /* acknowledged again ... */
    for (uint32_t i = 0; i < 32; i++) {
        assert_int_equal(a.result[alfa_node_id(alfa_pack_node(&s->packs[i].pack))], ALFA_ACK_OK);
        /* ... but not applied again */
        assert_int_equal(alfa_core_settings_generation(alfa_pack_core(&s->packs[i].pack)), gens[i]);
        assert_int_equal(alfa_dispatch_stats(alfa_pack_dispatch(&s->packs[i].pack))->duplicate, 1);
    }
    free(s);
}

/* Every frame the bus carried, for the reassembly check. */
typedef struct wire {
    uint32_t n;
    alfa_can_frame_t f[8000];
} wire_t;

static void wire_observe(void *ctx, const alfa_can_frame_t *f, uint8_t sender, uint64_t start, uint64_t end)
{
    (void)sender;
    (void)start;
    (void)end;
    wire_t *w = ctx;
    if (w->n < 8000) {
        w->f[w->n++] = *f;
    }
}

static void test_telemetry_reassembly_with_losses(void **state)
{
    (void)state;
    alfa_cansite_t *s = site_new(60);
    wire_t *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    for (uint32_t k = 0; k < 8; k++) {
        assert_non_null(alfa_cansite_add_pack(s, 0x500000000ull + k * 77u, 0));
    }
    alfa_cansite_run_ms(s, 8000);
    drain_tool(s, NULL, NULL);
    alfa_canbus_set_observer(&s->bus, wire_observe, w);
    alfa_canbus_set_error_ppm(&s->bus, 20000); /* 2 % of transfers destroyed and retried */
    alfa_telem_rx_t rx[128];
    memset(rx, 0, sizeof(rx));
    uint32_t records = 0;
    /* The tool misses frames: it drops off the bus for 3 ms every 17 ms. */
    for (uint32_t ms = 0; ms < 30000; ms++) {
        alfa_canbus_set_connected(s->tool, (ms % 17u) >= 3u);
        alfa_cansite_run_ms(s, 1);
        alfa_can_frame_t f;
        while (alfa_canbus_recv(s->tool, &f) == 1) {
            alfa_telemetry_t t;
            uint8_t src = ALFA_PROTO_ID_SRC(f.id);
            if (alfa_telem_rx_feed(&rx[src], &f, &t) != 1) {
                continue;
            }
            records++;
            /* The record must equal the 7 parts of exactly one cycle as they crossed the wire:
             * the latest copy of each part with this sender and cycle byte. */
            const alfa_can_frame_t *part[ALFA_TELEM_PARTS] = {0};
            for (uint32_t i = w->n; i-- > 0;) {
                const alfa_can_frame_t *g = &w->f[i];
                int cls = alfa_proto_classify(g);
                if (ALFA_PROTO_ID_SRC(g->id) == src && cls >= ALFA_CLS_TELEM_0 &&
                    cls < ALFA_CLS_TELEM_0 + (int)ALFA_TELEM_PARTS && g->data[0] == (uint8_t)t.cycle &&
                    part[cls - ALFA_CLS_TELEM_0] == NULL) {
                    part[cls - ALFA_CLS_TELEM_0] = g;
                }
            }
            alfa_telem_rx_t ref;
            alfa_telem_rx_reset(&ref);
            alfa_telemetry_t want;
            memset(&want, 0, sizeof(want));
            int done = 0;
            for (uint32_t k = 0; k < ALFA_TELEM_PARTS; k++) {
                assert_non_null(part[k]);
                done = alfa_telem_rx_feed(&ref, part[k], &want);
            }
            assert_int_equal(done, 1);
            assert_memory_equal(&t, &want, sizeof(t));
        }
        if (w->n > 7000) {
            /* Keep the recent past only (a cycle's parts are never minutes apart). */
            memmove(w->f, &w->f[w->n - 2000], 2000 * sizeof(w->f[0]));
            w->n = 2000;
        }
    }
    assert_true(alfa_canbus_error_frames(&s->bus) > 0);
    print_message("telemetry records assembled by the lossy reader: %u\n", records);
    assert_true(records > 50);
    free(w);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_pack_is_its_own_master),
        cmocka_unit_test(test_lone_pack_steady_master_without_gateway),
        cmocka_unit_test(test_two_packs_with_the_same_preferred_id),
        cmocka_unit_test(test_eight_packs_unique_ids),
        cmocka_unit_test(test_thirty_two_packs_unique_ids),
        cmocka_unit_test(test_failover_and_return_32),
        cmocka_unit_test(test_away_90s_keeps_id),
        cmocka_unit_test(test_away_3min_may_lose_id),
        cmocka_unit_test(test_newcomer_yields_to_settled_master),
        cmocka_unit_test(test_broadcast_command_acked_by_all_32),
        cmocka_unit_test(test_bad_commands_refused_by_all),
        cmocka_unit_test(test_duplicate_applied_once),
        cmocka_unit_test(test_telemetry_reassembly_with_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
