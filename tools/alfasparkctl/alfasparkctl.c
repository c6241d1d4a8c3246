/* alfasparkctl: command-line MQTT client for installers and scripts: site status and every pack command. */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alfa/gw_json.h"
#include "ctl_update.h"

#define MAX_PACKS 64

typedef struct ctl {
    const char *site;
    char id[64];
    int subscribed;
    int connect_rc;
    /* status */
    char gw_status[16];
    char site_state[1024];
    struct { char serial[16]; char status[16]; char state[1024]; } packs[MAX_PACKS];
    int n_packs;
    /* command */
    int results, failures;
    int verbose_json;
} ctl_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pack_slot(ctl_t *c, const char *serial)
{
    for (int k = 0; k < c->n_packs; k++) {
        if (!strcmp(c->packs[k].serial, serial)) return k;
    }
    if (c->n_packs >= MAX_PACKS || strlen(serial) >= sizeof c->packs[0].serial) return -1;
    snprintf(c->packs[c->n_packs].serial, sizeof c->packs[0].serial, "%s", serial);
    return c->n_packs++;
}

static const char *member_str(const gw_json_doc_t *d, const char *key, char *buf, size_t cap)
{
    const gw_json_member_t *m = gw_json_get(d, key);
    if (m == NULL) return "";
    if (m->type == GW_JSON_STRING) return m->s;
    snprintf(buf, cap, "%.*s", (int)m->raw_len, m->raw);
    return buf;
}

static void on_message(struct mosquitto *m, void *user, const struct mosquitto_message *msg)
{
    (void)m;
    ctl_t *c = user;
    char prefix[128];
    int n = snprintf(prefix, sizeof prefix, "alfaspark/%s/", c->site);
    if (strncmp(msg->topic, prefix, (size_t)n) != 0) return;
    const char *t = msg->topic + n;
    const char *payload = msg->payload ? (const char *)msg->payload : "";
    int len = msg->payloadlen;
    if (!strcmp(t, "cmd/result")) {
        gw_json_doc_t d;
        memset(&d, 0, sizeof d);
        if (gw_json_parse(&d, payload, (size_t)len) != 0) return;
        char idbuf[80], b1[32], b2[32];
        const gw_json_member_t *id = gw_json_get(&d, "id");
        if (id == NULL || id->type != GW_JSON_STRING || strcmp(id->s, c->id) != 0) return;
        const char *result = member_str(&d, "result", b1, sizeof b1);
        const char *detail = member_str(&d, "detail", b2, sizeof b2);
        c->results++;
        if (strcmp(result, "ok") != 0) c->failures++;
        const gw_json_member_t *settings = gw_json_get(&d, "settings");
        printf("%s %s%s%s\n", member_str(&d, "pack", idbuf, sizeof idbuf), result, detail[0] ? ": " : "", detail);
        if (settings) {
            /* the values follow the ack; print them as the JSON object they are */
            printf("  settings %.*s\n", (int)settings->raw_len, settings->raw);
        }
        fflush(stdout);
    } else if (!strcmp(t, "gateway/status")) {
        snprintf(c->gw_status, sizeof c->gw_status, "%.*s", len, payload);
    } else if (!strcmp(t, "site/state")) {
        snprintf(c->site_state, sizeof c->site_state, "%.*s", len, payload);
    } else if (!strncmp(t, "pack/", 5)) {
        const char *s = t + 5, *slash = strchr(s, '/');
        if (slash == NULL) return;
        char serial[32];
        snprintf(serial, sizeof serial, "%.*s", (int)(slash - s), s);
        int k = pack_slot(c, serial);
        if (k < 0) return;
        if (!strcmp(slash, "/status")) snprintf(c->packs[k].status, sizeof c->packs[k].status, "%.*s", len, payload);
        else if (!strcmp(slash, "/state")) snprintf(c->packs[k].state, sizeof c->packs[k].state, "%.*s", len, payload);
    }
}

static void on_connect(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    ((ctl_t *)user)->connect_rc = rc;
}

