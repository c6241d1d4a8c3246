/* The pack core: the 2-s cycle tying measurements, daily grid limit, faults, relay decisions, indicators and watchdog together. */
#include "alfa/core.h"
#include "alfa/bytes.h"
#include "alfa/dayfig.h"

#define RELAYS_ALL ((uint8_t)((1u << ALFA_RELAY_COUNT) - 1u))
/* Boot state (SPEC.md §6.3): every relay closed, as with no mode: the home stays fed and the
 * inverter may charge until the first BMS reading tells us the battery's state. */
#define BOOT_CLOSED RELAYS_ALL

static bool due(uint32_t now_ms, uint32_t at_ms) { return (int32_t)(now_ms - at_ms) >= 0; }

static uint32_t now_of(const alfa_core_t *c) { return c->port->now_ms(c->port->user); }

/* Give the port the relays `closed` (the decision's mask) as energised coils. */
static void push_relays(alfa_core_t *c, uint8_t closed, bool force)
{
    uint8_t energised = (uint8_t)((closed ^ (uint8_t)c->settings.relay_polarity) & RELAYS_ALL);
    if (force || !c->relays_pushed_valid || energised != c->relays_pushed) {
        c->port->relays_set(c->port->user, energised);
        c->relays_pushed = energised;
        c->relays_pushed_valid = 1;
    }
}

uint16_t alfa_core_warnings(const alfa_core_t *c)
{
    uint16_t w = c->ext_warnings;
    if (alfa_ctrl_eco_warning(&c->ctrl) && c->settings.mode == ALFA_MODE_ECO) {
        w |= 1u << ALFA_WARN_LOADS_LIMIT;
    }
    if (c->grid_limit_latched) {
        w |= 1u << ALFA_WARN_GRID_LIMIT_REACHED;
    }
    if (c->bms_warnings || c->bms_degraded) {
        w |= 1u << ALFA_WARN_BMS_DEGRADED;
    }
    if (c->import_recovering == 1u) { /* once answered, the counter holds the whole figure */
        w |= 1u << ALFA_WARN_IMPORT_RECOVERING;
    }
    return w;
}

static void refresh_indicators(alfa_core_t *c, uint32_t now)
{
    const alfa_port_t *p = c->port;
    alfa_ind_input_t in = {
        .t_ms = now - c->boot_ms,
        .soc_valid = c->bms_valid != 0u,
        .soc_pct = c->soc_pct,
        .charging = c->p_batt_w > ALFA_IND_CHARGING_MIN_W,
        .pixel_count = (uint8_t)c->settings.pixel_count,
        .is_master = c->is_master != 0u,
        .warning = alfa_core_warning_any(c),
        .critical = alfa_fault_critical(&c->faults),
        .fw_update = c->fw_update != 0u,
        .identify = c->identify != 0u,
    };
    alfa_ind_frame_t f;
    alfa_ind_compute(&in, &f);
    if (p->pixels_set != NULL &&
        (!(c->ind_pushed & 1u) || f.px_count != c->ind.px_count ||
         alfa_memcmp(f.px, c->ind.px, sizeof f.px) != 0)) {
        p->pixels_set(p->user, f.px, f.px_count);
        c->ind_pushed |= 1u;
    }
    if (p->segments_set != NULL &&
        (!(c->ind_pushed & 2u) || alfa_memcmp(f.seg, c->ind.seg, sizeof f.seg) != 0)) {
        p->segments_set(p->user, f.seg);
        c->ind_pushed |= 2u;
    }
    if (!(c->ind_pushed & 4u) || f.leds != c->ind.leds) {
        p->status_leds_set(p->user, f.leds);
        c->ind_pushed |= 4u;
    }
    c->ind = f;
    uint32_t t = now - c->boot_ms;
    c->ind_next_ms = c->boot_ms + (t / ALFA_IND_SWEEP_STEP_MS + 1u) * ALFA_IND_SWEEP_STEP_MS;
}

/* Decide the relays from the current state, push them, and show the result. */
static void decide(alfa_core_t *c, uint32_t now, bool cycle)
{
    int64_t local_s = alfa_time_local_s(&c->clock, now);
    alfa_ctrl_input_t in = {
        .s = &c->settings,
        .now_ms = now,
        .cycle = cycle,
        .modes_enabled = c->bms_valid != 0u,
        .soc_pct = c->soc_pct,
        .p_home_w = c->p_home_w,
        .p_pool_w = c->p_pool_w,
        .p_heater_w = c->p_heater_w,
        .time_valid = alfa_time_valid(&c->clock),
        .minute_of_day = alfa_time_valid(&c->clock) ? alfa_time_minute_of_day(local_s) : 0,
        .grid_limit_reached = c->grid_limit_latched != 0u,
        .fault_action = alfa_fault_grid_action(&c->faults),
    };
    push_relays(c, alfa_ctrl_decide(&c->ctrl, &in), cycle);
    refresh_indicators(c, now);
}

