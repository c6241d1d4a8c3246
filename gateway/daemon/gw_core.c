/* The gateway's logic without I/O: CAN frames and MQTT messages in, MQTT publishes and CAN frames out. */
#include "alfa/gw_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alfa/gw_json.h"

#define STATE_JSON_MAX 1024u
#define DISCOVERY_JSON_MAX 1536u
#define RESULT_JSON_MAX 2048u

void gw_cfg_defaults(gw_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->site, sizeof cfg->site, "home");
    snprintf(cfg->ha_prefix, sizeof cfg->ha_prefix, "homeassistant");
    cfg->ha_enabled = 1;
    cfg->offline_ms = 3000;
    cfg->cmd_timeout_ms = 1000;
    cfg->time_period_ms = 60000;
    cfg->time_require_sync = 1;
    cfg->rate_client_per_min = 60;
    cfg->rate_client_burst = 10;
    cfg->rate_site_per_min = 600;
    cfg->rate_site_burst = 40;
    for (unsigned k = 0; k < sizeof cfg->sockets / sizeof cfg->sockets[0]; k++) {
        cfg->sockets[k].on_surplus_w = 1500;
        cfg->sockets[k].off_surplus_w = 0;
        cfg->sockets[k].min_switch_s = 60;
    }
}

static void logf_(gw_core_t *gw, int level, const char *fmt, ...)
{
    if (gw->io.log == NULL) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gw->io.log(gw->io.user, level, msg);
}

int gw_topic(const gw_core_t *gw, char *out, size_t cap, const char *suffix)
{
    int n = snprintf(out, cap, "alfaspark/%s/%s", gw->cfg.site, suffix);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static void publish(gw_core_t *gw, const char *topic, const char *payload, size_t len, int retain)
{
    if (!gw->connected) return;
    if (gw->io.publish(gw->io.user, topic, payload, len, retain) < 0) gw->stats.publish_errors++;
}

static void publish_str(gw_core_t *gw, const char *suffix, const char *payload, int retain)
{
    char topic[160];
    if (gw_topic(gw, topic, sizeof topic, suffix) < 0) return;
    publish(gw, topic, payload, strlen(payload), retain);
}

/* A "today" counter as published (HA's total_increasing must never dip within a day): the
 * highest figure of the reporter's own site day. The day comes with the figure (telemetry, site
 * totals); a later day starts again, an earlier one is stale and never taken. A pack that has
 * just rebooted reports no day (ALFA_DAY_NONE) until it learns the time: what was published for
 * its day stands meanwhile. Only on a site that never had any time is a figure without day
 * published as it comes (nothing can tell a reboot from a reset then). With `grid` (a pack's
 * counters), counter 0 is its grid import, kept by alfa/dayfig.h: `recovering` is its flag. */
static void energy_day(int *valid, uint16_t *day, uint32_t *max, uint32_t *v, unsigned n, uint16_t vday,
                       alfa_dayfig_t *grid, bool recovering)
{
    if (vday == ALFA_DAY_NONE && !*valid) {
        return; /* as it comes */
    }
    if (vday != ALFA_DAY_NONE && (!*valid || vday > *day)) {
        *valid = 1;
        *day = vday;
        for (unsigned k = 0; k < n; k++) max[k] = 0;
        if (grid != NULL) memset(grid, 0, sizeof *grid);
    }
    for (unsigned k = 0; k < n; k++) {
        if (vday == *day) {
            if (k == 0 && grid != NULL) {
                alfa_dayfig_report(grid, v[0], recovering);
                max[0] = grid->wh; /* never lower within the day */
            } else if (v[k] > max[k]) {
                max[k] = v[k];
            }
        }
        v[k] = max[k];
    }
}

/* ---------------------------------------------------------------- pack table */

const gw_pack_t *gw_core_pack(const gw_core_t *gw, uint64_t serial)
{
    for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
        if (gw->packs[k].used && gw->packs[k].serial == serial) return &gw->packs[k];
    }
    return NULL;
}

static int pack_index(const gw_core_t *gw, uint64_t serial)
{
    const gw_pack_t *p = gw_core_pack(gw, serial);
    return p ? (int)(p - gw->packs) : -1;
}

static gw_pack_t *pack_of_node(gw_core_t *gw, uint8_t node)
{
    if (node > ALFA_NODE_MAX || gw->node_pack[node] < 0) return NULL;
    return &gw->packs[gw->node_pack[node]];
}

void gw_core_init(gw_core_t *gw, const gw_cfg_t *cfg, const gw_io_t *io, const gw_now_t *now)
{
    memset(gw, 0, sizeof *gw);
    gw->cfg = *cfg;
    gw->io = *io;
    for (unsigned k = 0; k <= ALFA_NODE_MAX; k++) {
        gw->node_pack[k] = -1;
        alfa_telem_rx_reset(&gw->telem_rx[k]);
    }
    alfa_site_rx_reset(&gw->site_rx);
    gw->next_seq = (uint8_t)(now->ms ^ (now->ms >> 8)); /* a restarted gateway does not repeat seqs */
    gw->site_bucket.used = 1;
    gw->site_bucket.milli_tokens = cfg->rate_site_burst * 1000u;
    gw->site_bucket.last_ms = now->ms;
    gw->time_state = -1;
    gw_clock_init(&gw->clock, 3u * cfg->time_period_ms);
}

void gw_core_set_record(gw_core_t *gw, gw_record_fn fn, void *user)
{
    gw->record = fn;
    gw->record_user = user;
}

/* The packs' time now (gw_clock.h): ts_s of everything published about them. */
static int64_t packs_time(gw_core_t *gw, const gw_now_t *now)
{
    return gw_clock_now(&gw->clock, now->ms, now->unix_s, now->utc_offset_min, &gw->packs_offset_min);
}

int16_t gw_core_utc_offset(const gw_core_t *gw) { return gw->packs_offset_min; }

/* ---------------------------------------------------------------- JSON builders */