static void on_subscribe(struct mosquitto *m, void *user, int mid, int n, const int *granted)
{
    (void)m;
    (void)mid;
    ctl_t *c = user;
    for (int k = 0; k < n; k++) {
        if (granted[k] > 2) {
            fprintf(stderr, "alfasparkctl: the broker refused a subscription (ACL?)\n");
        }
    }
    c->subscribed++;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: alfasparkctl [--host HOST] [--port PORT] [--site SITE] [--user USER] [--password PASS]\n"
        "                    [--cafile FILE] [--pack SERIAL] [--timeout-ms MS] COMMAND [ARGS]\n"
        "\n"
        "Talks to the Alfaspark gateway over MQTT (topics alfaspark/<site>/...). Results are printed as\n"
        "they arrive, one line per pack: \"<serial> <result>[: detail]\". Exit status: 0 when every pack\n"
        "answered ok, 1 on a refusal or a timeout, 2 on a usage or connection error.\n"
        "The password may also come from the environment variable ALFASPARK_PASSWORD.\n"
        "\n"
        "commands (to every pack, or to one with --pack SERIAL):\n"
        "  status                                   gateway, site totals and every pack\n"
        "  watch                                    live view, refreshed every second (Ctrl-C quits)\n"
        "  set-mode MODE on|off                     MODE: self_consumption, eco, tou, backup\n"
        "  set-sc-thresholds LOW_PCT HIGH_PCT       self-consumption grid relay thresholds\n"
        "  set-eco-limit WATTS                      Eco house load limit\n"
        "  set-tou-window INDEX START END [on|off]  window 0..3, times as HH:MM or minutes\n"
        "  set-grid-limit on|off KWH                daily grid-import limit\n"
        "  set-relay-override RELAY auto|open|closed   RELAY: grid, inverter, pool, heater\n"
        "  set-calibration CT GAIN_UA OFFSET_MA     CT: grid, inverter, pool, heater\n"
        "  set-time [UNIX_S [UTC_OFFSET_MIN]]       default: the gateway's clock\n"
        "  identify [SECONDS]                       blink the pack's LEDs\n"
        "  read-settings                            every setting of the pack(s)\n"
        "  set-setting NAME VALUE                   any setting of the settings table\n"
        "  reboot\n"
        "  factory-reset --yes\n");
}

/* "HH:MM" or plain minutes -> minutes, or -1. */
static long minutes(const char *s)
{
    int h, m;
    char extra;
    if (sscanf(s, "%d:%d%c", &h, &m, &extra) == 2) return (h < 0 || h > 23 || m < 0 || m > 59) ? -1 : h * 60 + m;
    char *end;
    long v = strtol(s, &end, 10);
    return (*end || end == s) ? -1 : v;
}

static int is_int(const char *s)
{
    char *end;
    strtol(s, &end, 10);
    return *s && !*end;
}

