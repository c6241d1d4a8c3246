/* alfasparkctl: the command-line client of the Alfaspark gateway for installers and scripts: options, and the table of subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#ifndef ALFA_VERSION
#define ALFA_VERSION "unknown"
#endif

#define PACK ctl_pack_command

/* Every subcommand: one row (name, arguments, help, run, pack-command builder, own_args). */
static const ctl_cmd_t commands[] = {
    {"status", "", "the gateway, every pack (SOC, powers, relays, mode, faults) and the site totals", ctl_status, NULL, 0},
    {"watch", "", "the same, refreshed every second (Ctrl-C quits)", ctl_watch, NULL, 0},
    {"set-mode", "MODE on|off", "MODE: self_consumption, eco, tou, backup", PACK, ctl_b_set_mode, 0},
    {"set-sc-thresholds", "LOW_PCT HIGH_PCT", "self-consumption: grid relay closes at LOW, opens at HIGH", PACK,
     ctl_b_set_sc_thresholds, 0},
    {"set-eco-limit", "WATTS", "Eco: the house load limit", PACK, ctl_b_set_eco_limit, 0},
    {"set-tou-window", "INDEX START END [on|off]", "time-of-use window 0..3; times HH:MM (local)", PACK,
     ctl_b_set_tou_window, 0},
    {"set-grid-limit", "on|off KWH", "the daily grid-import limit (2..30 kWh)", PACK, ctl_b_set_grid_limit, 0},
    {"set-relay-override", "RELAY auto|open|closed", "RELAY: grid, inverter, pool, heater", PACK,
     ctl_b_set_relay_override, 0},
    {"set-calibration", "CT GAIN_UA OFFSET_MA", "CT: grid, inverter, pool, heater", PACK, ctl_b_set_calibration, 0},
    {"set-time", "[UNIX_S [UTC_OFFSET_MIN]]", "default: the gateway's clock and zone", PACK, ctl_b_set_time, 0},
    {"identify", "[SECONDS]", "blink the pack's LEDs (default 10 s, 0 stops)", PACK, ctl_b_identify, 0},
    {"read-settings", "", "every setting of the pack(s), with units and allowed values", ctl_read_settings, NULL, 0},
    {"set-setting", "NAME VALUE", "any setting of the settings table (read-settings lists them)", PACK,
     ctl_b_set_setting, 0},
    {"reboot", "", "restart the pack controller(s)", PACK, ctl_b_none, 0},
    {"factory-reset", "--yes", "erase every setting", PACK, ctl_b_factory_reset, 0},
    {"update", "FILE [--pack SERIAL]... [--force] [--wave-pct N] [--timeout-s S]",
     "send a signed firmware image to every pack online (or those named), a progress bar per pack", ctl_update, NULL, 1},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: alfasparkctl [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "Talks to the Alfaspark gateway of a site over MQTT (topics alfaspark/<site>/...).\n"
               "\n"
               "options (before or after the command):\n"
               "  --host HOST        broker (default localhost)       --port PORT      (default 1883)\n"
               "  --site SITE        the site (gateway.site; default home)\n"
               "  --user USER        broker user; the password from --password or ALFASPARK_PASSWORD\n"
               "  --cafile FILE      TLS with this CA certificate\n"
               "  --pack SERIAL      send the command to this pack only (12 hex digits; default every pack)\n"
               "  --timeout-ms MS    how long to wait for the packs' answers (default 3000)\n"
               "  --json             machine-readable output (status, watch, read-settings, results)\n"
               "  --version, --help\n"
               "\n"
               "commands:\n");
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", commands[k].name, commands[k].args);
        fprintf(f, "  %-40s %s\n", head, commands[k].help);
    }
    fprintf(f, "\n"
               "A command to the packs prints one line per pack as the answers arrive: \"<serial> <result>[: detail]\".\n"
               "Exit status: 0 every pack answered ok; 1 a refusal, a failure or a timeout; 2 bad arguments, no\n"
               "broker or a refused login; 3 no gateway for the site (or it is offline).\n");
}

/* A global option: its value (or NULL for a flag) is applied to c. 1 when `a` was one, 0 when it
 * is not an option of ours, CTL_USAGE (negated) on a bad value. */