int gw_pack_state_json(const gw_core_t *gw, const gw_pack_t *p, char *out, size_t cap)
{
    const alfa_telemetry_t *t = &p->telem;
    char fw[16];
    gw_jw_t w;
    gw_jw_init(&w, out, cap);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "serial"); gw_jw_str(&w, p->hex);
    gw_jw_key(&w, "node_id"); gw_jw_int(&w, p->node_id);
    snprintf(fw, sizeof fw, "%u.%u.%u", p->fw_major, p->fw_minor, p->fw_patch);
    gw_jw_key(&w, "fw_version"); gw_jw_str(&w, fw);
    gw_jw_key(&w, "master"); gw_jw_bool(&w, t->is_master);
    gw_jw_key(&w, "cycle"); gw_jw_int(&w, t->cycle);
    gw_jw_key(&w, "ts_s"); gw_jw_int(&w, p->telem_unix_s);
    gw_jw_key(&w, "day"); gw_jw_int(&w, t->day);
    gw_jw_key(&w, "utc_offset_min"); gw_jw_int(&w, gw->packs_offset_min);
    gw_jw_key(&w, "p_grid_w"); gw_jw_int(&w, t->p_grid_w);
    gw_jw_key(&w, "p_home_w"); gw_jw_int(&w, t->p_home_w);
    gw_jw_key(&w, "p_pool_w"); gw_jw_int(&w, t->p_pool_w);
    gw_jw_key(&w, "p_heater_w"); gw_jw_int(&w, t->p_heater_w);
    /* A pack whose BMS is lost reports the battery as unknown (v_pack_mv 0): null, not 0 W. */
    int batt = t->v_pack_mv != 0;
    gw_jw_key(&w, "p_batt_w");
    if (batt) gw_jw_int(&w, t->p_batt_w);
    else gw_jw_null(&w);
    gw_jw_key(&w, "p_solar_w"); gw_jw_int(&w, t->p_solar_w);
    gw_jw_key(&w, "v_pack_mv");
    if (batt) gw_jw_int(&w, t->v_pack_mv);
    else gw_jw_null(&w);
    gw_jw_key(&w, "i_batt_ma");
    if (batt) gw_jw_int(&w, t->i_batt_ma);
    else gw_jw_null(&w);
    gw_jw_key(&w, "soc_pct"); gw_jw_int(&w, t->soc_pct);
    const char *mode = gw_mode_name(t->mode);
    gw_jw_key(&w, "mode"); gw_jw_str(&w, mode ? mode : "unknown");
    static const char *const relay_keys[4] = {"relay_grid_closed", "relay_inverter_closed",
                                              "relay_pool_closed", "relay_heater_closed"};
    for (unsigned r = 0; r < 4u; r++) {
        gw_jw_key(&w, relay_keys[r]);
        gw_jw_bool(&w, (t->relays_closed >> r) & 1u);
    }
    gw_jw_key(&w, "faults");
    gw_jw_arr_begin(&w);
    for (uint32_t b = 0; b < 32u; b++) {
        if (t->faults & (1u << b)) {
            const char *n = gw_fault_name(b);
            if (n) gw_jw_str(&w, n);
            else gw_jw_int(&w, b);
        }
    }
    gw_jw_arr_end(&w);
    gw_jw_key(&w, "warnings");
    gw_jw_arr_begin(&w);
    for (uint32_t b = 0; b < 16u; b++) {
        if (t->warnings & (1u << b)) {
            const char *n = gw_warning_name(b);
            if (n) gw_jw_str(&w, n);
            else gw_jw_int(&w, b);
        }
    }
    gw_jw_arr_end(&w);
    gw_jw_key(&w, "grid_import_today_wh"); gw_jw_int(&w, t->grid_import_today_wh);
    gw_jw_key(&w, "solar_today_wh"); gw_jw_int(&w, t->solar_today_wh);
    gw_jw_key(&w, "batt_charge_today_wh"); gw_jw_int(&w, t->batt_charge_today_wh);
    gw_jw_key(&w, "batt_discharge_today_wh"); gw_jw_int(&w, t->batt_discharge_today_wh);
    gw_jw_obj_end(&w);
    return gw_jw_finish(&w);
}

static void publish_pack_state(gw_core_t *gw, gw_pack_t *p)
{
    char json[STATE_JSON_MAX], suffix[64];
    int n = gw_pack_state_json(gw, p, json, sizeof json);
    if (n < 0) return;
    snprintf(suffix, sizeof suffix, "pack/%s/state", p->hex);
    publish_str(gw, suffix, json, 1);
    gw->stats.states_published++;
}

static void publish_pack_status(gw_core_t *gw, gw_pack_t *p)
{
    char suffix[64];
    snprintf(suffix, sizeof suffix, "pack/%s/status", p->hex);
    publish_str(gw, suffix, p->online ? "online" : "offline", 1);
    p->status_published = 1;
}

static void publish_time_state(gw_core_t *gw, const gw_now_t *now)
{
    char json[128];
    gw_jw_t w;
    gw_jw_init(&w, json, sizeof json);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "synchronized"); gw_jw_bool(&w, now->clock_synced);
    gw_jw_key(&w, "broadcasting"); gw_jw_bool(&w, gw->time_state == 1);
    gw_jw_key(&w, "require_sync"); gw_jw_bool(&w, gw->cfg.time_require_sync);
    gw_jw_obj_end(&w);
    if (gw_jw_finish(&w) >= 0) publish_str(gw, "gateway/time", json, 1);
}

static void publish_site_state(gw_core_t *gw, const gw_now_t *now)
{
    (void)now; /* ts_s is the packs' time of the totals, kept with them */
    char json[STATE_JSON_MAX], master[GW_SERIAL_HEX + 1u];
    const alfa_site_totals_t *s = &gw->site;
    gw_jw_t w;
    gw_serial_hex(s->master_serial, master);
    gw_jw_init(&w, json, sizeof json);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "master"); gw_jw_str(&w, master);
    gw_jw_key(&w, "ts_s"); gw_jw_int(&w, gw->site_unix_s);
    gw_jw_key(&w, "utc_offset_min"); gw_jw_int(&w, gw->packs_offset_min);
    gw_jw_key(&w, "day"); gw_jw_int(&w, s->day);
    gw_jw_key(&w, "packs_online"); gw_jw_int(&w, s->packs_online);
    gw_jw_key(&w, "soc_avg_pct"); gw_jw_int(&w, s->soc_avg_pct);
    gw_jw_key(&w, "p_batt_w"); gw_jw_int(&w, s->p_batt_w);
    gw_jw_key(&w, "p_solar_w"); gw_jw_int(&w, s->p_solar_w);
    gw_jw_key(&w, "p_home_w"); gw_jw_int(&w, s->p_home_w);
    gw_jw_key(&w, "p_grid_w"); gw_jw_int(&w, s->p_grid_w);
    gw_jw_key(&w, "grid_import_today_wh"); gw_jw_int(&w, s->grid_import_today_wh);
    gw_jw_key(&w, "grid_limit_reached"); gw_jw_bool(&w, s->grid_limit_reached);
    gw_jw_obj_end(&w);
    if (gw_jw_finish(&w) >= 0) publish_str(gw, "site/state", json, 1);
}

