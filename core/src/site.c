/* The site duty on CAN: the day's import table, the master's site totals and limit flag, import recovery and time. */
#include "alfa/site.h"
#include "alfa/bytes.h"
#include "alfa/dayfig.h"

static bool due(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }
static uint32_t since(uint32_t now, uint32_t t) { return now - t; }

alfa_err_t alfa_site_init(alfa_site_t *s, alfa_node_t *node, alfa_core_t *core)
{
    if (s == 0 || node == 0 || core == 0) {
        return ALFA_E_INVAL;
    }
    alfa_memset(s, 0, sizeof(*s));
    s->node = node;
    s->core = core;
    s->day = alfa_core_day(core);
    s->own_wh = UINT32_MAX;
    return ALFA_OK;
}

static void send(alfa_site_t *s, const alfa_can_frame_t *f)
{
    if (alfa_node_send(s->node, f) < 0) {
        s->stats.tx_fail++; /* periodic: the next period repeats it */
    }
}

/* ---------------------------------------------------------------- the day's import table */

static uint32_t own_serial24(const alfa_site_t *s) { return ALFA_SERIAL24(alfa_core_serial(s->core)); }

static alfa_site_day_entry_t *entry_of(alfa_site_t *s, uint32_t serial24, bool create)
{
    alfa_site_day_entry_t *free_slot = 0;
    for (uint32_t i = 0; i < ALFA_SITE_DAY_PACKS; i++) {
        alfa_site_day_entry_t *e = &s->table[i];
        if (alfa_get_le24(e->wh_plus1) == 0u) {
            if (free_slot == 0) {
                free_slot = e;
            }
        } else if (alfa_get_le24(e->serial24) == serial24) {
            return e;
        }
    }
    if (!create) {
        return 0;
    }
    if (free_slot == 0) {
        s->stats.table_full++;
        return 0;
    }
    alfa_put_le24(free_slot->serial24, serial24);
    alfa_put_le24(free_slot->wh_plus1, 1u);
    alfa_put_le24(free_slot->base_plus1, 0u);
    return free_slot;
}

static uint32_t entry_wh(const alfa_site_day_entry_t *e) { return alfa_get_le24(e->wh_plus1) - 1u; }

static uint32_t u24_plus1(uint32_t v) { return (v >= ALFA_U24_MAX ? ALFA_U24_MAX - 1u : v) + 1u; }

static alfa_dayfig_t entry_fig(const alfa_site_day_entry_t *e)
{
    uint32_t base_plus1 = alfa_get_le24(e->base_plus1);
    alfa_dayfig_t f = {.wh = entry_wh(e), .base_wh = base_plus1 != 0u ? base_plus1 - 1u : 0u,
                       .recovering = base_plus1 != 0u};
    return f;
}

/* 16.7 MWh a day saturates the entry: a saturated figure rather than a lost one. */
static void entry_set(alfa_site_day_entry_t *e, const alfa_dayfig_t *f)
{
    alfa_put_le24(e->wh_plus1, u24_plus1(f->wh));
    alfa_put_le24(e->base_plus1, f->recovering ? u24_plus1(f->base_wh) : 0u);
}

/* A pack's own figure for the table's day (its telemetry, or ours). True when it rose. */
static bool table_report(alfa_site_t *s, uint32_t serial24, uint32_t wh, uint16_t warnings)
{
    alfa_site_day_entry_t *e = entry_of(s, serial24, true);
    if (e == 0) {
        return false;
    }
    alfa_dayfig_t f = entry_fig(e);
    bool rose = alfa_dayfig_report(&f, wh, (warnings & (1u << ALFA_WARN_IMPORT_RECOVERING)) != 0u);
    entry_set(e, &f);
    return rose;
}

/* Another keeper's figure for a pack (an import answer). True when it rose. */
static bool table_merge(alfa_site_t *s, uint32_t serial24, uint32_t wh)
{
    alfa_site_day_entry_t *e = entry_of(s, serial24, true);
    if (e == 0) {
        return false;
    }
    alfa_dayfig_t f = entry_fig(e);
    if (!alfa_dayfig_merge(&f, wh)) {
        return false;
    }
    entry_set(e, &f);
    return true;
}

uint32_t alfa_site_import_wh(const alfa_site_t *s)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < ALFA_SITE_DAY_PACKS; i++) {
        if (alfa_get_le24(s->table[i].wh_plus1) != 0u) {
            sum += entry_wh(&s->table[i]);
        }
    }
    return sum > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)sum;
}

