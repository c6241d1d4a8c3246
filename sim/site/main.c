/* alfaspark-sim: runs a scenario on a simulated site and reports every expectation that failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "alfa/scenario.h"
#include "bridge.h"
#include "site.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* A sunny day for a first look: used when no --scenario is given. */
static const char *const default_scenario =
    "packs 3\n"
    "timezone +01:00\n"
    "start 2026-06-21 06:00\n"
    "duration 24h\n"
    "solar peak 5000 sunrise 05:30 sunset 21:30\n"
    "house base 450\n"
    "house load 2000 from 18:30 to 19:30\n"
    "at 06:01 command all set_mode {\"mode\": \"self_consumption\", \"on\": true}\n";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: alfaspark-sim [options]\n"
            "  --scenario FILE     scenario to run (docs/scenarios.md); default: a sunny 3-pack day\n"
            "  --seed N            random seed (overrides the scenario's 'seed')\n"
            "  --packs N           number of packs (overrides the scenario's 'packs')\n"
            "  --trace FILE.csv    every pack's telemetry of every 2-s cycle, as CSV\n"
            "  --realtime FACTOR   pace the simulation at FACTOR x real time (default: as fast as possible)\n"
            "  --step-ms N         simulation step in ms (default: the scenario's, 10)\n"
            "  --duration DUR      override the scenario's duration (e.g. 2h, 90m, 3d)\n"
            "  --can-pty           expose the simulated CAN bus as an SLCAN pseudo-terminal (prints its path);\n"
            "                      the real alfaspark-gateway attaches there and is the site's gateway\n"
            "  --status-every S    print a status line per pack and the site every S simulated seconds\n"
            "  --adc-noise N       add uniform noise of +-N counts to the CT sample blocks\n"
            "  --ota-slots         give every pack firmware slots (implied by --can-pty and by 'ota image' lines)\n"
            "  --ota-pub PUB.pem   one more firmware-signing public key the simulated packs trust (repeatable)\n"
            "  --actions-stdin     carry out action lines read from stdin at once (e.g. 'power pack 2 off')\n"
            "  --quiet             print only failures and the summary\n"
            "  --help              this text\n"
            "Exit status: 0 when every expectation held, 1 when one failed, 2 on a usage or scenario error.\n");
}

static int parse_dur_ms(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0) {
        return -1;
    }
    int64_t unit = 1000;
    if (!strcmp(end, "ms")) {
        unit = 1;
    } else if (!strcmp(end, "s") || *end == '\0') {
        unit = 1000;
    } else if (!strcmp(end, "m")) {
        unit = 60000;
    } else if (!strcmp(end, "h")) {
        unit = 3600000;
    } else if (!strcmp(end, "d")) {
        unit = ALFA_SCN_DAY_MS;
    } else {
        return -1;
    }
    *out = v * unit;
    return 0;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: the simulator's speed on a machine shared with other work. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_status(const alfa_scn_t *scn, const alfa_scn_obs_t *o, int64_t now_ms)
{
    char when[40];
    alfa_scn_format_time(scn, now_ms, when, sizeof(when));
    for (unsigned i = 0; i < o->pack_count; i++) {
        const alfa_scn_pack_obs_t *p = &o->packs[i];
        if (!p->valid) {
            printf("%s pack %u %012" PRIX64 " %s\n", when, i + 1u, scn->packs[i].serial,
                   p->powered ? "starting" : "off");
            continue;
        }
        const alfa_telemetry_t *t = &p->t;
        printf("%s pack %u %012" PRIX64 " soc %3u%% batt %+6" PRId32 " W solar %5" PRId32
               " W home %5" PRId32 " W grid %5" PRId32 " W relays G%u I%u P%u H%u mode %s%s faults 0x%" PRIX32
               " warnings 0x%X\n",
               when, i + 1u, scn->packs[i].serial, t->soc_pct, t->p_batt_w, t->p_solar_w, t->p_home_w,
               t->p_grid_w, t->relays_closed & 1u, (t->relays_closed >> 1) & 1u,
               (t->relays_closed >> 2) & 1u, (t->relays_closed >> 3) & 1u, alfa_scn_mode_name(t->mode),
               t->is_master ? " MASTER" : "", t->faults, t->warnings);
    }
    if (o->site_valid) {
        const alfa_site_totals_t *s = o->site;
        printf("%s site packs %u soc %u%% batt %+" PRId32 " W solar %" PRId32 " W home %" PRId32
               " W grid %" PRId32 " W import today %" PRIu32 " Wh master %012" PRIX64 "%s\n",
               when, s->packs_online, s->soc_avg_pct, s->p_batt_w, s->p_solar_w, s->p_home_w,
               s->p_grid_w, s->grid_import_today_wh, s->master_serial,
               s->grid_limit_reached ? " GRID-LIMIT" : "");
    } else {
        printf("%s site (no site totals heard yet)\n", when);
    }
    fflush(stdout);
}

