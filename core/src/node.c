/* The pack's CAN node: claims a node ID, elects the master, sends telemetry and answers commands. */
#include "alfa/node.h"
#include "alfa/bytes.h"

/* ---------------------------------------------------------------- small helpers */

/* True when `t` has come at `now` (wrap-safe). */
static bool due(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }
static uint32_t since(uint32_t now, uint32_t t) { return now - t; }

static int32_t send(alfa_node_t *n, const alfa_can_frame_t *f)
{
    int32_t rc = n->port->can_send(n->port->user, f);
    if (rc < 0) {
        n->stats.tx_fail++;
    } else {
        n->stats.tx_frames++;
    }
    return rc;
}

static bool is_candidate_type(uint8_t t) { return t == ALFA_DEV_PACK || t == ALFA_DEV_ENERGY_GATEWAY; }

/* ---------------------------------------------------------------- the compact table */

/* Entry times are short wrapping tick counts (node.h); housekeeping (every 250 ms) clears
 * everything before it could be old enough to wrap, so a difference of ticks is an age. */
static uint16_t hb_tick(uint32_t ms) { return (uint16_t)(ms >> ALFA_NODE_HB_TICK_SHIFT); }
static uint8_t age_tick(uint32_t ms) { return (uint8_t)(ms >> ALFA_NODE_AGE_TICK_SHIFT); }
/* Entries live ALFA_NODE_TTL_MS at least: two ticks more than its floor in 1.024-s ticks. */
#define TTL_TICKS ((ALFA_NODE_TTL_MS >> ALFA_NODE_AGE_TICK_SHIFT) + 2u)
#define SAVED_TICKS (((2u * ALFA_NODE_IMPORT_WINDOW_MS) >> ALFA_NODE_AGE_TICK_SHIFT) + 1u)
#define HB_FORGET_MS 60000u /* older heartbeats only matter as "heard once"; far below the wrap */
_Static_assert(TTL_TICKS < 256u && SAVED_TICKS < TTL_TICKS, "age ticks fit 8 bits");
_Static_assert(((ALFA_NODE_TTL_MS + 1100u) >> ALFA_NODE_HB_TICK_SHIFT) < 65536u, "hb ticks fit 16 bits");
_Static_assert(ALFA_NODE_DUP_MS < HB_FORGET_MS && ALFA_NODE_ELECTION_MS < HB_FORGET_MS, "windows");

static uint32_t ms_since_tick(uint32_t now, const uint8_t t[2])
{
    return (uint32_t)(uint16_t)(hb_tick(now) - alfa_get_le16(t)) << ALFA_NODE_HB_TICK_SHIFT;
}
static uint32_t ticks_since(uint32_t now, uint8_t t) { return (uint8_t)(age_tick(now) - t); }

static bool e_has(const alfa_node_entry_t *e, uint8_t f) { return (e->flags & f) != 0; }
static uint8_t e_type(const alfa_node_entry_t *e) { return (uint8_t)((e->flags >> ALFA_NODE_E_TYPE_SHIFT) & 3u); }
static bool e_known(const alfa_node_entry_t *e) { return e_has(e, ALFA_NODE_E_USED) && !e_has(e, ALFA_NODE_E_RESERVED); }

static uint64_t e_serial(const alfa_node_entry_t *e)
{
    return (uint64_t)alfa_get_le32(e->serial) | ((uint64_t)alfa_get_le16(&e->serial[4]) << 32);
}

static void e_set_serial(alfa_node_entry_t *e, uint64_t serial)
{
    alfa_put_le32(e->serial, (uint32_t)serial);
    alfa_put_le16(&e->serial[4], (uint16_t)(serial >> 32));
}

static uint32_t e_hb_age_ms(const alfa_node_t *n, const alfa_node_entry_t *e) { return ms_since_tick(n->now_ms, e->hb_tick); }

static void put_i24(uint8_t *p, int32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)((uint32_t)v >> 8);
    p[2] = (uint8_t)((uint32_t)v >> 16);
}
static uint32_t get_u24(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16); }
static int32_t get_i24(const uint8_t *p)
{
    uint32_t v = get_u24(p);
    return (v & 0x800000u) != 0 ? (int32_t)(v | 0xFF000000u) : (int32_t)v;
}

static alfa_node_pack_t *pack_of(alfa_node_t *n, uint8_t id)
{
    for (uint32_t i = 0; i < ALFA_NODE_PACK_SLOTS; i++) {
        if (n->packs[i].id == id) {
            return &n->packs[i];
        }
    }
    return 0;
}

/* The map of used entries: a site has a handful of nodes, the table has room for 127, and the
 * expiry and election walks run 50 times a second. */
static void map_set(alfa_node_t *n, uint8_t id) { n->used_map[id >> 5] |= 1u << (id & 31u); }
static void map_clear(alfa_node_t *n, uint8_t id) { n->used_map[id >> 5] &= ~(1u << (id & 31u)); }

/* The next used node ID above `id`, or 0 when there is none (ID 0 is never used). */
static uint32_t map_next(const alfa_node_t *n, uint32_t id)
{
    for (uint32_t w = (id + 1u) >> 5; w < (ALFA_NODE_MAX + 31u) / 32u; w++) {
        uint32_t bits = n->used_map[w];
        if (w == (id + 1u) >> 5) {
            bits &= ~0u << ((id + 1u) & 31u);
        }
        if (bits != 0u) {
            return (w << 5) + (uint32_t)__builtin_ctz(bits);
        }
    }
    return 0;
}

/* Forget everything about node ID `id` (its entry, figures and telemetry being collected). */
static void forget(alfa_node_t *n, uint8_t id)
{
    alfa_memset(&n->nodes[id], 0, sizeof(n->nodes[id]));
    map_clear(n, id);
    alfa_node_pack_t *p = pack_of(n, id);
    if (p != 0) {
        alfa_memset(p, 0, sizeof(*p));
    }
    for (uint32_t i = 0; i < ALFA_NODE_RX_SLOTS; i++) {
        if (n->rx[i].rx.src == id) {
            alfa_memset(&n->rx[i], 0, sizeof(n->rx[i]));
        }
    }
}

/* Another node's entry is live for the election: heard recently, settled, a pack or an EGW. */
static bool entry_candidate(const alfa_node_t *n, const alfa_node_entry_t *e)
{
    return e_known(e) && e_has(e, ALFA_NODE_E_HEARD_HB) && is_candidate_type(e_type(e)) &&
           !e_has(e, ALFA_NODE_E_CLAIMING) && e_hb_age_ms(n, e) < ALFA_NODE_ELECTION_MS;
}

/* ---------------------------------------------------------------- node IDs */

