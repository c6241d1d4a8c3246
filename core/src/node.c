/* The pack's place on the CAN bus: claims a node ID, keeps the live-node table, elects the master. */
#include "alfa/node.h"
#include "alfa/bytes.h"

/* ---------------------------------------------------------------- small helpers */

/* True when `t` has come at `now` (wrap-safe). */
static bool due(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }
static uint32_t since(uint32_t now, uint32_t t) { return now - t; }

/* Count the outcome of one frame handed to the port (or refused by its encoder). */
static void count_tx(alfa_node_t *n, int32_t rc)
{
    if (rc < 0) {
        n->stats.tx_fail++;
    } else {
        n->stats.tx_frames++;
    }
}

int32_t alfa_node_send(alfa_node_t *n, const alfa_can_frame_t *f)
{
    int32_t rc = n->port->can_send(n->port->user, f);
    count_tx(n, rc);
    return rc;
}

/* The node's own frames (heartbeat, ID notice): `encoded` is the encoder's result. A frame that
 * could not be encoded or sent is counted in stats.tx_fail and needs nothing more: the next
 * heartbeat or notice repeats what it said. */
static void send_own(alfa_node_t *n, int encoded, const alfa_can_frame_t *f)
{
    count_tx(n, encoded < 0 ? (int32_t)encoded : n->port->can_send(n->port->user, f));
}

static bool is_candidate_type(uint8_t t) { return t == ALFA_DEV_PACK || t == ALFA_DEV_ENERGY_GATEWAY; }

/* ---------------------------------------------------------------- the compact table */

/* Entry times are short wrapping tick counts (node.h); housekeeping (every 250 ms) clears
 * everything before it could be old enough to wrap, so a difference of ticks is an age. */
static uint16_t hb_tick(uint32_t ms) { return (uint16_t)(ms >> ALFA_NODE_HB_TICK_SHIFT); }
static uint8_t age_tick(uint32_t ms) { return (uint8_t)(ms >> ALFA_NODE_AGE_TICK_SHIFT); }
/* Entries live ALFA_NODE_TTL_MS at least: two ticks more than its floor in 1.024-s ticks. */
#define TTL_TICKS ((ALFA_NODE_TTL_MS >> ALFA_NODE_AGE_TICK_SHIFT) + 2u)
#define HB_FORGET_MS 60000u /* older heartbeats only matter as "heard once"; far below the wrap */
_Static_assert(TTL_TICKS < 256u, "age ticks fit 8 bits");
_Static_assert(((ALFA_NODE_TTL_MS + 1100u) >> ALFA_NODE_HB_TICK_SHIFT) < 65536u, "hb ticks fit 16 bits");
_Static_assert(ALFA_NODE_ELECTION_MS < HB_FORGET_MS, "windows");

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

/* The entry of node ID `id`, or NULL when the table holds none. */
static alfa_node_entry_t *entry_of(alfa_node_t *n, uint32_t id)
{
    uint8_t s = id < ALFA_NODE_MAX ? n->slot_of[id] : 0u;
    return s != 0u ? &n->nodes[s - 1u] : 0;
}

static const alfa_node_entry_t *entry_get(const alfa_node_t *n, uint32_t id)
{
    uint8_t s = id < ALFA_NODE_MAX ? n->slot_of[id] : 0u;
    return s != 0u ? &n->nodes[s - 1u] : 0;
}

/* Forget everything about node ID `id`: its slot is free again. */
static void forget(alfa_node_t *n, uint8_t id)
{
    alfa_node_entry_t *e = entry_of(n, id);
    if (e != 0) {
        alfa_memset(e, 0, sizeof(*e));
    }
    n->slot_of[id] = 0;
    map_clear(n, id);
}

static void forget_all(alfa_node_t *n)
{
    alfa_memset(n->nodes, 0, sizeof(n->nodes));
    alfa_memset(n->slot_of, 0, sizeof(n->slot_of));
    alfa_memset(n->used_map, 0, sizeof(n->used_map));
}