static void publish_event(gw_core_t *gw, const gw_pack_t *p, const char *type, const char *name, int active,
                          const gw_now_t *now)
{
    char json[256];
    gw_jw_t w;
    gw_jw_init(&w, json, sizeof json);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "pack"); gw_jw_str(&w, p->hex);
    gw_jw_key(&w, "type"); gw_jw_str(&w, type);
    gw_jw_key(&w, "name"); gw_jw_str(&w, name);
    gw_jw_key(&w, "active"); gw_jw_bool(&w, active);
    gw_jw_key(&w, "ts_s"); gw_jw_int(&w, packs_time(gw, now));
    gw_jw_obj_end(&w);
    if (gw_jw_finish(&w) >= 0) publish_str(gw, "event", json, 0);
}

/* ---------------------------------------------------------------- Home Assistant discovery */

typedef struct ha_entity {
    const char *component;  /* sensor, binary_sensor, select */
    const char *key;        /* JSON key in the state (or command name for selects) */
    const char *name;
    const char *unit;
    const char *device_class;
    const char *state_class;
} ha_entity_t;

static const ha_entity_t pack_entities[] = {
    {"sensor", "p_grid_w", "Grid power", "W", "power", "measurement"},
    {"sensor", "p_home_w", "Home power", "W", "power", "measurement"},
    {"sensor", "p_pool_w", "Pool pump power", "W", "power", "measurement"},
    {"sensor", "p_heater_w", "Water heater power", "W", "power", "measurement"},
    {"sensor", "p_batt_w", "Battery power (charging +)", "W", "power", "measurement"},
    {"sensor", "p_solar_w", "Solar power", "W", "power", "measurement"},
    {"sensor", "v_pack_mv", "Pack voltage", "mV", "voltage", "measurement"},
    {"sensor", "i_batt_ma", "Battery current (charging +)", "mA", "current", "measurement"},
    {"sensor", "soc_pct", "State of charge", "%", "battery", "measurement"},
    {"sensor", "grid_import_today_wh", "Grid import today", "Wh", "energy", "total_increasing"},
    {"sensor", "solar_today_wh", "Solar energy today", "Wh", "energy", "total_increasing"},
    {"sensor", "batt_charge_today_wh", "Battery charged today", "Wh", "energy", "total_increasing"},
    {"sensor", "batt_discharge_today_wh", "Battery discharged today", "Wh", "energy", "total_increasing"},
    {"sensor", "mode", "Energy mode", NULL, NULL, NULL},
    {"binary_sensor", "relay_grid_closed", "Grid relay", NULL, "power", NULL},
    {"binary_sensor", "relay_inverter_closed", "Inverter output relay", NULL, "power", NULL},
    {"binary_sensor", "relay_pool_closed", "Pool pump relay", NULL, "power", NULL},
    {"binary_sensor", "relay_heater_closed", "Water heater relay", NULL, "power", NULL},
    {"binary_sensor", "master", "Site master", NULL, NULL, NULL},
    {"select", "set_mode", "Set energy mode", NULL, NULL, NULL},
    {"select", "override_grid", "Grid relay override", NULL, NULL, NULL},
    {"select", "override_inverter", "Inverter relay override", NULL, NULL, NULL},
    {"select", "override_pool", "Pool pump relay override", NULL, NULL, NULL},
    {"select", "override_heater", "Water heater relay override", NULL, NULL, NULL},
};

static const ha_entity_t site_entities[] = {
    {"sensor", "packs_online", "Packs online", NULL, NULL, "measurement"},
    {"sensor", "soc_avg_pct", "Average state of charge", "%", "battery", "measurement"},
    {"sensor", "p_batt_w", "Battery power (charging +)", "W", "power", "measurement"},
    {"sensor", "p_solar_w", "Solar power", "W", "power", "measurement"},
    {"sensor", "p_home_w", "Home power", "W", "power", "measurement"},
    {"sensor", "p_grid_w", "Grid power", "W", "power", "measurement"},
    {"sensor", "grid_import_today_wh", "Grid import today", "Wh", "energy", "total_increasing"},
    {"binary_sensor", "grid_limit_reached", "Daily grid limit reached", NULL, "problem", NULL},
    {"select", "set_mode", "Set energy mode (all packs)", NULL, NULL, NULL},
};