static bool id_free_for_me(const alfa_node_t *n, uint8_t id, uint8_t exclude)
{
    if (id < ALFA_NODE_FIRST || id > ALFA_NODE_LAST || id == exclude) {
        return false;
    }
    const alfa_node_entry_t *e = &n->nodes[id];
    return !e_has(e, ALFA_NODE_E_USED) || e_serial(e) == n->serial;
}

/* First free ID from `start` upward, wrapping 125 -> 1; 0 when every ID is taken. */
static uint8_t next_free_id(const alfa_node_t *n, uint8_t start, uint8_t exclude)
{
    const uint32_t span = ALFA_NODE_LAST - ALFA_NODE_FIRST + 1u;
    for (uint32_t k = 0; k < span; k++) {
        uint8_t id = (uint8_t)(ALFA_NODE_FIRST + ((uint32_t)(start - ALFA_NODE_FIRST) + k) % span);
        if (id_free_for_me(n, id, exclude)) {
            return id;
        }
    }
    return 0;
}

static void enter_claiming(alfa_node_t *n)
{
    n->house_due = 1;
    n->phase = ALFA_NODE_PHASE_CLAIMING;
    n->phase_ms = n->now_ms;
    n->next_hb_ms = n->now_ms;
    n->stats.claims++;
    if (n->is_master) {
        n->is_master = 0;
        alfa_core_set_master(n->core, false);
    }
    n->master_id = 0;
    n->master_serial = 0;
}

/* This node yields its ID: take the next free one, claim it, warn for a while. */
static void move_id(alfa_node_t *n)
{
    uint8_t old = n->node_id;
    uint8_t id = next_free_id(n, (uint8_t)(old >= ALFA_NODE_LAST ? ALFA_NODE_FIRST : old + 1u), old);
    if (id == 0) {
        return; /* 125 live nodes: nothing free; keep claiming the old one */
    }
    n->node_id = id;
    n->stats.id_moves++;
    n->conflict_warn = 1;
    n->conflict_until_ms = n->now_ms + ALFA_NODE_CONFLICT_WARN_MS;
    (void)alfa_core_warning_report(n->core, ALFA_WARN_NODE_ID_CONFLICT, true);
    enter_claiming(n);
}

static void choose_initial_id(alfa_node_t *n)
{
    int32_t stored = 0;
    (void)alfa_core_setting_get(n->core, ALFA_SET_NODE_ID, &stored);
    uint8_t pref;
    if (stored >= (int32_t)ALFA_NODE_FIRST && stored <= (int32_t)ALFA_NODE_LAST) {
        pref = (uint8_t)stored;
    } else {
        pref = (uint8_t)(ALFA_NODE_FIRST + n->serial % (ALFA_NODE_LAST - ALFA_NODE_FIRST + 1u));
    }
    uint8_t id = next_free_id(n, pref, 0);
    n->node_id = id != 0 ? id : pref;
}

/* ---------------------------------------------------------------- init and introspection */

alfa_err_t alfa_node_init(alfa_node_t *n, const alfa_port_t *port, alfa_core_t *core,
                          const alfa_node_config_t *cfg)
{
    if (n == 0 || port == 0 || core == 0 || cfg == 0 || port->can_send == 0 || port->can_recv == 0 ||
        port->now_ms == 0) {
        return ALFA_E_INVAL;
    }
    uint8_t dt = cfg->device_type == 0 ? (uint8_t)ALFA_DEV_PACK : cfg->device_type;
    if (cfg->serial == 0 || (cfg->serial >> 48) != 0 || !is_candidate_type(dt)) {
        return ALFA_E_INVAL;
    }
    alfa_memset(n, 0, sizeof(*n));
    n->port = port;
    n->core = core;
    n->serial = cfg->serial;
    n->device_type = dt;
    n->phase = ALFA_NODE_PHASE_LISTEN;
    return ALFA_OK;
}

uint8_t alfa_node_id(const alfa_node_t *n) { return n->node_id; }
bool alfa_node_is_master(const alfa_node_t *n) { return n->is_master != 0; }
uint8_t alfa_node_master_id(const alfa_node_t *n) { return n->master_id; }
alfa_node_phase_t alfa_node_phase(const alfa_node_t *n) { return n->phase; }

bool alfa_node_site(const alfa_node_t *n, alfa_site_totals_t *out)
{
    if (!n->have_site || out == 0) {
        return false;
    }
    *out = n->site;
    return true;
}

/* ---------------------------------------------------------------- acks and commands */

static void send_ack(alfa_node_t *n, uint8_t dst, uint8_t code, uint8_t seq, uint8_t result)
{
    alfa_ack_t a = {.src = n->node_id, .dst = dst, .code = code, .seq = seq, .result = result};
    alfa_can_frame_t f;
    if (alfa_proto_ack_encode(&a, &f) == 0) {
        (void)send(n, &f);
    }
}

static uint8_t ack_from_err(alfa_err_t rc)
{
    switch (rc) {
    case ALFA_OK: return ALFA_ACK_OK;
    case ALFA_E_RANGE:
    case ALFA_E_NOENT:
    case ALFA_E_INVAL: return ALFA_ACK_OUT_OF_RANGE;
    case ALFA_E_STATE:
    case ALFA_E_BUSY: return ALFA_ACK_NOT_ALLOWED;
    default: return ALFA_ACK_FAILED;
    }
}

/* Apply a modified copy of the settings as one change (several fields checked together). */
static uint8_t apply_copy(alfa_node_t *n, const alfa_settings_t *s)
{
    return ack_from_err(alfa_core_settings_load(n->core, s, 0));
}

static uint8_t h_set_mode(alfa_node_t *n, const alfa_cmd_t *c)
{
    return ack_from_err(alfa_core_set_mode(n->core, c->u.set_mode.mode, c->u.set_mode.on != 0));
}

static uint8_t h_sc_thresholds(alfa_node_t *n, const alfa_cmd_t *c)
{
    alfa_settings_t s = *alfa_core_settings(n->core);
    s.sc_low_pct = c->u.sc_thresholds.low_pct;
    s.sc_high_pct = c->u.sc_thresholds.high_pct;
    return apply_copy(n, &s);
}

static uint8_t h_eco_limit(alfa_node_t *n, const alfa_cmd_t *c)
{
    if (c->u.eco_limit.limit_w > (uint32_t)INT32_MAX) {
        return ALFA_ACK_OUT_OF_RANGE;
    }
    return ack_from_err(alfa_core_setting_set(n->core, ALFA_SET_ECO_LIMIT_W,
                                              (int32_t)c->u.eco_limit.limit_w, 0));
}

