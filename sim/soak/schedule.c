/* The soak's schedule: seeded faults and commands at random moments, many of them around 05:00, as scenario actions. */
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/proto.h"

#define MIN_MS 60000ll
#define HOUR_MS 3600000ll

static uint64_t below(alfa_rng_t *r, uint64_t n) { return alfa_rng_below(r, n); }

/* A duration between lo and hi ms, about log-uniform (a random octave, uniform inside it): many
 * short ones, some very long. Integers only: the same seed gives the same schedule anywhere. */
static int64_t log_dur(alfa_rng_t *r, int64_t lo, int64_t hi)
{
    unsigned octaves = 0;
    while ((lo << (octaves + 1u)) <= hi) {
        octaves++;
    }
    int64_t d = lo << below(r, octaves + 1u);
    d += (int64_t)below(r, (uint64_t)d);
    return d > hi ? hi : d;
}

static int push(soak_schedule_t *s, const alfa_scn_action_t *a)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        alfa_scn_action_t *n = realloc(s->actions, cap * sizeof(*n));
        if (n == NULL) {
            return -1;
        }
        s->actions = n;
        s->cap = cap;
    }
    s->actions[s->count++] = *a;
    return 0;
}

static alfa_scn_action_t act(int64_t at, uint8_t kind, int pack, int64_t value)
{
    alfa_scn_action_t a;
    memset(&a, 0, sizeof(a));
    a.at_ms = at;
    a.kind = kind;
    a.target.kind = pack < 0 ? ALFA_SCN_TGT_ALL : ALFA_SCN_TGT_PACK;
    a.target.pack = (uint8_t)(pack < 0 ? 0 : pack);
    a.value = value;
    return a;
}

/* One fault starting at `at`: its start and end actions. Returns the faults injected (0 when the
 * pack is still busy with the same kind of fault). */
static int fault_at(soak_schedule_t *s, alfa_rng_t *r, int64_t at, uint8_t packs, int64_t busy[][SOAK_FAULT_KINDS])
{
    unsigned kind = (unsigned)below(r, SOAK_FAULT_KINDS);
    int pack = (int)below(r, packs);
    int global = kind == SOAK_F_GATEWAY || kind == SOAK_F_CLOCK || kind == SOAK_F_CAN_ERRORS;
    if (global) {
        pack = 0;
    }
    if (busy[pack][kind] > at) {
        return 0;
    }
    int64_t d;
    alfa_scn_action_t a, b;
    switch (kind) {
    case SOAK_F_POWER:
        d = below(r, 4) == 0 ? 500 + (int64_t)below(r, 4500) : log_dur(r, 1000, 2 * HOUR_MS);
        a = act(at, ALFA_SCN_ACT_POWER, pack, 0);
        b = act(at + d, ALFA_SCN_ACT_POWER, pack, 1);
        break;
    case SOAK_F_CAN:
        d = log_dur(r, 1000, 3 * HOUR_MS);
        a = act(at, ALFA_SCN_ACT_CAN_LINK, pack, 0);
        b = act(at + d, ALFA_SCN_ACT_CAN_LINK, pack, 1);
        break;
    case SOAK_F_BMS_SILENT:
        d = log_dur(r, 2000, 30 * MIN_MS);
        a = act(at, ALFA_SCN_ACT_BMS_SILENT, pack, 1);
        b = act(at + d, ALFA_SCN_ACT_BMS_SILENT, pack, 0);
        break;
    case SOAK_F_BMS_NOISE:
        d = log_dur(r, 10000, 20 * MIN_MS);
        a = act(at, ALFA_SCN_ACT_MODBUS_NOISE, pack, 10000 + (int64_t)below(r, 190000)); /* 1..20 % */
        b = act(at + d, ALFA_SCN_ACT_MODBUS_NOISE, pack, 0);
        break;
    case SOAK_F_BMS_GARBLE:
        d = log_dur(r, 5000, 10 * MIN_MS);
        a = act(at, ALFA_SCN_ACT_BMS_VOLTAGE, pack, below(r, 2) ? 0 : 200000);
        b = act(at + d, ALFA_SCN_ACT_BMS_VOLTAGE, pack, -1);
        break;
    case SOAK_F_BMS_ALARM:
        d = log_dur(r, 3000, 10 * MIN_MS);
        a = act(at, ALFA_SCN_ACT_BMS_ALARM, pack, (int64_t)1 << below(r, 8));
        b = act(at + d, ALFA_SCN_ACT_BMS_ALARM, pack, 0);
        break;
    case SOAK_F_GATEWAY:
        d = log_dur(r, 10000, 6 * HOUR_MS);
        a = act(at, ALFA_SCN_ACT_GATEWAY, -1, 0);
        b = act(at + d, ALFA_SCN_ACT_GATEWAY, -1, 1);
        break;
    case SOAK_F_CLOCK: {
        /* A wrong clock is put right later, as NTP does: the day may run short or long meanwhile. */
        int64_t shift = (int64_t)(MIN_MS + (int64_t)below(r, 8 * HOUR_MS)) / 1000 * 1000;
        shift = below(r, 2) ? shift : -shift;
        d = log_dur(r, MIN_MS, 6 * HOUR_MS);
        a = act(at, ALFA_SCN_ACT_TIME_SHIFT, -1, shift);
        b = act(at + d, ALFA_SCN_ACT_TIME_SHIFT, -1, -shift);
        break;
    }
    default: /* SOAK_F_CAN_ERRORS */
        d = 1000;
        a = act(at, ALFA_SCN_ACT_CAN_ERRORS, -1, 5 + (int64_t)below(r, 76));
        b = a;
        b.kind = 0; /* nothing to undo */
        break;
    }
    busy[pack][kind] = at + d + 1000;
    if (push(s, &a) < 0 || (b.kind != 0 && push(s, &b) < 0)) {
        return -1;
    }
    return 1;
}

