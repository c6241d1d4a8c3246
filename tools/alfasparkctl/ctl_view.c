/* alfasparkctl's views of the site: status and watch (a table per pack, the site totals, the site's time) and read-settings, as tables or JSON. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alfa/names.h"
#include "alfa/settings.h"
#include "ctl.h"

static volatile sig_atomic_t g_quit; /* Ctrl-C in watch: the only global, as signals require */

static void on_quit(int sig)
{
    (void)sig;
    g_quit = 1;
}

/* The site's own time: the newest ts_s of the packs' states (the packs' clock as the gateway
 * published it, in the demo the simulated time), in the zone the state names (utc_offset_min)
 * or else this computer's. "" when no pack published a time yet. */
static const char *site_time(const ctl_t *c, char *buf, size_t cap)
{
    long long ts = 0, off = 0;
    int have_off = 0;
    for (int k = 0; k < c->n_packs; k++) {
        int ok = 0;
        long long t = ctl_json_int(c->packs[k].state, "ts_s", &ok);
        if (ok && t > ts) {
            ts = t;
            off = ctl_json_int(c->packs[k].state, "utc_offset_min", &have_off);
        }
    }
    buf[0] = '\0';
    if (ts <= 0) return buf;
    struct tm tm;
    time_t t = (time_t)ts;
    /* A time the C library cannot convert, or a buffer too small, shows as unknown ("" here). */
    if (have_off) {
        t += (time_t)(off * 60);
        size_t n = gmtime_r(&t, &tm) != NULL ? strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm) : 0u;
        if (n > 0u) {
            snprintf(buf + n, cap - n, " UTC%+03lld:%02lld", off / 60, (off < 0 ? -off : off) % 60);
        }
    } else if (localtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0u) {
        buf[0] = '\0';
    }
    return buf;
}

static void print_table(const ctl_t *c)
{
    static const char *const relay_key[4] = {"relay_grid_closed", "relay_inverter_closed", "relay_pool_closed",
                                             "relay_heater_closed"};
    static const char relay_letter[4] = {'G', 'I', 'P', 'H'};
    char when[64];
    site_time(c, when, sizeof when);
    printf("site %s   gateway %s   site time %s\n", c->site, c->gw_status[0] ? c->gw_status : "not seen",
           when[0] ? when : "unknown (no pack state yet)");
    printf("%-12s %-7s %-6s %5s %7s %7s %7s %7s %10s  %-6s %-16s %s\n", "pack", "status", "role", "SOC", "solar", "home",
           "grid", "battery", "grid today", "relays", "mode", "faults, warnings");
    printf("%-12s %-7s %-6s %5s %7s %7s %7s %7s %10s\n", "", "", "", "%", "W", "W", "W", "W", "kWh");
    for (int k = 0; k < c->n_packs; k++) {
        const ctl_pack_t *p = &c->packs[k];
        const char *st = p->state;
        if (st[0] == '\0') {
            printf("%-12s %-7s (no state published yet)\n", p->serial, p->status[0] ? p->status : "?");
            continue;
        }
        char relays[5] = {0}, mode[32], faults[256], warnings[256], issues[520];
        for (int r = 0; r < 4; r++) relays[r] = ctl_json_true(st, relay_key[r]) ? relay_letter[r] : '-';
        ctl_json_list(st, "faults", faults, sizeof faults);
        ctl_json_list(st, "warnings", warnings, sizeof warnings);
        snprintf(issues, sizeof issues, "%s%s%s", faults, faults[0] && warnings[0] ? ", " : "", warnings);
        long long grid_wh = ctl_json_int(st, "grid_import_today_wh", NULL);
        printf("%-12s %-7s %-6s %5lld %7lld %7lld %7lld %7lld %10.1f  %-6s %-16s %s\n", p->serial,
               p->status[0] ? p->status : "?", ctl_json_true(st, "master") ? "master" : "-",
               ctl_json_int(st, "soc_pct", NULL), ctl_json_int(st, "p_solar_w", NULL), ctl_json_int(st, "p_home_w", NULL),
               ctl_json_int(st, "p_grid_w", NULL), ctl_json_int(st, "p_batt_w", NULL), (double)grid_wh / 1000.0, relays,
               ctl_json_str(st, "mode", mode, sizeof mode), issues[0] ? issues : "-");
    }
    if (c->n_packs == 0) printf("(no pack has been heard by the gateway)\n");
    const char *ss = c->site_state;
    if (ss[0]) {
        char master[32];
        long long wh = ctl_json_int(ss, "grid_import_today_wh", NULL);
        printf("%-12s %-7s %-6s %5lld %7lld %7lld %7lld %7lld %10.1f  %lld pack(s) online, master %s%s\n", "site", "", "",
               ctl_json_int(ss, "soc_avg_pct", NULL), ctl_json_int(ss, "p_solar_w", NULL), ctl_json_int(ss, "p_home_w", NULL),
               ctl_json_int(ss, "p_grid_w", NULL), ctl_json_int(ss, "p_batt_w", NULL), (double)wh / 1000.0,
               ctl_json_int(ss, "packs_online", NULL), ctl_json_str(ss, "master", master, sizeof master),
               ctl_json_true(ss, "grid_limit_reached") ? ", DAILY GRID LIMIT REACHED" : "");
    }
    printf("relays: G grid, I inverter output, P pool pump, H water heater (letter = closed, - = open); "
           "battery + = charging\n");
}

