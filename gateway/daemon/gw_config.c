/* The gateway's configuration: INI file (libinih), command-line overrides, and its validation. */
#include "alfa/gw_config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alfa/envcheck.h"

static void err(gw_config_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err(gw_config_t *c, const char *fmt, ...)
{
    size_t n = strlen(c->errors);
    va_list ap;
    c->n_errors++;
    if (n + 2u >= sizeof c->errors) return;
    va_start(ap, fmt);
    vsnprintf(c->errors + n, sizeof c->errors - n - 1u, fmt, ap);
    va_end(ap);
    n = strlen(c->errors);
    if (n + 1u < sizeof c->errors) {
        c->errors[n] = '\n';
        c->errors[n + 1u] = '\0';
    }
}

void gw_config_error(gw_config_t *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    err(c, "%s", line);
}

void gw_config_defaults(gw_config_t *c)
{
    memset(c, 0, sizeof *c);
    gw_cfg_defaults(&c->core);
    snprintf(c->can, sizeof c->can, "slcan:/dev/ttyACM0");
    c->log_level = GW_LOG_INFO;
    c->utc_offset_auto = 1;
    snprintf(c->mqtt_host, sizeof c->mqtt_host, "localhost");
    c->mqtt_port = 1883;
    c->mqtt_protocol = 4;
    c->mqtt_keepalive_s = 30;
    c->mqtt_qos = 1;
    c->history_flush_s = 900;
    c->history_keep_days = 400;
    snprintf(c->ota_state_dir, sizeof c->ota_state_dir, "/var/lib/alfaspark");
    c->ota_bus_load_pct = 70;
    c->ota_wave_pct = 25;
}

static int parse_long(const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || x < min || x > max) return -1;
    *out = x;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1")) { *out = 1; return 0; }
    if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0")) { *out = 0; return 0; }
    return -1;
}

typedef enum { T_STR, T_INT, T_U32, T_I32, T_BOOL, T_SPECIAL } opt_type_t;

/* What --check-config verifies on the machine for a string option (when it is not empty). */
typedef enum {
    ENV_NONE = 0,
    ENV_CAN,       /* a CAN interface: exists, opens */
    ENV_READ,      /* a file the daemon reads */
    ENV_DIR,       /* a directory the daemon writes into */
    ENV_WFILE,     /* a file the daemon writes (made on first use: its directory must be writable) */
} opt_env_t;

typedef struct opt {
    const char *section, *key;
    opt_type_t type;
    size_t offset;
    size_t size;     /* strings: buffer size */
    long min, max;
    opt_env_t env;
} opt_t;

#define S(sec, k, field) {sec, k, T_STR, offsetof(gw_config_t, field), sizeof(((gw_config_t *)0)->field), 0, 0, ENV_NONE}
/* A string option that names something on the machine: --check-config checks it (opt_env_t). */
#define SE(sec, k, field, env) {sec, k, T_STR, offsetof(gw_config_t, field), sizeof(((gw_config_t *)0)->field), 0, 0, env}
#define I(sec, k, field, lo, hi) {sec, k, T_INT, offsetof(gw_config_t, field), 0, lo, hi, ENV_NONE}
#define U(sec, k, field, lo, hi) {sec, k, T_U32, offsetof(gw_config_t, field), 0, lo, hi, ENV_NONE}
#define B(sec, k, field) {sec, k, T_BOOL, offsetof(gw_config_t, field), 0, 0, 1, ENV_NONE}
#define X(sec, k) {sec, k, T_SPECIAL, 0, 0, 0, 0, ENV_NONE}