static uint8_t h_tou_window(alfa_node_t *n, const alfa_cmd_t *c)
{
    alfa_settings_t s = *alfa_core_settings(n->core);
    alfa_tou_window_t *w = &s.tou[c->u.tou_window.index];
    w->enabled = c->u.tou_window.enabled;
    w->start_min = c->u.tou_window.start_min;
    w->end_min = c->u.tou_window.end_min;
    return apply_copy(n, &s);
}

static uint8_t h_grid_limit(alfa_node_t *n, const alfa_cmd_t *c)
{
    alfa_settings_t s = *alfa_core_settings(n->core);
    s.grid_limit_on = c->u.grid_limit.on;
    /* "off" may come without a limit (0): the stored kWh is kept for the next "on". */
    if (c->u.grid_limit.on != 0 || c->u.grid_limit.limit_kwh != 0) {
        s.grid_limit_kwh = c->u.grid_limit.limit_kwh;
    }
    return apply_copy(n, &s);
}

static uint8_t h_relay_override(alfa_node_t *n, const alfa_cmd_t *c)
{
    return ack_from_err(alfa_core_setting_set(n->core, ALFA_SET_OVR_GRID + (uint32_t)c->u.relay_override.relay,
                                              c->u.relay_override.override, 0));
}

static uint8_t h_calibration(alfa_node_t *n, const alfa_cmd_t *c)
{
    if (c->u.calibration.gain_ua > (uint32_t)INT32_MAX) {
        return ALFA_ACK_OUT_OF_RANGE;
    }
    alfa_settings_t s = *alfa_core_settings(n->core);
    s.ct[c->u.calibration.ct].gain_ua = (int32_t)c->u.calibration.gain_ua;
    s.ct[c->u.calibration.ct].offset_ma = c->u.calibration.offset_ma;
    return apply_copy(n, &s);
}

static uint8_t h_set_time(alfa_node_t *n, const alfa_cmd_t *c)
{
    return ack_from_err(alfa_core_set_time(n->core, (int64_t)c->u.set_time.unix_s,
                                           c->u.set_time.utc_offset_min));
}

static uint8_t h_identify(alfa_node_t *n, const alfa_cmd_t *c)
{
    alfa_core_identify(n->core, c->u.identify.seconds);
    return ALFA_ACK_OK;
}

static uint8_t h_read_settings(alfa_node_t *n, const alfa_cmd_t *c)
{
    n->rs_active = 1;
    n->rs_dst = c->src;
    n->rs_seq = c->seq;
    n->rs_next = 0;
    return ALFA_ACK_OK;
}

static uint8_t h_reboot(alfa_node_t *n, const alfa_cmd_t *c)
{
    (void)c;
    if (n->port->reboot == 0) {
        return ALFA_ACK_FAILED;
    }
    n->reboot_pending = 1;
    n->reboot_at_ms = n->now_ms + ALFA_NODE_REBOOT_DELAY_MS;
    return ALFA_ACK_OK;
}

static uint8_t h_factory_reset(alfa_node_t *n, const alfa_cmd_t *c)
{
    if (c->u.factory_reset.confirm != ALFA_FACTORY_RESET_CODE) {
        return ALFA_ACK_NOT_ALLOWED;
    }
    alfa_core_factory_reset(n->core);
    if (n->port->reboot != 0) {
        n->reboot_pending = 1;
        n->reboot_at_ms = n->now_ms + ALFA_NODE_REBOOT_DELAY_MS;
    }
    return ALFA_ACK_OK;
}

static uint8_t h_set_setting(alfa_node_t *n, const alfa_cmd_t *c)
{
    if (c->u.set_setting.id == ALFA_SET_NODE_ID) {
        return ALFA_ACK_NOT_ALLOWED; /* node IDs are claimed on the bus, never set from outside */
    }
    return ack_from_err(alfa_core_setting_set(n->core, c->u.set_setting.id, c->u.set_setting.value, 0));
}

#define FROM_GW_EGW (ALFA_NODE_FROM_GATEWAY | ALFA_NODE_FROM_EGW)

/* The dispatch table (SPEC §8.6): code -> payload length, accepted senders, handler. */
static const alfa_node_cmd_row_t cmd_table[] = {
    {ALFA_CMD_SET_MODE, 2, FROM_GW_EGW, h_set_mode},
    {ALFA_CMD_SET_SC_THRESHOLDS, 2, FROM_GW_EGW, h_sc_thresholds},
    {ALFA_CMD_SET_ECO_LIMIT, 4, FROM_GW_EGW, h_eco_limit},
    {ALFA_CMD_SET_TOU_WINDOW, 6, FROM_GW_EGW, h_tou_window},
    {ALFA_CMD_SET_GRID_LIMIT, 2, FROM_GW_EGW, h_grid_limit},
    {ALFA_CMD_SET_RELAY_OVERRIDE, 2, FROM_GW_EGW, h_relay_override},
    {ALFA_CMD_SET_CALIBRATION, 7, FROM_GW_EGW, h_calibration},
    {ALFA_CMD_SET_TIME, 6, FROM_GW_EGW | ALFA_NODE_FROM_MASTER, h_set_time},
    {ALFA_CMD_IDENTIFY, 1, FROM_GW_EGW, h_identify},
    {ALFA_CMD_READ_SETTINGS, 0, FROM_GW_EGW, h_read_settings},
    {ALFA_CMD_REBOOT, 0, FROM_GW_EGW, h_reboot},
    {ALFA_CMD_FACTORY_RESET, 4, FROM_GW_EGW, h_factory_reset},
    {ALFA_CMD_SET_SETTING, 6, FROM_GW_EGW, h_set_setting},
};
_Static_assert(sizeof(cmd_table) / sizeof(cmd_table[0]) == ALFA_CMD_CODE_MAX, "one row per command");

const alfa_node_cmd_row_t *alfa_node_cmd_row(uint8_t code)
{
    for (uint32_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++) {
        if (cmd_table[i].code == code) {
            return &cmd_table[i];
        }
    }
    return 0;
}

static bool sender_allowed(const alfa_node_t *n, uint8_t src, uint8_t allowed)
{
    if (src == ALFA_NODE_LINUX_GATEWAY) {
        return (allowed & ALFA_NODE_FROM_GATEWAY) != 0;
    }
    const alfa_node_entry_t *e = &n->nodes[src];
    if (e_known(e) && e_type(e) == ALFA_DEV_ENERGY_GATEWAY && (allowed & ALFA_NODE_FROM_EGW) != 0) {
        return true;
    }
    return (allowed & ALFA_NODE_FROM_MASTER) != 0 && src == n->master_id && src != n->node_id;
}