/* The table follows the core's day: a new day starts empty. */
static void follow_day(alfa_site_t *s)
{
    uint16_t day = alfa_core_day(s->core);
    if (day != s->day) {
        s->day = day;
        alfa_memset(s->table, 0, sizeof(s->table));
        s->own_wh = UINT32_MAX; /* put this pack's own figure again */
        s->limit_sent = 0;
        s->answer_dst = 0;
        s->stats.day_resets++;
    }
    uint32_t own_wh = alfa_core_grid_import_today_wh(s->core);
    uint16_t own_warnings = alfa_core_warnings(s->core);
    if (own_wh != s->own_wh || own_warnings != s->own_warnings) { /* once a cycle; this runs every call */
        s->own_wh = own_wh;
        s->own_warnings = own_warnings;
        if (table_report(s, own_serial24(s), own_wh, own_warnings) && alfa_node_is_master(s->node)) {
            s->totals_due = 1;
        }
    }
}

/* ---------------------------------------------------------------- live packs' figures */

static alfa_site_pack_t *pack_slot(alfa_site_t *s, uint8_t id, uint32_t serial24)
{
    alfa_site_pack_t *free_slot = 0;
    for (uint32_t i = 0; i < ALFA_SITE_PACKS; i++) {
        alfa_site_pack_t *p = &s->packs[i];
        if (p->id == id) {
            if (alfa_get_le24(p->serial24) != serial24) {
                alfa_memset(p, 0, sizeof(*p)); /* the ID changed hands */
                p->id = id;
                alfa_put_le24(p->serial24, serial24);
            }
            return p;
        }
        if (p->id == 0 && free_slot == 0) {
            free_slot = p;
        }
    }
    if (free_slot != 0) {
        free_slot->id = id;
        alfa_put_le24(free_slot->serial24, serial24);
    }
    return free_slot;
}

void alfa_site_on_telemetry(alfa_site_t *s, uint8_t src, const alfa_telemetry_t *t, uint32_t now_ms)
{
    s->now_ms = now_ms;
    alfa_node_peer_t peer;
    if (!alfa_node_peer(s->node, src, &peer) || peer.device_type != ALFA_DEV_PACK) {
        return;
    }
    uint32_t serial24 = ALFA_SERIAL24(peer.serial);
    alfa_site_pack_t *p = pack_slot(s, src, serial24);
    if (p != 0) {
        alfa_put_le24(p->p_batt_w, (uint32_t)t->p_batt_w);
        alfa_put_le24(p->p_solar_w, (uint32_t)t->p_solar_w);
        alfa_put_le24(p->p_home_w, (uint32_t)t->p_home_w);
        alfa_put_le24(p->p_grid_w, (uint32_t)t->p_grid_w);
        p->soc_pct = t->soc_pct;
    }
    /* The site's day is the latest any pack is on: every clock comes from the same source, so a
     * pack ahead has seen a correction (or 05:00) first. Following it forward keeps a pack that
     * rebooted with a clock behind the site's day (after a backward correction) from starting a
     * day of its own — a master on its own day would have no site to count. */
    alfa_core_follow_day(s->core, t->day);
    follow_day(s);
    /* Only a figure of our own day counts: one of the day before (a pack that has not turned the
     * day yet) or after (one that turned it first) would mix two days. */
    if (t->day == s->day && table_report(s, serial24, t->grid_import_today_wh, t->warnings) &&
        alfa_node_is_master(s->node)) {
        s->totals_due = 1; /* a pack's import moved: check the site limit now, not at the tick */
    }
}

/* ---------------------------------------------------------------- master: site totals */