/* A new site day began: every "today" figure starts again, and the limit with them. */
static void daily_reset(alfa_core_t *c)
{
    alfa_energy_t z = {0};
    c->e_grid = z;
    c->e_solar = z;
    c->e_charge = z;
    c->e_discharge = z;
    c->grid_limit_latched = 0;
    c->site_limit_reached = 0;
    c->site_import_wh = 0;
    c->import_recovering = 0; /* the boot was on an earlier day: this day's count is whole */
    c->import_base_wh = 0;
}

/* Apply the fault debounces now. alfa_fault_process returns only whether the active set changed
 * (not an error): every caller decides the relays and indicators afresh right after anyway. */
static void debounce_faults(alfa_core_t *c, uint32_t now)
{
    (void)alfa_fault_process(&c->faults, now);
}

static void check_day(alfa_core_t *c, uint32_t now)
{
    if (alfa_siteday_tick(&c->day, alfa_time_valid(&c->clock), alfa_time_local_s(&c->clock, now), now)) {
        daily_reset(c);
    }
}

static void check_grid_limit(alfa_core_t *c)
{
    if (!c->settings.grid_limit_on) {
        c->grid_limit_latched = 0;
        c->site_limit_reached = 0;
        return;
    }
    if (alfa_energy_wh(&c->e_grid) >= (uint32_t)c->settings.grid_limit_kwh * 1000u || c->site_limit_reached) {
        c->grid_limit_latched = 1;
    }
}

static void measure(alfa_core_t *c)
{
    const alfa_port_t *p = c->port;
    uint8_t bad = 0;
    for (uint8_t ch = 0; ch < ALFA_CT_COUNT; ch++) {
        if (p->adc_block == NULL) {
            break;
        }
        uint16_t n = 0, rate = 0;
        const uint16_t *blk = p->adc_block(p->user, ch, &n, &rate);
        if (blk == NULL) {
            continue; /* no new block: keep the last value */
        }
        bool out = false;
        int32_t i = alfa_meas_ct_rms_ma(blk, n, rate, c->settings.mains_hz,
                                        c->settings.ct[ch].gain_ua, c->settings.ct[ch].offset_ma,
                                        &out);
        if (i < 0) {
            out = true; /* a block shorter than one mains cycle is a broken channel */
        } else {
            c->i_ma[ch] = i;
        }
        if (out) {
            bad |= (uint8_t)(1u << ch);
        }
    }
    c->ct_bad = bad;
    int32_t v = c->settings.nominal_v;
    c->p_grid_w = alfa_meas_power_w(c->i_ma[ALFA_CT_GRID], v);
    c->p_home_w = alfa_meas_power_w(c->i_ma[ALFA_CT_INVERTER], v);
    c->p_pool_w = alfa_meas_power_w(c->i_ma[ALFA_CT_POOL], v);
    c->p_heater_w = alfa_meas_power_w(c->i_ma[ALFA_CT_HEATER], v);
    c->p_solar_w = alfa_meas_solar_w(c->p_home_w, c->p_batt_w, c->p_grid_w);
}

static void run_cycle(alfa_core_t *c, uint32_t now)
{
    uint32_t dt = now - c->last_energy_ms;
    if (dt > ALFA_CORE_MAX_STEP_MS) {
        dt = ALFA_CORE_MAX_STEP_MS;
    }
    c->last_energy_ms = now;
    measure(c);
    /* The energy belongs to the day it was measured in: integrate, then turn the day. */
    if (c->ran) {
        alfa_energy_add(&c->e_grid, c->p_grid_w, dt);
        alfa_energy_add(&c->e_solar, c->p_solar_w, dt);
        alfa_energy_add(&c->e_charge, c->p_batt_w, dt);
        alfa_energy_add(&c->e_discharge, -c->p_batt_w, dt);
    }
    check_day(c, now);
    if (c->import_recovering == 2u) {
        c->import_recovering = 0; /* the telemetry of this cycle carries the whole figure */
    }
    check_grid_limit(c);
    alfa_fault_input(&c->faults, ALFA_FAULT_CT_RANGE, c->ct_bad != 0u, now);
    alfa_fault_input(&c->faults, ALFA_FAULT_TIME_NOT_SET, !alfa_time_valid(&c->clock), now);
    debounce_faults(c, now);
    decide(c, now, true);
    c->ran = 1;
    c->cycle++;
    /* Only a completed cycle feeds the watchdog (SPEC.md §12). */
    if (c->port->watchdog_feed != NULL) {
        c->port->watchdog_feed(c->port->user);
    }
}