/* One discovery config. `pack` NULL = the site device. */
static void publish_discovery_one(gw_core_t *gw, const gw_pack_t *pack, const ha_entity_t *e)
{
    char json[DISCOVERY_JSON_MAX], topic[192], uid[96], dev_id[80], base[128], t[192];
    const char *site = gw->cfg.site;
    if (pack) {
        snprintf(dev_id, sizeof dev_id, "alfaspark_%s", pack->hex);
        snprintf(base, sizeof base, "alfaspark/%s/pack/%s", site, pack->hex);
    } else {
        snprintf(dev_id, sizeof dev_id, "alfaspark_site_%s", site);
        snprintf(base, sizeof base, "alfaspark/%s", site);
    }
    snprintf(uid, sizeof uid, "%s_%s", dev_id, e->key);
    if (snprintf(topic, sizeof topic, "%s/%s/%s/%s/config", gw->cfg.ha_prefix, e->component, dev_id, e->key) >=
        (int)sizeof topic) {
        return;
    }
    gw_jw_t w;
    gw_jw_init(&w, json, sizeof json);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "name"); gw_jw_str(&w, e->name);
    gw_jw_key(&w, "unique_id"); gw_jw_str(&w, uid);
    gw_jw_key(&w, "object_id"); gw_jw_str(&w, uid);
    int is_select = strcmp(e->component, "select") == 0;
    if (!is_select) {
        char tpl[128];
        snprintf(t, sizeof t, "%s/%s", base, pack ? "state" : "site/state");
        gw_jw_key(&w, "state_topic"); gw_jw_str(&w, t);
        if (strcmp(e->component, "binary_sensor") == 0) {
            snprintf(tpl, sizeof tpl, "{{ 'ON' if value_json.%s else 'OFF' }}", e->key);
        } else {
            snprintf(tpl, sizeof tpl, "{{ value_json.%s }}", e->key);
        }
        gw_jw_key(&w, "value_template"); gw_jw_str(&w, tpl);
    } else if (strcmp(e->key, "set_mode") == 0) {
        snprintf(t, sizeof t, "%s/cmd/set_mode", base);
        gw_jw_key(&w, "command_topic"); gw_jw_str(&w, t);
        gw_jw_key(&w, "command_template");
        gw_jw_str(&w, "{\"mode\":\"{{ value }}\",\"on\":true,\"client\":\"homeassistant\"}");
        gw_jw_key(&w, "options");
        gw_jw_arr_begin(&w);
        for (uint32_t m = 1; m < ALFA_MODE_COUNT; m++) gw_jw_str(&w, gw_mode_name(m));
        gw_jw_arr_end(&w);
        if (pack) {
            snprintf(t, sizeof t, "%s/state", base);
            gw_jw_key(&w, "state_topic"); gw_jw_str(&w, t);
            gw_jw_key(&w, "value_template"); gw_jw_str(&w, "{{ value_json.mode }}");
        }
    } else { /* override_<relay> */
        const char *relay = e->key + strlen("override_");
        char tpl[160];
        snprintf(t, sizeof t, "%s/cmd/set_relay_override", base);
        gw_jw_key(&w, "command_topic"); gw_jw_str(&w, t);
        snprintf(tpl, sizeof tpl, "{\"relay\":\"%s\",\"override\":\"{{ value }}\",\"client\":\"homeassistant\"}", relay);
        gw_jw_key(&w, "command_template"); gw_jw_str(&w, tpl);
        gw_jw_key(&w, "options");
        gw_jw_arr_begin(&w);
        for (uint32_t o = 0; o < 3u; o++) gw_jw_str(&w, gw_override_name(o));
        gw_jw_arr_end(&w);
        gw_jw_key(&w, "optimistic"); gw_jw_bool(&w, 1);
    }
    if (e->unit) { gw_jw_key(&w, "unit_of_measurement"); gw_jw_str(&w, e->unit); }
    if (e->device_class) { gw_jw_key(&w, "device_class"); gw_jw_str(&w, e->device_class); }
    if (e->state_class) { gw_jw_key(&w, "state_class"); gw_jw_str(&w, e->state_class); }
    gw_jw_key(&w, "availability");
    gw_jw_arr_begin(&w);
    gw_jw_obj_begin(&w);
    snprintf(t, sizeof t, "alfaspark/%s/gateway/status", site);
    gw_jw_key(&w, "topic"); gw_jw_str(&w, t);
    gw_jw_obj_end(&w);
    if (pack) {
        gw_jw_obj_begin(&w);
        snprintf(t, sizeof t, "%s/status", base);
        gw_jw_key(&w, "topic"); gw_jw_str(&w, t);
        gw_jw_obj_end(&w);
    }
    gw_jw_arr_end(&w);
    gw_jw_key(&w, "availability_mode"); gw_jw_str(&w, "all");
    gw_jw_key(&w, "device");
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "identifiers");
    gw_jw_arr_begin(&w);
    gw_jw_str(&w, dev_id);
    gw_jw_arr_end(&w);
    gw_jw_key(&w, "manufacturer"); gw_jw_str(&w, "Alfaspark");
    if (pack) {
        char name[64], fw[16], via[80];
        snprintf(name, sizeof name, "Alfaspark pack %s", pack->hex);
        snprintf(fw, sizeof fw, "%u.%u.%u", pack->fw_major, pack->fw_minor, pack->fw_patch);
        snprintf(via, sizeof via, "alfaspark_site_%s", site);
        gw_jw_key(&w, "name"); gw_jw_str(&w, name);
        gw_jw_key(&w, "model"); gw_jw_str(&w, "Energy-Pack");
        gw_jw_key(&w, "sw_version"); gw_jw_str(&w, fw);
        gw_jw_key(&w, "serial_number"); gw_jw_str(&w, pack->hex);
        gw_jw_key(&w, "via_device"); gw_jw_str(&w, via);
    } else {
        char name[80];
        snprintf(name, sizeof name, "Alfaspark site %s", site);
        gw_jw_key(&w, "name"); gw_jw_str(&w, name);
        gw_jw_key(&w, "model"); gw_jw_str(&w, "Alfaspark site");
    }
    gw_jw_obj_end(&w);
    gw_jw_key(&w, "origin");
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "name"); gw_jw_str(&w, "alfaspark-gateway");
    gw_jw_key(&w, "sw_version"); gw_jw_str(&w, "2.5.0");
    gw_jw_obj_end(&w);
    gw_jw_obj_end(&w);
    int n = gw_jw_finish(&w);
    if (n >= 0) publish(gw, topic, json, (size_t)n, 1);
}

static void publish_pack_discovery(gw_core_t *gw, gw_pack_t *p)
{
    if (!gw->cfg.ha_enabled) return;
    for (size_t k = 0; k < sizeof pack_entities / sizeof pack_entities[0]; k++) {
        publish_discovery_one(gw, p, &pack_entities[k]);
    }
    p->discovery_sent = gw->connected;
}

static void publish_all_discovery(gw_core_t *gw)
{
    if (!gw->cfg.ha_enabled) return;
    for (size_t k = 0; k < sizeof site_entities / sizeof site_entities[0]; k++) {
        publish_discovery_one(gw, NULL, &site_entities[k]);
    }
    for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
        if (gw->packs[k].used) publish_pack_discovery(gw, &gw->packs[k]);
    }
}

/* ---------------------------------------------------------------- commands: results */

static void publish_result(gw_core_t *gw, const char *id_json, const char *pack_hex, const char *command,
                           gw_result_t r, const char *detail, const gw_pack_t *settings_of)
{
    char json[RESULT_JSON_MAX];
    gw_jw_t w;
    gw_jw_init(&w, json, sizeof json);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "id"); gw_jw_raw(&w, id_json, strlen(id_json));
    gw_jw_key(&w, "pack"); gw_jw_str(&w, pack_hex);
    gw_jw_key(&w, "command"); gw_jw_str(&w, command);
    gw_jw_key(&w, "result"); gw_jw_str(&w, gw_result_name(r));
    if (detail && detail[0]) { gw_jw_key(&w, "detail"); gw_jw_str(&w, detail); }
    if (settings_of) {
        gw_jw_key(&w, "settings");
        gw_jw_obj_begin(&w);
        for (uint32_t id = 0; id < ALFA_SET_COUNT; id++) {
            const alfa_setting_desc_t *d = alfa_settings_desc(id);
            if (d && (settings_of->rs_have >> id) & 1u) {
                gw_jw_key(&w, d->name);
                gw_jw_int(&w, settings_of->rs_value[id]);
            }
        }
        gw_jw_obj_end(&w);
    }
    gw_jw_obj_end(&w);
    int n = gw_jw_finish(&w);
    if (n < 0) return;
    char topic[160];
    if (gw_topic(gw, topic, sizeof topic, "cmd/result") < 0) return;
    publish(gw, topic, json, (size_t)n, 0);
    gw->stats.results++;
}

static const char *cmd_name(uint8_t code)
{
    const char *n = alfa_cmd_name(code);
    return n ? n : "?";
}

static void pending_finish_pack(gw_core_t *gw, gw_pending_t *pc, unsigned idx, gw_result_t r, int with_settings)
{
    gw_pack_t *p = &gw->packs[idx];
    publish_result(gw, pc->id_json, p->hex, cmd_name(pc->code), r, NULL, with_settings ? p : NULL);
    pc->acked |= 1ull << idx;
    pc->awaiting_settings &= ~(1ull << idx);
    if (with_settings || pc->code == ALFA_CMD_READ_SETTINGS) p->rs_active = 0;
    if ((pc->acked & pc->targets) == pc->targets && pc->awaiting_settings == 0) pc->used = 0;
}

