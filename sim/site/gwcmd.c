/* The simulated gateway's command translation: an MQTT-style command name + JSON to a CAN command. */
#include "gwcmd.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/proto.h"
#include "alfa/settings.h"

#if ALFA_SIM_HAVE_GWCMD
#include "alfa/gw_cmd.h"
#endif

#if ALFA_SIM_HAVE_GWCMD
/* The real gateway's parser and validator (gateway/daemon/gw_cmd.c): same names, same JSON,
 * same refusals as an MQTT command. */
int sim_gwcmd_build(const char *name, const char *json, uint64_t serial, int64_t unix_s,
                    int16_t utc_offset_min, alfa_cmd_t *cmd, char *err, size_t errlen)
{
    char topic[96];
    gw_cmd_req_t req;
    if (serial) {
        char hex[GW_SERIAL_HEX + 1u];
        gw_serial_hex(serial, hex);
        snprintf(topic, sizeof(topic), "alfaspark/sim/pack/%s/cmd/%s", hex, name);
    } else {
        snprintf(topic, sizeof(topic), "alfaspark/sim/cmd/%s", name);
    }
    int rc = gw_cmd_parse("sim", topic, strlen(topic), json, strlen(json), &req);
    if (rc != 0) {
        snprintf(err, errlen, "the gateway refuses '%s': %s (%s)", name,
                 rc < 0 ? gw_result_name((gw_result_t)-rc) : "not a command", req.detail);
        return -1;
    }
    *cmd = req.cmd;
    if (cmd->code == ALFA_CMD_SET_TIME) {
        if (req.time_from_gateway) {
            cmd->u.set_time.unix_s = (uint32_t)unix_s;
        }
        if (req.offset_from_gateway) {
            cmd->u.set_time.utc_offset_min = utc_offset_min;
        }
    }
    return 0;
}
#else
/* Fallback while the gateway's parser is not in the tree: flat objects only. */
#define MAX_KEYS 12

typedef struct kv {
    char key[32];
    int is_str;     /* 1: string value in str; 0: number/bool in num */
    char str[48];
    long long num;
} kv_t;

typedef struct obj {
    int n;
    kv_t kv[MAX_KEYS];
} obj_t;

static const char *ws(const char *c)
{
    while (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n') {
        c++;
    }
    return c;
}

static const char *read_str(const char *c, char *out, size_t cap)
{
    size_t n = 0;
    if (*c != '"') {
        return NULL;
    }
    c++;
    while (*c && *c != '"') {
        if (*c == '\\') {
            return NULL; /* no escapes needed in command payloads */
        }
        if (n + 1 >= cap) {
            return NULL;
        }
        out[n++] = *c++;
    }
    if (*c != '"') {
        return NULL;
    }
    out[n] = '\0';
    return c + 1;
}

/* A flat JSON object of string, integer, true/false values. */
static int parse_obj(const char *json, obj_t *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    const char *c = ws(json);
    if (*c != '{') {
        snprintf(err, errlen, "payload is not a JSON object");
        return -1;
    }
    c = ws(c + 1);
    if (*c == '}') {
        return *ws(c + 1) ? (snprintf(err, errlen, "text after the JSON object"), -1) : 0;
    }
    for (;;) {
        if (o->n == MAX_KEYS) {
            snprintf(err, errlen, "too many keys");
            return -1;
        }
        kv_t *kv = &o->kv[o->n];
        c = read_str(ws(c), kv->key, sizeof(kv->key));
        if (c == NULL) {
            snprintf(err, errlen, "bad key");
            return -1;
        }
        c = ws(c);
        if (*c != ':') {
            snprintf(err, errlen, "':' expected after \"%s\"", kv->key);
            return -1;
        }
        c = ws(c + 1);
        if (*c == '"') {
            c = read_str(c, kv->str, sizeof(kv->str));
            kv->is_str = 1;
        } else if (!strncmp(c, "true", 4)) {
            kv->num = 1;
            c += 4;
        } else if (!strncmp(c, "false", 5)) {
            kv->num = 0;
            c += 5;
        } else {
            char *end = NULL;
            kv->num = strtoll(c, &end, 10);
            if (end == c || *end == '.' || *end == 'e' || *end == 'E') {
                c = NULL;
            } else {
                c = end;
            }
        }
        if (c == NULL) {
            snprintf(err, errlen, "bad value of \"%s\" (string, integer or boolean)", kv->key);
            return -1;
        }
        o->n++;
        c = ws(c);
        if (*c == ',') {
            c++;
            continue;
        }
        if (*c == '}' && *ws(c + 1) == '\0') {
            return 0;
        }
        snprintf(err, errlen, "',' or '}' expected");
        return -1;
    }
}