alfa_err_t alfa_core_init(alfa_core_t *c, const alfa_port_t *port, const alfa_core_config_t *cfg)
{
    if (c == NULL || port == NULL || cfg == NULL || port->now_ms == NULL ||
        port->relays_set == NULL || port->status_leds_set == NULL ||
        cfg->serial > 0xFFFFFFFFFFFFull) {
        return ALFA_E_INVAL;
    }
    if (cfg->settings != NULL && alfa_settings_validate(cfg->settings, NULL, NULL) != 0) {
        return ALFA_E_RANGE;
    }
    alfa_memset(c, 0, sizeof *c);
    c->port = port;
    c->serial = cfg->serial;
    c->fw_version = (alfa_fw_version_t){ALFA_FW_VERSION_MAJOR, ALFA_FW_VERSION_MINOR, ALFA_FW_VERSION_PATCH};
    if (cfg->settings != NULL) {
        c->settings = *cfg->settings;
    } else {
        alfa_settings_defaults(&c->settings);
    }
    uint32_t now = now_of(c);
    c->boot_ms = now;
    c->next_cycle_ms = now;
    c->last_energy_ms = now;
    alfa_siteday_init(&c->day, now);
    c->import_recovering = 1; /* RAM only (SPEC.md §5.5): what came before this boot is elsewhere */
    alfa_soc_filter_init(&c->soc_filter);
    alfa_time_init(&c->clock);
    alfa_fault_init(&c->faults);
    alfa_fault_input(&c->faults, ALFA_FAULT_TIME_NOT_SET, true, now);
    alfa_fault_input(&c->faults, ALFA_FAULT_SETTINGS_CORRUPT, cfg->settings_corrupt, now);
    debounce_faults(c, now);
    alfa_ctrl_init(&c->ctrl, BOOT_CLOSED);
    push_relays(c, alfa_ctrl_closed(&c->ctrl), true);
    refresh_indicators(c, now);
    return ALFA_OK;
}

void alfa_core_process(alfa_core_t *c)
{
    uint32_t now = now_of(c);
    alfa_time_tick(&c->clock, now);
    if (c->identify && due(now, c->identify_until_ms)) {
        c->identify = 0;
        refresh_indicators(c, now);
    }
    if (due(now, c->next_cycle_ms)) {
        run_cycle(c, now);
        c->next_cycle_ms += ALFA_CORE_CYCLE_MS;
        if (due(now, c->next_cycle_ms)) {
            c->next_cycle_ms = now + ALFA_CORE_CYCLE_MS; /* late: do not run a burst of cycles */
        }
    } else if (due(now, c->ind_next_ms)) {
        refresh_indicators(c, now);
    }
}

/* One BMS event whose values, if `flags` has ALFA_CORE_BMS_VALUES, are plausible. */
static void bms_apply(alfa_core_t *c, const alfa_core_bms_in_t *in, uint8_t flags)
{
    const alfa_bms_reading_t *r = &in->reading;
    uint32_t now = now_of(c);
    if (flags & ALFA_CORE_BMS_VALUES) {
        uint32_t v_filt = alfa_soc_filter_add(&c->soc_filter, r->v_pack_mv);
        if ((r->present & ALFA_BMS_HAS_SOC) && r->soc_pct <= 100u) {
            c->soc_pct = r->soc_pct; /* the profile trusts the BMS's own SOC */
        } else {
            c->soc_pct = alfa_meas_soc_pct(v_filt, c->settings.cell_count);
        }
        c->v_pack_mv = r->v_pack_mv;
        c->i_batt_ma = r->i_batt_ma;
        c->p_batt_w = alfa_meas_batt_power_w(r->v_pack_mv, r->i_batt_ma);
        c->bms_valid = 1;
        c->batt_known = 1;
    }
    if (flags & ALFA_CORE_BMS_ALARMS) {
        for (uint32_t b = 0; b < 8u; b++) {
            alfa_fault_input(&c->faults, ALFA_FAULT_CELL_OV + b, (r->alarms >> b) & 1u, now);
        }
        c->bms_warnings = r->warnings;
    }
    bool lost = (flags & ALFA_CORE_BMS_COMM_LOST) != 0u;
    if (lost) {
        /* Battery unknown: nothing may be integrated or shown from a stale figure. */
        c->batt_known = 0;
        c->p_batt_w = 0;
        c->v_pack_mv = 0;
        c->i_batt_ma = 0;
    }
    c->bms_degraded = (flags & ALFA_CORE_BMS_DEGRADED) != 0u;
    alfa_fault_input(&c->faults, ALFA_FAULT_BMS_COMM_LOST, lost, now);
    debounce_faults(c, now);
    decide(c, now, false);
}