/* Another node's entry is live for the election: heard recently, settled, a pack or an EGW. */
static bool entry_candidate(const alfa_node_t *n, const alfa_node_entry_t *e)
{
    return e != 0 && e_known(e) && e_has(e, ALFA_NODE_E_HEARD_HB) && is_candidate_type(e_type(e)) &&
           !e_has(e, ALFA_NODE_E_CLAIMING) && e_hb_age_ms(n, e) < ALFA_NODE_ELECTION_MS;
}

/* The entry of `id`, made (empty, with its map bit) when there is none: a free slot, or the slot
 * of the node heard longest ago when it is older than the election window (never the master's).
 * NULL when every slot is held by a live node (counted). */
static alfa_node_entry_t *entry_for(alfa_node_t *n, uint8_t id)
{
    alfa_node_entry_t *e = entry_of(n, id);
    if (e != 0) {
        return e;
    }
    uint32_t slot = ALFA_NODE_SLOTS, oldest = 0;
    for (uint32_t k = 0; k < ALFA_NODE_SLOTS && slot == ALFA_NODE_SLOTS; k++) {
        if (!e_has(&n->nodes[k], ALFA_NODE_E_USED)) {
            slot = k;
        }
    }
    if (slot == ALFA_NODE_SLOTS) {
        uint8_t victim = 0;
        for (uint32_t other = map_next(n, 0); other != 0; other = map_next(n, other)) {
            const alfa_node_entry_t *o = entry_get(n, other);
            uint32_t age = ticks_since(n->now_ms, o->last_tick);
            if (other != n->master_id && !entry_candidate(n, o) && (victim == 0 || age > oldest)) {
                victim = (uint8_t)other;
                oldest = age;
            }
        }
        if (victim == 0) {
            n->stats.table_full++;
            return 0;
        }
        slot = (uint32_t)(n->slot_of[victim] - 1u);
        forget(n, victim);
    }
    n->slot_of[id] = (uint8_t)(slot + 1u);
    map_set(n, id);
    return &n->nodes[slot];
}

/* ---------------------------------------------------------------- node IDs */

static bool id_free_for_me(const alfa_node_t *n, uint8_t id, uint8_t exclude)
{
    if (id < ALFA_NODE_FIRST || id > ALFA_NODE_LAST || id == exclude) {
        return false;
    }
    const alfa_node_entry_t *e = entry_get(n, id);
    return e == 0 || !e_has(e, ALFA_NODE_E_USED) || e_serial(e) == n->serial;
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
    alfa_core_node_id_conflict(n->core, true);
    enter_claiming(n);
}