/* Build the command name and JSON members (without braces) from argv. 0 or -1 (usage). */
static int build(int argc, char **argv, char *name, size_t ncap, char *json, size_t jcap)
{
    const char *cmd = argv[0];
#define NEED(n)                                                                                    \
    do {                                                                                           \
        if (argc != (n) + 1) return -1;                                                            \
    } while (0)
#define INT(i) do { if (!is_int(argv[i])) return -1; } while (0)
    json[0] = '\0';
    if (!strcmp(cmd, "set-mode")) {
        NEED(2);
        if (strcmp(argv[2], "on") && strcmp(argv[2], "off")) return -1;
        snprintf(json, jcap, "\"mode\":\"%s\",\"on\":%s", argv[1], strcmp(argv[2], "on") ? "false" : "true");
    } else if (!strcmp(cmd, "set-sc-thresholds")) {
        NEED(2); INT(1); INT(2);
        snprintf(json, jcap, "\"low_pct\":%s,\"high_pct\":%s", argv[1], argv[2]);
    } else if (!strcmp(cmd, "set-eco-limit")) {
        NEED(1); INT(1);
        snprintf(json, jcap, "\"limit_w\":%s", argv[1]);
    } else if (!strcmp(cmd, "set-tou-window")) {
        if (argc != 4 && argc != 5) return -1;
        INT(1);
        long a = minutes(argv[2]), b = minutes(argv[3]);
        if (a < 0 || b < 0) return -1;
        snprintf(json, jcap, "\"index\":%s,\"start_min\":%ld,\"end_min\":%ld,\"enabled\":%s", argv[1], a, b,
                 argc == 5 && !strcmp(argv[4], "off") ? "false" : "true");
    } else if (!strcmp(cmd, "set-grid-limit")) {
        NEED(2); INT(2);
        if (strcmp(argv[1], "on") && strcmp(argv[1], "off")) return -1;
        snprintf(json, jcap, "\"on\":%s,\"limit_kwh\":%s", strcmp(argv[1], "on") ? "false" : "true", argv[2]);
    } else if (!strcmp(cmd, "set-relay-override")) {
        NEED(2);
        snprintf(json, jcap, "\"relay\":\"%s\",\"override\":\"%s\"", argv[1], argv[2]);
    } else if (!strcmp(cmd, "set-calibration")) {
        NEED(3); INT(2); INT(3);
        snprintf(json, jcap, "\"ct\":\"%s\",\"gain_ua\":%s,\"offset_ma\":%s", argv[1], argv[2], argv[3]);
    } else if (!strcmp(cmd, "set-time")) {
        if (argc > 3) return -1;
        if (argc >= 2) { INT(1); snprintf(json, jcap, "\"unix_s\":%s", argv[1]); }
        if (argc == 3) { INT(2); size_t n = strlen(json); snprintf(json + n, jcap - n, ",\"utc_offset_min\":%s", argv[2]); }
    } else if (!strcmp(cmd, "identify")) {
        if (argc > 2) return -1;
        if (argc == 2) { INT(1); snprintf(json, jcap, "\"seconds\":%s", argv[1]); }
    } else if (!strcmp(cmd, "read-settings") || !strcmp(cmd, "reboot")) {
        NEED(0);
    } else if (!strcmp(cmd, "set-setting")) {
        NEED(2); INT(2);
        snprintf(json, jcap, "\"setting\":\"%s\",\"value\":%s", argv[1], argv[2]);
    } else if (!strcmp(cmd, "factory-reset")) {
        if (argc != 2 || strcmp(argv[1], "--yes")) {
            fprintf(stderr, "alfasparkctl: factory-reset erases every setting; confirm with --yes\n");
            return -1;
        }
        snprintf(json, jcap, "\"confirm\":\"factory_reset\"");
    } else {
        return -1;
    }
    /* command names on MQTT use '_' where the CLI uses '-' */
    snprintf(name, ncap, "%s", cmd);
    for (char *p = name; *p; p++) if (*p == '-') *p = '_';
    return 0;
#undef NEED
#undef INT
}

/* The raw text of `key`'s value in a flat JSON object written by the gateway (strings without
 * their quotes), or "" when absent. The state documents exceed the command reader's limits, and
 * the view only displays them, so a value scan is all it needs. */
static const char *state_val(const char *json, const char *key, char *buf, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    buf[0] = '\0';
    if (p == NULL || cap == 0) return buf;
    p += strlen(pat);
    int depth = 0, in_str = 0;
    size_t n = 0;
    for (; *p != '\0'; p++) {
        if (in_str) {
            if (*p == '"') break;
        } else if (*p == '"' && depth == 0 && n == 0) {
            in_str = 1;
            continue;
        } else if (*p == '[' || *p == '{') {
            depth++;
        } else if (*p == ']' || *p == '}') {
            if (depth == 0) break;
            depth--;
        } else if (*p == ',' && depth == 0) {
            break;
        }
        if (n + 1 < cap) buf[n++] = *p;
    }
    buf[n] = '\0';
    return buf;
}

static long long state_int(const char *json, const char *key)
{
    char b[32];
    return atoll(state_val(json, key, b, sizeof b));
}

static int state_true(const char *json, const char *key)
{
    char b[8];
    return strcmp(state_val(json, key, b, sizeof b), "true") == 0;
}