/* Live actions: lines of the scenario action language read from stdin ("power pack 2 off"),
 * carried out at once. Each is parsed as a one-line scenario of the same pack count (targets by
 * pack number). Returns the number of lines that failed. */
static int live_actions(sim_site_t *site, const alfa_scn_t *scn, char *buf, size_t *len)
{
    ssize_t got = read(0, buf + *len, 1023u - *len);
    if (got <= 0) {
        return 0;
    }
    *len += (size_t)got;
    int errors = 0;
    char *nl;
    while ((nl = memchr(buf, '\n', *len)) != NULL) {
        *nl = '\0';
        char text[1200];
        snprintf(text, sizeof(text), "packs %u\nstart 2026-01-01 00:00\nat 00:00 %s\n", scn->pack_count, buf);
        alfa_scn_t one;
        char err[256];
        if (buf[0] != '\0' && alfa_scn_parse_string("stdin", text, 0, &one, err, sizeof(err)) == 0 && one.action_count == 1) {
            errors += sim_site_apply(site, &one.actions[0]) < 0;
            printf("alfaspark-sim: done: %s\n", buf);
            fflush(stdout);
            alfa_scn_free(&one);
        } else if (buf[0] != '\0') {
            fprintf(stderr, "alfaspark-sim: stdin: not an action: %s\n", buf);
            errors++;
        }
        size_t used = (size_t)(nl - buf) + 1u;
        memmove(buf, buf + used, *len - used);
        *len -= used;
    }
    if (*len >= 1023u) {
        *len = 0; /* an endless line: drop it */
    }
    return errors;
}