static alfa_node_dup_t *dup_find(alfa_node_t *n, uint8_t src, uint8_t seq, uint8_t code)
{
    for (uint32_t i = 0; i < ALFA_NODE_DUP_SLOTS; i++) {
        alfa_node_dup_t *d = &n->dup[i];
        if (d->src != 0 && d->src == src && d->seq == seq && d->code == code &&
            ms_since_tick(n->now_ms, d->tick) < ALFA_NODE_DUP_MS) {
            return d;
        }
    }
    return 0;
}

static void dup_record(alfa_node_t *n, uint8_t src, uint8_t seq, uint8_t code, uint8_t result)
{
    /* Reuse a free or expired slot, else the oldest one. */
    alfa_node_dup_t *slot = &n->dup[0];
    for (uint32_t i = 0; i < ALFA_NODE_DUP_SLOTS; i++) {
        alfa_node_dup_t *d = &n->dup[i];
        if (d->src == 0 || ms_since_tick(n->now_ms, d->tick) >= ALFA_NODE_DUP_MS) {
            slot = d;
            break;
        }
        if (ms_since_tick(n->now_ms, d->tick) > ms_since_tick(n->now_ms, slot->tick)) {
            slot = d;
        }
    }
    slot->src = src;
    slot->seq = seq;
    slot->code = code;
    slot->result = result;
    alfa_put_le16(slot->tick, hb_tick(n->now_ms));
}

static void handle_command(alfa_node_t *n, const alfa_can_frame_t *f)
{
    alfa_cmd_t env;
    uint8_t payload[ALFA_CMD_PAYLOAD_MAX];
    uint8_t plen = 0;
    if (alfa_proto_cmd_envelope(f, &env, payload, &plen) < 0) {
        n->stats.rx_bad++; /* no sequence byte: nothing to acknowledge */
        return;
    }
    if (env.dst != n->node_id && env.dst != ALFA_NODE_BROADCAST) {
        return;
    }
    const alfa_node_dup_t *d = dup_find(n, env.src, env.seq, env.code);
    if (d != 0) {
        n->stats.cmds_duplicate++;
        send_ack(n, env.src, env.code, env.seq, d->result);
        return;
    }
    uint8_t result;
    const alfa_node_cmd_row_t *row = alfa_node_cmd_row(env.code);
    alfa_cmd_t cmd;
    if (row == 0) {
        result = ALFA_ACK_UNKNOWN_CMD;
    } else if (!sender_allowed(n, env.src, row->allowed)) {
        result = ALFA_ACK_NOT_ALLOWED;
    } else if (plen != row->payload_len) {
        result = ALFA_ACK_BAD_LENGTH;
    } else {
        int rc = alfa_proto_cmd_decode(f, &cmd);
        if (rc == ALFA_PROTO_E_LEN) {
            result = ALFA_ACK_BAD_LENGTH;
        } else if (rc < 0) {
            result = ALFA_ACK_OUT_OF_RANGE;
        } else {
            result = row->handler(n, &cmd);
        }
    }
    if (result == ALFA_ACK_OK) {
        n->stats.cmds_applied++;
    } else {
        n->stats.cmds_refused++;
    }
    dup_record(n, env.src, env.seq, env.code, result);
    send_ack(n, env.src, env.code, env.seq, result);
}

/* ---------------------------------------------------------------- election and master duties */

static void elect(alfa_node_t *n)
{
    if (n->phase != ALFA_NODE_PHASE_RUN) {
        return;
    }
    /* Self first: a lone pack is its own master. */
    uint8_t best_id = n->node_id;
    uint64_t best_serial = n->serial;
    bool best_egw = n->device_type == ALFA_DEV_ENERGY_GATEWAY;
    for (uint32_t id = map_next(n, 0); id != 0; id = map_next(n, id)) {
        const alfa_node_entry_t *e = &n->nodes[id];
        if (id > ALFA_NODE_LAST || id == n->node_id || !entry_candidate(n, e)) {
            continue;
        }
        bool egw = e_type(e) == ALFA_DEV_ENERGY_GATEWAY;
        uint64_t serial = e_serial(e);
        if ((egw && !best_egw) || (egw == best_egw && serial > best_serial)) {
            best_id = (uint8_t)id;
            best_serial = serial;
            best_egw = egw;
        }
    }
    bool me = best_serial == n->serial && best_id == n->node_id;
    if (best_id != n->master_id) {
        alfa_site_rx_reset(&n->site_rx);
    }
    n->master_id = best_id;
    n->master_serial = best_serial;
    if ((me ? 1u : 0u) != n->is_master) {
        n->is_master = me ? 1u : 0u;
        alfa_core_set_master(n->core, me);
        if (me) {
            n->next_site_ms = n->now_ms + ALFA_NODE_SITE_MS / 2u;
            n->next_time_ms = n->now_ms;
        }
    }
}

/* The highest-serial settled pack other than the master: answers grid-import requests of a
 * rebooted master. */
static bool i_am_deputy(const alfa_node_t *n)
{
    uint64_t best = n->serial;
    for (uint32_t id = map_next(n, 0); id != 0; id = map_next(n, id)) {
        const alfa_node_entry_t *e = &n->nodes[id];
        if (id > ALFA_NODE_LAST || id == n->node_id || id == n->master_id || !entry_candidate(n, e)) {
            continue;
        }
        if (e_serial(e) > best) {
            return false;
        }
    }
    return true;
}

static void compute_and_send_site(alfa_node_t *n, bool send_now)
{
    alfa_telemetry_t own;
    alfa_core_telemetry(n->core, &own);
    alfa_site_totals_t s;
    alfa_memset(&s, 0, sizeof(s));
    uint32_t packs = 1, soc_sum = own.soc_pct;
    int64_t batt = own.p_batt_w, solar = own.p_solar_w, home = own.p_home_w, grid = own.p_grid_w;
    uint64_t import = own.grid_import_today_wh;
    for (uint32_t i = 0; i < ALFA_NODE_PACK_SLOTS; i++) {
        const alfa_node_pack_t *p = &n->packs[i];
        if (p->id == 0 || p->id == n->node_id) {
            continue;
        }
        const alfa_node_entry_t *e = &n->nodes[p->id];
        if (!e_known(e) || e_type(e) != ALFA_DEV_PACK) {
            continue;
        }
        /* Every pack of the 2-min table counts for the day's import, even one that dropped out. */
        import += get_u24(p->import_wh);
        if (entry_candidate(n, e)) {
            packs++;
            soc_sum += p->soc_pct;
            batt += get_i24(p->p_batt_w);
            solar += get_i24(p->p_solar_w);
            home += get_i24(p->p_home_w);
            grid += get_i24(p->p_grid_w);
        }
    }
    const alfa_settings_t *set = alfa_core_settings(n->core);
    bool reached = set->grid_limit_on != 0 && import >= (uint64_t)set->grid_limit_kwh * 1000u;
    s.packs_online = (uint8_t)packs;
    s.soc_avg_pct = (uint8_t)((soc_sum + packs / 2u) / packs);
    s.grid_limit_reached = reached ? 1u : 0u;
    s.p_batt_w = (int32_t)batt;
    s.p_solar_w = (int32_t)(solar < 0 ? 0 : solar);
    s.p_home_w = (int32_t)home;
    s.p_grid_w = (int32_t)grid;
    s.grid_import_today_wh = import > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)import;
    s.master_serial = n->serial;
    alfa_core_site_grid_limit(n->core, reached);
    bool changed = reached != (n->site_limit != 0);
    n->site_limit = reached ? 1u : 0u;
    n->site = s;
    n->have_site = 1;
    if (!send_now && !changed) {
        return;
    }
    alfa_can_frame_t fr[ALFA_SITE_PARTS];
    if (alfa_proto_site_encode(&s, n->node_id, n->site_cycle, fr) == 0) {
        n->site_cycle++;
        for (uint32_t k = 0; k < ALFA_SITE_PARTS; k++) {
            (void)send(n, &fr[k]);
        }
    }
    n->next_site_ms = n->now_ms + ALFA_NODE_SITE_MS;
}