/* One screen of the live view: a line per pack and the site totals, from the retained state. */
static void print_watch(const ctl_t *c, int tty)
{
    static const char *const relay_key[4] = {"relay_grid_closed", "relay_inverter_closed", "relay_pool_closed",
                                             "relay_heater_closed"};
    static const char relay_letter[4] = {'G', 'I', 'P', 'H'};
    char clock[16];
    time_t now = time(NULL);
    strftime(clock, sizeof clock, "%H:%M:%S", localtime(&now));
    if (tty) printf("\033[H\033[2J");
    printf("Alfaspark site \"%s\"   gateway %s   (%s, Ctrl-C to quit)\n", c->site,
           c->gw_status[0] ? c->gw_status : "unknown", clock);
    printf("%-12s %-7s %-6s %4s %7s %7s %7s %7s  %-7s %-16s %s\n", "pack", "status", "role", "SOC", "solar_W", "home_W",
           "grid_W", "batt_W", "relays", "mode", "faults / warnings");
    for (int k = 0; k < c->n_packs; k++) {
        const char *st = c->packs[k].state;
        if (st[0] == '\0') {
            printf("%-12s %-7s (no state yet)\n", c->packs[k].serial, c->packs[k].status);
            continue;
        }
        char relays[8] = {0}, mode[32], faults[200], warnings[200];
        for (int r = 0; r < 4; r++) relays[r] = state_true(st, relay_key[r]) ? relay_letter[r] : '-';
        printf("%-12s %-7s %-6s %3lld%% %7lld %7lld %7lld %7lld  %-7s %-16s %s %s\n", c->packs[k].serial,
               c->packs[k].status, state_true(st, "master") ? "master" : "-", state_int(st, "soc_pct"),
               state_int(st, "p_solar_w"), state_int(st, "p_home_w"), state_int(st, "p_grid_w"),
               state_int(st, "p_batt_w"), relays, state_val(st, "mode", mode, sizeof mode),
               state_val(st, "faults", faults, sizeof faults), state_val(st, "warnings", warnings, sizeof warnings));
    }
    const char *ss = c->site_state;
    if (ss[0]) {
        char master[32];
        printf("%-12s %-7lld %-6s %3lld%% %7lld %7lld %7lld %7lld  grid import today %lld Wh%s, master %s\n", "site",
               state_int(ss, "packs_online"), "", state_int(ss, "soc_avg_pct"), state_int(ss, "p_solar_w"),
               state_int(ss, "p_home_w"), state_int(ss, "p_grid_w"), state_int(ss, "p_batt_w"),
               state_int(ss, "grid_import_today_wh"), state_true(ss, "grid_limit_reached") ? " (LIMIT REACHED)" : "",
               state_val(ss, "master", master, sizeof master));
    }
    printf("relays: G grid, I inverter output, P pool pump, H water heater (letter = closed, - = open)\n");
    fflush(stdout);
}

static void print_status(const ctl_t *c)
{
    printf("gateway %s\n", c->gw_status[0] ? c->gw_status : "unknown (never connected)");
    if (c->site_state[0]) printf("site %s\n", c->site_state);
    for (int k = 0; k < c->n_packs; k++) {
        printf("pack %s %s %s\n", c->packs[k].serial, c->packs[k].status[0] ? c->packs[k].status : "?",
               c->packs[k].state[0] ? c->packs[k].state : "{}");
    }
}