static int global_option(ctl_t *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    static const char *const with_value[] = {"--host", "--port", "--site", "--user", "--password", "--pack",
                                             "--cafile", "--timeout-ms"};
    if (!strcmp(a, "--json")) {
        c->json = 1;
        return 1;
    }
    size_t k;
    for (k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
        if (!strcmp(a, with_value[k])) break;
    }
    if (k == sizeof with_value / sizeof with_value[0]) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "alfasparkctl: %s needs a value\n", a);
        return -CTL_USAGE;
    }
    const char *v = argv[++*i];
    char *end;
    if (!strcmp(a, "--host")) c->host = v;
    else if (!strcmp(a, "--site")) c->site = v;
    else if (!strcmp(a, "--user")) c->user = v;
    else if (!strcmp(a, "--password")) c->password = v;
    else if (!strcmp(a, "--pack")) c->pack = v;
    else if (!strcmp(a, "--cafile")) c->cafile = v;
    else if (!strcmp(a, "--port")) {
        long p = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || p < 1 || p > 65535) {
            fprintf(stderr, "alfasparkctl: --port \"%s\": not a port number (1..65535)\n", v);
            return -CTL_USAGE;
        }
        c->port = (int)p;
    } else {
        long ms = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || ms < 1 || ms > 3600000) {
            fprintf(stderr, "alfasparkctl: --timeout-ms \"%s\": not a number of milliseconds (1..3600000)\n", v);
            return -CTL_USAGE;
        }
        c->timeout_ms = ms;
    }
    return 1;
}

/* The position of the subcommand's name in argv (the first argument that is no global option or
 * its value), or argc. */
static int command_index(int argc, char **argv)
{
    static const char *const with_value[] = {"--host", "--port", "--site", "--user", "--password", "--pack",
                                             "--cafile", "--timeout-ms"};
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') return i;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
            if (!strcmp(argv[i], with_value[k])) i++;
        }
    }
    return argc;
}

int main(int argc, char **argv)
{
    static ctl_t c;
    c.host = "localhost";
    c.port = 1883;
    c.site = "home";
    c.password = getenv("ALFASPARK_PASSWORD");
    c.timeout_ms = 3000;
    const ctl_cmd_t *cmd = NULL;
    int at = command_index(argc, argv);
    for (size_t k = 0; at < argc && k < sizeof commands / sizeof commands[0]; k++) {
        if (!strcmp(argv[at], commands[k].name)) cmd = &commands[k];
    }
    /* options anywhere (up to the name of a command that takes its arguments as its own); what is
     * left is the command and its arguments, in order */
    char **rest = calloc((size_t)argc + 1u, sizeof *rest);
    int n = 0;
    if (rest == NULL) return CTL_USAGE;
    for (int i = 1; i < argc; i++) {
        if (cmd != NULL && cmd->own_args && i > at) {
            rest[n++] = argv[i];
            continue;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(rest);
            return CTL_OK;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("alfasparkctl %s\n", ALFA_VERSION);
            free(rest);
            return CTL_OK;
        }
        int rc = global_option(&c, argc, argv, &i);
        if (rc < 0) {
            free(rest);
            return -rc;
        }
        if (rc == 0) {
            if (n == 0 && argv[i][0] == '-') {
                fprintf(stderr, "alfasparkctl: %s: unknown option (--help lists them)\n", argv[i]);
                free(rest);
                return CTL_USAGE;
            }
            rest[n++] = argv[i];
        }
    }
    if (n == 0) {
        fprintf(stderr, "alfasparkctl: no command given (--help lists them)\n");
        free(rest);
        return CTL_USAGE;
    }
    if (cmd == NULL) {
        fprintf(stderr, "alfasparkctl: %s: unknown command (--help lists them)\n", rest[0]);
        free(rest);
        return CTL_USAGE;
    }
    int rc = cmd->run(&c, cmd, n, rest);
    if (ctl_disconnect(&c) < 0 && rc == CTL_OK) {
        rc = CTL_FAILED; /* what it sent may not have reached the broker */
    }
    free(rest);
    return rc;
}
