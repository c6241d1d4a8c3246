/* The gateway's configuration: INI file (libinih), command-line overrides, and its validation. */
#ifndef ALFA_GW_CONFIG_H
#define ALFA_GW_CONFIG_H

/*
 * Every option is "<section>.<key>" (deploy/gateway.ini.example documents each one). The same
 * names are used by the INI file and by `--set section.key=value` on the command line, which
 * wins over the file. Loading never stops at the first problem: every unknown option and bad
 * value is collected in cfg->errors so that --check-config can print them all.
 */

#include <stddef.h>

#include "alfa/gw_core.h"

#define GW_CFG_STR 256u
#define GW_CFG_ERRORS 4096u

typedef struct gw_config {
    gw_cfg_t core;                 /* site, HA, timeouts, rate limits */
    char can[GW_CFG_STR];          /* "slcan:/dev/ttyACM0" or "socketcan:can0" */
    int log_level;                 /* GW_LOG_* */
    int utc_offset_auto;           /* take the offset from the system time zone */
    int utc_offset_min;
    char mqtt_host[GW_CFG_STR];
    int mqtt_port;
    char mqtt_client_id[GW_CFG_STR];
    char mqtt_username[GW_CFG_STR];
    char mqtt_password[GW_CFG_STR];
    char mqtt_password_file[GW_CFG_STR];
    int mqtt_protocol;             /* 4 = MQTT 3.1.1, 5 = MQTT 5 */
    int mqtt_keepalive_s;
    int mqtt_qos;
    int tls;
    char tls_ca_file[GW_CFG_STR];
    char tls_ca_path[GW_CFG_STR];
    char tls_cert_file[GW_CFG_STR];
    char tls_key_file[GW_CFG_STR];
    int tls_insecure;
    char history_path[GW_CFG_STR]; /* history.path: SQLite file of the history; empty = none */
    uint32_t history_flush_s;      /* history.flush_s: at most one write per this many seconds */
    uint32_t history_keep_days;    /* history.keep_days */
    char ota_state_dir[GW_CFG_STR]; /* firmware update: session state and staged image (gw_ota.h) */
    uint32_t ota_bus_load_pct;     /* share of the bus update frames may take */
    uint32_t ota_wave_pct;         /* packs activated together after the canary, % */
    char errors[GW_CFG_ERRORS];    /* one line per problem */
    int n_errors;
} gw_config_t;

/* Defaults of every option. */
void gw_config_defaults(gw_config_t *c);
/* Read an INI file; problems are appended to c->errors. Returns the number of errors so far. */
int gw_config_load(gw_config_t *c, const char *path);
/* Apply one "section.key=value" override. Returns the number of errors so far. */
int gw_config_override(gw_config_t *c, const char *assignment);
/* Check the whole configuration's syntax and cross-option rules (a blank gateway.site is allowed
 * here: gw_config_require_site; no file or device is touched:
 * `--check-config --syntax-only` runs on machines without the hardware) and fill derived
 * defaults (client ID, serial). Returns the number of errors. */
int gw_config_finish(gw_config_t *c);
/* Add one problem (printf-style, one line; "\n  fix: ..." may follow) to c->errors. */
void gw_config_error(gw_config_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read mqtt.password_file (when set) into mqtt_password. Returns the number of errors so far. */
int gw_config_read_password(gw_config_t *c);
/* Check the machine for every option that names something on it (the CAN interface exists and
 * opens, files are readable, directories writable: the option table's env column), each problem
 * with its reason and a "fix:" line. Returns the number of errors so far. */
int gw_config_check_env(gw_config_t *c);
/* 1 when the installer has set what makes this gateway a site's gateway (gateway.site), 0 while
 * the configuration is still the package's blank one: the systemd unit's start condition. */
int gw_config_is_configured(const gw_config_t *c);
/* An error unless gateway.site is set: the daemon and a full --check-config need it; the syntax
 * alone does not (the package ships the file with the site blank). Returns the number of errors. */
int gw_config_require_site(gw_config_t *c);

#endif
