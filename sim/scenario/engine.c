/* The scenario engine: hands out due actions and judges expectations against observed telemetry. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/names.h"
#include "alfa/fwu_proto.h"
#include "alfa/proto.h"
#include "alfa/scenario.h"
#include "scn_internal.h"

/* ------------------------------------------------------------------ fields */

enum field_id {
    F_CYCLE, F_P_GRID, F_P_HOME, F_P_POOL, F_P_HEATER, F_P_BATT, F_P_SOLAR, F_V_PACK, F_I_BATT,
    F_SOC, F_RELAYS, F_MODE, F_IS_MASTER, F_FAULTS, F_WARNINGS, F_GRID_TODAY, F_SOLAR_TODAY,
    F_CHG_TODAY, F_DIS_TODAY, F_RELAY_BIT, F_FAULT_BIT, F_WARN_BIT, F_POWERED, F_ONLINE,
    F_NODE_ID, F_LAST_ACK, F_ACKS, F_DAY, F_SETTING, F_FW_VERSION, F_OTA_STATE, F_OTA_MISSING,
    S_PACKS_ONLINE, S_SOC_AVG, S_LIMIT_REACHED, S_P_BATT, S_P_SOLAR, S_P_HOME, S_P_GRID,
    S_GRID_TODAY, S_MASTER_SERIAL, S_VALID, S_MASTERS, S_MASTER_PACK, S_DAY,
};

static const alfa_scn_field_t fields[] = {
    {"cycle", 0, F_CYCLE, -1},
    {"p_grid_w", 0, F_P_GRID, -1},
    {"p_home_w", 0, F_P_HOME, -1},
    {"p_pool_w", 0, F_P_POOL, -1},
    {"p_heater_w", 0, F_P_HEATER, -1},
    {"p_batt_w", 0, F_P_BATT, -1},
    {"p_solar_w", 0, F_P_SOLAR, -1},
    {"v_pack_mv", 0, F_V_PACK, -1},
    {"i_batt_ma", 0, F_I_BATT, -1},
    {"soc_pct", 0, F_SOC, -1},
    {"relays_closed", 0, F_RELAYS, -1},
    {"mode", 0, F_MODE, -1},
    {"is_master", 0, F_IS_MASTER, -1},
    {"faults", 0, F_FAULTS, -1},
    {"warnings", 0, F_WARNINGS, -1},
    {"grid_import_today_wh", 0, F_GRID_TODAY, -1},
    {"solar_today_wh", 0, F_SOLAR_TODAY, -1},
    {"batt_charge_today_wh", 0, F_CHG_TODAY, -1},
    {"batt_discharge_today_wh", 0, F_DIS_TODAY, -1},
    {"relay_grid", 0, F_RELAY_BIT, 0},
    {"relay_inverter", 0, F_RELAY_BIT, 1},
    {"relay_pool", 0, F_RELAY_BIT, 2},
    {"relay_heater", 0, F_RELAY_BIT, 3},
    {"fault_bms_comm_lost", 0, F_FAULT_BIT, ALFA_FAULT_BMS_COMM_LOST},
    {"fault_cell_ov", 0, F_FAULT_BIT, ALFA_FAULT_CELL_OV},
    {"fault_cell_uv", 0, F_FAULT_BIT, ALFA_FAULT_CELL_UV},
    {"fault_over_temp", 0, F_FAULT_BIT, ALFA_FAULT_OVER_TEMP},
    {"fault_under_temp", 0, F_FAULT_BIT, ALFA_FAULT_UNDER_TEMP},
    {"fault_charge_oc", 0, F_FAULT_BIT, ALFA_FAULT_CHARGE_OC},
    {"fault_discharge_oc", 0, F_FAULT_BIT, ALFA_FAULT_DISCHARGE_OC},
    {"fault_short_circuit", 0, F_FAULT_BIT, ALFA_FAULT_SHORT_CIRCUIT},
    {"fault_bms_internal", 0, F_FAULT_BIT, ALFA_FAULT_BMS_INTERNAL},
    {"fault_ct_range", 0, F_FAULT_BIT, ALFA_FAULT_CT_RANGE},
    {"fault_time_not_set", 0, F_FAULT_BIT, ALFA_FAULT_TIME_NOT_SET},
    {"fault_settings_corrupt", 0, F_FAULT_BIT, ALFA_FAULT_SETTINGS_CORRUPT},
    {"fault_can_bus_off", 0, F_FAULT_BIT, ALFA_FAULT_CAN_BUS_OFF},
    {"warn_loads_limit", 0, F_WARN_BIT, ALFA_WARN_LOADS_LIMIT},
    {"warn_grid_limit_reached", 0, F_WARN_BIT, ALFA_WARN_GRID_LIMIT_REACHED},
    {"warn_bms_degraded", 0, F_WARN_BIT, ALFA_WARN_BMS_DEGRADED},
    {"warn_node_id_conflict", 0, F_WARN_BIT, ALFA_WARN_NODE_ID_CONFLICT},
    {"warn_import_recovering", 0, F_WARN_BIT, ALFA_WARN_IMPORT_RECOVERING},
    {"powered", 0, F_POWERED, -1},
    {"online", 0, F_ONLINE, -1},
    {"node_id", 0, F_NODE_ID, -1},
    {"last_ack", 0, F_LAST_ACK, -1},
    {"acks", 0, F_ACKS, -1},
    {"day", 0, F_DAY, -1},
    {"setting", 0, F_SETTING, -1},
    {"fw_version", 0, F_FW_VERSION, -1},
    {"ota_state", 0, F_OTA_STATE, -1},
    {"ota_missing", 0, F_OTA_MISSING, -1},
    {"packs_online", 1, S_PACKS_ONLINE, -1},
    {"soc_avg_pct", 1, S_SOC_AVG, -1},
    {"grid_limit_reached", 1, S_LIMIT_REACHED, -1},
    {"p_batt_w", 1, S_P_BATT, -1},
    {"p_solar_w", 1, S_P_SOLAR, -1},
    {"p_home_w", 1, S_P_HOME, -1},
    {"p_grid_w", 1, S_P_GRID, -1},
    {"grid_import_today_wh", 1, S_GRID_TODAY, -1},
    {"master_serial", 1, S_MASTER_SERIAL, -1},
    {"valid", 1, S_VALID, -1},
    {"masters", 1, S_MASTERS, -1},
    {"master_pack", 1, S_MASTER_PACK, -1},
    {"day", 1, S_DAY, -1},
};

