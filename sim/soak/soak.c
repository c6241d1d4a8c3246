/* One soak run: the simulated site under a seeded fault schedule, its invariants judged against the plant's truth and the real gateway logic. */
#include "soak.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alfa/canbus.h"
#include "alfa/ctrl.h"
#include "alfa/fault.h"
#include "alfa/gw_core.h"
#include "alfa/proto.h"
#include "alfa/siteday.h"
#include "schedule.h"

#define CHECK_MS 500           /* invariants judged this often (a quarter of a control cycle) */
#define SETTLE_MS 15000        /* after a pack joins the bus or boots, its figures settle first */
#define TURN_GRACE_MS 12000    /* packs turn the day within a cycle of 05:00; the master 2 s later */
#define MJ_PER_WH 3600000ll
#define MAX_PACKS ALFA_SCN_MAX_PACKS

static const char *const kind_names[SOAK_KINDS] = {"site_count", "limit", "today", "masters", "settings", "safe_state"};

const char *soak_kind_name(unsigned kind) { return kind < SOAK_KINDS ? kind_names[kind] : "?"; }

/* What the soak remembers of one pack between checks. */
typedef struct pack_track {
    uint64_t booted_us;          /* to see a reboot */
    int was_bus;
    int64_t vis_mj;              /* its import as the site can know it: frozen while it is off the bus */
    int64_t day_start_mj;        /* its import when the truth's day began (see no_time) */
    int64_t boot_mj;             /* its import when it last booted */
    int no_time;                 /* booted and has not learnt the day yet: it counts from its boot,
                                  * and a day that begins meanwhile begins for it at its boot */
    /* settings: the last acknowledged state, and whether it is surely on flash */
    uint32_t acks_seen;
    int have_acked;
    int32_t acked[ALFA_SET_COUNT];
    int acked_committed;
    int have_prev;
    int32_t prev[ALFA_SET_COUNT];  /* the committed state before the last acknowledged one */
    int cut_uncommitted;         /* power went while the last acknowledged change was not on flash */
    int check_after_boot;        /* compare the settings once it runs again */
    /* gateway's published counters */
    int gw_have;
    uint16_t gw_day;
    uint32_t gw_wh[4];
    uint64_t alarm_since_us;     /* an alarm bit the BMS reports cleanly, since when (0 = none) */
    int64_t last_mj;             /* its import at the previous check */
    uint16_t dbg_day;            /* SOAK_TRACE */
    uint32_t dbg_wh;
} pack_track_t;

typedef struct soak {
    const soak_opts_t *o;
    uint64_t seed;
    FILE *out;
    sim_site_t *site;
    alfa_scn_t scn;
    gw_core_t *gw;
    alfa_canbus_node_t *tap;     /* the gateway logic's ear on the bus */
    soak_result_t *r;
    uint64_t reported[SOAK_KINDS];
    pack_track_t p[MAX_PACKS];
    uint8_t n;

    /* the truth's day, on the clock the packs were given */
    alfa_siteday_t day;
    int64_t packs_shift_s;       /* clock correction the packs have received */
    uint64_t turned_us;          /* when the truth's day last turned */
    uint64_t quiet_until_us;     /* no site-count check before this (a pack joined, booted) */
    /* the site limit, as the master said it */
    int reached;
    uint64_t reached_since_us;
    int64_t overshoot_mj;        /* import of the packs the flag reaches, since it was reached */
    uint16_t site_day_seen;
    uint32_t site_wh_seen;
    int have_site_seen;
    uint64_t masters_since_us;   /* more than one master since (0 = not now) */
    int stop;                    /* --stop-at-first: a violation was reported */
    int32_t limit_kwh_seen[MAX_PACKS];  /* grid-limit settings (kWh, or -1 off) last seen per pack */
    uint64_t limit_changed_us;   /* a pack's limit setting changed then: the master judges again */
} soak_t;