/* ---------------------------------------------------------------- commands: rate limit */

static int bucket_take(gw_bucket_t *b, uint32_t per_min, uint32_t burst, uint32_t now_ms)
{
    uint32_t cap = burst * 1000u;
    uint64_t add = (uint64_t)(uint32_t)(now_ms - b->last_ms) * per_min / 60u; /* milli-tokens */
    b->last_ms = now_ms;
    uint64_t t = (uint64_t)b->milli_tokens + add;
    b->milli_tokens = (uint32_t)(t > cap ? cap : t);
    if (b->milli_tokens < 1000u) return 0;
    b->milli_tokens -= 1000u;
    return 1;
}

static int rate_allow(gw_core_t *gw, const char *client, uint32_t now_ms)
{
    const char *key = client[0] ? client : "anonymous";
    gw_bucket_t *b = NULL, *oldest = &gw->clients[0];
    for (unsigned k = 0; k < GW_MAX_CLIENTS; k++) {
        gw_bucket_t *c = &gw->clients[k];
        if (c->used && strcmp(c->name, key) == 0) { b = c; break; }
        if (!c->used) { oldest = c; continue; }
        if (oldest->used && (int32_t)(c->last_ms - oldest->last_ms) < 0) oldest = c;
    }
    if (b == NULL) { /* a new client, or the least recently seen one's slot */
        b = oldest;
        memset(b, 0, sizeof *b);
        b->used = 1;
        snprintf(b->name, sizeof b->name, "%s", key);
        b->milli_tokens = gw->cfg.rate_client_burst * 1000u;
        b->last_ms = now_ms;
    }
    gw_bucket_t saved = *b;
    if (!bucket_take(b, gw->cfg.rate_client_per_min, gw->cfg.rate_client_burst, now_ms)) return 0;
    if (!bucket_take(&gw->site_bucket, gw->cfg.rate_site_per_min, gw->cfg.rate_site_burst, now_ms)) {
        *b = saved; /* the client is not charged for a site-wide refusal */
        b->last_ms = now_ms;
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- commands: send */

static int seq_in_use(const gw_core_t *gw, uint8_t seq)
{
    for (unsigned k = 0; k < GW_MAX_PENDING; k++) {
        if (gw->pending[k].used && gw->pending[k].seq == seq) return 1;
    }
    return 0;
}

static void handle_command(gw_core_t *gw, const char *topic, size_t tlen, const char *payload, size_t plen,
                           const gw_now_t *now)
{
    gw_cmd_req_t req;
    int rc = gw_cmd_parse(gw->cfg.site, topic, tlen, payload, plen, &req);
    if (rc == GW_CMD_NOT_A_COMMAND) return;
    gw->stats.cmds_received++;
    const char *pack_hex = req.for_pack ? req.serial_hex : "all";
    const char *name = req.name[0] ? req.name : "?";
    if (rc < 0) {
        gw->stats.cmds_refused++;
        logf_(gw, GW_LOG_INFO, "command %s for %s refused: %s (%s)", name, pack_hex, gw_result_name((gw_result_t)-rc),
              req.detail);
        publish_result(gw, req.id_json, pack_hex, name, (gw_result_t)-rc, req.detail, NULL);
        return;
    }
    uint64_t targets = 0;
    uint8_t dst = ALFA_NODE_BROADCAST;
    if (req.for_pack) {
        int idx = pack_index(gw, req.serial);
        if (idx < 0) {
            gw->stats.cmds_refused++;
            publish_result(gw, req.id_json, pack_hex, name, GW_R_UNKNOWN_PACK, "no pack with this serial on the bus",
                           NULL);
            return;
        }
        targets = 1ull << idx;
        dst = gw->packs[idx].node_id;
    } else {
        for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
            if (gw->packs[k].used && gw->packs[k].online) targets |= 1ull << k;
        }
        if (targets == 0) {
            gw->stats.cmds_refused++;
            publish_result(gw, req.id_json, pack_hex, name, GW_R_NO_PACKS, "no pack is online", NULL);
            return;
        }
    }
    if (!rate_allow(gw, req.client, now->ms)) {
        gw->stats.cmds_refused++;
        publish_result(gw, req.id_json, pack_hex, name, GW_R_RATE_LIMITED, "too many commands; try again later", NULL);
        return;
    }
    gw_pending_t *pc = NULL;
    for (unsigned k = 0; k < GW_MAX_PENDING; k++) {
        if (!gw->pending[k].used) { pc = &gw->pending[k]; break; }
    }
    if (pc == NULL) {
        gw->stats.cmds_refused++;
        publish_result(gw, req.id_json, pack_hex, name, GW_R_BUSY, "too many commands waiting for answers", NULL);
        return;
    }
    alfa_cmd_t cmd = req.cmd;
    if (cmd.code == ALFA_CMD_SET_TIME) {
        if (req.time_from_gateway) cmd.u.set_time.unix_s = (uint32_t)now->unix_s;
        if (req.offset_from_gateway) cmd.u.set_time.utc_offset_min = now->utc_offset_min;
    }
    uint8_t seq = gw->next_seq;
    while (seq_in_use(gw, seq)) seq++;
    gw->next_seq = (uint8_t)(seq + 1u);
    cmd.seq = seq;
    cmd.src = ALFA_NODE_LINUX_GATEWAY;
    cmd.dst = dst;
    alfa_can_frame_t f;
    int erc = alfa_proto_cmd_encode(&cmd, &f);
    int32_t src = erc < 0 ? -1 : gw->io.can_send(gw->io.user, &f);
    if (erc < 0 || src < 0) {
        gw->stats.can_tx_errors++;
        logf_(gw, GW_LOG_ERR, "command %s: CAN send failed (%d/%d)", name, erc, (int)src);
        for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
            if (targets & (1ull << k)) {
                publish_result(gw, req.id_json, gw->packs[k].hex, name, GW_R_BUS_ERROR, "the CAN interface refused the frame", NULL);
            }
        }
        return;
    }
    gw->stats.cmds_sent++;
    memset(pc, 0, sizeof *pc);
    pc->used = 1;
    pc->code = cmd.code;
    pc->seq = seq;
    pc->deadline_ms = now->ms + gw->cfg.cmd_timeout_ms;
    pc->targets = targets;
    snprintf(pc->id_json, sizeof pc->id_json, "%s", req.id_json);
    if (cmd.code == ALFA_CMD_READ_SETTINGS) {
        for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
            if (targets & (1ull << k)) {
                gw->packs[k].rs_active = 1;
                gw->packs[k].rs_seq = seq;
                gw->packs[k].rs_have = 0;
            }
        }
    }
    logf_(gw, GW_LOG_DEBUG, "command %s seq %u to node %u sent", name, seq, dst);
}