static void send_time(alfa_node_t *n)
{
    const alfa_core_t *c = n->core;
    if (!alfa_core_time_valid(c)) {
        return;
    }
    int64_t local_s = alfa_time_local_s(&c->clock, n->now_ms);
    int64_t unix_s = local_s - (int64_t)c->clock.utc_offset_min * 60;
    if (unix_s < 0 || unix_s > (int64_t)UINT32_MAX) {
        return;
    }
    alfa_time_msg_t t = {.src = n->node_id, .unix_s = (uint32_t)unix_s,
                         .utc_offset_min = c->clock.utc_offset_min};
    alfa_can_frame_t f;
    if (alfa_proto_time_encode(&t, &f) == 0) {
        (void)send(n, &f);
    }
}

/* ---------------------------------------------------------------- receive */

static void on_heartbeat(alfa_node_t *n, const alfa_heartbeat_t *hb)
{
    alfa_node_entry_t *e = &n->nodes[hb->node_id];
    bool claiming = (hb->state & ALFA_HB_CLAIMING) != 0;
    if (hb->node_id == n->node_id && hb->serial != n->serial && n->phase != ALFA_NODE_PHASE_LISTEN) {
        /* Two nodes on one ID: a claiming node yields to a settled one; else the lower serial. */
        bool me_claiming = n->phase == ALFA_NODE_PHASE_CLAIMING;
        bool i_move = (me_claiming && !claiming) || (me_claiming == claiming && n->serial < hb->serial);
        if (!i_move) {
            return;
        }
        move_id(n);
        /* fall through: the old ID now belongs to the other node */
    } else if (hb->node_id == n->node_id) {
        return;
    }
    if (e_has(e, ALFA_NODE_E_USED) && e_serial(e) != hb->serial) {
        /* An ID held in the table by a settled node stays its own for the 2-min TTL: a newcomer
         * claiming it never replaces the entry, and if the owner is silent the master tells the
         * newcomer to move on (a live owner's own heartbeats make the newcomer yield). */
        bool heard = e_has(e, ALFA_NODE_E_HEARD_HB);
        bool owner_settled = e_has(e, ALFA_NODE_E_RESERVED) || (heard && !e_has(e, ALFA_NODE_E_CLAIMING));
        if (claiming && owner_settled) {
            bool owner_silent = !heard || e_hb_age_ms(n, e) >= ALFA_NODE_ELECTION_MS;
            if (n->is_master && owner_silent) {
                alfa_id_in_use_t m = {.src = n->node_id, .dst = hb->node_id, .owner_serial = e_serial(e)};
                alfa_can_frame_t f;
                if (alfa_proto_id_in_use_encode(&m, &f) == 0) {
                    (void)send(n, &f);
                }
            }
            return;
        }
        forget(n, hb->node_id); /* a different node now: forget the old one's data */
    }
    alfa_node_pack_t *p = pack_of(n, hb->node_id);
    if (claiming && p != 0 && !p->saved) {
        /* It rebooted: keep what it had imported today (the larger of old and new figures) for
         * its recovery request and for the site count. */
        p->saved = 1;
        p->saved_tick = age_tick(n->now_ms);
    }
    uint8_t type = hb->device_type <= 3u ? hb->device_type : 0u;
    e->flags = (uint8_t)(ALFA_NODE_E_USED | ALFA_NODE_E_HEARD_HB | (claiming ? ALFA_NODE_E_CLAIMING : 0u) |
                         ((uint32_t)type << ALFA_NODE_E_TYPE_SHIFT));
    map_set(n, hb->node_id);
    e_set_serial(e, hb->serial);
    alfa_put_le16(e->hb_tick, hb_tick(n->now_ms));
    e->last_tick = age_tick(n->now_ms);
    /* Re-run the election at once only when this heartbeat can change its outcome: from the
     * master itself, when there is none, or from a node that outranks it. Anything else cannot
     * (the 20-ms housekeeping still catches candidates ageing out), and with N packs re-electing
     * on every heartbeat would cost N walks of the table per second on every pack. */
    if (hb->node_id == n->master_id || n->master_id == 0 || type == ALFA_DEV_ENERGY_GATEWAY ||
        hb->serial > n->master_serial) {
        n->house_due = 1;
    }
}

/* The reassembler collecting `src`'s telemetry, or a free (or abandoned) one lent to it; 0 when
 * every one is busy with a burst in flight: the part is dropped and that record is lost. */
static alfa_telem_rx_t *rx_for(alfa_node_t *n, uint8_t src, uint8_t cycle8)
{
    alfa_node_rx_t *pick = 0;
    for (uint32_t i = 0; i < ALFA_NODE_RX_SLOTS; i++) {
        alfa_node_rx_t *r = &n->rx[i];
        if (r->rx.have != 0 && r->rx.src == src) {
            if (since(n->now_ms, r->start_ms) >= ALFA_NODE_RX_STALE_MS) {
                /* Parts left from a burst long gone never complete a later one, even one that
                 * happens to carry the same cycle byte. */
                alfa_telem_rx_reset(&r->rx);
                r->start_ms = n->now_ms;
            } else if (r->rx.cycle8 != cycle8) {
                r->start_ms = n->now_ms; /* a new burst: the feed drops the unfinished one */
            }
            return &r->rx;
        }
        bool idle = r->rx.have == 0 || since(n->now_ms, r->start_ms) >= ALFA_NODE_RX_STALE_MS;
        if (idle && (pick == 0 || (pick->rx.have != 0 && r->rx.have == 0))) {
            pick = r;
        }
    }
    if (pick == 0) {
        return 0;
    }
    alfa_telem_rx_reset(&pick->rx);
    pick->start_ms = n->now_ms;
    return &pick->rx;
}