static void compute_and_send_totals(alfa_site_t *s, bool send_now)
{
    alfa_telemetry_t own;
    alfa_core_telemetry(s->core, &own);
    alfa_site_totals_t t;
    alfa_memset(&t, 0, sizeof(t));
    uint32_t packs = 1, soc_sum = own.soc_pct;
    int64_t batt = own.p_batt_w, solar = own.p_solar_w, home = own.p_home_w, grid = own.p_grid_w;
    for (uint32_t i = 0; i < ALFA_SITE_PACKS; i++) {
        const alfa_site_pack_t *p = &s->packs[i];
        alfa_node_peer_t peer;
        if (p->id == 0 || p->id == alfa_node_id(s->node) || !alfa_node_peer(s->node, p->id, &peer) ||
            peer.device_type != ALFA_DEV_PACK || !peer.live ||
            ALFA_SERIAL24(peer.serial) != alfa_get_le24(p->serial24)) {
            continue;
        }
        packs++;
        soc_sum += p->soc_pct;
        batt += alfa_get_le24s(p->p_batt_w);
        solar += alfa_get_le24s(p->p_solar_w);
        home += alfa_get_le24s(p->p_home_w);
        grid += alfa_get_le24s(p->p_grid_w);
    }
    uint32_t import = alfa_site_import_wh(s);
    const alfa_settings_t *set = alfa_core_settings(s->core);
    bool reached = set->grid_limit_on != 0 && (uint64_t)import >= (uint64_t)set->grid_limit_kwh * 1000u;
    t.packs_online = packs > 255u ? 255u : (uint8_t)packs;
    t.soc_avg_pct = (uint8_t)((soc_sum + packs / 2u) / packs);
    t.grid_limit_reached = reached ? 1u : 0u;
    t.day = s->day;
    t.p_batt_w = (int32_t)batt;
    t.p_solar_w = (int32_t)(solar < 0 ? 0 : solar);
    t.p_home_w = (int32_t)home;
    t.p_grid_w = (int32_t)grid;
    t.grid_import_today_wh = import;
    t.master_serial = alfa_core_serial(s->core);
    alfa_core_site_grid_limit(s->core, import, reached, s->day);
    bool changed = reached != (s->limit_sent != 0);
    s->totals = t;
    s->have_totals = 1;
    if (!send_now && !changed) {
        return;
    }
    alfa_can_frame_t fr[ALFA_SITE_PARTS];
    if (alfa_proto_site_encode(&t, alfa_node_id(s->node), s->totals_cycle, fr) != 0) {
        s->stats.tx_fail++; /* sums beyond the wire's 24 bits: nothing sent */
        return;
    }
    s->totals_cycle++;
    s->limit_sent = reached ? 1u : 0u;
    s->stats.totals_sent++;
    for (uint32_t k = 0; k < ALFA_SITE_PARTS; k++) {
        send(s, &fr[k]);
    }
    s->next_totals_ms = s->now_ms + ALFA_SITE_PERIOD_MS;
}

static void send_time(alfa_site_t *s);

static void on_totals_part(alfa_site_t *s, uint8_t src, const alfa_can_frame_t *f)
{
    if (src != s->site_rx_from) {
        alfa_site_rx_reset(&s->site_rx); /* another sender: parts of two masters never mix */
        s->site_rx_from = src;
    }
    alfa_site_totals_t t;
    int rc = alfa_site_rx_feed(&s->site_rx, f, &t);
    if (rc < 0) {
        s->stats.rx_bad++;
        return;
    }
    if (rc != 1 || alfa_node_is_master(s->node) || src != alfa_node_master_id(s->node)) {
        return;
    }
    /* A master without time (it booted while the gateway was away) gets it from the deputy,
     * or the site would have no day (and no limit) until the gateway comes back. */
    if (t.day == ALFA_DAY_NONE && alfa_core_time_valid(s->core) && alfa_node_is_deputy(s->node) &&
        since(s->now_ms, s->deputy_time_ms) >= ALFA_SITE_DEPUTY_TIME_MS) {
        s->deputy_time_ms = s->now_ms;
        send_time(s);
    }
    /* The site's day is the master's: follow it forward, then take its flag for that day only. */
    alfa_core_follow_day(s->core, t.day);
    follow_day(s);
    s->totals = t;
    s->have_totals = 1;
    alfa_core_site_grid_limit(s->core, t.grid_import_today_wh, t.grid_limit_reached != 0, t.day);
}

bool alfa_site_totals(const alfa_site_t *s, alfa_site_totals_t *out)
{
    if (!s->have_totals || out == 0) {
        return false;
    }
    *out = s->totals;
    return true;
}

/* ---------------------------------------------------------------- time */

static void send_time(alfa_site_t *s)
{
    int64_t unix_s = 0;
    int16_t off = 0;
    if (!alfa_core_wall_time(s->core, &unix_s, &off) || unix_s < 0 || unix_s > (int64_t)UINT32_MAX) {
        return;
    }
    alfa_time_msg_t t = {.src = alfa_node_id(s->node), .unix_s = (uint32_t)unix_s, .utc_offset_min = off};
    alfa_can_frame_t f;
    if (alfa_proto_time_encode(&t, &f) == 0) {
        send(s, &f);
    }
}