static void on_ack(gw_core_t *gw, const alfa_can_frame_t *f)
{
    alfa_ack_t a;
    if (alfa_proto_ack_decode(f, &a) < 0) { gw->stats.can_rx_bad++; return; }
    if (a.dst != ALFA_NODE_LINUX_GATEWAY) return;
    gw_pack_t *p = pack_of_node(gw, a.src);
    if (p == NULL) return;
    unsigned idx = (unsigned)(p - gw->packs);
    gw->stats.acks++;
    for (unsigned k = 0; k < GW_MAX_PENDING; k++) {
        gw_pending_t *pc = &gw->pending[k];
        if (!pc->used || pc->seq != a.seq || pc->code != a.code) continue;
        uint64_t bit = 1ull << idx;
        if (!(pc->targets & bit) || (pc->acked & bit) || (pc->awaiting_settings & bit)) return; /* repeat */
        gw_result_t r = gw_result_from_ack(a.result);
        if (pc->code == ALFA_CMD_READ_SETTINGS && r == GW_R_OK) { /* the setting frames follow the ack */
            pc->awaiting_settings |= bit;
            return;
        }
        pending_finish_pack(gw, pc, idx, r, 0);
        return;
    }
}

static void on_setting(gw_core_t *gw, const alfa_can_frame_t *f)
{
    alfa_setting_msg_t m;
    if (alfa_proto_setting_decode(f, &m) < 0) { gw->stats.can_rx_bad++; return; }
    if (m.dst != ALFA_NODE_LINUX_GATEWAY) return;
    gw_pack_t *p = pack_of_node(gw, m.src);
    if (p == NULL || !p->rs_active || p->rs_seq != m.seq) {
        logf_(gw, GW_LOG_DEBUG, "setting %u from node %u (seq %u) not expected", m.id, m.src, m.seq);
        return;
    }
    if (m.id < ALFA_SET_COUNT) {
        p->rs_value[m.id] = m.value;
        p->rs_have |= 1ull << m.id;
    }
    if (!m.last) return;
    unsigned idx = (unsigned)(p - gw->packs);
    for (unsigned k = 0; k < GW_MAX_PENDING; k++) {
        gw_pending_t *pc = &gw->pending[k];
        if (pc->used && pc->code == ALFA_CMD_READ_SETTINGS && pc->seq == m.seq && (pc->awaiting_settings & (1ull << idx))) {
            char suffix[64], json[RESULT_JSON_MAX];
            gw_jw_t w;
            gw_jw_init(&w, json, sizeof json);
            gw_jw_obj_begin(&w);
            for (uint32_t id = 0; id < ALFA_SET_COUNT; id++) {
                const alfa_setting_desc_t *d = alfa_settings_desc(id);
                if (d && (p->rs_have >> id) & 1u) { gw_jw_key(&w, d->name); gw_jw_int(&w, p->rs_value[id]); }
            }
            gw_jw_obj_end(&w);
            if (gw_jw_finish(&w) >= 0) {
                snprintf(suffix, sizeof suffix, "pack/%s/settings", p->hex);
                publish_str(gw, suffix, json, 1);
            }
            pending_finish_pack(gw, pc, idx, GW_R_OK, 1);
            return;
        }
    }
    p->rs_active = 0;
}

/* ---------------------------------------------------------------- CAN in */

static void on_heartbeat(gw_core_t *gw, const alfa_can_frame_t *f, const gw_now_t *now)
{
    alfa_heartbeat_t hb;
    if (alfa_proto_heartbeat_decode(f, &hb) < 0) { gw->stats.can_rx_bad++; return; }
    if (hb.device_type != ALFA_DEV_PACK) return; /* the Energy-Gateway device and us: no pack state */
    int idx = pack_index(gw, hb.serial);
    if (idx < 0) {
        for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
            if (!gw->packs[k].used) { idx = (int)k; break; }
        }
        if (idx < 0) { /* table full: reuse the pack silent for the longest time */
            uint32_t worst = 0;
            for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
                uint32_t age = now->ms - gw->packs[k].last_hb_ms;
                if (!gw->packs[k].online && age >= worst) { worst = age; idx = (int)k; }
            }
            if (idx < 0) return;
            if (gw->node_pack[gw->packs[idx].node_id] == idx) gw->node_pack[gw->packs[idx].node_id] = -1;
        }
        gw_pack_t *np = &gw->packs[idx];
        memset(np, 0, sizeof *np);
        np->used = 1;
        np->serial = hb.serial;
        gw_serial_hex(hb.serial, np->hex);
        logf_(gw, GW_LOG_INFO, "pack %s appeared as node %u", np->hex, hb.node_id);
    }
    gw_pack_t *p = &gw->packs[idx];
    if (p->node_id != hb.node_id || gw->node_pack[hb.node_id] != idx) {
        if (p->node_id <= ALFA_NODE_MAX && gw->node_pack[p->node_id] == idx) gw->node_pack[p->node_id] = -1;
        /* the node ID now belongs to this serial (a conflict was resolved on the bus) */
        gw->node_pack[hb.node_id] = (int8_t)idx;
        p->node_id = hb.node_id;
        alfa_telem_rx_reset(&gw->telem_rx[hb.node_id]);
    }
    p->hb_state = hb.state;
    p->fw_major = hb.fw_major;
    p->fw_minor = hb.fw_minor;
    p->fw_patch = hb.fw_patch;
    p->last_hb_ms = now->ms;
    if (!p->discovery_sent) publish_pack_discovery(gw, p);
    if (!p->online || !p->status_published) {
        p->online = 1;
        publish_pack_status(gw, p);
    }
}

