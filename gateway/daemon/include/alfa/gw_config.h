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
/* Check the whole configuration (cross-option rules, files that must exist, password file
 * readable) and read the password file. Returns the number of errors. */
int gw_config_finish(gw_config_t *c);

#endif