static void on_time(alfa_site_t *s, uint8_t src, const alfa_can_frame_t *f)
{
    alfa_time_msg_t t;
    if (alfa_proto_time_decode(f, &t) < 0) {
        s->stats.rx_bad++;
        return;
    }
    /* The gateway, an Energy-Gateway device and the master we follow are trusted. A pack that has
     * no time at all also takes it from any settled pack: right after boot it follows no master
     * yet, and without the gateway only the packs have the time (the master sends it the moment
     * a node joins). */
    alfa_node_peer_t peer;
    bool from_pack = alfa_node_peer(s->node, src, &peer) && peer.settled && peer.device_type == ALFA_DEV_PACK;
    if (!alfa_node_trusted(s->node, src, true) && !(from_pack && !alfa_core_time_valid(s->core))) {
        s->stats.rx_ignored++;
        return;
    }
    if (src == ALFA_NODE_LINUX_GATEWAY) {
        s->time_from_gw = 1;
        s->gw_time_ms = s->now_ms;
    }
    if (alfa_core_set_time(s->core, (int64_t)t.unix_s, t.utc_offset_min) < 0) {
        s->stats.rx_bad++; /* a time outside 2020..2100: refused by the core, nothing changed */
    }
}

static bool gateway_silent(const alfa_site_t *s)
{
    return !s->time_from_gw || since(s->now_ms, s->gw_time_ms) >= ALFA_SITE_GW_TIME_SILENT_MS;
}

/* ---------------------------------------------------------------- import recovery */

static void on_request(alfa_site_t *s, uint8_t src, const alfa_import_msg_t *m)
{
    alfa_node_peer_t peer;
    bool asker_is_master = src == alfa_node_master_id(s->node);
    bool answer = alfa_node_phase(s->node) == ALFA_NODE_PHASE_RUN &&
                  (alfa_node_is_master(s->node) || (asker_is_master && alfa_node_is_deputy(s->node)));
    if (!answer || !alfa_node_peer(s->node, src, &peer) || m->day != s->day) {
        return; /* not ours to answer, or another day: our figures would be wrong for it */
    }
    s->answer_dst = src;
    s->answer_day = m->day;
    s->answer_next = 0;
}

static void send_answers(alfa_site_t *s)
{
    if (s->answer_day != s->day) {
        s->answer_dst = 0; /* the day turned meanwhile: the asker will ask again */
        return;
    }
    for (uint32_t k = 0; k < ALFA_SITE_ANSWERS_PER_CALL && s->answer_dst != 0;) {
        if (s->answer_next >= ALFA_SITE_DAY_PACKS) {
            s->answer_dst = 0;
            return;
        }
        const alfa_site_day_entry_t *e = &s->table[s->answer_next];
        if (alfa_get_le24(e->wh_plus1) == 0u) {
            s->answer_next++;
            continue;
        }
        alfa_import_msg_t r = {.src = alfa_node_id(s->node), .dst = s->answer_dst, .day = s->day,
                               .serial24 = alfa_get_le24(e->serial24)};
        alfa_dayfig_t fig = entry_fig(e);
        r.grid_import_today_wh = alfa_dayfig_answer(&fig);
        alfa_can_frame_t out;
        if (alfa_proto_import_resp_encode(&r, &out) != 0) {
            s->answer_next++;
            continue;
        }
        if (alfa_node_send(s->node, &out) == ALFA_PORT_E_FULL) {
            return; /* the queue is full: this one again at the next call */
        }
        s->stats.answers_sent++;
        s->answer_next++;
        k++;
    }
}

static void on_answer(alfa_site_t *s, const alfa_import_msg_t *m)
{
    if (m->dst != alfa_node_id(s->node) || m->day != s->day) {
        return; /* another day's figures never count for ours */
    }
    s->stats.recovered++;
    if (m->serial24 == own_serial24(s)) {
        alfa_core_restore_grid_import(s->core, m->grid_import_today_wh, m->day);
    }
    if (table_merge(s, m->serial24, m->grid_import_today_wh) && alfa_node_is_master(s->node)) {
        s->totals_due = 1;
    }
    if (s->asking && (int32_t)(s->rebuild_until_ms - (s->now_ms + 500u)) > 0) {
        s->rebuild_until_ms = s->now_ms + 500u; /* the whole answer arrives within a few calls */
    }
    s->asking = 0; /* answered: later frames of the answer are still taken */
}