/* A command of any kind, as the app would send it through the gateway. */
static int command_at(soak_schedule_t *s, alfa_rng_t *r, int64_t at, uint8_t packs)
{
    static const char *const modes[] = {"self_consumption", "eco", "tou", "backup"};
    static const char *const relays[] = {"grid", "inverter", "pool", "heater"};
    static const char *const ovr[] = {"auto", "auto", "open", "closed"};
    static const char *const settings[] = {"dwell_s", "eco_min_off_s", "pixel_count", "eco_shed_inverter",
                                           "tou_relay"};
    alfa_scn_action_t a = act(at, ALFA_SCN_ACT_COMMAND, below(r, 4) == 0 ? (int)below(r, packs) : -1, 0);
    uint64_t k = below(r, 100);
    if (k < 18) {
        snprintf(a.name, sizeof(a.name), "set_mode");
        snprintf(a.json, sizeof(a.json), "{\"mode\": \"%s\", \"on\": %s}", modes[below(r, 4)],
                 below(r, 6) == 0 ? "false" : "true");
    } else if (k < 40) {
        /* The limit mostly on and low, so it is reached on many days. */
        unsigned kwh = (unsigned)(2 + below(r, below(r, 3) == 0 ? 29 : 8));
        snprintf(a.name, sizeof(a.name), "set_grid_limit");
        snprintf(a.json, sizeof(a.json), "{\"on\": %s, \"limit_kwh\": %u}", below(r, 8) == 0 ? "false" : "true", kwh);
    } else if (k < 48) {
        snprintf(a.name, sizeof(a.name), "set_eco_limit");
        snprintf(a.json, sizeof(a.json), "{\"limit_w\": %u}", (unsigned)(500 + below(r, 6000)));
    } else if (k < 54) {
        unsigned lo = (unsigned)(5 + below(r, 41));
        snprintf(a.name, sizeof(a.name), "set_sc_thresholds");
        snprintf(a.json, sizeof(a.json), "{\"low_pct\": %u, \"high_pct\": %u}", lo, lo + 5u + (unsigned)below(r, 96u - lo - 5u));
    } else if (k < 60) {
        snprintf(a.name, sizeof(a.name), "set_tou_window");
        snprintf(a.json, sizeof(a.json), "{\"index\": %u, \"start_min\": %u, \"end_min\": %u, \"enabled\": %s}",
                 (unsigned)below(r, 4), (unsigned)below(r, 1440), (unsigned)below(r, 1440), below(r, 2) ? "true" : "false");
    } else if (k < 74) {
        snprintf(a.name, sizeof(a.name), "set_relay_override");
        snprintf(a.json, sizeof(a.json), "{\"relay\": \"%s\", \"override\": \"%s\"}", relays[below(r, 4)], ovr[below(r, 4)]);
    } else if (k < 80) {
        unsigned id = (unsigned)below(r, sizeof(settings) / sizeof(settings[0]));
        unsigned v = id == 0 ? (unsigned)below(r, 61) : id == 1 ? (unsigned)below(r, 301) : id == 2 ? 1u + (unsigned)below(r, 16)
                     : id == 3 ? (unsigned)below(r, 2) : (unsigned)below(r, 4);
        snprintf(a.name, sizeof(a.name), "set_setting");
        snprintf(a.json, sizeof(a.json), "{\"setting\": \"%s\", \"value\": %u}", settings[id], v);
    } else if (k < 84) {
        /* The calibration path, with the default gain: measurements stay true to the plant. */
        snprintf(a.name, sizeof(a.name), "set_calibration");
        snprintf(a.json, sizeof(a.json), "{\"ct\": \"%s\", \"gain_ua\": %d, \"offset_ma\": 0}", relays[below(r, 4)],
                 ALFA_CT_GAIN_DEFAULT_UA);
    } else if (k < 89) {
        snprintf(a.name, sizeof(a.name), "identify");
        snprintf(a.json, sizeof(a.json), "{\"seconds\": %u}", (unsigned)below(r, 10));
    } else if (k < 93) {
        snprintf(a.name, sizeof(a.name), "read_settings");
        snprintf(a.json, sizeof(a.json), "{}");
    } else if (k < 98) {
        a.target.kind = ALFA_SCN_TGT_PACK;
        a.target.pack = (uint8_t)below(r, packs);
        snprintf(a.name, sizeof(a.name), "reboot");
        snprintf(a.json, sizeof(a.json), "{}");
    } else {
        a.target.kind = ALFA_SCN_TGT_PACK;
        a.target.pack = (uint8_t)below(r, packs);
        snprintf(a.name, sizeof(a.name), "factory_reset");
        snprintf(a.json, sizeof(a.json), "{\"confirm\": \"factory_reset\"}");
    }
    return push(s, &a);
}