static void choose_initial_id(alfa_node_t *n)
{
    int32_t stored = 0;
    if (alfa_core_setting_get(n->core, ALFA_SET_NODE_ID, &stored) != ALFA_OK) {
        stored = 0; /* a table id: cannot fail; 0 means "choose from the serial" */
    }
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
uint32_t alfa_node_runs(const alfa_node_t *n) { return n->runs; }
uint32_t alfa_node_joins_heard(const alfa_node_t *n) { return n->stats.joins_heard; }

bool alfa_node_alone(const alfa_node_t *n)
{
    return !n->heard_any || since(n->now_ms, n->last_heard_ms) >= ALFA_NODE_ISOLATED_MS;
}

bool alfa_node_peer(const alfa_node_t *n, uint8_t id, alfa_node_peer_t *out)
{
    alfa_memset(out, 0, sizeof(*out));
    if (id >= ALFA_NODE_MAX) {
        return false;
    }
    const alfa_node_entry_t *e = entry_get(n, id);
    if (e == 0 || !e_known(e)) {
        return false;
    }
    out->serial = e_serial(e);
    out->known = 1;
    if (e_has(e, ALFA_NODE_E_HEARD_HB)) {
        out->device_type = e_type(e);
        out->settled = (uint8_t)(e_has(e, ALFA_NODE_E_CLAIMING) ? 0u : 1u);
    }
    out->live = (uint8_t)(entry_candidate(n, e) ? 1u : 0u);
    return true;
}

bool alfa_node_trusted(const alfa_node_t *n, uint8_t src, bool from_master)
{
    if (src == ALFA_NODE_LINUX_GATEWAY) {
        return true;
    }
    if (src == 0 || src >= ALFA_NODE_MAX || src == n->node_id) {
        return false;
    }
    const alfa_node_entry_t *e = entry_get(n, src);
    if (e != 0 && e_known(e) && e_type(e) == ALFA_DEV_ENERGY_GATEWAY) {
        return true;
    }
    return from_master && src == n->master_id;
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
        const alfa_node_entry_t *e = entry_get(n, id);
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
    n->master_id = best_id;
    n->master_serial = best_serial;
    if ((me ? 1u : 0u) != n->is_master) {
        n->is_master = me ? 1u : 0u;
        alfa_core_set_master(n->core, me);
    }
}

/* The highest-serial settled pack other than the master: answers grid-import requests of a
 * rebooted master. */
bool alfa_node_is_deputy(const alfa_node_t *n)
{
    uint64_t best = n->serial;
    for (uint32_t id = map_next(n, 0); id != 0; id = map_next(n, id)) {
        const alfa_node_entry_t *e = entry_get(n, id);
        if (id > ALFA_NODE_LAST || id == n->node_id || id == n->master_id || !entry_candidate(n, e)) {
            continue;
        }
        if (e_serial(e) > best) {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- receive */

static void on_heartbeat(alfa_node_t *n, const alfa_heartbeat_t *hb)
{
    alfa_node_entry_t *e = entry_of(n, hb->node_id);
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
    if (e != 0 && e_has(e, ALFA_NODE_E_USED) && e_serial(e) != hb->serial) {
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
                send_own(n, alfa_proto_id_in_use_encode(&m, &f), &f);
            }
            return;
        }
        forget(n, hb->node_id); /* a different node now: forget the old one's data */
        e = 0;
    }
    if (claiming && !(e != 0 && e_has(e, ALFA_NODE_E_USED) && e_has(e, ALFA_NODE_E_CLAIMING))) {
        n->stats.joins_heard++; /* a node starts a claim: it (re)joined the bus */
    }
    e = entry_for(n, hb->node_id);
    if (e == 0) {
        return; /* every slot held by a live node: this one is not followed (counted) */
    }
    uint8_t type = hb->device_type <= 3u ? hb->device_type : 0u;
    e->flags = (uint8_t)(ALFA_NODE_E_USED | ALFA_NODE_E_HEARD_HB | (claiming ? ALFA_NODE_E_CLAIMING : 0u) |
                         ((uint32_t)type << ALFA_NODE_E_TYPE_SHIFT));
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
    alfa_node_entry_t *e = entry_for(n, n->node_id);
    if (e != 0) { /* without a slot the ID is not reserved, but we move all the same */
        e->flags = ALFA_NODE_E_USED | ALFA_NODE_E_RESERVED;
        e_set_serial(e, m.owner_serial);
        e->last_tick = age_tick(n->now_ms);
    }
    move_id(n);
}

bool alfa_node_on_frame(alfa_node_t *n, const alfa_can_frame_t *f, uint32_t now_ms)
{
    if (n == 0 || f == 0) {
        return false;
    }
    n->now_ms = now_ms;
    n->stats.rx_frames++;
    int cls = alfa_proto_classify(f);
    if (cls < 0) {
        n->stats.rx_ignored++;
        return false;
    }
    uint8_t src = ALFA_PROTO_ID_SRC(f->id);
    if (src == ALFA_NODE_UNASSIGNED || src == ALFA_NODE_BROADCAST) {
        n->stats.rx_bad++;
        return false;
    }
    /* Cut off and back (node.h): after 3 s of hearing nobody, not even the Linux gateway, the
     * node that was NOT the master when it last heard anyone was the one cut off (a master whose
     * only peer went away stays master when it returns): it claims its ID again, its view of
     * the bus being stale. With the gateway's 1-s heartbeat on the bus, only a node really cut
     * off ever sees such a silence. */
    if (n->phase == ALFA_NODE_PHASE_RUN && n->heard_any && !n->heard_as_master &&
        since(now_ms, n->last_heard_ms) >= ALFA_NODE_ISOLATED_MS) {
        enter_claiming(n);
    }
    n->heard_any = 1;
    n->last_heard_ms = now_ms;
    n->heard_as_master = n->is_master;
    if (cls == ALFA_CLS_HEARTBEAT) {
        alfa_heartbeat_t hb;
        if (alfa_proto_heartbeat_decode(f, &hb) < 0) {
            n->stats.rx_bad++;
            return false;
        }
        on_heartbeat(n, &hb);
        return false;
    }
    if (src == n->node_id) {
        n->stats.rx_ignored++; /* another node on our ID: settled by heartbeats */
        return false;
    }
    alfa_node_entry_t *se = entry_of(n, src);
    if (se != 0 && e_known(se)) {
        se->last_tick = age_tick(now_ms);
    }
    if (cls == ALFA_CLS_ID_IN_USE) {
        on_id_in_use(n, f);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- periodic work */

static void send_heartbeat(alfa_node_t *n)
{
    const alfa_core_t *c = n->core;
    uint8_t state = 0;
    if (n->is_master) {
        state |= ALFA_HB_MASTER;
    }
    if (alfa_core_critical(c)) {
        state |= ALFA_HB_FAULT;
    }
    if (alfa_core_warning_any(c)) {
        state |= ALFA_HB_WARNING;
    }
    if (alfa_core_fw_update(c)) {
        state |= ALFA_HB_UPDATING;
    }
    if (n->phase == ALFA_NODE_PHASE_CLAIMING) {
        state |= ALFA_HB_CLAIMING;
    }
    alfa_fw_version_t v = alfa_core_fw_version(c); /* the running image's, not the build's */
    alfa_heartbeat_t hb = {.node_id = n->node_id, .device_type = n->device_type, .state = state,
                           .serial = n->serial, .fw_major = v.major, .fw_minor = v.minor, .fw_patch = v.patch};
    alfa_can_frame_t f;
    send_own(n, alfa_proto_heartbeat_encode(&hb, &f), &f);
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
            alfa_core_can_bus_off(n->core, true);
            if (n->port->can_recover != 0) {
                n->port->can_recover(n->port->user);
            }
        } else if (since(n->now_ms, n->recover_ms) >= 1000u && n->port->can_recover != 0) {
            n->recover_ms = n->now_ms;
            n->port->can_recover(n->port->user);
        }
    } else if (n->bus_off) {
        n->bus_off = 0;
        alfa_core_can_bus_off(n->core, false);
        if (n->phase == ALFA_NODE_PHASE_RUN) {
            enter_claiming(n); /* we missed traffic: check our ID again */
        }
    }
}

/* Drop what is too old to matter, well before a short tick count could wrap around. */
static void expire_entries(alfa_node_t *n)
{
    for (uint32_t id = map_next(n, 0); id != 0; id = map_next(n, id)) {
        alfa_node_entry_t *e = entry_of(n, id);
        if (ticks_since(n->now_ms, e->last_tick) >= TTL_TICKS) {
            forget(n, (uint8_t)id);
        } else if (e_has(e, ALFA_NODE_E_HEARD_HB) && e_hb_age_ms(n, e) >= HB_FORGET_MS) {
            /* Heard long ago (still in the table through other frames): only "heard" matters. */
            alfa_put_le16(e->hb_tick, hb_tick(n->now_ms - HB_FORGET_MS));
        }
    }
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
        forget_all(n);
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
        n->runs++;
        n->next_hb_ms = now_ms; /* tell everyone at once that we are settled (election) */
        int32_t stored = 0;
        if (alfa_core_setting_get(n->core, ALFA_SET_NODE_ID, &stored) != ALFA_OK || stored != (int32_t)n->node_id) {
            /* Through the core's one settings path, so the store persists it like any change. */
            if (alfa_core_setting_set(n->core, ALFA_SET_NODE_ID, n->node_id, 0) != ALFA_OK) {
                n->stats.rx_bad++; /* an ID of 1..125 is always in range: unreachable, but counted */
            }
        }
    }
    if (n->conflict_warn && due(now_ms, n->conflict_until_ms)) {
        n->conflict_warn = 0;
        alfa_core_node_id_conflict(n->core, false);
    }
    if (n->phase == ALFA_NODE_PHASE_RUN && n->master_id != 0 && n->master_id != n->node_id &&
        !entry_candidate(n, entry_get(n, n->master_id))) {
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
}

const alfa_node_stats_t *alfa_node_stats(const alfa_node_t *n) { return &n->stats; }