/* A document as a JSON value: itself when it is an object, else null. */
static void json_doc(const char *doc)
{
    const char *p = doc;
    while (*p == ' ' || *p == '\n') p++;
    printf("%s", *p == '{' ? doc : "null");
}

static void print_status_json(const ctl_t *c)
{
    printf("{\"site\":\"%s\",\"gateway\":", c->site);
    if (c->gw_status[0]) printf("\"%s\"", c->gw_status);
    else printf("null");
    printf(",\"site_state\":");
    json_doc(c->site_state);
    printf(",\"packs\":[");
    for (int k = 0; k < c->n_packs; k++) {
        printf("%s\n {\"serial\":\"%s\",\"status\":", k ? "," : "", c->packs[k].serial);
        if (c->packs[k].status[0]) printf("\"%s\"", c->packs[k].status);
        else printf("null");
        printf(",\"state\":");
        json_doc(c->packs[k].state);
        printf("}");
    }
    printf("]}\n");
}

int ctl_status(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) return ctl_usage_error(cmd, "takes no arguments");
    int rc = ctl_connect(c);
    if (rc != CTL_OK) return rc;
    if (c->gw_status[0] == '\0') return ctl_require_gateway(c); /* nothing to show: say why */
    if (c->json) print_status_json(c);
    else print_table(c);
    return strcmp(c->gw_status, "online") == 0 ? CTL_OK : CTL_FAILED;
}

int ctl_watch(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) return ctl_usage_error(cmd, "takes no arguments");
    int rc = ctl_connect(c);
    if (rc != CTL_OK) return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_quit;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int tty = isatty(1);
    struct timespec next = {0, 0};
    while (!g_quit) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
            if (tty) printf("\033[H\033[2J");
            if (c->json) print_status_json(c);
            else print_table(c);
            if (!c->json) printf("(Ctrl-C quits)\n");
            fflush(stdout);
            next = now;
            next.tv_sec += 1;
        }
        if (ctl_loop(c, 100) < 0) {
            fprintf(stderr, "alfasparkctl: lost the broker at %s:%d\n", c->host, c->port);
            return CTL_USAGE;
        }
    }
    return CTL_OK;
}

/* ---- read-settings ---- */

typedef struct settings_set {
    char serial[CTL_MAX_PACKS][24];
    char doc[CTL_MAX_PACKS][CTL_DOC_MAX];
    int n;
} settings_set_t;