_Static_assert(sizeof(fields) / sizeof(fields[0]) == 64, "field table and enum agree");

const alfa_scn_field_t *alfa_scn_field_find(const char *name, int site)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].site == (site ? 1 : 0) && !strcmp(fields[i].name, name)) {
            return &fields[i];
        }
    }
    return NULL;
}

static const char *const mode_names[ALFA_MODE_COUNT] = {"none", "self_consumption", "eco", "tou",
                                                         "backup"};

const char *alfa_scn_mode_name(unsigned mode)
{
    return mode < ALFA_MODE_COUNT ? mode_names[mode] : "?";
}

int alfa_scn_command_known(const char *name)
{
    return alfa_cmd_from_name(name) >= 0;
}

/* A set of fault or warning bits by name: "none", or names joined by '+' ("bms_comm_lost+cell_ov"),
 * the names the gateway publishes (fault table, warning names). */
static int bit_names_value(int faults, const char *text, int64_t *out)
{
    if (!strcmp(text, "none")) {
        *out = 0;
        return 0;
    }
    int64_t v = 0;
    const char *c = text;
    while (*c) {
        const char *end = strchr(c, '+');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        int found = 0;
        for (unsigned b = 0; b < (faults ? (unsigned)ALFA_FAULT_COUNT : (unsigned)ALFA_WARN_COUNT); b++) {
            const char *name = faults ? alfa_fault_name(b) : alfa_warning_name(b);
            if (name != NULL && strlen(name) == n && !strncmp(name, c, n)) {
                v |= (int64_t)1 << b;
                found = 1;
            }
        }
        if (!found) {
            return -1;
        }
        c += n + (end ? 1u : 0u);
    }
    *out = v;
    return 0;
}