int main(int argc, char **argv)
{
    const char *scenario = NULL, *trace = NULL;
    sim_options_t opt = {.gateway_sim = 1};
    double realtime = 0.0;
    int can_pty = 0, quiet = 0, actions_stdin = 0;
    int64_t duration_override = 0, status_every_ms = 0;
    long step_ms = 0, packs = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--can-pty")) {
            can_pty = 1;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "--ota-slots")) {
            opt.ota_slots = 1;
        } else if (!strcmp(a, "--actions-stdin")) {
            actions_stdin = 1;
        } else if (v == NULL) {
            fprintf(stderr, "alfaspark-sim: %s: unknown option or missing value\n", a);
            usage(stderr);
            return 2;
        } else if (!strcmp(a, "--scenario")) {
            scenario = v;
            i++;
        } else if (!strcmp(a, "--ota-pub")) {
            if (opt.n_ota_pub >= sizeof(opt.ota_pub) / sizeof(opt.ota_pub[0])) {
                fprintf(stderr, "alfaspark-sim: at most %zu --ota-pub keys\n", sizeof(opt.ota_pub) / sizeof(opt.ota_pub[0]));
                return 2;
            }
            opt.ota_pub[opt.n_ota_pub++] = v;
            i++;
        } else if (!strcmp(a, "--trace")) {
            trace = v;
            i++;
        } else if (!strcmp(a, "--seed")) {
            opt.seed = strtoull(v, &end, 0);
            opt.seed_given = 1;
            if (*end) {
                fprintf(stderr, "alfaspark-sim: --seed needs an integer\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--packs")) {
            packs = strtol(v, &end, 10);
            if (*end || packs < 1 || packs > (long)SIM_MAX_PACKS) {
                fprintf(stderr, "alfaspark-sim: --packs must be 1..%u\n", SIM_MAX_PACKS);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--realtime")) {
            realtime = strtod(v, &end);
            if (*end || realtime <= 0.0) {
                fprintf(stderr, "alfaspark-sim: --realtime needs a factor > 0\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--step-ms")) {
            step_ms = strtol(v, &end, 10);
            if (*end || step_ms < 1 || step_ms > 1000) {
                fprintf(stderr, "alfaspark-sim: --step-ms must be 1..1000\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--duration")) {
            if (parse_dur_ms(v, &duration_override) < 0) {
                fprintf(stderr, "alfaspark-sim: --duration is e.g. 90m, 2h, 3d\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--status-every")) {
            long sv = strtol(v, &end, 10);
            if (*end || sv < 1) {
                fprintf(stderr, "alfaspark-sim: --status-every needs seconds >= 1\n");
                return 2;
            }
            status_every_ms = (int64_t)sv * 1000;
            i++;
        } else if (!strcmp(a, "--adc-noise")) {
            long nv = strtol(v, &end, 10);
            if (*end || nv < 0 || nv > 200) {
                fprintf(stderr, "alfaspark-sim: --adc-noise must be 0..200 counts\n");
                return 2;
            }
            opt.adc_noise_counts = (uint32_t)nv;
            i++;
        } else {
            fprintf(stderr, "alfaspark-sim: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }

    alfa_scn_t scn;
    char err[512];
    int rc = scenario ? alfa_scn_parse_file(scenario, (uint8_t)packs, &scn, err, sizeof(err))
                      : alfa_scn_parse_string("(built-in sunny day)", default_scenario, (uint8_t)packs, &scn,
                                              err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "alfaspark-sim: %s\n", err);
        return 2;
    }
    if (duration_override) {
        scn.duration_ms = duration_override;
    }
    opt.packs = (uint8_t)packs;
    opt.step_us = (uint32_t)step_ms * 1000u;
    /* With the real gateway on the pty, simulated time stays the site's time: the bridge keeps
     * the real gateway's (wall-clock) time frames off the bus and our gateway role still sends
     * the simulated time (and the scenario's commands); the real one answers import requests. */
    opt.gateway_sim = 1;
    opt.real_gateway = (uint8_t)can_pty;

    sim_site_t *site = sim_site_new(&scn, &opt);
    if (site == NULL) {
        alfa_scn_free(&scn);
        return 2;
    }
    FILE *tf = NULL;
    if (trace) {
        tf = fopen(trace, "w");
        if (tf == NULL) {
            fprintf(stderr, "alfaspark-sim: %s: %s\n", trace, strerror(errno));
            sim_site_free(site);
            alfa_scn_free(&scn);
            return 2;
        }
        sim_site_trace(site, tf);
    }
    sim_bridge_t *bridge = NULL;
    if (can_pty) {
        bridge = sim_bridge_new(sim_site_bus(site));
        if (bridge == NULL) {
            sim_site_free(site);
            alfa_scn_free(&scn);
            return 2;
        }
        printf("CAN pty: %s\n", sim_bridge_path(bridge));
        fflush(stdout);
    }
    alfa_scn_engine_t eng;
    if (alfa_scn_engine_init(&eng, &scn) < 0) {
        fprintf(stderr, "alfaspark-sim: out of memory\n");
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    if (!quiet) {
        printf("alfaspark-sim: %s, %u packs, seed %" PRIu64 ", %" PRId64 " s simulated\n", scn.file,
               scn.pack_count, opt.seed_given ? opt.seed : scn.seed, scn.duration_ms / 1000);
        fflush(stdout);
    }
    double w0 = wall_s();
    double c0 = cpu_s();
    int action_errors = 0;
    int64_t next_status = status_every_ms;
    int64_t now_ms = 0;
    const alfa_scn_action_t *a;
    char live[1024];
    size_t live_len = 0;
    if (actions_stdin) {
        /* A blocking stdin would stop the simulated clock at the first read. */
        int fl = fcntl(0, F_GETFL);
        if (fl < 0 || fcntl(0, F_SETFL, fl | O_NONBLOCK) < 0) {
            fprintf(stderr, "alfaspark-sim: --actions-stdin: standard input cannot be made non-blocking: %s\n",
                    strerror(errno));
            return 2;
        }
    }
    while ((a = alfa_scn_engine_next_action(&eng, 0)) != NULL) {
        action_errors += sim_site_apply(site, a) < 0;
    }
    while (!stop_requested && now_ms < scn.duration_ms) {
        sim_site_step(site);
        now_ms = (int64_t)(sim_site_now_us(site) / 1000u);
        /* Expectations at time T see the site as it is at T, before the actions of T.
         * Observing costs a telemetry fill per pack: only when something looks at it. */
        if (scn.expect_count) {
            alfa_scn_engine_observe(&eng, now_ms, sim_site_observe(site));
        }
        while ((a = alfa_scn_engine_next_action(&eng, now_ms)) != NULL) {
            if (sim_site_apply(site, a) < 0) {
                action_errors++;
            }
        }
        if (bridge) {
            sim_bridge_pump(bridge);
        }
        if (actions_stdin) {
            action_errors += live_actions(site, &scn, live, &live_len);
        }
        if (status_every_ms && now_ms >= next_status) {
            print_status(&scn, sim_site_observe(site), now_ms);
            next_status += status_every_ms;
        }
        if (realtime > 0.0) {
            double ahead = (double)now_ms / 1000.0 / realtime - (wall_s() - w0);
            if (ahead > 0.002) {
                struct timespec ts = {(time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9)};
                nanosleep(&ts, NULL); /* cut short by a signal: the next turn waits again */
            }
        }
    }
    double wall = wall_s() - w0;
    double cpu = cpu_s() - c0;
    if (stop_requested) {
        alfa_scn_engine_stop_at(&eng, now_ms); /* interrupted: judge only what was reached */
    }
    alfa_scn_engine_finish(&eng, now_ms);
    alfa_scn_engine_report(&eng, stdout);
    const sim_stats_t *st = sim_site_stats(site);
    printf("alfaspark-sim: %s: %zu expectations, %zu failed, %d action errors; %.1f s simulated in %.2f s "
           "wall (%.0fx), %.2f s CPU (%.0fx); BMS polls %" PRIu64 " (%" PRIu64 " failed), commands %" PRIu64
           ", acks %" PRIu64 "\n",
           scn.file, scn.expect_count, alfa_scn_engine_failure_count(&eng), action_errors, (double)now_ms / 1000.0, wall,
           wall > 0 ? (double)now_ms / 1000.0 / wall : 0.0, cpu, cpu > 0 ? (double)now_ms / 1000.0 / cpu : 0.0,
           st->bms_polls, st->bms_failures, st->cmds_sent, st->acks);
    if (bridge) {
        sim_bridge_summary(bridge, stdout);
    }
    int result = (alfa_scn_engine_failure_count(&eng) == 0 && action_errors == 0) ? 0 : 1;
    int trace_failed = tf != NULL && ferror(tf) != 0; /* a write on the way failed (a full disk) */
    if (tf != NULL && (fclose(tf) != 0 || trace_failed)) {
        fprintf(stderr, "alfaspark-sim: the trace %s is incomplete: %s\n", trace, strerror(errno));
        result = 1;
    }
    sim_bridge_free(bridge);
    alfa_scn_engine_free(&eng);
    sim_site_free(site);
    alfa_scn_free(&scn);
    return result;
}