static void keep_settings(ctl_t *c, const ctl_result_t *r, void *user)
{
    settings_set_t *s = user;
    if (strcmp(r->result, "ok") != 0 || r->settings == NULL) {
        if (strcmp(r->pack, "all") == 0 || c->pack != NULL) {
            fprintf(stderr, "alfasparkctl: read-settings refused: %s%s%s\n", r->result, r->detail[0] ? ": " : "", r->detail);
        } else {
            fprintf(stderr, "alfasparkctl: %s: %s%s%s\n", r->pack, r->result, r->detail[0] ? ": " : "", r->detail);
        }
        return;
    }
    if (s->n >= CTL_MAX_PACKS || r->settings_len >= CTL_DOC_MAX) return;
    snprintf(s->serial[s->n], sizeof s->serial[0], "%s", r->pack);
    memcpy(s->doc[s->n], r->settings, r->settings_len);
    s->doc[s->n][r->settings_len] = '\0';
    s->n++;
}

/* A setting's value as people read it: names for enums, on/off, HH:MM. */
static const char *show_value(const alfa_setting_desc_t *d, long long v, char *buf, size_t cap)
{
    const char *name = alfa_setting_value_name(d->id, (int32_t)v);
    if (name != NULL) snprintf(buf, cap, "%s", name);
    else if (d->type == ALFA_STYPE_BOOL) snprintf(buf, cap, "%s", v ? "on" : "off");
    else if (d->type == ALFA_STYPE_MINUTE && v >= 0) snprintf(buf, cap, "%02lld:%02lld", v / 60, v % 60);
    else if (d->type == ALFA_STYPE_MASK) snprintf(buf, cap, "0x%llx", v);
    else snprintf(buf, cap, "%lld", v);
    return buf;
}

static const char *show_range(const alfa_setting_desc_t *d, char *buf, size_t cap)
{
    char a[24], b[24];
    if (d->type == ALFA_STYPE_ENUM) {
        size_t o = 0;
        buf[0] = '\0';
        for (int32_t k = d->min; k <= d->max; k++) {
            int w = snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", show_value(d, k, a, sizeof a));
            if (w > 0 && (size_t)w < cap - o) o += (size_t)w;
        }
        return buf;
    }
    if (d->type == ALFA_STYPE_BOOL) return "off, on";
    snprintf(buf, cap, "%s..%s", show_value(d, d->min, a, sizeof a), show_value(d, d->max, b, sizeof b));
    return buf;
}

static void print_settings_table(const settings_set_t *s)
{
    char v[32], range[96];
    printf("%-24s %-9s", "setting", "unit");
    for (int k = 0; k < s->n; k++) printf(" %-16s", s->serial[k]);
    printf(" %s\n", "allowed");
    for (uint32_t id = 0; id < (uint32_t)ALFA_SET_COUNT; id++) {
        const alfa_setting_desc_t *d = alfa_settings_desc(id);
        printf("%-24s %-9s", d->name, d->unit);
        for (int k = 0; k < s->n; k++) {
            int ok = 0;
            long long x = ctl_json_int(s->doc[k], d->name, &ok);
            printf(" %-16s", ok ? show_value(d, x, v, sizeof v) : "-");
        }
        printf(" %s\n", show_range(d, range, sizeof range));
    }
}

int ctl_read_settings(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) return ctl_usage_error(cmd, "takes no arguments");
    int rc = ctl_connect(c);
    if (rc != CTL_OK) return rc;
    if ((rc = ctl_require_gateway(c)) != CTL_OK) return rc;
    static settings_set_t s;
    memset(&s, 0, sizeof s);
    rc = ctl_send(c, "read_settings", "", keep_settings, &s);
    if (c->json) {
        printf("{");
        for (int k = 0; k < s.n; k++) printf("%s\n \"%s\":%s", k ? "," : "", s.serial[k], s.doc[k]);
        printf("}\n");
    } else if (s.n > 0) {
        print_settings_table(&s);
    }
    return rc;
}