alfa_err_t alfa_core_bms_input(alfa_core_t *c, const alfa_core_bms_in_t *in)
{
    if (c == NULL || in == NULL) {
        return ALFA_E_INVAL;
    }
    const alfa_bms_reading_t *r = &in->reading;
    if ((in->flags & ALFA_CORE_BMS_VALUES) && (r->v_pack_mv == 0u || r->v_pack_mv > ALFA_V_PACK_MAX_MV)) {
        return ALFA_E_RANGE;
    }
    bms_apply(c, in, in->flags);
    return ALFA_OK;
}

void alfa_core_bms_status(alfa_core_t *c, const alfa_core_bms_in_t *in)
{
    bms_apply(c, in, (uint8_t)(in->flags & ~ALFA_CORE_BMS_VALUES));
}

alfa_err_t alfa_core_set_time(alfa_core_t *c, int64_t unix_s, int16_t utc_offset_min)
{
    uint32_t now = now_of(c);
    int rc = alfa_time_set(&c->clock, unix_s, utc_offset_min, now);
    if (rc < 0) {
        return (alfa_err_t)rc;
    }
    alfa_fault_input(&c->faults, ALFA_FAULT_TIME_NOT_SET, false, now);
    debounce_faults(c, now);
    check_day(c, now); /* a time that crosses 05:00 turns the day now, not at the next cycle */
    decide(c, now, false);
    return ALFA_OK;
}

bool alfa_core_time_valid(const alfa_core_t *c) { return alfa_time_valid(&c->clock); }

/* A fault condition from outside: `bit` is one of the constants below, a row of the table. */
static void outside_fault(alfa_core_t *c, uint32_t bit, bool condition)
{
    uint32_t now = now_of(c);
    alfa_fault_input(&c->faults, bit, condition, now);
    debounce_faults(c, now);
    decide(c, now, false);
}

void alfa_core_can_bus_off(alfa_core_t *c, bool bus_off) { outside_fault(c, ALFA_FAULT_CAN_BUS_OFF, bus_off); }

void alfa_core_settings_corrupt(alfa_core_t *c, bool corrupt)
{
    outside_fault(c, ALFA_FAULT_SETTINGS_CORRUPT, corrupt);
}

void alfa_core_node_id_conflict(alfa_core_t *c, bool active)
{
    uint16_t m = (uint16_t)(1u << ALFA_WARN_NODE_ID_CONFLICT);
    c->ext_warnings = active ? (uint16_t)(c->ext_warnings | m) : (uint16_t)(c->ext_warnings & ~m);
    refresh_indicators(c, now_of(c));
}

/* The one commit of every settings change (core.h): `next` has been validated. The side effects
 * follow from what differs, so the same change has the same effects whichever path made it. */
static void settings_commit(alfa_core_t *c, alfa_settings_t *next)
{
    const alfa_settings_t *old = &c->settings;
    if (next->mode != old->mode) {
        /* Manual overrides last until set back to auto or the mode changes (SPEC.md §6.3); one
         * set in the same change as the mode is the user's newest wish and stays. */
        for (uint32_t r = 0; r < ALFA_RELAY_COUNT; r++) {
            if (next->override[r] == old->override[r]) {
                next->override[r] = ALFA_OVR_AUTO;
            }
        }
    }
    if (next->grid_limit_kwh != old->grid_limit_kwh || (next->grid_limit_on && !old->grid_limit_on)) {
        /* A new limit is judged afresh, at once, against this pack's import and the site's as
         * the master last said it: raised above both, the grid comes back; still under, the latch
         * holds (no release for the second until the master's next word). */
        c->grid_limit_latched = 0;
        c->site_limit_reached = c->site_import_wh >= (uint32_t)next->grid_limit_kwh * 1000u ? 1u : 0u;
    }
    c->settings = *next;
    c->settings_gen++;
    check_grid_limit(c);
    decide(c, now_of(c), false);
}