/* A slot for pack `id`'s figures: its own, else a free one; 0 when all are taken. */
static alfa_node_pack_t *pack_slot(alfa_node_t *n, uint8_t id)
{
    alfa_node_pack_t *p = pack_of(n, id);
    if (p == 0) {
        p = pack_of(n, 0);
        if (p != 0) {
            alfa_memset(p, 0, sizeof(*p));
            p->id = id;
        }
    }
    return p;
}

static void on_telemetry_part(alfa_node_t *n, uint8_t src, const alfa_can_frame_t *f)
{
    const alfa_node_entry_t *e = &n->nodes[src];
    if (!e_known(e)) {
        return; /* unknown sender: wait for its heartbeat */
    }
    alfa_telem_rx_t *rx = rx_for(n, src, f->len > 0 ? f->data[0] : 0);
    if (rx == 0) {
        n->stats.telem_lost++;
        return;
    }
    alfa_telemetry_t t;
    int rc = alfa_telem_rx_feed(rx, f, &t);
    if (rc < 0) {
        n->stats.rx_bad++;
        return;
    }
    if (rc == 1 && e_type(e) == ALFA_DEV_PACK) {
        alfa_node_pack_t *p = pack_slot(n, src);
        if (p == 0) {
            n->stats.packs_untracked++;
            return;
        }
        put_i24(p->p_batt_w, t.p_batt_w);
        put_i24(p->p_solar_w, t.p_solar_w);
        put_i24(p->p_home_w, t.p_home_w);
        put_i24(p->p_grid_w, t.p_grid_w);
        p->soc_pct = t.soc_pct;
        uint32_t wh = t.grid_import_today_wh;
        if (p->saved && get_u24(p->import_wh) > wh) {
            wh = get_u24(p->import_wh); /* rebooted and not yet recovered: the day's import stays */
        }
        put_i24(p->import_wh, (int32_t)wh);
        if (n->is_master && t.grid_import_today_wh > 0) {
            /* A pack's import moved: check the site limit now rather than at the next tick. */
            compute_and_send_site(n, false);
        }
    }
}

static void on_site_part(alfa_node_t *n, uint8_t src, const alfa_can_frame_t *f)
{
    alfa_site_totals_t s;
    int rc = alfa_site_rx_feed(&n->site_rx, f, &s);
    if (rc < 0) {
        n->stats.rx_bad++;
        return;
    }
    if (rc == 1 && src == n->master_id && !n->is_master) {
        n->site = s;
        n->have_site = 1;
        alfa_core_site_grid_limit(n->core, s.grid_limit_reached != 0);
    }
}

static void on_import(alfa_node_t *n, const alfa_can_frame_t *f)
{
    alfa_import_msg_t m;
    int cls = alfa_proto_import_decode(f, &m);
    if (cls < 0) {
        n->stats.rx_bad++;
        return;
    }
    if (cls == ALFA_CLS_IMPORT_REQ) {
        const alfa_node_entry_t *req = &n->nodes[m.src];
        bool answer = n->phase == ALFA_NODE_PHASE_RUN &&
                      (n->is_master || (m.src == n->master_id && i_am_deputy(n)));
        if (!answer || !e_known(req) || !e_has(req, ALFA_NODE_E_HEARD_HB)) {
            return;
        }
        /* Look the pack up by serial: it may have come back under another node ID. */
        bool found = false;
        uint32_t wh = 0;
        uint64_t serial = e_serial(req);
        for (uint32_t i = 0; i < ALFA_NODE_PACK_SLOTS; i++) {
            const alfa_node_pack_t *p = &n->packs[i];
            if (p->id == 0 || !e_known(&n->nodes[p->id]) || e_serial(&n->nodes[p->id]) != serial) {
                continue;
            }
            found = true;
            wh = get_u24(p->import_wh) > wh ? get_u24(p->import_wh) : wh;
        }
        if (!found) {
            return;
        }
        alfa_import_msg_t r = {.src = n->node_id, .dst = m.src, .grid_import_today_wh = wh};
        alfa_can_frame_t out;
        if (alfa_proto_import_resp_encode(&r, &out) == 0) {
            (void)send(n, &out);
        }
        return;
    }
    if (m.dst == n->node_id && n->import_active) {
        if (m.grid_import_today_wh > n->import_best_wh) {
            n->import_best_wh = m.grid_import_today_wh;
            alfa_core_restore_grid_import(n->core, m.grid_import_today_wh);
        }
        /* Answered: stop asking; late answers inside the window are still taken. */
        n->next_import_ms = n->import_until_ms;
    }
}

static void on_time(alfa_node_t *n, const alfa_can_frame_t *f)
{
    alfa_time_msg_t t;
    if (alfa_proto_time_decode(f, &t) < 0) {
        n->stats.rx_bad++;
        return;
    }
    const alfa_node_entry_t *e = &n->nodes[t.src];
    bool from_gw = t.src == ALFA_NODE_LINUX_GATEWAY;
    bool trusted = from_gw || (t.src == n->master_id && t.src != n->node_id) ||
                   (e_known(e) && e_type(e) == ALFA_DEV_ENERGY_GATEWAY);
    if (!trusted) {
        n->stats.rx_ignored++;
        return;
    }
    if (from_gw) {
        n->time_from_gw = 1;
        n->gw_time_ms = n->now_ms;
    }
    (void)alfa_core_set_time(n->core, (int64_t)t.unix_s, t.utc_offset_min);
}

static void on_id_in_use(alfa_node_t *n, const alfa_can_frame_t *f)
{
    alfa_id_in_use_t m;
    if (alfa_proto_id_in_use_decode(f, &m) < 0) {
        n->stats.rx_bad++;
        return;
    }
    if (m.dst != n->node_id || n->phase != ALFA_NODE_PHASE_CLAIMING || m.owner_serial == n->serial) {
        return;
    }
    forget(n, n->node_id);
    alfa_node_entry_t *e = &n->nodes[n->node_id];
    e->flags = ALFA_NODE_E_USED | ALFA_NODE_E_RESERVED;
    map_set(n, n->node_id);
    e_set_serial(e, m.owner_serial);
    e->last_tick = age_tick(n->now_ms);
    move_id(n);
}