int alfa_scn_field_value(const alfa_scn_field_t *f, const char *text, int64_t *out)
{
    if ((f->id == F_FAULTS || f->id == F_WARNINGS) && bit_names_value(f->id == F_FAULTS, text, out) == 0) {
        return 0;
    }
    if (f->id == F_FW_VERSION) {
        unsigned a, b, c;
        char extra;
        if (sscanf(text, "%u.%u.%u%c", &a, &b, &c, &extra) != 3 || a > 31u || b > 63u || c > 31u) {
            return -1;
        }
        *out = ALFA_FW_VERSION_WIRE(a, b, c);
        return 0;
    }
    if (f->id == F_OTA_STATE) {
        for (unsigned st = 0; st < ALFA_FWU_ST_COUNT; st++) {
            if (!strcmp(text, alfa_fwu_state_name((uint8_t)st))) {
                *out = st;
                return 0;
            }
        }
        return -1;
    }
    if (f->id == F_MODE) {
        for (unsigned m = 0; m < ALFA_MODE_COUNT; m++) {
            if (!strcmp(text, mode_names[m])) {
                *out = m;
                return 0;
            }
        }
    }
    if (f->id == F_LAST_ACK) {
        if (!strcmp(text, "none")) {
            *out = 255;
            return 0;
        }
        for (unsigned r = 0; r < ALFA_ACK_RESULT_COUNT; r++) {
            if (!strcmp(text, alfa_ack_result_name((uint8_t)r))) {
                *out = r;
                return 0;
            }
        }
    }
    if (f->bit >= 0 || f->id == F_POWERED || f->id == F_ONLINE || f->id == F_IS_MASTER ||
        f->id == S_LIMIT_REACHED || f->id == S_VALID) {
        if (!strcmp(text, "on") || !strcmp(text, "true") || !strcmp(text, "closed") ||
            !strcmp(text, "yes")) {
            *out = 1;
            return 0;
        }
        if (!strcmp(text, "off") || !strcmp(text, "false") || !strcmp(text, "open") ||
            !strcmp(text, "no")) {
            *out = 0;
            return 0;
        }
    }
    char *end = NULL;
    long long v = strtoll(text, &end, 0);
    if (end == text || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static int64_t pack_value(const alfa_scn_field_t *f, const alfa_scn_pack_obs_t *p)
{
    const alfa_telemetry_t *t = &p->t;
    switch (f->id) {
    case F_CYCLE: return t->cycle;
    case F_P_GRID: return t->p_grid_w;
    case F_P_HOME: return t->p_home_w;
    case F_P_POOL: return t->p_pool_w;
    case F_P_HEATER: return t->p_heater_w;
    case F_P_BATT: return t->p_batt_w;
    case F_P_SOLAR: return t->p_solar_w;
    case F_V_PACK: return t->v_pack_mv;
    case F_I_BATT: return t->i_batt_ma;
    case F_SOC: return t->soc_pct;
    case F_RELAYS: return t->relays_closed;
    case F_MODE: return t->mode;
    case F_IS_MASTER: return t->is_master;
    case F_FAULTS: return t->faults;
    case F_WARNINGS: return t->warnings;
    case F_GRID_TODAY: return t->grid_import_today_wh;
    case F_SOLAR_TODAY: return t->solar_today_wh;
    case F_CHG_TODAY: return t->batt_charge_today_wh;
    case F_DIS_TODAY: return t->batt_discharge_today_wh;
    case F_RELAY_BIT: return (t->relays_closed >> f->bit) & 1u;
    case F_FAULT_BIT: return (t->faults >> f->bit) & 1u;
    case F_WARN_BIT: return (t->warnings >> f->bit) & 1u;
    case F_POWERED: return p->powered;
    case F_ONLINE: return p->valid;
    case F_NODE_ID: return p->node_id;
    case F_LAST_ACK: return p->last_ack;
    case F_ACKS: return p->acks;
    case F_DAY: return t->day;
    case F_FW_VERSION: return p->fw_version;
    case F_OTA_STATE: return p->ota_state;
    case F_OTA_MISSING: return p->ota_missing;
    default: return 0;
    }
}

static int64_t site_value(const alfa_scn_field_t *f, const alfa_scn_obs_t *o)
{
    const alfa_site_totals_t *s = o->site;
    switch (f->id) {
    case S_PACKS_ONLINE: return s->packs_online;
    case S_SOC_AVG: return s->soc_avg_pct;
    case S_LIMIT_REACHED: return s->grid_limit_reached;
    case S_P_BATT: return s->p_batt_w;
    case S_P_SOLAR: return s->p_solar_w;
    case S_P_HOME: return s->p_home_w;
    case S_P_GRID: return s->p_grid_w;
    case S_GRID_TODAY: return s->grid_import_today_wh;
    case S_MASTER_SERIAL: return (int64_t)s->master_serial;
    case S_DAY: return s->day;
    case S_VALID: return o->site_valid;
    case S_MASTERS: {
        int64_t n = 0;
        for (unsigned i = 0; i < o->pack_count; i++) {
            n += o->packs[i].valid && o->packs[i].t.is_master;
        }
        return n;
    }
    default: return 0;
    }
}

/* Fields that are facts of the simulator, readable even while a pack sends no telemetry. */
static int sim_side(const alfa_scn_field_t *f)
{
    return f->id == F_POWERED || f->id == F_ONLINE || f->id == F_NODE_ID || f->id == F_LAST_ACK ||
           f->id == F_ACKS || f->id == F_SETTING || f->id == F_FW_VERSION || f->id == F_OTA_STATE ||
           f->id == F_OTA_MISSING;
}

static int holds(uint8_t op, int64_t seen, int64_t want)
{
    switch (op) {
    case ALFA_SCN_OP_EQ: return seen == want;
    case ALFA_SCN_OP_NE: return seen != want;
    case ALFA_SCN_OP_LE: return seen <= want;
    case ALFA_SCN_OP_GE: return seen >= want;
    case ALFA_SCN_OP_LT: return seen < want;
    case ALFA_SCN_OP_GT: return seen > want;
    default: return 1;
    }
}

/* ------------------------------------------------------------------ engine */

int alfa_scn_engine_init(alfa_scn_engine_t *e, const alfa_scn_t *s)
{
    memset(e, 0, sizeof(*e));
    e->s = s;
    e->last_obs_ms = -1;
    if (s->expect_count) {
        e->st = calloc(s->expect_count, sizeof(*e->st));
        if (e->st == NULL) {
            return -1;
        }
    }
    return 0;
}

void alfa_scn_engine_free(alfa_scn_engine_t *e)
{
    free(e->st);
    free(e->failures);
    e->st = NULL;
    e->failures = NULL;
    e->failure_count = 0;
}

const alfa_scn_action_t *alfa_scn_engine_next_action(alfa_scn_engine_t *e, int64_t now_ms)
{
    if (e->next_action < e->s->action_count && e->s->actions[e->next_action].at_ms <= now_ms) {
        return &e->s->actions[e->next_action++];
    }
    return NULL;
}

static void names_text(int faults, int64_t v, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    if (v == 0) {
        snprintf(buf, len, "none");
        return;
    }
    for (unsigned b = 0; b < 32u && used < len; b++) {
        if (!((v >> b) & 1)) {
            continue;
        }
        const char *name = faults ? alfa_fault_name(b) : alfa_warning_name(b);
        int n = name ? snprintf(buf + used, len - used, "%s%s", used ? "+" : "", name)
                     : snprintf(buf + used, len - used, "%sbit%u", used ? "+" : "", b);
        used += n > 0 ? (size_t)n : 0u;
    }
}

static void value_text(const alfa_scn_field_t *f, int64_t v, char *buf, size_t len)
{
    if (f->id == F_FAULTS || f->id == F_WARNINGS) {
        names_text(f->id == F_FAULTS, v, buf, len);
    } else if (f->id == F_MODE) {
        snprintf(buf, len, "%s", alfa_scn_mode_name((unsigned)v));
    } else if (f->id == F_LAST_ACK) {
        snprintf(buf, len, "%s", v == 255 ? "none" : alfa_ack_result_name((uint8_t)v));
    } else if (f->id == F_FW_VERSION) {
        snprintf(buf, len, "%u.%u.%u", (unsigned)(v >> 11) & 31u, (unsigned)(v >> 5) & 63u, (unsigned)v & 31u);
    } else if (f->id == F_OTA_STATE) {
        snprintf(buf, len, "%s", alfa_fwu_state_name((uint8_t)v));
    } else if (f->id == S_MASTER_SERIAL || f->id == F_RELAYS) {
        snprintf(buf, len, "0x%" PRIX64, (uint64_t)v);
    } else {
        snprintf(buf, len, "%" PRId64, v);
    }
}

static void add_failure(alfa_scn_engine_t *e, const alfa_scn_expect_t *x, int64_t at_ms, int pack,
                        const char *seen)
{
    if (e->failure_count == e->failure_cap) {
        size_t cap = e->failure_cap ? e->failure_cap * 2 : 16;
        alfa_scn_failure_t *n = realloc(e->failures, cap * sizeof(*n));
        if (n == NULL) {
            return; /* reporting is best effort; the run still fails through the state flag */
        }
        e->failures = n;
        e->failure_cap = cap;
    }
    alfa_scn_failure_t *f = &e->failures[e->failure_count++];
    f->at_ms = at_ms;
    f->line = x->line;
    if (pack >= 0 && x->target.kind == ALFA_SCN_TGT_ALL) {
        snprintf(f->what, sizeof(f->what), "%s [pack %d]", x->text, pack + 1);
    } else {
        snprintf(f->what, sizeof(f->what), "%s", x->text);
    }
    snprintf(f->seen, sizeof(f->seen), "%s", seen);
}

/* Judge one value of expectation `k` for pack `pi` (-1 = site) at `now_ms`. Every failing pack is
 * reported (its first violation); "ever" only remembers whether it held and the last value. */
static void judge(alfa_scn_engine_t *e, size_t k, int pi, int valid, int64_t v, int64_t now_ms)
{
    const alfa_scn_expect_t *x = &e->s->expects[k];
    alfa_scn_exp_state_t *st = &e->st[k];
    unsigned slot = pi < 0 ? ALFA_SCN_MAX_PACKS : (unsigned)pi;
    char seen[96], vt[72];
    if (x->op == ALFA_SCN_OP_CHANGES_LE || x->ever) {
        if (!valid) {
            return; /* a pack without telemetry has no value to change, or to hold */
        }
        if (x->ever) {
            st->seen[slot] = 1;
            st->prev[slot] = v;
            st->held[slot] |= (uint8_t)holds(x->op, v, x->value);
            return;
        }
        if (st->has_prev[slot] && st->prev[slot] != v) {
            st->changes[slot]++;
        }
        st->prev[slot] = v;
        st->has_prev[slot] = 1;
        return;
    }
    if (!valid) {
        st->violations++;
        if (!st->failed_slot[slot]) {
            st->failed_slot[slot] = 1;
            st->failed = 1;
            add_failure(e, x, now_ms, pi, pi < 0 ? "no site totals heard" : "no telemetry (pack off or silent)");
        }
        return;
    }
    if (!holds(x->op, v, x->value)) {
        st->violations++;
        if (!st->failed_slot[slot]) {
            st->failed_slot[slot] = 1;
            st->failed = 1;
            value_text(x->field, v, vt, sizeof(vt));
            snprintf(seen, sizeof(seen), "%s", vt);
            add_failure(e, x, now_ms, pi, seen);
        }
    }
}

static void eval(alfa_scn_engine_t *e, size_t k, int64_t now_ms, const alfa_scn_obs_t *obs)
{
    const alfa_scn_expect_t *x = &e->s->expects[k];
    alfa_scn_exp_state_t *st = &e->st[k];
    if (x->field->site) {
        int valid = obs->site_valid || x->field->id == S_VALID || x->field->id == S_MASTERS;
        int64_t v = valid ? site_value(x->field, obs) : 0;
        if (x->field->id == S_MASTER_PACK) {
            v = 0;
            for (unsigned i = 0; valid && obs->site_valid && i < obs->pack_count && i < e->s->pack_count; i++) {
                if (e->s->packs[i].serial == obs->site->master_serial) {
                    v = i + 1;
                }
            }
        }
        judge(e, k, -1, valid, v, now_ms);
    } else {
        unsigned first = 0, last = obs->pack_count;
        if (x->target.kind == ALFA_SCN_TGT_PACK) {
            first = x->target.pack;
            last = first + 1u;
        }
        for (unsigned i = first; i < last && i < obs->pack_count; i++) {
            const alfa_scn_pack_obs_t *p = &obs->packs[i];
            int64_t v = 0;
            int valid = p->valid || sim_side(x->field);
            if (x->field->id == F_SETTING) {
                valid = p->settings_valid && x->setting >= 0 && x->setting < (int)ALFA_SET_COUNT;
                v = valid ? p->settings[x->setting] : 0;
            } else if (valid) {
                v = pack_value(x->field, p);
            }
            judge(e, k, (int)i, valid, v, now_ms);
        }
    }
    st->observed = 1;
}

static void finish_one(alfa_scn_engine_t *e, size_t k, int64_t end_ms);

void alfa_scn_engine_observe(alfa_scn_engine_t *e, int64_t now_ms, const alfa_scn_obs_t *obs)
{
    e->last_obs_ms = now_ms;
    for (size_t k = 0; k < e->s->expect_count; k++) {
        const alfa_scn_expect_t *x = &e->s->expects[k];
        alfa_scn_exp_state_t *st = &e->st[k];
        if (st->done || now_ms < x->from_ms) {
            continue;
        }
        if (x->from_ms == x->to_ms) {
            eval(e, k, now_ms, obs); /* a point: the first observation at or after its time */
            st->done = 1;
            e->checked++;
            continue;
        }
        if (now_ms > x->to_ms) {
            continue; /* closed by finish_interval below */
        }
        eval(e, k, now_ms, obs);
    }
    /* Close intervals whose end has passed. */
    for (size_t k = 0; k < e->s->expect_count; k++) {
        const alfa_scn_expect_t *x = &e->s->expects[k];
        alfa_scn_exp_state_t *st = &e->st[k];
        if (!st->done && x->from_ms != x->to_ms && now_ms >= x->to_ms) {
            finish_one(e, k, now_ms);
        }
    }
}

static void finish_one(alfa_scn_engine_t *e, size_t k, int64_t end_ms)
{
    const alfa_scn_expect_t *x = &e->s->expects[k];
    alfa_scn_exp_state_t *st = &e->st[k];
    if (st->done) {
        return;
    }
    st->done = 1;
    e->checked++;
    if (!st->observed) {
        add_failure(e, x, end_ms, -1, "the run ended before this time");
        st->failed = 1;
        return;
    }
    if (x->ever) {
        for (unsigned slot = 0; slot <= ALFA_SCN_MAX_PACKS; slot++) {
            int wanted = x->field->site ? slot == ALFA_SCN_MAX_PACKS
                                        : slot < e->s->pack_count &&
                                              (x->target.kind != ALFA_SCN_TGT_PACK || slot == x->target.pack);
            if (!wanted || st->held[slot]) {
                continue;
            }
            char seen[96], vt[72];
            if (st->seen[slot]) {
                value_text(x->field, st->prev[slot], vt, sizeof(vt));
                snprintf(seen, sizeof(seen), "never; last %s", vt);
            } else {
                snprintf(seen, sizeof(seen), "never (no value in the interval)");
            }
            add_failure(e, x, end_ms, slot == ALFA_SCN_MAX_PACKS ? -1 : (int)slot, seen);
            st->failed = 1;
        }
        return;
    }
    if (x->op != ALFA_SCN_OP_CHANGES_LE) {
        return;
    }
    for (unsigned slot = 0; slot <= ALFA_SCN_MAX_PACKS; slot++) {
        if (st->changes[slot] > (uint64_t)x->value) {
            char seen[96];
            snprintf(seen, sizeof(seen), "%u changes", st->changes[slot]);
            add_failure(e, x, end_ms, slot == ALFA_SCN_MAX_PACKS ? -1 : (int)slot, seen);
            st->failed = 1;
        }
    }
}

void alfa_scn_engine_finish(alfa_scn_engine_t *e, int64_t end_ms)
{
    for (size_t k = 0; k < e->s->expect_count; k++) {
        const alfa_scn_expect_t *x = &e->s->expects[k];
        alfa_scn_exp_state_t *st = &e->st[k];
        if (st->done) {
            continue;
        }
        if (x->from_ms == x->to_ms || x->from_ms > e->last_obs_ms) {
            st->done = 1;
            e->checked++;
            st->failed = 1;
            add_failure(e, x, end_ms, -1, "the run ended before this time");
            continue;
        }
        finish_one(e, k, end_ms);
    }
}

void alfa_scn_engine_stop_at(alfa_scn_engine_t *e, int64_t now_ms)
{
    for (size_t k = 0; k < e->s->expect_count; k++) {
        if (e->s->expects[k].from_ms > now_ms) {
            e->st[k].done = 1;
        }
    }
}

size_t alfa_scn_engine_failure_count(const alfa_scn_engine_t *e) { return e->failure_count; }

void alfa_scn_format_time(const alfa_scn_t *s, int64_t ms, char *buf, size_t len)
{
    int64_t local = ms + s->start_tod_ms;
    int64_t day = local / ALFA_SCN_DAY_MS + 1;
    int64_t tod = local % ALFA_SCN_DAY_MS;
    snprintf(buf, len, "day%" PRId64 " %02d:%02d:%02d.%03d", day, (int)(tod / 3600000),
             (int)(tod / 60000 % 60), (int)(tod / 1000 % 60), (int)(tod % 1000));
}

void alfa_scn_engine_report(const alfa_scn_engine_t *e, FILE *f)
{
    for (size_t i = 0; i < e->failure_count; i++) {
        const alfa_scn_failure_t *x = &e->failures[i];
        char t[40];
        alfa_scn_format_time(e->s, x->at_ms, t, sizeof(t));
        fprintf(f, "FAILED %s %s:%u: expected '%s', saw %s\n", t, e->s->file, x->line, x->what,
                x->seen);
    }
}