static alfa_err_t settings_validated_commit(alfa_core_t *c, alfa_settings_t *next, const char **reason)
{
    if (alfa_settings_validate(next, reason, NULL) < 0) {
        return ALFA_E_RANGE;
    }
    settings_commit(c, next);
    return ALFA_OK;
}

alfa_err_t alfa_core_setting_set(alfa_core_t *c, uint32_t id, int32_t value, const char **reason)
{
    uint16_t id16 = id > 0xFFFFu ? (uint16_t)0xFFFFu : (uint16_t)id;
    return alfa_core_settings_change(c, &id16, &value, 1u, reason);
}

alfa_err_t alfa_core_settings_change(alfa_core_t *c, const uint16_t *ids, const int32_t *values, uint32_t n,
                                     const char **reason)
{
    if (c == NULL || ids == NULL || values == NULL || n == 0u) {
        return ALFA_E_INVAL;
    }
    alfa_settings_t next = c->settings;
    for (uint32_t i = 0; i < n; i++) {
        /* Each value against its own range here; the cross-field rules on the whole below. */
        int rc = alfa_settings_put(&next, ids[i], values[i], reason);
        if (rc == ALFA_PROTO_E_INVAL) {
            return ALFA_E_NOENT;
        }
        if (rc < 0) {
            return ALFA_E_RANGE;
        }
    }
    return settings_validated_commit(c, &next, reason);
}

alfa_err_t alfa_core_setting_get(const alfa_core_t *c, uint32_t id, int32_t *value)
{
    return alfa_settings_get(&c->settings, id, value) < 0 ? ALFA_E_NOENT : ALFA_OK;
}

const alfa_settings_t *alfa_core_settings(const alfa_core_t *c) { return &c->settings; }

uint32_t alfa_core_settings_generation(const alfa_core_t *c) { return c->settings_gen; }

alfa_err_t alfa_core_settings_load(alfa_core_t *c, const alfa_settings_t *s, const char **reason)
{
    if (s == NULL) {
        return ALFA_E_INVAL;
    }
    alfa_settings_t next = *s;
    return settings_validated_commit(c, &next, reason);
}

void alfa_core_factory_reset(alfa_core_t *c)
{
    alfa_settings_t next;
    alfa_settings_defaults(&next);
    next.node_id = c->settings.node_id;
    settings_commit(c, &next); /* the defaults are valid by construction (settings tests) */
}

alfa_err_t alfa_core_set_mode(alfa_core_t *c, uint32_t mode, bool on)
{
    if (mode >= ALFA_MODE_COUNT) {
        return ALFA_E_RANGE;
    }
    if (on) {
        return alfa_core_setting_set(c, ALFA_SET_MODE, (int32_t)mode, NULL);
    }
    if ((uint32_t)c->settings.mode != mode) {
        return ALFA_OK;
    }
    return alfa_core_setting_set(c, ALFA_SET_MODE, ALFA_MODE_NONE, NULL);
}

void alfa_core_set_master(alfa_core_t *c, bool is_master)
{
    c->is_master = is_master;
    refresh_indicators(c, now_of(c));
}

uint16_t alfa_core_day(const alfa_core_t *c) { return alfa_siteday_day(&c->day); }

void alfa_core_follow_day(alfa_core_t *c, uint16_t day)
{
    if (alfa_siteday_follow(&c->day, day, now_of(c))) {
        daily_reset(c);
        decide(c, now_of(c), false);
    }
}

void alfa_core_site_grid_limit(alfa_core_t *c, uint32_t site_import_wh, bool reached, uint16_t day)
{
    if (day != alfa_siteday_day(&c->day)) {
        return;
    }
    if (site_import_wh > c->site_import_wh) {
        c->site_import_wh = site_import_wh;
    }
    if (!reached || !c->settings.grid_limit_on) {
        return;
    }
    c->site_limit_reached = 1;
    check_grid_limit(c);
    decide(c, now_of(c), false);
}

uint32_t alfa_core_grid_import_today_wh(const alfa_core_t *c) { return alfa_energy_wh(&c->e_grid); }