int main(int argc, char **argv)
{
    const char *host = "localhost", *site = "home", *user = NULL, *pass = getenv("ALFASPARK_PASSWORD"), *pack = NULL;
    const char *cafile = NULL;
    int port = 1883;
    long timeout_ms = 3000;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) { usage(stdout); return 0; }
        if (i + 1 >= argc) { usage(stderr); return 2; }
        if (!strcmp(a, "--host")) host = argv[++i];
        else if (!strcmp(a, "--port")) port = atoi(argv[++i]);
        else if (!strcmp(a, "--site")) site = argv[++i];
        else if (!strcmp(a, "--user")) user = argv[++i];
        else if (!strcmp(a, "--password")) pass = argv[++i];
        else if (!strcmp(a, "--pack")) pack = argv[++i];
        else if (!strcmp(a, "--cafile")) cafile = argv[++i];
        else if (!strcmp(a, "--timeout-ms")) timeout_ms = atol(argv[++i]);
        else { fprintf(stderr, "alfasparkctl: unknown option %s\n", a); usage(stderr); return 2; }
    }
    if (i >= argc) { usage(stderr); return 2; }
    if (!strcmp(argv[i], "update")) return ctl_update(argc - i, argv + i, &(ctl_conn_t){host, port, site, user, pass, cafile, pack});
    int status_cmd = !strcmp(argv[i], "status");
    int watch_cmd = !strcmp(argv[i], "watch");
    char name[40], members[512];
    if (watch_cmd) status_cmd = 1;
    if (!status_cmd && build(argc - i, argv + i, name, sizeof name, members, sizeof members) < 0) {
        fprintf(stderr, "alfasparkctl: bad arguments for \"%s\"\n\n", argv[i]);
        usage(stderr);
        return 2;
    }
    static ctl_t c;
    c.site = site;
    c.connect_rc = -1;
    snprintf(c.id, sizeof c.id, "ctl-%ld-%lld", (long)getpid(), now_ms());
    mosquitto_lib_init();
    char cid[64];
    snprintf(cid, sizeof cid, "alfasparkctl-%ld", (long)getpid());
    struct mosquitto *m = mosquitto_new(cid, true, &c);
    if (m == NULL) return 2;
    mosquitto_message_callback_set(m, on_message);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    if (user) mosquitto_username_pw_set(m, user, pass);
    if (cafile && mosquitto_tls_set(m, cafile, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "alfasparkctl: cannot use CA file %s\n", cafile);
        return 2;
    }
    if (mosquitto_connect(m, host, port, 30) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "alfasparkctl: cannot reach broker %s:%d\n", host, port);
        return 2;
    }
    long long t0 = now_ms();
    while (c.connect_rc < 0 && now_ms() - t0 < 3000) {
        if (mosquitto_loop(m, 50, 1) != MOSQ_ERR_SUCCESS) break;
    }
    if (c.connect_rc != 0) {
        fprintf(stderr, "alfasparkctl: broker refused the connection: %s\n",
                c.connect_rc < 0 ? "no answer" : mosquitto_connack_string(c.connect_rc));
        return 2;
    }
    char topic[256];
    snprintf(topic, sizeof topic, "alfaspark/%s/#", site);
    mosquitto_subscribe(m, NULL, topic, 1);
    /* retained state arrives right after the subscription is granted */
    t0 = now_ms();
    while (!c.subscribed && now_ms() - t0 < 3000) mosquitto_loop(m, 50, 1);
    t0 = now_ms();
    while (now_ms() - t0 < 300) mosquitto_loop(m, 50, 1);
    int rc;
    if (watch_cmd) {
        int tty = isatty(1);
        long long next = 0;
        while (mosquitto_loop(m, 100, 1) == MOSQ_ERR_SUCCESS || mosquitto_reconnect(m) == MOSQ_ERR_SUCCESS) {
            if (now_ms() >= next) {
                print_watch(&c, tty);
                next = now_ms() + 1000;
            }
        }
        rc = 1; /* the broker went away for good */
    } else if (status_cmd) {
        print_status(&c);
        rc = (!strcmp(c.gw_status, "online")) ? 0 : 1;
    } else {
        int expected = 0;
        if (pack) {
            expected = 1;
            snprintf(topic, sizeof topic, "alfaspark/%s/pack/%s/cmd/%s", site, pack, name);
        } else {
            for (int k = 0; k < c.n_packs; k++) expected += !strcmp(c.packs[k].status, "online");
            if (expected == 0) expected = 1; /* the gateway answers "no_packs" */
            snprintf(topic, sizeof topic, "alfaspark/%s/cmd/%s", site, name);
        }
        char payload[700];
        snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"client\":\"alfasparkctl\"%s%s}", c.id, members[0] ? "," : "", members);
        mosquitto_publish(m, NULL, topic, (int)strlen(payload), payload, 1, false);
        t0 = now_ms();
        while (c.results < expected && now_ms() - t0 < timeout_ms) mosquitto_loop(m, 50, 1);
        if (c.results < expected) {
            printf("timeout: %d of %d pack(s) answered within %ld ms\n", c.results, expected, timeout_ms);
            rc = 1;
        } else {
            rc = c.failures ? 1 : 0;
        }
    }
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return rc;
}