static const kv_t *get(const obj_t *o, const char *key)
{
    for (int i = 0; i < o->n; i++) {
        if (!strcmp(o->kv[i].key, key)) {
            return &o->kv[i];
        }
    }
    return NULL;
}

/* Integer field `key` in [lo, hi]; `names` (NULL-terminated) maps strings to their index. */
static int get_int(const obj_t *o, const char *key, long long lo, long long hi,
                   const char *const *names, long long *out, char *err, size_t errlen)
{
    const kv_t *kv = get(o, key);
    if (kv == NULL) {
        snprintf(err, errlen, "missing \"%s\"", key);
        return -1;
    }
    if (kv->is_str) {
        for (long long i = 0; names != NULL && names[i] != NULL; i++) {
            if (!strcmp(names[i], kv->str)) {
                *out = i;
                return 0;
            }
        }
        /* "HH:MM" for minutes of the day */
        unsigned h, m;
        char tail;
        if (hi == 1440 && sscanf(kv->str, "%u:%u%c", &h, &m, &tail) == 2 && h <= 24 && m < 60 &&
            h * 60u + m <= 1440u) {
            *out = h * 60 + m;
            return 0;
        }
        snprintf(err, errlen, "bad \"%s\": \"%s\"", key, kv->str);
        return -1;
    }
    if (kv->num < lo || kv->num > hi) {
        snprintf(err, errlen, "\"%s\" %lld out of range %lld..%lld", key, kv->num, lo, hi);
        return -1;
    }
    *out = kv->num;
    return 0;
}

static const char *const mode_names[] = {"none", "self_consumption", "eco", "tou", "backup", NULL};
static const char *const relay_names[] = {"grid", "inverter", "pool", "heater", NULL};
static const char *const ovr_names[] = {"auto", "open", "closed", NULL};
static const char *const ct_names[] = {"grid", "inverter", "pool", "heater", NULL};