static void on_telemetry(gw_core_t *gw, const alfa_can_frame_t *f, const gw_now_t *now)
{
    uint8_t src = ALFA_PROTO_ID_SRC(f->id);
    alfa_telemetry_t t;
    int rc = alfa_telem_rx_feed(&gw->telem_rx[src], f, &t);
    if (rc < 0) { gw->stats.can_rx_bad++; return; }
    if (rc == 0) return;
    gw->stats.telem_records++;
    gw_pack_t *p = pack_of_node(gw, src);
    if (p == NULL) return; /* no heartbeat yet: no serial to publish under */
    uint32_t v[GW_ENERGY_COUNTERS] = {t.grid_import_today_wh, t.solar_today_wh, t.batt_charge_today_wh,
                                      t.batt_discharge_today_wh};
    energy_day(&p->e_valid, &p->e_day, p->e_max_wh, v, GW_ENERGY_COUNTERS, t.day, &p->e_grid,
               (t.warnings & (1u << ALFA_WARN_IMPORT_RECOVERING)) != 0u);
    t.grid_import_today_wh = v[0];
    t.solar_today_wh = v[1];
    t.batt_charge_today_wh = v[2];
    t.batt_discharge_today_wh = v[3];
    t.day = p->e_valid ? p->e_day : t.day;
    uint32_t old_f = p->have_telem ? p->telem.faults : 0;
    uint16_t old_w = p->have_telem ? p->telem.warnings : 0;
    p->telem = t;
    p->telem_unix_s = packs_time(gw, now);
    p->have_telem = 1;
    publish_pack_state(gw, p);
    if (gw->record) gw->record(gw->record_user, p, &p->telem, NULL, p->telem_unix_s);
    uint32_t df = old_f ^ t.faults;
    for (uint32_t b = 0; df && b < 32u; b++) {
        if (df & (1u << b)) {
            const char *n = gw_fault_name(b);
            char tmp[16];
            if (!n) { snprintf(tmp, sizeof tmp, "fault_%u", b); n = tmp; }
            publish_event(gw, p, "fault", n, (t.faults >> b) & 1u, now);
        }
    }
    uint32_t dw = (uint32_t)(old_w ^ t.warnings);
    for (uint32_t b = 0; dw && b < 16u; b++) {
        if (dw & (1u << b)) {
            const char *n = gw_warning_name(b);
            char tmp[16];
            if (!n) { snprintf(tmp, sizeof tmp, "warning_%u", b); n = tmp; }
            publish_event(gw, p, "warning", n, (t.warnings >> b) & 1u, now);
        }
    }
}

static void sockets_update(gw_core_t *gw, const gw_now_t *now);

static void on_site(gw_core_t *gw, const alfa_can_frame_t *f, const gw_now_t *now)
{
    alfa_site_totals_t s;
    int rc = alfa_site_rx_feed(&gw->site_rx, f, &s);
    if (rc < 0) { gw->stats.can_rx_bad++; return; }
    if (rc == 0) return;
    energy_day(&gw->site_e_valid, &gw->site_e_day, &gw->site_e_max_wh, &s.grid_import_today_wh, 1u, s.day, NULL,
               false);
    s.day = gw->site_e_valid ? gw->site_e_day : s.day;
    gw->site = s;
    gw->have_site = 1;
    gw->site_unix_s = packs_time(gw, now);
    publish_site_state(gw, now);
    if (gw->record) gw->record(gw->record_user, NULL, NULL, &gw->site, gw->site_unix_s);
    sockets_update(gw, now);
}

/* Smart sockets on solar surplus, with hysteresis (two thresholds) and a minimum time between
 * changes, so a passing cloud does not toggle a pool pump. */
static void sockets_update(gw_core_t *gw, const gw_now_t *now)
{
    int32_t surplus = gw->site.p_solar_w - gw->site.p_home_w;
    for (unsigned k = 0; k < sizeof gw->cfg.sockets / sizeof gw->cfg.sockets[0]; k++) {
        const struct gw_socket_cfg *c = &gw->cfg.sockets[k];
        struct gw_socket_state *st = &gw->sockets[k];
        if (c->topic[0] == '\0') continue;
        int want = st->known ? st->on : 0;
        if (surplus >= c->on_surplus_w) want = 1;
        else if (surplus < c->off_surplus_w) want = 0;
        if (st->known && want == st->on) continue;
        if (st->known && (uint32_t)(now->ms - st->last_switch_ms) < c->min_switch_s * 1000u) continue;
        if (!gw->connected) continue;
        publish(gw, c->topic, want ? "ON" : "OFF", want ? 2u : 3u, 0);
        logf_(gw, GW_LOG_INFO, "socket %s %s (surplus %d W)", c->topic, want ? "ON" : "OFF", (int)surplus);
        st->known = 1;
        st->on = want;
        st->last_switch_ms = now->ms;
    }
}

/* A pack (re)joined and asks what was imported on its day: every pack's figure we hold for that
 * day (a rebooted master rebuilds the site's count from it), one frame per pack. */
static void on_import_request(gw_core_t *gw, const alfa_can_frame_t *f)
{
    alfa_import_msg_t m;
    int rc = alfa_proto_import_decode(f, &m);
    if (rc < 0) { gw->stats.can_rx_bad++; return; }
    if (rc != ALFA_CLS_IMPORT_REQ || m.day == ALFA_DAY_NONE) return; /* without a day nothing is sure */
    unsigned answered = 0;
    for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
        const gw_pack_t *p = &gw->packs[k];
        if (!p->used || !p->e_valid || p->e_day != m.day) continue;
        alfa_import_msg_t resp = {.src = ALFA_NODE_LINUX_GATEWAY, .dst = m.src, .day = m.day,
                                  .serial24 = ALFA_SERIAL24(p->serial), .grid_import_today_wh = alfa_dayfig_answer(&p->e_grid)};
        alfa_can_frame_t out;
        if (alfa_proto_import_resp_encode(&resp, &out) != 0) continue; /* over 16.7 MWh: not sent */
        if (gw->io.can_send(gw->io.user, &out) < 0) {
            gw->stats.can_tx_errors++;
            break;
        }
        answered++;
    }
    const gw_pack_t *asker = pack_of_node(gw, m.src);
    logf_(gw, GW_LOG_INFO, "pack %s asked for site day %u's grid import: %u figure(s) sent",
          asker != NULL ? asker->hex : "?", (unsigned)m.day, answered);
}

void gw_core_on_can(gw_core_t *gw, const alfa_can_frame_t *frame, const gw_now_t *now)
{
    gw->stats.can_rx++;
    int cls = alfa_proto_classify(frame);
    if (cls < 0) { gw->stats.can_rx_bad++; return; }
    /* our own ID: only a time frame matters (another node setting the packs' clock, e.g. the
     * site simulator playing the gateway) */
    if (ALFA_PROTO_ID_SRC(frame->id) == ALFA_NODE_LINUX_GATEWAY && cls != ALFA_CLS_HEARTBEAT && cls != ALFA_CLS_TIME) return;
    switch (cls) {
    case ALFA_CLS_TIME: {
        alfa_time_msg_t tm;
        if (alfa_proto_time_decode(frame, &tm) < 0) { gw->stats.can_rx_bad++; return; }
        gw_clock_heard(&gw->clock, (int64_t)tm.unix_s, tm.utc_offset_min, now->ms);
        break;
    }
    case ALFA_CLS_HEARTBEAT: on_heartbeat(gw, frame, now); break;
    case ALFA_CLS_IMPORT_REQ: on_import_request(gw, frame); break;
    case ALFA_CLS_ACK: on_ack(gw, frame); break;
    case ALFA_CLS_SETTING: on_setting(gw, frame); break;
    default:
        if (cls >= ALFA_CLS_TELEM_0 && cls < ALFA_CLS_TELEM_0 + (int)ALFA_TELEM_PARTS) on_telemetry(gw, frame, now);
        else if (cls >= ALFA_CLS_SITE_0 && cls < ALFA_CLS_SITE_0 + (int)ALFA_SITE_PARTS) on_site(gw, frame, now);
        break; /* time, commands of other senders, firmware: not ours */
    }
}