static void handle_frame(alfa_node_t *n, const alfa_can_frame_t *f)
{
    int cls = alfa_proto_classify(f);
    if (cls < 0) {
        n->stats.rx_ignored++;
        return;
    }
    uint8_t src = ALFA_PROTO_ID_SRC(f->id);
    if (src == ALFA_NODE_UNASSIGNED || src == ALFA_NODE_BROADCAST) {
        n->stats.rx_bad++;
        return;
    }
    /* Cut off and back: our view of the bus is stale and our ID may have been taken. Only the
     * nodes that claim IDs count here: the Linux gateway never takes part (SPEC 8.3), and its
     * sparse frames (time every 60 s, commands) reaching a lone pack after a few silent seconds
     * are no sign of a return from isolation; counting them made a lone pack drop its master
     * role and re-claim at each one, with its read_settings answer held back meanwhile. */
    if (src >= ALFA_NODE_FIRST && src <= ALFA_NODE_LAST) {
        if (n->phase == ALFA_NODE_PHASE_RUN && n->heard_any &&
            since(n->now_ms, n->last_heard_ms) >= ALFA_NODE_ISOLATED_MS) {
            enter_claiming(n);
        }
        n->heard_any = 1;
        n->last_heard_ms = n->now_ms;
    }
    if (cls == ALFA_CLS_HEARTBEAT) {
        alfa_heartbeat_t hb;
        if (alfa_proto_heartbeat_decode(f, &hb) < 0) {
            n->stats.rx_bad++;
            return;
        }
        on_heartbeat(n, &hb);
        return;
    }
    if (src == n->node_id) {
        n->stats.rx_ignored++; /* another node on our ID: settled by heartbeats */
        return;
    }
    if (e_known(&n->nodes[src])) {
        n->nodes[src].last_tick = age_tick(n->now_ms);
    }
    if (cls >= ALFA_CLS_TELEM_0 && cls < ALFA_CLS_TELEM_0 + (int)ALFA_TELEM_PARTS) {
        on_telemetry_part(n, src, f);
    } else if (cls >= ALFA_CLS_SITE_0 && cls < ALFA_CLS_SITE_0 + (int)ALFA_SITE_PARTS) {
        on_site_part(n, src, f);
    } else if (cls == ALFA_CLS_CMD) {
        if (n->phase == ALFA_NODE_PHASE_LISTEN) {
            return; /* no ID to answer from yet */
        }
        handle_command(n, f);
    } else if (cls == ALFA_CLS_TIME) {
        on_time(n, f);
    } else if (cls == ALFA_CLS_IMPORT_REQ || cls == ALFA_CLS_IMPORT_RESP) {
        on_import(n, f);
    } else if (cls == ALFA_CLS_ID_IN_USE) {
        on_id_in_use(n, f);
    } else {
        n->stats.rx_ignored++; /* acks, setting values and firmware frames are for the gateway */
    }
}

/* ---------------------------------------------------------------- periodic work */

static void send_heartbeat(alfa_node_t *n)
{
    const alfa_core_t *c = n->core;
    uint8_t state = 0;
    if (n->is_master) {
        state |= ALFA_HB_MASTER;
    }
    if (alfa_fault_critical(&c->faults)) {
        state |= ALFA_HB_FAULT;
    }
    if (alfa_core_warnings(c) != 0 || alfa_fault_warning(&c->faults)) {
        state |= ALFA_HB_WARNING;
    }
    if (c->fw_update) {
        state |= ALFA_HB_UPDATING;
    }
    if (n->phase == ALFA_NODE_PHASE_CLAIMING) {
        state |= ALFA_HB_CLAIMING;
    }
    alfa_fw_version_t v = alfa_core_fw_version(c); /* the running image's, not the build's */
    alfa_heartbeat_t hb = {.node_id = n->node_id, .device_type = n->device_type, .state = state,
                           .serial = n->serial, .fw_major = v.major, .fw_minor = v.minor, .fw_patch = v.patch};
    alfa_can_frame_t f;
    if (alfa_proto_heartbeat_encode(&hb, &f) == 0) {
        (void)send(n, &f);
    }
}

static void send_telemetry(alfa_node_t *n)
{
    alfa_telemetry_t t;
    alfa_core_telemetry(n->core, &t);
    t.cycle = n->telem_cycle;
    t.is_master = n->is_master;
    alfa_can_frame_t fr[ALFA_TELEM_PARTS];
    if (alfa_proto_telem_encode(&t, n->node_id, fr) < 0) {
        n->stats.tx_fail++;
        return;
    }
    n->telem_cycle++;
    for (uint32_t k = 0; k < ALFA_TELEM_PARTS; k++) {
        if (send(n, &fr[k]) < 0) {
            break; /* a partial cycle is harmless: receivers never assemble it */
        }
    }
}

static void stream_settings(alfa_node_t *n)
{
    for (uint32_t k = 0; k < ALFA_NODE_SETTINGS_PER_CALL && n->rs_active; k++) {
        int32_t v = 0;
        if (alfa_core_setting_get(n->core, n->rs_next, &v) != ALFA_OK) {
            n->rs_active = 0;
            return;
        }
        alfa_setting_msg_t m = {.src = n->node_id, .dst = n->rs_dst, .seq = n->rs_seq,
                                .last = (uint8_t)(n->rs_next + 1u == (uint32_t)ALFA_SET_COUNT),
                                .id = n->rs_next, .value = v};
        alfa_can_frame_t f;
        if (alfa_proto_setting_encode(&m, &f) < 0) {
            n->rs_active = 0;
            return;
        }
        if (send(n, &f) == ALFA_PORT_E_FULL) {
            return; /* retry this one at the next call */
        }
        n->rs_next++;
        if (n->rs_next >= (uint32_t)ALFA_SET_COUNT) {
            n->rs_active = 0;
        }
    }
}

static void check_can_state(alfa_node_t *n)
{
    if (n->port->can_state == 0) {
        return;
    }
    alfa_can_state_t st = n->port->can_state(n->port->user);
    if (st == ALFA_CAN_BUS_OFF) {
        if (!n->bus_off) {
            n->bus_off = 1;
            n->stats.bus_off_events++;
            n->recover_ms = n->now_ms;
            (void)alfa_core_fault_report(n->core, ALFA_FAULT_CAN_BUS_OFF, true);
            if (n->port->can_recover != 0) {
                n->port->can_recover(n->port->user);
            }
        } else if (since(n->now_ms, n->recover_ms) >= 1000u && n->port->can_recover != 0) {
            n->recover_ms = n->now_ms;
            n->port->can_recover(n->port->user);
        }
    } else if (n->bus_off) {
        n->bus_off = 0;
        (void)alfa_core_fault_report(n->core, ALFA_FAULT_CAN_BUS_OFF, false);
        if (n->phase == ALFA_NODE_PHASE_RUN) {
            enter_claiming(n); /* we missed traffic: check our ID again */
        }
    }
}