static const opt_t opts[] = {
    S("gateway", "site", core.site),
    SE("gateway", "can", can, ENV_CAN),
    X("gateway", "log_level"),
    X("gateway", "utc_offset_min"),
    X("gateway", "serial"),
    S("mqtt", "host", mqtt_host),
    I("mqtt", "port", mqtt_port, 1, 65535),
    S("mqtt", "client_id", mqtt_client_id),
    S("mqtt", "username", mqtt_username),
    S("mqtt", "password", mqtt_password),
    SE("mqtt", "password_file", mqtt_password_file, ENV_READ),
    X("mqtt", "protocol"),
    I("mqtt", "keepalive_s", mqtt_keepalive_s, 5, 3600),
    I("mqtt", "qos", mqtt_qos, 0, 2),
    B("tls", "enabled", tls),
    SE("tls", "ca_file", tls_ca_file, ENV_READ),
    SE("tls", "ca_path", tls_ca_path, ENV_READ),
    SE("tls", "cert_file", tls_cert_file, ENV_READ),
    SE("tls", "key_file", tls_key_file, ENV_READ),
    B("tls", "insecure", tls_insecure),
    U("packs", "offline_ms", core.offline_ms, 1000, 600000),
    U("commands", "timeout_ms", core.cmd_timeout_ms, 100, 60000),
    U("commands", "rate_client_per_min", core.rate_client_per_min, 1, 60000),
    U("commands", "rate_client_burst", core.rate_client_burst, 1, 1000),
    U("commands", "rate_site_per_min", core.rate_site_per_min, 1, 600000),
    U("commands", "rate_site_burst", core.rate_site_burst, 1, 10000),
    U("time", "period_ms", core.time_period_ms, 1000, 3600000),
    B("time", "require_sync", core.time_require_sync),
#define SOCKET_OPTS(n)                                                                             \
    S("socket" #n, "topic", core.sockets[n - 1].topic),                                            \
    {"socket" #n, "on_surplus_w", T_I32, offsetof(gw_config_t, core.sockets[n - 1].on_surplus_w), 0, -100000, 1000000, ENV_NONE}, \
    {"socket" #n, "off_surplus_w", T_I32, offsetof(gw_config_t, core.sockets[n - 1].off_surplus_w), 0, -100000, 1000000, ENV_NONE}, \
    U("socket" #n, "min_switch_s", core.sockets[n - 1].min_switch_s, 0, 86400)
    SOCKET_OPTS(1), SOCKET_OPTS(2), SOCKET_OPTS(3), SOCKET_OPTS(4),
    B("homeassistant", "enabled", core.ha_enabled),
    S("homeassistant", "prefix", core.ha_prefix),
    SE("history", "path", history_path, ENV_WFILE),
    U("history", "flush_s", history_flush_s, 1, 86400),
    U("history", "keep_days", history_keep_days, 400, 3650),
    SE("ota", "state_dir", ota_state_dir, ENV_DIR),
    U("ota", "bus_load_pct", ota_bus_load_pct, 10, 90),
    U("ota", "wave_pct", ota_wave_pct, 1, 100),
};

static void set_special(gw_config_t *c, const char *key, const char *v)
{
    if (!strcmp(key, "log_level")) {
        static const struct { const char *n; int l; } lv[] = {
            {"error", GW_LOG_ERR}, {"warning", GW_LOG_WARN}, {"info", GW_LOG_INFO}, {"debug", GW_LOG_DEBUG}};
        for (size_t k = 0; k < sizeof lv / sizeof lv[0]; k++) {
            if (!strcmp(v, lv[k].n)) { c->log_level = lv[k].l; return; }
        }
        err(c, "gateway.log_level: \"%s\" is not one of error, warning, info, debug", v);
    } else if (!strcmp(key, "utc_offset_min")) {
        long x;
        if (!strcmp(v, "auto")) { c->utc_offset_auto = 1; return; }
        if (parse_long(v, ALFA_PROTO_UTC_OFFSET_MIN, ALFA_PROTO_UTC_OFFSET_MAX, &x) < 0) {
            err(c, "gateway.utc_offset_min: \"%s\" is neither auto nor %d..%d", v, ALFA_PROTO_UTC_OFFSET_MIN,
                ALFA_PROTO_UTC_OFFSET_MAX);
            return;
        }
        c->utc_offset_auto = 0;
        c->utc_offset_min = (int)x;
    } else if (!strcmp(key, "serial")) {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 16);
        if (!strcmp(v, "auto")) { c->core.serial = 0; return; }
        if (errno || end == v || *end || x == 0 || x > 0xFFFFFFFFFFFFull) {
            err(c, "gateway.serial: \"%s\" is neither auto nor 1..ffffffffffff (hex)", v);
            return;
        }
        c->core.serial = (uint64_t)x;
    } else if (!strcmp(key, "protocol")) {
        if (!strcmp(v, "3.1.1") || !strcmp(v, "311")) c->mqtt_protocol = 4;
        else if (!strcmp(v, "5")) c->mqtt_protocol = 5;
        else err(c, "mqtt.protocol: \"%s\" is neither 3.1.1 nor 5", v);
    }
}

/* Apply one option; every problem goes to c->errors. */
static void set_option(gw_config_t *c, const char *section, const char *key, const char *v, const char *where)
{
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        const opt_t *o = &opts[k];
        if (strcmp(o->section, section) != 0 || strcmp(o->key, key) != 0) continue;
        char *field = (char *)c + o->offset;
        long x;
        int b;
        switch (o->type) {
        case T_STR:
            if (strlen(v) >= o->size) err(c, "%s%s.%s: value too long (at most %zu characters)", where, section, key, o->size - 1u);
            else memcpy(field, v, strlen(v) + 1u);
            break;
        case T_INT:
        case T_U32:
        case T_I32:
            if (parse_long(v, o->min, o->max, &x) < 0) {
                err(c, "%s%s.%s: \"%s\" is not an integer in %ld..%ld", where, section, key, v, o->min, o->max);
            } else if (o->type == T_INT) {
                *(int *)(void *)field = (int)x;
            } else if (o->type == T_I32) {
                *(int32_t *)(void *)field = (int32_t)x;
            } else {
                *(uint32_t *)(void *)field = (uint32_t)x;
            }
            break;
        case T_BOOL:
            if (parse_bool(v, &b) < 0) err(c, "%s%s.%s: \"%s\" is not true or false", where, section, key, v);
            else *(int *)(void *)field = b;
            break;
        case T_SPECIAL:
            set_special(c, key, v);
            break;
        }
        return;
    }
    err(c, "%sunknown option %s.%s", where, section, key);
}

typedef struct load_ctx {
    gw_config_t *c;
    const char *path;
} load_ctx_t;

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    load_ctx_t *lc = user;
    char where[300];
    snprintf(where, sizeof where, "%s: ", lc->path);
    set_option(lc->c, section, name, value, where);
    return 1;
}

int gw_config_load(gw_config_t *c, const char *path)
{
    load_ctx_t lc = {c, path};
    int rc = ini_parse(path, on_ini, &lc);
    if (rc < 0) err(c, "%s: cannot open: %s", path, strerror(errno));
    else if (rc > 0) err(c, "%s:%d: syntax error", path, rc);
    return c->n_errors;
}

int gw_config_override(gw_config_t *c, const char *assignment)
{
    const char *dot = strchr(assignment, '.');
    const char *eq = strchr(assignment, '=');
    if (dot == NULL || eq == NULL || dot > eq) {
        err(c, "--set %s: expected section.key=value", assignment);
        return c->n_errors;
    }
    char section[64], key[64];
    size_t sl = (size_t)(dot - assignment), kl = (size_t)(eq - dot - 1);
    if (sl >= sizeof section || kl >= sizeof key) {
        err(c, "--set %s: option name too long", assignment);
        return c->n_errors;
    }
    memcpy(section, assignment, sl);
    section[sl] = '\0';
    memcpy(key, dot + 1, kl);
    key[kl] = '\0';
    set_option(c, section, key, eq + 1, "--set ");
    return c->n_errors;
}

/* Site names become topic levels and ACL patterns: no wildcards, separators or spaces. */
static int name_ok(const char *s)
{
    if (s[0] == '\0') return 0;
    for (; *s; s++) {
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-')) return 0;
    }
    return 1;
}

/* A stable serial for the board: the first 12 hex digits of /etc/machine-id. */
static uint64_t machine_serial(void)
{
    char id[64] = "";
    FILE *f = fopen("/etc/machine-id", "r");
    if (f != NULL) {
        if (fgets(id, sizeof id, f) == NULL) id[0] = '\0';
        fclose(f);
    }
    id[12] = '\0';
    unsigned long long x = strtoull(id, NULL, 16);
    return x ? (uint64_t)x : 0x0000a1f5a4c0ull;
}

int gw_config_finish(gw_config_t *c)
{
    if (c->core.serial == 0) c->core.serial = machine_serial();
    if (c->core.site[0] != '\0' && !name_ok(c->core.site)) {
        err(c, "gateway.site: \"%s\" must be letters, digits, '_' or '-'", c->core.site);
    }
    if (c->core.ha_prefix[0] == '\0' || strpbrk(c->core.ha_prefix, "+#") != NULL) {
        err(c, "homeassistant.prefix: \"%s\" must be a topic without wildcards", c->core.ha_prefix);
    }
    if (c->can[0] == '\0') err(c, "gateway.can: missing (slcan:/dev/ttyACM0 or socketcan:can0)");
    if (strncmp(c->can, "slcan:", 6) != 0 && strncmp(c->can, "socketcan:", 10) != 0 && c->can[0] != '/' &&
        strchr(c->can, ':') != NULL) {
        err(c, "gateway.can: \"%s\" is neither slcan:<device> nor socketcan:<interface>", c->can);
    }
    if (c->mqtt_client_id[0] == '\0') snprintf(c->mqtt_client_id, sizeof c->mqtt_client_id, "alfaspark-gw-%.200s", c->core.site);
    if (strpbrk(c->mqtt_client_id, "+#/") != NULL) err(c, "mqtt.client_id: must not contain '+', '#' or '/'");
    if (c->mqtt_password[0] && c->mqtt_password_file[0]) err(c, "mqtt.password and mqtt.password_file: give only one");
    if ((c->mqtt_password[0] || c->mqtt_password_file[0]) && c->mqtt_username[0] == '\0') {
        err(c, "mqtt.username: a password needs a username");
    }
    if (c->tls) {
        if (c->tls_ca_file[0] == '\0' && c->tls_ca_path[0] == '\0') err(c, "tls: enabled needs ca_file or ca_path");
        if (!!c->tls_cert_file[0] != !!c->tls_key_file[0]) err(c, "tls: cert_file and key_file go together");
    } else if (c->tls_ca_file[0] || c->tls_cert_file[0]) {
        err(c, "tls: files are given but tls.enabled is false");
    }
    for (unsigned k = 0; k < 4u; k++) {
        const struct gw_socket_cfg *sk = &c->core.sockets[k];
        if (sk->topic[0] && strpbrk(sk->topic, "+#") != NULL) err(c, "socket%u.topic: no wildcards", k + 1u);
        if (sk->topic[0] && sk->off_surplus_w > sk->on_surplus_w) {
            err(c, "socket%u: off_surplus_w (%d) is above on_surplus_w (%d)", k + 1u, (int)sk->off_surplus_w,
                (int)sk->on_surplus_w);
        }
    }
    if (c->core.rate_client_burst > c->core.rate_site_burst) {
        err(c, "commands.rate_client_burst (%u) is larger than commands.rate_site_burst (%u)", c->core.rate_client_burst,
            c->core.rate_site_burst);
    }
    return c->n_errors;
}

int gw_config_read_password(gw_config_t *c)
{
    if (c->mqtt_password_file[0] == '\0') return c->n_errors;
    FILE *f = fopen(c->mqtt_password_file, "r");
    if (f == NULL) {
        err(c, "mqtt.password_file: cannot read %s: %s", c->mqtt_password_file, strerror(errno));
        return c->n_errors;
    }
    if (fgets(c->mqtt_password, sizeof c->mqtt_password, f) == NULL) c->mqtt_password[0] = '\0';
    fclose(f);
    c->mqtt_password[strcspn(c->mqtt_password, "\r\n")] = '\0';
    if (c->mqtt_password[0] == '\0') err(c, "mqtt.password_file: %s is empty", c->mqtt_password_file);
    return c->n_errors;
}

int gw_config_check_env(gw_config_t *c)
{
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        const opt_t *o = &opts[k];
        const char *v = (const char *)c + o->offset;
        if (o->env == ENV_NONE || v[0] == '\0') continue;
        alfa_env_problem_t p = {"", ""};
        int rc = o->env == ENV_CAN     ? alfa_env_check_can(v, &p)
                 : o->env == ENV_DIR   ? alfa_env_check_dir_writable(v, &p)
                 : o->env == ENV_WFILE ? alfa_env_check_file_writable(v, 0, &p)
                                       : alfa_env_check_file_readable(v, &p);
        if (rc != ALFA_PORT_OK) err(c, "%s.%s: %s\n  fix: %s", o->section, o->key, p.why, p.fix);
    }
    return c->n_errors;
}

int gw_config_is_configured(const gw_config_t *c) { return c->core.site[0] != '\0'; }

int gw_config_require_site(gw_config_t *c)
{
    if (!gw_config_is_configured(c)) {
        err(c, "gateway.site: not set\n  fix: name the site (letters, digits, '_' or '-'): topics live under "
               "alfaspark/<site>/ and the app's broker user is named after it");
    }
    return c->n_errors;
}
