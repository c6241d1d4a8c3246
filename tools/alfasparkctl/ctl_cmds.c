/* alfasparkctl's commands to the packs: arguments checked and turned into the MQTT command's JSON, sent, and every result reported. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alfa/names.h"
#include "alfa/settings.h"
#include "ctl.h"

int ctl_usage_error(const ctl_cmd_t *cmd, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fprintf(stderr, "alfasparkctl: %s: %s\nusage: alfasparkctl [OPTIONS] %s%s%s   (--help lists every command)\n",
            cmd->name, what, cmd->name, cmd->args[0] ? " " : "", cmd->args);
    return CTL_USAGE;
}

/* ---- argument parsers: 0 and the value, or -1 ---- */

static int arg_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int arg_onoff(const char *s)
{
    if (!strcmp(s, "on") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1")) return 1;
    if (!strcmp(s, "off") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0")) return 0;
    return -1;
}

/* "HH:MM" or minutes after midnight -> 0..1439, or -1. */
static long arg_minutes(const char *s)
{
    int h, m;
    char extra;
    long v;
    if (sscanf(s, "%d:%d%c", &h, &m, &extra) == 2) return (h < 0 || h > 23 || m < 0 || m > 59) ? -1 : h * 60 + m;
    return arg_int(s, 0, 1439, &v) == 0 ? v : -1;
}

/* A name of `name(k)` for k in [first, last], or -1; `list` gets the choices for the message. */
static long arg_name(const char *s, const char *(*name)(uint32_t), uint32_t first, uint32_t last, char *list, size_t cap)
{
    size_t o = 0;
    list[0] = '\0';
    for (uint32_t k = first; k <= last; k++) {
        const char *n = name(k);
        if (n == NULL) continue;
        if (!strcmp(s, n)) return (long)k;
        int w = snprintf(list + o, cap - o, "%s%s", o ? ", " : "", n);
        if (w > 0 && (size_t)w < cap - o) o += (size_t)w;
    }
    return -1;
}

static const char *onoff_json(int on) { return on ? "true" : "false"; }

/* ---- builders (ctl.h): JSON members from the command's arguments ---- */

#define NEED(lo, hi)                                                                                                   \
    do {                                                                                                               \
        if (argc - 1 < (lo) || argc - 1 > (hi)) {                                                                      \
            return (lo) == (hi) ? ctl_usage_error(cmd, "takes %d argument%s, not %d", (lo), (lo) == 1 ? "" : "s",     \
                                                  argc - 1)                                                            \
                                : ctl_usage_error(cmd, "takes %d to %d arguments, not %d", (lo), (hi), argc - 1);      \
        }                                                                                                              \
    } while (0)

int ctl_b_set_mode(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    char list[128];
    NEED(2, 2);
    long mode = arg_name(argv[1], alfa_mode_name, ALFA_MODE_SELF_CONSUMPTION, ALFA_MODE_COUNT - 1, list, sizeof list);
    if (mode < 0) return ctl_usage_error(cmd, "MODE \"%s\" is not one of: %s", argv[1], list);
    int on = arg_onoff(argv[2]);
    if (on < 0) return ctl_usage_error(cmd, "\"%s\" is neither on nor off", argv[2]);
    snprintf(json, cap, "\"mode\":\"%s\",\"on\":%s", argv[1], onoff_json(on));
    return CTL_OK;
}

int ctl_b_set_sc_thresholds(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    long lo, hi;
    NEED(2, 2);
    if (arg_int(argv[1], 0, 100, &lo) < 0) return ctl_usage_error(cmd, "LOW_PCT \"%s\" is not a percentage", argv[1]);
    if (arg_int(argv[2], 0, 100, &hi) < 0) return ctl_usage_error(cmd, "HIGH_PCT \"%s\" is not a percentage", argv[2]);
    snprintf(json, cap, "\"low_pct\":%ld,\"high_pct\":%ld", lo, hi);
    return CTL_OK;
}

int ctl_b_set_eco_limit(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    long w;
    NEED(1, 1);
    if (arg_int(argv[1], 0, 1000000, &w) < 0) return ctl_usage_error(cmd, "WATTS \"%s\" is not a number of watts", argv[1]);
    snprintf(json, cap, "\"limit_w\":%ld", w);
    return CTL_OK;
}

int ctl_b_set_tou_window(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    long index;
    NEED(3, 4);
    if (arg_int(argv[1], 0, (long)ALFA_TOU_WINDOWS - 1, &index) < 0) {
        return ctl_usage_error(cmd, "INDEX \"%s\" is not a window number 0..%u", argv[1], ALFA_TOU_WINDOWS - 1u);
    }
    long start = arg_minutes(argv[2]), end = arg_minutes(argv[3]);
    if (start < 0) return ctl_usage_error(cmd, "START \"%s\" is not a time (HH:MM, or minutes 0..1439)", argv[2]);
    if (end < 0) return ctl_usage_error(cmd, "END \"%s\" is not a time (HH:MM, or minutes 0..1439)", argv[3]);
    int on = argc == 5 ? arg_onoff(argv[4]) : 1;
    if (on < 0) return ctl_usage_error(cmd, "\"%s\" is neither on nor off", argv[4]);
    snprintf(json, cap, "\"index\":%ld,\"start_min\":%ld,\"end_min\":%ld,\"enabled\":%s", index, start, end,
             onoff_json(on));
    return CTL_OK;
}

int ctl_b_set_grid_limit(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    long kwh;
    NEED(2, 2);
    int on = arg_onoff(argv[1]);
    if (on < 0) return ctl_usage_error(cmd, "\"%s\" is neither on nor off", argv[1]);
    if (arg_int(argv[2], 0, 1000, &kwh) < 0) return ctl_usage_error(cmd, "KWH \"%s\" is not a whole number of kWh", argv[2]);
    snprintf(json, cap, "\"on\":%s,\"limit_kwh\":%ld", onoff_json(on), kwh);
    return CTL_OK;
}

int ctl_b_set_relay_override(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    char list[96];
    NEED(2, 2);
    if (arg_name(argv[1], alfa_relay_name, 0, 3, list, sizeof list) < 0) {
        return ctl_usage_error(cmd, "RELAY \"%s\" is not one of: %s", argv[1], list);
    }
    if (arg_name(argv[2], alfa_override_name, ALFA_OVR_AUTO, ALFA_OVR_CLOSED, list, sizeof list) < 0) {
        return ctl_usage_error(cmd, "\"%s\" is not one of: %s", argv[2], list);
    }
    snprintf(json, cap, "\"relay\":\"%s\",\"override\":\"%s\"", argv[1], argv[2]);
    return CTL_OK;
}

int ctl_b_set_calibration(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    char list[96];
    long gain, offset;
    NEED(3, 3);
    if (arg_name(argv[1], alfa_relay_name, 0, 3, list, sizeof list) < 0) {
        return ctl_usage_error(cmd, "CT \"%s\" is not one of: %s", argv[1], list);
    }
    if (arg_int(argv[2], -2147483647L, 2147483647L, &gain) < 0) {
        return ctl_usage_error(cmd, "GAIN_UA \"%s\" is not an integer (uA per ADC count)", argv[2]);
    }
    if (arg_int(argv[3], -2147483647L, 2147483647L, &offset) < 0) {
        return ctl_usage_error(cmd, "OFFSET_MA \"%s\" is not an integer (mA)", argv[3]);
    }
    snprintf(json, cap, "\"ct\":\"%s\",\"gain_ua\":%ld,\"offset_ma\":%ld", argv[1], gain, offset);
    return CTL_OK;
}

int ctl_b_set_time(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    long unix_s, offset;
    NEED(0, 2);
    json[0] = '\0';
    if (argc >= 2) {
        if (arg_int(argv[1], 0, 0x7fffffffL, &unix_s) < 0) return ctl_usage_error(cmd, "UNIX_S \"%s\" is not a Unix time", argv[1]);
        snprintf(json, cap, "\"unix_s\":%ld", unix_s);
    }
    if (argc == 3) {
        if (arg_int(argv[2], -1440, 1440, &offset) < 0) {
            return ctl_usage_error(cmd, "UTC_OFFSET_MIN \"%s\" is not a number of minutes", argv[2]);
        }
        size_t n = strlen(json);
        snprintf(json + n, cap - n, ",\"utc_offset_min\":%ld", offset);
    }
    return CTL_OK;
}

int ctl_b_identify(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    long s;
    NEED(0, 1);
    json[0] = '\0';
    if (argc == 2) {
        if (arg_int(argv[1], 0, 255, &s) < 0) return ctl_usage_error(cmd, "SECONDS \"%s\" is not 0..255", argv[1]);
        snprintf(json, cap, "\"seconds\":%ld", s);
    }
    return CTL_OK;
}

int ctl_b_none(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    (void)argv;
    (void)cap;
    NEED(0, 0);
    json[0] = '\0';
    return CTL_OK;
}

/* set-setting NAME VALUE: VALUE as the setting's type reads it (a number, on/off, HH:MM, a name). */
int ctl_b_set_setting(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    NEED(2, 2);
    int id = alfa_settings_find(argv[1], strlen(argv[1]));
    if (id < 0) return ctl_usage_error(cmd, "\"%s\" is not a setting (read-settings lists them)", argv[1]);
    const alfa_setting_desc_t *d = alfa_settings_desc((uint32_t)id);
    long v = -1;
    int ok = 0;
    const char *expected = "a number";
    switch (d->type) {
    case ALFA_STYPE_BOOL:
        v = arg_onoff(argv[2]);
        ok = v >= 0;
        expected = "on or off";
        break;
    case ALFA_STYPE_MINUTE:
        v = arg_minutes(argv[2]);
        ok = v >= 0;
        expected = "a time of day (HH:MM)";
        break;
    case ALFA_STYPE_ENUM:
        ok = arg_int(argv[2], d->min, d->max, &v) == 0;
        for (int32_t k = d->min; !ok && k <= d->max; k++) {
            const char *n = alfa_setting_value_name((uint32_t)id, k);
            if (n != NULL && strcmp(n, argv[2]) == 0) {
                v = k;
                ok = 1;
            }
        }
        expected = "one of its value names (read-settings shows them) or their number";
        break;
    default:
        ok = arg_int(argv[2], -2147483647L, 2147483647L, &v) == 0;
        break;
    }
    if (!ok) return ctl_usage_error(cmd, "VALUE \"%s\" for %s is not %s", argv[2], d->name, expected);
    snprintf(json, cap, "\"setting\":\"%s\",\"value\":%ld", d->name, v);
    return CTL_OK;
}

int ctl_b_factory_reset(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap)
{
    if (argc != 2 || strcmp(argv[1], "--yes") != 0) {
        return ctl_usage_error(cmd, "erases every setting of the pack(s); confirm with --yes");
    }
    snprintf(json, cap, "\"confirm\":\"factory_reset\"");
    return CTL_OK;
}

/* ---- sending and collecting ---- */

typedef struct send_state {
    const char *command;
    char id[64];
    int expected, got, failures, final;
    ctl_result_fn each;
    void *user;
} send_state_t;

static void collect(ctl_t *c, const char *t, const char *payload, size_t len)
{
    send_state_t *s = c->cmd_state;
    if (strcmp(t, "cmd/result") != 0 || s == NULL || len >= 8192) return;
    char doc[8192];
    memcpy(doc, payload, len);
    doc[len] = '\0';
    ctl_result_t r;
    memset(&r, 0, sizeof r);
    char command[48], id[80];
    size_t idlen = 0;
    const char *idraw = ctl_json_raw(doc, "id", &idlen);
    ctl_json_str(doc, "command", command, sizeof command);
    ctl_json_str(doc, "pack", r.pack, sizeof r.pack);
    ctl_json_str(doc, "result", r.result, sizeof r.result);
    ctl_json_str(doc, "detail", r.detail, sizeof r.detail);
    if (idraw == NULL) return;
    snprintf(id, sizeof id, "%.*s", (int)idlen, idraw);
    char ours[80];
    snprintf(ours, sizeof ours, "\"%s\"", s->id);
    int mine = strcmp(id, ours) == 0;
    if (!mine && strcmp(id, "null") == 0 && (strcmp(command, s->command) == 0 || strcmp(command, "?") == 0) &&
        (c->pack != NULL ? strcasecmp(r.pack, c->pack) == 0 : strcmp(r.pack, "all") == 0)) {
        /* the gateway refused the topic before it read the payload (a malformed serial: command
         * "?"), so its answer carries no id; it is the answer to ours all the same */
        mine = 1;
        s->final = 1;
    }
    if (!mine) return;
    if (strcmp(r.pack, "all") == 0) s->final = 1; /* refused before anything reached the bus */
    r.settings = ctl_json_raw(doc, "settings", &r.settings_len);
    r.raw = doc;
    s->got++;
    if (strcmp(r.result, "ok") != 0) s->failures++;
    if (s->each != NULL) s->each(c, &r, s->user);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_send(ctl_t *c, const char *command, const char *members, ctl_result_fn each, void *user)
{
    send_state_t s;
    memset(&s, 0, sizeof s);
    s.command = command;
    s.each = each;
    s.user = user;
    snprintf(s.id, sizeof s.id, "ctl-%ld-%lld", (long)getpid(), mono_ms());
    char topic[160];
    if (c->pack != NULL) {
        s.expected = 1;
        snprintf(topic, sizeof topic, "pack/%s/cmd/%s", c->pack, command);
    } else {
        for (int k = 0; k < c->n_packs; k++) s.expected += strcmp(c->packs[k].status, "online") == 0;
        if (s.expected == 0) s.expected = 1; /* the gateway answers "no_packs" */
        snprintf(topic, sizeof topic, "cmd/%s", command);
    }
    char payload[700];
    snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"client\":\"alfasparkctl\"%s%s}", s.id, members[0] ? "," : "",
             members);
    c->cmd_hook = collect;
    /* the collector's state lives on this frame while the command is in flight; both paths out
     * of this function clear the pointer again */
    // cppcheck-suppress autoVariables
    c->cmd_state = &s;
    if (ctl_publish(c, topic, payload) < 0) {
        c->cmd_hook = NULL;
        c->cmd_state = NULL;
        return CTL_FAILED;
    }
    long long t0 = mono_ms();
    while (s.got < s.expected && !s.final && mono_ms() - t0 < c->timeout_ms) {
        if (ctl_loop(c, 50) < 0) break;
    }
    c->cmd_hook = NULL;
    c->cmd_state = NULL;
    if (s.got < s.expected && !s.final) {
        fprintf(stderr, "timeout: %d of %d pack(s) answered within %ld ms\n", s.got, s.expected, c->timeout_ms);
        return CTL_FAILED;
    }
    return s.failures ? CTL_FAILED : CTL_OK;
}

/* One line per result: "<serial> <result>[: detail]"; a refusal of the whole command says so. */
static void print_result(ctl_t *c, const ctl_result_t *r, void *user)
{
    (void)user;
    if (c->json) {
        printf("%s\n", r->raw);
    } else if (strcmp(r->pack, "all") == 0 || (c->pack != NULL && strcasecmp(r->pack, c->pack) != 0)) {
        printf("refused by the gateway: %s%s%s\n", r->result, r->detail[0] ? ": " : "", r->detail);
    } else {
        printf("%s %s%s%s\n", r->pack[0] ? r->pack : "?", r->result, r->detail[0] ? ": " : "", r->detail);
    }
    fflush(stdout);
}

/* The MQTT command name: the subcommand with '_' for '-'. */
static void mqtt_name(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s", name);
    for (char *p = out; *p; p++) {
        if (*p == '-') *p = '_';
    }
}

int ctl_pack_command(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv)
{
    char members[512], name[48];
    int rc = cmd->build(cmd, argc, argv, members, sizeof members);
    if (rc != CTL_OK) return rc;
    if ((rc = ctl_connect(c)) != CTL_OK) return rc;
    if ((rc = ctl_require_gateway(c)) != CTL_OK) return rc;
    mqtt_name(cmd->name, name, sizeof name);
    return ctl_send(c, name, members, print_result, NULL);
}