void alfa_core_restore_grid_import(alfa_core_t *c, uint32_t wh, uint16_t day)
{
    if (day != alfa_siteday_day(&c->day)) {
        return;
    }
    alfa_dayfig_t f = {.wh = alfa_energy_wh(&c->e_grid), .base_wh = c->import_base_wh,
                       .recovering = c->import_recovering != 0u};
    if (c->import_recovering == 1u) {
        c->import_recovering = 2;
    }
    if (!alfa_dayfig_merge(&f, wh)) {
        return;
    }
    alfa_energy_set_wh(&c->e_grid, f.wh);
    c->import_base_wh = f.base_wh;
    check_grid_limit(c);
    decide(c, now_of(c), false);
}

bool alfa_core_wall_time(const alfa_core_t *c, int64_t *unix_s, int16_t *utc_offset_min)
{
    if (!alfa_time_valid(&c->clock)) {
        return false;
    }
    int64_t local_s = alfa_time_local_s(&c->clock, now_of(c));
    if (unix_s != NULL) {
        *unix_s = local_s - (int64_t)alfa_time_utc_offset_min(&c->clock) * 60;
    }
    if (utc_offset_min != NULL) {
        *utc_offset_min = alfa_time_utc_offset_min(&c->clock);
    }
    return true;
}

bool alfa_core_critical(const alfa_core_t *c) { return alfa_fault_critical(&c->faults); }

bool alfa_core_warning_any(const alfa_core_t *c)
{
    return (alfa_core_warnings(c) & ALFA_WARN_SHOWN_MASK) != 0u || alfa_fault_warning(&c->faults);
}

bool alfa_core_fw_update(const alfa_core_t *c) { return c->fw_update != 0u; }

void alfa_core_identify(alfa_core_t *c, uint16_t seconds)
{
    uint32_t now = now_of(c);
    c->identify = seconds > 0u;
    c->identify_until_ms = now + (uint32_t)seconds * 1000u;
    refresh_indicators(c, now);
}

bool alfa_core_identifying(const alfa_core_t *c) { return c->identify != 0u; }

alfa_err_t alfa_core_set_fw_version(alfa_core_t *c, alfa_fw_version_t v)
{
    if (v.major > 0x1Fu || v.minor > 0x3Fu || v.patch > 0x1Fu) {
        return ALFA_E_RANGE;
    }
    c->fw_version = v;
    return ALFA_OK;
}

alfa_fw_version_t alfa_core_fw_version(const alfa_core_t *c) { return c->fw_version; }

void alfa_core_set_fw_update(alfa_core_t *c, bool in_progress)
{
    c->fw_update = in_progress;
    refresh_indicators(c, now_of(c));
}

const alfa_ind_frame_t *alfa_core_indicators(const alfa_core_t *c) { return &c->ind; }

void alfa_core_telemetry(const alfa_core_t *c, alfa_telemetry_t *out)
{
    alfa_memset(out, 0, sizeof *out);
    out->cycle = c->cycle;
    out->p_grid_w = c->p_grid_w;
    out->p_home_w = c->p_home_w;
    out->p_pool_w = c->p_pool_w;
    out->p_heater_w = c->p_heater_w;
    out->p_batt_w = c->p_batt_w;
    out->p_solar_w = c->p_solar_w;
    out->v_pack_mv = c->batt_known ? c->v_pack_mv : 0u;
    out->i_batt_ma = c->batt_known ? c->i_batt_ma : 0;
    out->soc_pct = c->soc_pct;
    out->relays_closed = alfa_ctrl_closed(&c->ctrl);
    out->mode = (uint8_t)c->settings.mode;
    out->is_master = c->is_master;
    out->faults = alfa_fault_active(&c->faults);
    out->warnings = alfa_core_warnings(c);
    out->day = alfa_siteday_day(&c->day);
    out->grid_import_today_wh = alfa_energy_wh(&c->e_grid);
    out->solar_today_wh = alfa_energy_wh(&c->e_solar);
    out->batt_charge_today_wh = alfa_energy_wh(&c->e_charge);
    out->batt_discharge_today_wh = alfa_energy_wh(&c->e_discharge);
}

uint8_t alfa_core_relays_closed(const alfa_core_t *c) { return alfa_ctrl_closed(&c->ctrl); }

alfa_why_t alfa_core_relay_why(const alfa_core_t *c, uint32_t relay)
{
    return relay < ALFA_RELAY_COUNT ? alfa_ctrl_why(&c->ctrl, relay) : ALFA_WHY_DEFAULT;
}

uint32_t alfa_core_faults(const alfa_core_t *c) { return alfa_fault_active(&c->faults); }

uint64_t alfa_core_serial(const alfa_core_t *c) { return c->serial; }

uint32_t alfa_core_cycles(const alfa_core_t *c) { return c->cycle; }