/* ---------------------------------------------------------------- MQTT in, connection, timers */

void gw_core_on_mqtt(gw_core_t *gw, const char *topic, const void *payload, size_t len, const gw_now_t *now)
{
    char ha[GW_PREFIX_MAX + 8];
    snprintf(ha, sizeof ha, "%s/status", gw->cfg.ha_prefix);
    if (strcmp(topic, ha) == 0) {
        if (gw->cfg.ha_enabled && len == 6 && memcmp(payload, "online", 6) == 0) {
            /* Home Assistant restarted: re-send after a short, per-site jittered pause so a
             * broker full of gateways does not answer all at once. */
            uint32_t jitter = 0;
            for (const char *s = gw->cfg.site; *s; s++) jitter = jitter * 31u + (uint8_t)*s;
            gw->ha_due = 1;
            gw->ha_due_ms = now->ms + 500u + jitter % 1500u;
        }
        return;
    }
    handle_command(gw, topic, strlen(topic), (const char *)payload, len, now);
}

void gw_core_on_connect(gw_core_t *gw, const gw_now_t *now)
{
    gw->connected = 1;
    publish_str(gw, "gateway/status", "online", 1);
    publish_all_discovery(gw);
    for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
        gw_pack_t *p = &gw->packs[k];
        if (!p->used) continue;
        publish_pack_status(gw, p);
        if (p->have_telem) publish_pack_state(gw, p);
    }
    if (gw->have_site) publish_site_state(gw, now);
    if (gw->time_state >= 0) publish_time_state(gw, now);
}

void gw_core_on_disconnect(gw_core_t *gw)
{
    gw->connected = 0;
    for (unsigned k = 0; k < GW_MAX_PACKS; k++) gw->packs[k].discovery_sent = 0;
}

static void send_time(gw_core_t *gw, const gw_now_t *now)
{
    alfa_time_msg_t t = {ALFA_NODE_LINUX_GATEWAY, (uint32_t)now->unix_s, now->utc_offset_min};
    alfa_can_frame_t f;
    if (alfa_proto_time_encode(&t, &f) < 0) return;
    if (gw->io.can_send(gw->io.user, &f) < 0) {
        gw->stats.can_tx_errors++;
        return; /* retried at the next process() */
    }
    gw->time_sent = 1;
    gw->last_time_ms = now->ms;
}

static void send_heartbeat(gw_core_t *gw, const gw_now_t *now)
{
    alfa_heartbeat_t hb = {ALFA_NODE_LINUX_GATEWAY, ALFA_DEV_LINUX_GATEWAY, 0, gw->cfg.serial, ALFA_FW_VERSION_MAJOR,
                           ALFA_FW_VERSION_MINOR, ALFA_FW_VERSION_PATCH};
    alfa_can_frame_t f;
    gw->hb_sent = 1;
    gw->last_hb_ms = now->ms;
    if (alfa_proto_heartbeat_encode(&hb, &f) == 0 && gw->io.can_send(gw->io.user, &f) < 0) gw->stats.can_tx_errors++;
}

/* Whether time goes out, said once per change in the log and retained on gateway/time: packs
 * take the gateway's time as the truth for TOU and the 05:00 reset, so an unsynchronized clock
 * (a board without RTC or network) must not be broadcast. */
static void time_state(gw_core_t *gw, const gw_now_t *now)
{
    int on = now->clock_synced || !gw->cfg.time_require_sync;
    if (on == gw->time_state) return;
    gw->time_state = on;
    if (on) {
        logf_(gw, GW_LOG_INFO, "time: broadcasting the %s clock to the packs",
              now->clock_synced ? "synchronized" : "unsynchronized (time.require_sync = false)");
    } else {
        logf_(gw, GW_LOG_WARN, "time: the clock is not synchronized (NTP): no time sent to the packs until it is");
    }
    publish_time_state(gw, now);
}

void gw_core_process(gw_core_t *gw, const gw_now_t *now)
{
    if (!gw->hb_sent || (uint32_t)(now->ms - gw->last_hb_ms) >= 1000u) send_heartbeat(gw, now);
    time_state(gw, now);
    if (gw->time_state == 1 && (!gw->time_sent || (uint32_t)(now->ms - gw->last_time_ms) >= gw->cfg.time_period_ms)) {
        send_time(gw, now);
    }

    for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
        gw_pack_t *p = &gw->packs[k];
        if (!p->used) continue;
        int online = (uint32_t)(now->ms - p->last_hb_ms) < gw->cfg.offline_ms;
        if (online != p->online) {
            p->online = online;
            logf_(gw, GW_LOG_INFO, "pack %s %s", p->hex, online ? "online" : "offline");
            publish_pack_status(gw, p);
        }
    }
    for (unsigned k = 0; k < GW_MAX_PENDING; k++) {
        gw_pending_t *pc = &gw->pending[k];
        if (!pc->used || (int32_t)(now->ms - pc->deadline_ms) < 0) continue;
        for (unsigned i = 0; i < GW_MAX_PACKS && pc->used; i++) {
            uint64_t bit = 1ull << i;
            if (!(pc->targets & bit)) continue;
            if (pc->awaiting_settings & bit) {
                gw->stats.timeouts++;
                pending_finish_pack(gw, pc, i, GW_R_TIMEOUT, 1);
            } else if (!(pc->acked & bit)) {
                gw->stats.timeouts++;
                pending_finish_pack(gw, pc, i, GW_R_TIMEOUT, 0);
            }
        }
        pc->used = 0;
    }
    if (gw->ha_due && (int32_t)(now->ms - gw->ha_due_ms) >= 0) {
        gw->ha_due = 0;
        publish_all_discovery(gw);
        for (unsigned k = 0; k < GW_MAX_PACKS; k++) {
            if (gw->packs[k].used) publish_pack_status(gw, &gw->packs[k]);
        }
    }
}

uint64_t gw_pack_serial(const gw_pack_t *p) { return p->serial; }

int gw_pack_today(const gw_pack_t *p, alfa_telemetry_t *out, uint16_t *day)
{
    if (!p->have_telem || !p->e_valid) return 0;
    *out = p->telem;
    *day = p->e_day;
    return 1;
}

const gw_stats_t *gw_core_stats(const gw_core_t *gw) { return &gw->stats; }