static void on_import(alfa_site_t *s, uint8_t src, const alfa_can_frame_t *f)
{
    alfa_import_msg_t m;
    int cls = alfa_proto_import_decode(f, &m);
    if (cls < 0) {
        s->stats.rx_bad++;
    } else if (cls == ALFA_CLS_IMPORT_REQ) {
        on_request(s, src, &m);
    } else {
        on_answer(s, &m);
    }
}

void alfa_site_on_frame(alfa_site_t *s, const alfa_can_frame_t *f, uint32_t now_ms)
{
    s->now_ms = now_ms;
    follow_day(s);
    int cls = ALFA_PROTO_ID_CLASS(f->id);
    uint8_t src = ALFA_PROTO_ID_SRC(f->id);
    if (cls >= ALFA_CLS_SITE_0 && cls < ALFA_CLS_SITE_0 + (int)ALFA_SITE_PARTS) {
        on_totals_part(s, src, f);
    } else if (cls == ALFA_CLS_TIME) {
        on_time(s, src, f);
    } else if (cls == ALFA_CLS_IMPORT_REQ || cls == ALFA_CLS_IMPORT_RESP) {
        on_import(s, src, f);
    }
}

/* ---------------------------------------------------------------- periodic work */

void alfa_site_process(alfa_site_t *s, uint32_t now_ms)
{
    s->now_ms = now_ms;
    follow_day(s);
    if (alfa_node_phase(s->node) != ALFA_NODE_PHASE_RUN) {
        return;
    }
    uint32_t runs = alfa_node_runs(s->node);
    bool just_joined = runs == s->runs_seen && now_ms - s->joined_ms < ALFA_SITE_RECOVER_MS;
    if (runs != s->runs_seen || (s->day != s->ask_day && (s->ask_day == ALFA_DAY_NONE || just_joined))) {
        /* (Re)joined the bus, or learnt the site's day only now (the time, or a later day from
         * the others): what others know of that day may be more than what we kept. */
        if (runs != s->runs_seen) {
            s->joined_ms = now_ms;
        }
        s->runs_seen = runs;
        s->asking = 1;
        s->ask_day = s->day;
        s->rebuild_until_ms = now_ms + ALFA_SITE_REBUILD_MS;
        s->ask_until_ms = now_ms + ALFA_SITE_RECOVER_MS;
        s->next_ask_ms = now_ms;
    }
    bool master = alfa_node_is_master(s->node);
    uint32_t gen = alfa_core_settings_generation(s->core);
    if (gen != s->settings_gen) {
        s->settings_gen = gen;
        s->totals_due = 1; /* a new limit setting: the flag is judged again at once */
    }
    if (master && !s->was_master) {
        s->next_totals_ms = now_ms + ALFA_SITE_PERIOD_MS / 2u;
        s->next_time_ms = now_ms;
    }
    s->was_master = master ? 1u : 0u;
    /* A table being rebuilt (just joined, or the day just learnt) would under-count the absent
     * packs: the totals wait for the first answer, a few seconds at most. */
    bool rebuilding = !due(now_ms, s->rebuild_until_ms) && !alfa_node_alone(s->node);
    if (master && !rebuilding) {
        if (due(now_ms, s->next_totals_ms)) {
            compute_and_send_totals(s, true);
        } else if (s->totals_due) {
            compute_and_send_totals(s, false);
        }
        s->totals_due = 0;
    }
    if (master) {
        uint32_t joins = alfa_node_joins_heard(s->node);
        if (gateway_silent(s)) {
            if (joins != s->joins_seen) {
                s->next_time_ms = now_ms; /* a node joins: it gets the time now, not in a minute */
            }
            if (due(now_ms, s->next_time_ms)) {
                s->next_time_ms = now_ms + ALFA_SITE_TIME_PERIOD_MS;
                send_time(s);
            }
        }
        s->joins_seen = joins;
    }
    if (s->asking) {
        if (due(now_ms, s->ask_until_ms)) {
            s->asking = 0; /* nobody knows more than we do */
        } else if (due(now_ms, s->next_ask_ms)) {
            s->next_ask_ms = now_ms + ALFA_SITE_RECOVER_EVERY_MS;
            alfa_can_frame_t req;
            if (alfa_proto_import_req_encode(alfa_node_id(s->node), s->day, &req) == 0) {
                send(s, &req);
            }
        }
    }
    if (s->answer_dst != 0) {
        send_answers(s);
    }
}

const alfa_site_stats_t *alfa_site_stats(const alfa_site_t *s) { return &s->stats; }