/* Drop what is too old to matter, well before a short tick count could wrap around. */
static void expire_entries(alfa_node_t *n)
{
    for (uint32_t id = map_next(n, 0); id != 0; id = map_next(n, id)) {
        alfa_node_entry_t *e = &n->nodes[id];
        if (ticks_since(n->now_ms, e->last_tick) >= TTL_TICKS) {
            forget(n, (uint8_t)id);
        } else if (e_has(e, ALFA_NODE_E_HEARD_HB) && e_hb_age_ms(n, e) >= HB_FORGET_MS) {
            /* Heard long ago (still in the table through other frames): only "heard" matters. */
            alfa_put_le16(e->hb_tick, hb_tick(n->now_ms - HB_FORGET_MS));
        }
    }
    for (uint32_t i = 0; i < ALFA_NODE_PACK_SLOTS; i++) {
        alfa_node_pack_t *p = &n->packs[i];
        if (p->saved && ticks_since(n->now_ms, p->saved_tick) >= SAVED_TICKS) {
            p->saved = 0;
        }
    }
    for (uint32_t i = 0; i < ALFA_NODE_DUP_SLOTS; i++) {
        if (n->dup[i].src != 0 && ms_since_tick(n->now_ms, n->dup[i].tick) >= ALFA_NODE_DUP_MS) {
            n->dup[i].src = 0;
        }
    }
}

void alfa_node_on_frame(alfa_node_t *n, const alfa_can_frame_t *f, uint32_t now_ms)
{
    if (n == 0 || f == 0) {
        return;
    }
    n->now_ms = now_ms;
    n->stats.rx_frames++;
    handle_frame(n, f);
}

void alfa_node_process(alfa_node_t *n, uint32_t now_ms)
{
    if (n == 0) {
        return;
    }
    n->now_ms = now_ms;
    if (!n->started) {
        n->started = 1;
        n->phase_ms = now_ms;
    }
    check_can_state(n);
    if (n->next_house_ms != 0 && (int32_t)(now_ms - n->next_house_ms) >= (int32_t)ALFA_NODE_TTL_MS) {
        /* Not called for minutes: the table's short tick counts may have wrapped; all of it is
         * older than the TTL anyway. */
        alfa_memset(n->nodes, 0, sizeof(n->nodes));
        alfa_memset(n->used_map, 0, sizeof(n->used_map));
        alfa_memset(n->packs, 0, sizeof(n->packs));
        alfa_memset(n->rx, 0, sizeof(n->rx));
        alfa_memset(n->dup, 0, sizeof(n->dup));
    }
    if (due(now_ms, n->next_house_ms)) {
        /* The table walks are done a few times a second, not on every call. */
        n->next_house_ms = now_ms + ALFA_NODE_HOUSEKEEPING_MS;
        n->house_due = 1;
        expire_entries(n);
    }

    if (n->phase == ALFA_NODE_PHASE_LISTEN && since(now_ms, n->phase_ms) >= ALFA_NODE_LISTEN_MS) {
        choose_initial_id(n);
        enter_claiming(n);
    }
    if (n->phase == ALFA_NODE_PHASE_CLAIMING && since(now_ms, n->phase_ms) >= ALFA_NODE_CLAIM_MS) {
        n->phase = ALFA_NODE_PHASE_RUN;
        n->phase_ms = now_ms;
        n->house_due = 1;
        n->next_hb_ms = now_ms; /* tell everyone at once that we are settled (election) */
        /* Spread the packs' telemetry over the 2-s period by node ID, so that packs powered up
         * together do not send their bursts at the same moment. */
        n->next_telem_ms = now_ms + ((uint32_t)n->node_id * 16u) % ALFA_NODE_TELEMETRY_MS;
        int32_t stored = 0;
        (void)alfa_core_setting_get(n->core, ALFA_SET_NODE_ID, &stored);
        if (stored != (int32_t)n->node_id) {
            (void)alfa_core_setting_set(n->core, ALFA_SET_NODE_ID, n->node_id, 0);
        }
        if (!n->ran) {
            n->ran = 1;
            /* First time on the bus since boot: today's grid import lives only in RAM. */
            n->import_active = 1;
            n->import_until_ms = now_ms + ALFA_NODE_IMPORT_WINDOW_MS;
            n->next_import_ms = now_ms;
        }
    }
    if (n->conflict_warn && due(now_ms, n->conflict_until_ms)) {
        n->conflict_warn = 0;
        (void)alfa_core_warning_report(n->core, ALFA_WARN_NODE_ID_CONFLICT, false);
    }
    if (n->phase == ALFA_NODE_PHASE_RUN && n->master_id != 0 && n->master_id != n->node_id &&
        !entry_candidate(n, &n->nodes[n->master_id])) {
        n->house_due = 1; /* the master fell silent: fail over now, not at the next housekeeping */
    }
    if (n->house_due) {
        n->house_due = 0;
        elect(n);
    }

    if (n->phase != ALFA_NODE_PHASE_LISTEN && due(now_ms, n->next_hb_ms)) {
        n->next_hb_ms = now_ms + ALFA_NODE_HEARTBEAT_MS;
        send_heartbeat(n);
    }
    if (n->phase == ALFA_NODE_PHASE_RUN) {
        if (due(now_ms, n->next_telem_ms)) {
            n->next_telem_ms = now_ms + ALFA_NODE_TELEMETRY_MS;
            send_telemetry(n);
        }
        if (n->is_master && due(now_ms, n->next_site_ms)) {
            compute_and_send_site(n, true);
        }
        if (n->is_master && (!n->time_from_gw || since(now_ms, n->gw_time_ms) >= ALFA_NODE_GW_TIME_SILENT_MS) &&
            due(now_ms, n->next_time_ms)) {
            n->next_time_ms = now_ms + ALFA_NODE_TIME_PERIOD_MS;
            send_time(n);
        }
        if (n->import_active) {
            if (due(now_ms, n->import_until_ms)) {
                n->import_active = 0;
            } else if (due(now_ms, n->next_import_ms)) {
                n->next_import_ms = now_ms + ALFA_NODE_TELEMETRY_MS;
                alfa_can_frame_t req;
                if (alfa_proto_import_req_encode(n->node_id, &req) == 0) {
                    (void)send(n, &req);
                }
            }
        }
        if (n->rs_active) {
            stream_settings(n);
        }
    }
    if (n->reboot_pending && due(now_ms, n->reboot_at_ms)) {
        n->reboot_pending = 0;
        n->port->reboot(n->port->user);
    }
}