static void report(soak_t *k, unsigned kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void when_text(const soak_t *k, char *buf, size_t len)
{
    alfa_scn_format_time(&k->scn, (int64_t)(sim_site_now_us(k->site) / 1000u), buf, len);
}

/* What the site knows of pack `i` (< k->n, the site's own count: sim_site_pack_info refuses only
 * an index beyond it, so a refusal is a bug of the soak itself and stops it). */
static void pack_info(const soak_t *k, unsigned i, sim_pack_info_t *out)
{
    if (sim_site_pack_info(k->site, i, out) < 0) {
        fprintf(stderr, "alfaspark-soak: pack %u is not on the site of %u packs\n", i + 1, k->n);
        abort();
    }
}

static void report(soak_t *k, unsigned kind, const char *fmt, ...)
{
    k->r->violations[kind]++;
    if (k->reported[kind]++ >= k->o->max_reports) {
        return;
    }
    char t[40], msg[256];
    when_text(k, t, sizeof(t));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(k->out, "VIOLATION seed %" PRIu64 " %s %s: %s\n", k->seed, t, kind_names[kind], msg);
    k->stop = k->o->stop_at_first;
}

/* ------------------------------------------------------------------ the site */

static const char *site_text =
    "timezone +01:00\n"
    "start 2026-02-26 22:00\n"
    "solar peak 3500 sunrise 06:45 sunset 18:15 clouds 50\n"
    "house base 700\n"
    "house load 2500 from 18:00 to 21:30\n"
    "house load 1500 from 06:30 to 08:00\n"
    "pool 1100 from 10:00 to 16:00\n"
    "heater 2000 from 04:30 to 06:30 from 13:00 to 14:30\n"
    "battery capacity 9000 soc 25 grid_charge 1800 max_discharge 3500\n"
    "pack 2 capacity 14000 soc 60 peak 5000\n"
    "pack 3 capacity 6000 soc 10\n"
    "pack 5 capacity 12000 soc 80 peak 2500\n"
    "pack 7 capacity 5000 soc 40 grid_charge 1200\n";

static int gw_publish(void *user, const char *topic, const char *payload, size_t len, int retain)
{
    (void)user;
    (void)topic;
    (void)payload;
    (void)len;
    (void)retain;
    return 0;
}

static int32_t gw_send(void *user, const alfa_can_frame_t *f)
{
    (void)user;
    (void)f;
    return 0; /* it only listens: the simulator's own gateway role talks on the bus */
}

static void gw_now(const soak_t *k, gw_now_t *now)
{
    uint64_t us = sim_site_now_us(k->site);
    now->ms = (uint32_t)(us / 1000u);
    now->unix_s = sim_site_gateway_unix_s(k->site);
    now->utc_offset_min = k->scn.utc_offset_min;
    now->clock_synced = 1;
}

static int setup(soak_t *k, uint64_t seed)
{
    char text[2048], err[256];
    snprintf(text, sizeof(text), "packs %u\nduration %ud\nseed %" PRIu64 "\n%s", k->o->packs, k->o->days, seed,
             site_text);
    if (alfa_scn_parse_string("soak", text, 0, &k->scn, err, sizeof(err)) < 0) {
        fprintf(stderr, "soak: %s\n", err);
        return -1;
    }
    sim_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.gateway_sim = 1;
    k->site = sim_site_new(&k->scn, &opt);
    if (k->site == NULL) {
        return -1;
    }
    k->n = k->scn.pack_count;
    k->tap = alfa_canbus_attach(sim_site_bus(k->site));
    k->gw = calloc(1, sizeof(*k->gw));
    if (k->tap == NULL || k->gw == NULL) {
        return -1;
    }
    gw_cfg_t cfg;
    gw_cfg_defaults(&cfg);
    gw_io_t io = {k, gw_publish, gw_send, NULL};
    gw_now_t now;
    gw_now(k, &now);
    gw_core_init(k->gw, &cfg, &io, &now);
    gw_core_on_connect(k->gw, &now);
    alfa_siteday_init(&k->day, 0);
    return 0;
}

/* ------------------------------------------------------------------ the truth */

static int64_t packs_local_s(const soak_t *k)
{
    uint64_t us = sim_site_now_us(k->site);
    return k->scn.start_unix_s + (int64_t)(us / 1000000u) + k->packs_shift_s + (int64_t)k->scn.utc_offset_min * 60;
}

static void truth_turn(soak_t *k, const sim_pack_info_t *info)
{
    uint64_t us = sim_site_now_us(k->site);
    k->turned_us = us;
    k->reached = 0;
    k->have_site_seen = 0;
    for (unsigned i = 0; i < k->n; i++) {
        /* A pack that counts from a boot without time keeps counting into the day it learns. */
        k->p[i].day_start_mj = k->p[i].no_time ? k->p[i].boot_mj : info[i].grid_import_mj;
        if (!info[i].bus) {
            k->p[i].vis_mj = info[i].grid_import_mj; /* a new day: nothing of it is hidden yet */
        }
    }
}

static int64_t site_truth_mj(const soak_t *k)
{
    int64_t sum = 0;
    for (unsigned i = 0; i < k->n; i++) {
        int64_t e = k->p[i].vis_mj - k->p[i].day_start_mj;
        sum += e > 0 ? e : 0;
    }
    return sum;
}

/* ------------------------------------------------------------------ the checks */

static void check_site_count(soak_t *k, const alfa_scn_obs_t *obs, uint64_t us)
{
    if (!obs->site_valid || obs->site->day != alfa_siteday_day(&k->day) || us < k->quiet_until_us ||
        us - k->turned_us < TURN_GRACE_MS * 1000ull) {
        return;
    }
    int64_t truth_wh = site_truth_mj(k) / MJ_PER_WH;
    int64_t seen_wh = obs->site->grid_import_today_wh;
    int64_t tol = truth_wh / 100 > 50 ? truth_wh / 100 : 50;
    if (seen_wh < truth_wh - tol || seen_wh > truth_wh + tol) {
        report(k, SOAK_SITE_COUNT, "site counts %" PRId64 " Wh of today's import, the packs' grid inputs took %" PRId64
               " Wh", seen_wh, truth_wh);
        if (getenv("SOAK_DEBUG") && k->reported[SOAK_SITE_COUNT] == 1) {
            for (unsigned i = 0; i < k->n; i++) {
                sim_pack_info_t pi;
                pack_info(k, i, &pi);
                fprintf(k->out, "  pack %u: truth %lld Wh (vis %lld start %lld) own %u day %u bus %u booted %u no_time %d\n", i + 1,
                        (long long)((k->p[i].vis_mj - k->p[i].day_start_mj) / MJ_PER_WH), (long long)(k->p[i].vis_mj / MJ_PER_WH),
                        (long long)(k->p[i].day_start_mj / MJ_PER_WH), pi.grid_import_today_wh, pi.day, pi.bus, pi.booted, k->p[i].no_time);
            }
        }
    }
    /* Within a day the site's count never goes down (a new master has the whole day's table). */
    if (k->have_site_seen && obs->site->day == k->site_day_seen && obs->site->grid_import_today_wh + 1u < k->site_wh_seen) {
        report(k, SOAK_TODAY, "site import today went down from %u to %u Wh", k->site_wh_seen,
               obs->site->grid_import_today_wh);
    }
    k->have_site_seen = 1;
    k->site_day_seen = obs->site->day;
    k->site_wh_seen = obs->site->grid_import_today_wh;
}

static void check_limit(soak_t *k, const alfa_scn_obs_t *obs, const sim_pack_info_t *info, uint64_t us)
{
    for (unsigned i = 0; i < k->n; i++) {
        const alfa_scn_pack_obs_t *o = &obs->packs[i];
        int32_t lim = o->settings_valid && o->settings[ALFA_SET_GRID_LIMIT_ON] ? o->settings[ALFA_SET_GRID_LIMIT_KWH] : -1;
        if (o->settings_valid && lim != k->limit_kwh_seen[i]) {
            k->limit_kwh_seen[i] = lim;
            k->limit_changed_us = us;
            k->reached = 0; /* a new limit: the master's next word decides */
        }
    }
    if (us - k->limit_changed_us < 3000000u) {
        return;
    }
    int reached = obs->site_valid && obs->site->grid_limit_reached && obs->site->day == alfa_siteday_day(&k->day);
    if (reached && !k->reached) {
        k->reached = 1;
        k->reached_since_us = us;
        k->overshoot_mj = 0;
    }
    if (!k->reached) {
        return;
    }
    int grace = us - k->reached_since_us < 4000000u; /* two cycles: every pack hears the flag */
    for (unsigned i = 0; i < k->n; i++) {
        const sim_pack_info_t *p = &info[i];
        if (!p->booted || !p->bus || us - p->booted_us < SETTLE_MS * 1000ull || us - p->linked_us < SETTLE_MS * 1000ull ||
            !obs->packs[i].settings_valid || !obs->packs[i].settings[ALFA_SET_GRID_LIMIT_ON]) {
            continue; /* off, cut off, just back (it learns the flag first), or its own limit off */
        }
        /* The import past the limit of the packs the flag reaches: what the two cycles cost. */
        k->overshoot_mj += p->grid_import_mj - k->p[i].last_mj;
        if ((uint64_t)(k->overshoot_mj / MJ_PER_WH) > k->r->limit_overshoot_wh_max) {
            k->r->limit_overshoot_wh_max = (uint64_t)(k->overshoot_mj / MJ_PER_WH);
        }
        if (grace) {
            continue;
        }
        if (p->grid_closed) {
            report(k, SOAK_LIMIT, "pack %u's grid relay is closed %.1f s after the site reached its limit (why %u)", i + 1,
                   (double)(us - k->reached_since_us) / 1e6, p->why_grid);
            if (getenv("SOAK_DEBUG") && k->reported[SOAK_LIMIT] <= 2) {
                fprintf(k->out, "  site: day %u reached %u import %u master %llx; pack: day %u own %u limit_on %d kwh %d "
                        "warnings 0x%x booted %.0f s linked %.0f s\n", obs->site->day, obs->site->grid_limit_reached,
                        obs->site->grid_import_today_wh, (unsigned long long)obs->site->master_serial, p->day,
                        p->grid_import_today_wh, obs->packs[i].settings[ALFA_SET_GRID_LIMIT_ON],
                        obs->packs[i].settings[ALFA_SET_GRID_LIMIT_KWH], obs->packs[i].t.warnings,
                        (double)(us - p->booted_us) / 1e6, (double)(us - p->linked_us) / 1e6);
                for (unsigned j = 0; j < k->n; j++) {
                    fprintf(k->out, "   pack %u kwh %d on %d master %u id %u master_id %u why %u mode %u ovr %d\n", j + 1,
                            obs->packs[j].settings[ALFA_SET_GRID_LIMIT_KWH], obs->packs[j].settings[ALFA_SET_GRID_LIMIT_ON],
                            info[j].is_master, info[j].node_id, info[j].master_id, info[j].why_grid,
                            obs->packs[j].t.mode, obs->packs[j].settings[ALFA_SET_OVR_GRID]);
                }
            }
        }
    }
    /* Switched off or raised at the master: judged afresh from the next totals. */
    if (obs->site_valid && !obs->site->grid_limit_reached && obs->site->day == alfa_siteday_day(&k->day)) {
        k->reached = 0;
    }
}

static void check_masters(soak_t *k, const sim_pack_info_t *info, uint64_t us)
{
    unsigned masters = 0;
    for (unsigned i = 0; i < k->n; i++) {
        masters += info[i].booted && info[i].bus && info[i].is_master;
    }
    if (masters <= 1u) {
        k->masters_since_us = 0;
        return;
    }
    if (k->masters_since_us == 0) {
        k->masters_since_us = us;
    } else if (us - k->masters_since_us > 3000000u) {
        report(k, SOAK_MASTERS, "%u masters on the connected bus for %.1f s", masters,
               (double)(us - k->masters_since_us) / 1e6);
        k->masters_since_us = us; /* once per 3 s */
    }
}

static int critical(uint32_t faults)
{
    for (uint32_t b = 0; b < ALFA_FAULT_COUNT; b++) {
        const alfa_fault_row_t *row = alfa_fault_row(b);
        if (((faults >> b) & 1u) && row != NULL && row->severity == ALFA_SEV_CRITICAL) {
            return 1;
        }
    }
    return 0;
}

static void check_safe(soak_t *k, const sim_pack_info_t *info, uint64_t us)
{
    for (unsigned i = 0; i < k->n; i++) {
        const sim_pack_info_t *p = &info[i];
        pack_track_t *t = &k->p[i];
        int clean_alarm = p->booted && p->bms_answering && p->bms_alarms != 0;
        if (!clean_alarm) {
            t->alarm_since_us = 0;
        } else if (t->alarm_since_us == 0) {
            t->alarm_since_us = us;
        }
        if (!p->booted) {
            continue;
        }
        /* A critical fault puts the grid relay in its safe state at once (rank 2; rank 1, the
         * limit, may hold it open). */
        if (critical(p->faults) && p->why_grid != ALFA_WHY_FAULT && p->why_grid != ALFA_WHY_GRID_LIMIT) {
            report(k, SOAK_SAFE, "pack %u has a critical fault (0x%X) but its grid relay is decided by rank %u", i + 1,
                   p->faults, p->why_grid);
        }
        /* An alarm the BMS reports cleanly is a fault within a poll (2 s) and a cycle. */
        if (t->alarm_since_us != 0 && us - t->alarm_since_us > 4500000u &&
            (p->faults & ((uint32_t)p->bms_alarms << ALFA_FAULT_CELL_OV)) == 0) {
            report(k, SOAK_SAFE, "pack %u: BMS alarm 0x%X for %.1f s and no fault", i + 1, p->bms_alarms,
                   (double)(us - t->alarm_since_us) / 1e6);
            t->alarm_since_us = us;
        }
    }
}

/* The gateway's published "today" (what Home Assistant and the app read): never lower within a
 * day; its day never ahead of the truth's. */
static void check_gateway(soak_t *k, const sim_pack_info_t *info)
{
    for (unsigned i = 0; i < k->n; i++) {
        const gw_pack_t *g = gw_core_pack(k->gw, info[i].serial);
        pack_track_t *t = &k->p[i];
        alfa_telemetry_t x;
        uint16_t day = 0;
        if (g == NULL || !gw_pack_today(g, &x, &day)) {
            continue;
        }
        uint32_t wh[4] = {x.grid_import_today_wh, x.solar_today_wh, x.batt_charge_today_wh, x.batt_discharge_today_wh};
        if (day > alfa_siteday_day(&k->day)) {
            report(k, SOAK_TODAY, "pack %u's published day %u is ahead of the site's %u", i + 1, day,
                   alfa_siteday_day(&k->day));
        }
        if (t->gw_have && day == t->gw_day) {
            for (unsigned c = 0; c < 4; c++) {
                if (wh[c] < t->gw_wh[c]) {
                    report(k, SOAK_TODAY, "pack %u's published counter %u went down from %u to %u Wh within day %u", i + 1, c,
                           t->gw_wh[c], wh[c], day);
                }
            }
        } else if (t->gw_have && day < t->gw_day) {
            report(k, SOAK_TODAY, "pack %u's published day went back from %u to %u", i + 1, t->gw_day, day);
        }
        t->gw_have = 1;
        t->gw_day = day;
        memcpy(t->gw_wh, wh, sizeof(wh));
    }
}

/* Settings: an acknowledged change is on flash within the store's coalescing time; a power cut
 * inside the quiet period may lose that change (docs/store.md), never an older one. */
static int same_settings(const int32_t *a, const int32_t *b)
{
    for (unsigned id = 0; id < (unsigned)ALFA_SET_COUNT; id++) {
        if (id != ALFA_SET_NODE_ID && a[id] != b[id]) {
            return 0;
        }
    }
    return 1;
}

static void track_settings(soak_t *k, const alfa_scn_obs_t *obs, const sim_pack_info_t *info, unsigned i)
{
    pack_track_t *t = &k->p[i];
    const alfa_scn_pack_obs_t *o = &obs->packs[i];
    if (t->check_after_boot && info[i].booted && o->settings_valid) {
        t->check_after_boot = 0;
        if (t->have_acked && !same_settings(o->settings, t->acked)) {
            if (t->cut_uncommitted && t->have_prev && same_settings(o->settings, t->prev)) {
                k->r->lost_in_quiet++;
                memcpy(t->acked, t->prev, sizeof(t->acked)); /* the documented loss: the old state stands */
            } else {
                report(k, SOAK_SETTINGS, "pack %u rebooted with settings that are neither the acknowledged ones nor the "
                       "ones before", i + 1);
                memcpy(t->acked, o->settings, sizeof(t->acked));
            }
        }
        t->cut_uncommitted = 0;
        t->acked_committed = 1;
    }
    if (o->acks != t->acks_seen) {
        t->acks_seen = o->acks;
        if (o->last_ack == ALFA_ACK_OK && o->settings_valid && !t->check_after_boot) {
            if (t->have_acked && t->acked_committed) {
                memcpy(t->prev, t->acked, sizeof(t->prev));
                t->have_prev = 1;
            }
            memcpy(t->acked, o->settings, sizeof(t->acked));
            t->have_acked = 1;
            t->acked_committed = 0;
        }
    }
    if (info[i].booted && !info[i].stored_busy && t->have_acked && !t->acked_committed &&
        same_settings(o->settings, t->acked)) {
        t->acked_committed = 1;
    }
}

static void track_pack(soak_t *k, const alfa_scn_obs_t *obs, const sim_pack_info_t *info, unsigned i, uint64_t us)
{
    pack_track_t *t = &k->p[i];
    const sim_pack_info_t *p = &info[i];
    if (p->booted_us != t->booted_us || !p->powered) {
        if (p->booted_us != t->booted_us && p->booted) {
            /* A (re)boot: it counts from now until it learns the day. */
            t->booted_us = p->booted_us;
            t->no_time = 1;
            t->boot_mj = p->grid_import_mj;
            /* What it counted since the site last heard it died with its RAM (SPEC.md §5.5): no
             * keeper can have it, so the truth of its day leaves it out. */
            if (p->grid_import_mj > t->vis_mj) {
                t->day_start_mj += p->grid_import_mj - t->vis_mj;
                k->r->lost_at_boot_wh += (uint64_t)((p->grid_import_mj - t->vis_mj) / MJ_PER_WH);
            }
            t->vis_mj = p->grid_import_mj;
            k->quiet_until_us = us + SETTLE_MS * 1000ull;
        }
        if (!p->powered && !t->check_after_boot) {
            t->check_after_boot = 1;
            t->cut_uncommitted = t->have_acked && !t->acked_committed;
        }
    }
    if (t->no_time && p->booted && p->day != ALFA_DAY_NONE) {
        t->no_time = 0;
        if (p->day > alfa_siteday_day(&k->day)) {
            report(k, SOAK_TODAY, "pack %u learnt day %u, ahead of the site's %u", i + 1, p->day, alfa_siteday_day(&k->day));
        }
    }
    if (p->bus) {
        t->vis_mj = p->grid_import_mj;
        if (!t->was_bus) {
            k->quiet_until_us = us + SETTLE_MS * 1000ull;
        }
    }
    t->was_bus = p->bus;
    if (getenv("SOAK_TRACE") && p->booted && (p->day != t->dbg_day || p->grid_import_today_wh + 5u < t->dbg_wh)) {
        char tt[40];
        when_text(k, tt, sizeof(tt));
        fprintf(k->out, "TRACE %s pack %u day %u->%u wh %u->%u master %u truthday %u\n", tt, i + 1, t->dbg_day, p->day,
                t->dbg_wh, p->grid_import_today_wh, p->is_master, alfa_siteday_day(&k->day));
    }
    t->dbg_day = p->day;
    t->dbg_wh = p->grid_import_today_wh;
    track_settings(k, obs, info, i);
}

/* ------------------------------------------------------------------ the run */

static void apply(soak_t *k, const alfa_scn_action_t *a)
{
    if (a->kind == ALFA_SCN_ACT_COMMAND && !sim_site_gateway_on(k->site)) {
        return; /* no gateway, no app commands */
    }
    if (a->kind == ALFA_SCN_ACT_COMMAND) {
        k->r->commands++;
    }
    /* A command to a pack without node ID yet (booting, off) cannot be addressed: skipped. */
    if (a->kind == ALFA_SCN_ACT_COMMAND && a->target.kind == ALFA_SCN_TGT_PACK) {
        sim_pack_info_t p;
        if (sim_site_pack_info(k->site, a->target.pack, &p) < 0 || !p.booted ||
            sim_site_observe(k->site)->packs[a->target.pack].node_id == 0) {
            return;
        }
    }
    if (sim_site_apply(k->site, a) < 0 && k->o->verbose) {
        fprintf(k->out, "soak: action '%s %s' not carried out\n", a->name, a->json);
    }
    if (k->o->verbose && a->kind != ALFA_SCN_ACT_COMMAND) {
        char t[40];
        when_text(k, t, sizeof(t));
        fprintf(k->out, "soak %s: fault kind %u pack %u value %" PRId64 "\n", t, a->kind, a->target.pack + 1u, a->value);
    }
}

static void pump_gateway(soak_t *k)
{
    gw_now_t now;
    gw_now(k, &now);
    alfa_can_frame_t f;
    while (alfa_canbus_recv(k->tap, &f) == 1) {
        gw_core_on_can(k->gw, &f, &now);
    }
    gw_core_process(k->gw, &now);
}

int soak_run(uint64_t seed, const soak_opts_t *o, soak_result_t *r, FILE *out)
{
    soak_t *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return -1;
    }
    memset(r, 0, sizeof(*r));
    k->o = o;
    k->seed = seed;
    k->out = out;
    k->r = r;
    int rc = -1;
    soak_schedule_t sch;
    memset(&sch, 0, sizeof(sch));
    if (setup(k, seed) < 0) {
        goto done;
    }
    /* 05:00 local of the first day after the start (the start is 22:00) */
    int64_t first_0500 = (int64_t)(((29u * 3600u) - k->scn.start_tod_ms / 1000u) % 86400u) * 1000;
    if (soak_schedule_make(&sch, seed, o->days, k->n, first_0500) < 0) {
        goto done;
    }
    r->faults = sch.faults;
    clock_t c0 = clock();
    size_t next = 0;
    int64_t end_ms = (int64_t)o->days * 86400000ll;
    int64_t next_check = CHECK_MS;
    sim_pack_info_t info[MAX_PACKS];
    while ((int64_t)(sim_site_now_us(k->site) / 1000u) < end_ms && !k->stop) {
        sim_site_step(k->site);
        int64_t now_ms = (int64_t)(sim_site_now_us(k->site) / 1000u);
        while (next < sch.count && sch.actions[next].at_ms <= now_ms) {
            apply(k, &sch.actions[next++]);
        }
        pump_gateway(k);
        if (now_ms < next_check) {
            continue;
        }
        next_check += CHECK_MS;
        uint64_t us = sim_site_now_us(k->site);
        if (sim_site_gateway_on(k->site)) {
            k->packs_shift_s = sim_site_gateway_unix_s(k->site) - k->scn.start_unix_s - (int64_t)(us / 1000000u);
        }
        for (unsigned i = 0; i < k->n; i++) {
            pack_info(k, i, &info[i]);
        }
        if (alfa_siteday_tick(&k->day, true, packs_local_s(k), (uint32_t)(us / 1000u))) {
            truth_turn(k, info);
        }
        const alfa_scn_obs_t *obs = sim_site_observe(k->site);
        for (unsigned i = 0; i < k->n; i++) {
            track_pack(k, obs, info, i, us);
        }
        r->checks++;
        check_site_count(k, obs, us);
        check_limit(k, obs, info, us);
        check_masters(k, info, us);
        check_safe(k, info, us);
        check_gateway(k, info);
        for (unsigned i = 0; i < k->n; i++) {
            k->p[i].last_mj = info[i].grid_import_mj;
        }
    }
    r->cpu_s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    rc = 0;
done:
    soak_schedule_free(&sch);
    if (k->site != NULL) {
        sim_site_free(k->site);
    }
    alfa_scn_free(&k->scn);
    free(k->gw);
    free(k);
    return rc;
}