static int cmp_at(const void *x, const void *y)
{
    const alfa_scn_action_t *a = x, *b = y;
    if (a->at_ms != b->at_ms) {
        return a->at_ms < b->at_ms ? -1 : 1;
    }
    return a->line < b->line ? -1 : a->line > b->line;
}

int soak_schedule_make(soak_schedule_t *s, uint64_t seed, uint32_t days, uint8_t packs, int64_t first_0500_ms)
{
    memset(s, 0, sizeof(*s));
    alfa_rng_t r;
    alfa_rng_seed(&r, seed * 7919u + 17u);
    int64_t (*busy)[SOAK_FAULT_KINDS] = calloc(packs, sizeof(*busy));
    if (busy == NULL) {
        return -1;
    }
    int64_t end = (int64_t)days * 24 * HOUR_MS;
    /* Candidate moments: a background of about one fault an hour, plus a handful within a minute
     * of every 05:00 (where the day turns); commands about every 40 minutes and around 05:00. */
    size_t n = 0, cap = (size_t)days * 64u + 64u;
    int64_t *moments = malloc(cap * sizeof(*moments));
    uint8_t *is_cmd = malloc(cap);
    if (moments == NULL || is_cmd == NULL) {
        free(busy);
        free(moments);
        free(is_cmd);
        return -1;
    }
    for (int64_t t = 10 * MIN_MS; t < end && n + 2 < cap;) {
        t += 1000 * (int64_t)below(&r, 2 * 3600);
        moments[n] = t;
        is_cmd[n++] = 0;
    }
    for (int64_t t = 5 * MIN_MS; t < end && n + 2 < cap;) {
        t += 1000 * (int64_t)below(&r, 80 * 60);
        moments[n] = t;
        is_cmd[n++] = 1;
    }
    for (int64_t day05 = first_0500_ms; day05 < end && n + 12 < cap; day05 += 24 * HOUR_MS) {
        unsigned k = 6 + (unsigned)below(&r, 6);
        for (unsigned j = 0; j < k && n + 1 < cap; j++) {
            int64_t t = day05 - MIN_MS + (int64_t)below(&r, 2 * MIN_MS);
            if (t > 0 && t < end) {
                moments[n] = t;
                is_cmd[n++] = j < 2;
            }
        }
    }
    /* In time order, so "busy" means busy at that moment. */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && moments[j - 1] > moments[j]; j--) {
            int64_t tm = moments[j];
            moments[j] = moments[j - 1];
            moments[j - 1] = tm;
            uint8_t tc = is_cmd[j];
            is_cmd[j] = is_cmd[j - 1];
            is_cmd[j - 1] = tc;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        if (is_cmd[i]) {
            rc = command_at(s, &r, moments[i], packs);
            s->commands += rc >= 0;
        } else {
            int f = fault_at(s, &r, moments[i], packs, busy);
            rc = f;
            s->faults += f > 0 ? (uint64_t)f : 0u;
        }
    }
    free(busy);
    free(moments);
    free(is_cmd);
    if (rc < 0) {
        return -1;
    }
    for (size_t i = 0; i < s->count; i++) {
        s->actions[i].line = (unsigned)i; /* keeps equal times in creation order */
    }
    qsort(s->actions, s->count, sizeof(*s->actions), cmp_at);
    return 0;
}

void soak_schedule_free(soak_schedule_t *s)
{
    free(s->actions);
    memset(s, 0, sizeof(*s));
}