int sim_gwcmd_build(const char *name, const char *json, uint64_t serial, int64_t unix_s,
                    int16_t utc_offset_min, alfa_cmd_t *cmd, char *err, size_t errlen)
{
    (void)serial;
    obj_t o;
    long long a, b, c, d;
    int code = alfa_cmd_from_name(name);
    memset(cmd, 0, sizeof(*cmd));
    if (code < 0) {
        snprintf(err, errlen, "unknown command '%s'", name);
        return -1;
    }
    if (parse_obj(json, &o, err, errlen) < 0) {
        return -1;
    }
    cmd->code = (uint8_t)code;
    switch (code) {
    case ALFA_CMD_SET_MODE:
        if (get_int(&o, "mode", 0, ALFA_MODE_COUNT - 1, mode_names, &a, err, errlen) < 0 ||
            get_int(&o, "on", 0, 1, NULL, &b, err, errlen) < 0) {
            return -1;
        }
        cmd->u.set_mode.mode = (uint8_t)a;
        cmd->u.set_mode.on = (uint8_t)b;
        return 0;
    case ALFA_CMD_SET_SC_THRESHOLDS:
        if (get_int(&o, "low_pct", 0, 100, NULL, &a, err, errlen) < 0 ||
            get_int(&o, "high_pct", 0, 100, NULL, &b, err, errlen) < 0) {
            return -1;
        }
        cmd->u.sc_thresholds.low_pct = (uint8_t)a;
        cmd->u.sc_thresholds.high_pct = (uint8_t)b;
        return 0;
    case ALFA_CMD_SET_ECO_LIMIT:
        if (get_int(&o, "limit_w", 0, 4294967295ll, NULL, &a, err, errlen) < 0) {
            return -1;
        }
        cmd->u.eco_limit.limit_w = (uint32_t)a;
        return 0;
    case ALFA_CMD_SET_TOU_WINDOW:
        if (get_int(&o, "index", 0, 3, NULL, &a, err, errlen) < 0 ||
            get_int(&o, "start_min", 0, 1440, NULL, &b, err, errlen) < 0 ||
            get_int(&o, "end_min", 0, 1440, NULL, &c, err, errlen) < 0 ||
            get_int(&o, "enabled", 0, 1, NULL, &d, err, errlen) < 0) {
            return -1;
        }
        cmd->u.tou_window.index = (uint8_t)a;
        cmd->u.tou_window.start_min = (uint16_t)b;
        cmd->u.tou_window.end_min = (uint16_t)c;
        cmd->u.tou_window.enabled = (uint8_t)d;
        return 0;
    case ALFA_CMD_SET_GRID_LIMIT:
        if (get_int(&o, "on", 0, 1, NULL, &a, err, errlen) < 0) {
            return -1;
        }
        b = 0;
        if (get(&o, "limit_kwh") != NULL && get_int(&o, "limit_kwh", 0, 255, NULL, &b, err, errlen) < 0) {
            return -1;
        }
        if (get(&o, "limit_kwh") == NULL) {
            b = alfa_settings_table[ALFA_SET_GRID_LIMIT_KWH].def;
        }
        cmd->u.grid_limit.on = (uint8_t)a;
        cmd->u.grid_limit.limit_kwh = (uint8_t)b;
        return 0;
    case ALFA_CMD_SET_RELAY_OVERRIDE:
        if (get_int(&o, "relay", 0, 3, relay_names, &a, err, errlen) < 0 ||
            get_int(&o, "override", 0, 2, ovr_names, &b, err, errlen) < 0) {
            return -1;
        }
        cmd->u.relay_override.relay = (uint8_t)a;
        cmd->u.relay_override.override = (uint8_t)b;
        return 0;
    case ALFA_CMD_SET_CALIBRATION:
        if (get_int(&o, "ct", 0, 3, ct_names, &a, err, errlen) < 0 ||
            get_int(&o, "gain_ua", 0, 4294967295ll, NULL, &b, err, errlen) < 0 ||
            get_int(&o, "offset_ma", -32768, 32767, NULL, &c, err, errlen) < 0) {
            return -1;
        }
        cmd->u.calibration.ct = (uint8_t)a;
        cmd->u.calibration.gain_ua = (uint32_t)b;
        cmd->u.calibration.offset_ma = (int16_t)c;
        return 0;
    case ALFA_CMD_SET_TIME:
        a = unix_s;
        b = utc_offset_min;
        if ((get(&o, "unix_s") && get_int(&o, "unix_s", 0, 4294967295ll, NULL, &a, err, errlen) < 0) ||
            (get(&o, "utc_offset_min") &&
             get_int(&o, "utc_offset_min", -720, 840, NULL, &b, err, errlen) < 0)) {
            return -1;
        }
        cmd->u.set_time.unix_s = (uint32_t)a;
        cmd->u.set_time.utc_offset_min = (int16_t)b;
        return 0;
    case ALFA_CMD_IDENTIFY:
        if (get_int(&o, "seconds", 0, 255, NULL, &a, err, errlen) < 0) {
            return -1;
        }
        cmd->u.identify.seconds = (uint8_t)a;
        return 0;
    case ALFA_CMD_FACTORY_RESET:
        if (get_int(&o, "confirm", 0, 4294967295ll, NULL, &a, err, errlen) < 0) {
            return -1;
        }
        cmd->u.factory_reset.confirm = (uint32_t)a;
        return 0;
    case ALFA_CMD_SET_SETTING: {
        const kv_t *n = get(&o, "name");
        if (n != NULL && n->is_str) {
            int id = alfa_settings_find(n->str, strlen(n->str));
            if (id < 0) {
                snprintf(err, errlen, "unknown setting \"%s\"", n->str);
                return -1;
            }
            a = id;
        } else if (get_int(&o, "id", 0, ALFA_SET_COUNT - 1, NULL, &a, err, errlen) < 0) {
            return -1;
        }
        if (get_int(&o, "value", -2147483648ll, 2147483647ll, NULL, &b, err, errlen) < 0) {
            return -1;
        }
        cmd->u.set_setting.id = (uint16_t)a;
        cmd->u.set_setting.value = (int32_t)b;
        return 0;
    }
    default: /* read_settings, reboot: no payload */
        return 0;
    }
}
#endif
