/* alfaspark-gateway: the Linux daemon that links the site's CAN bus to MQTT (SPEC.md §9). */
#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "alfa/envcheck.h"
#include "alfa/gw_config.h"
#include "gw_check.h"
#include "alfa/gw_core.h"
#include "alfa/gw_json.h"
#include "alfa/gw_history.h"
#include "alfa/gw_ota.h"
#include "alfa/lincan.h"

#ifndef ALFA_VERSION
#define ALFA_VERSION "unknown"
#endif

typedef struct daemon_ctx {
    gw_config_t cfg;
    gw_core_t *core;
    gw_ota_t *ota;                 /* firmware update sender (gw_ota.h) */
    struct mosquitto *mosq;
    alfa_lincan_t can;
    int can_open;
    int mqtt_connected;
    uint32_t next_connect_ms;
    uint32_t connect_backoff_ms;
    uint32_t next_can_open_ms;
    char can_why[sizeof(((alfa_env_problem_t *)0)->why)]; /* last reason logged: repeats go to debug */
    int journal;
    gw_hist_t *hist;              /* NULL without history.path */
    char *hist_answer;            /* GW_HIST_ANSWER_MAX bytes */
    int hist_error_logged;
    int can_recover_rc;           /* last result of a bus-off recovery: a new failure is logged once */
    int notify_failed;            /* sd_notify failed once (logged once) */
} daemon_ctx_t;

static volatile sig_atomic_t g_stop; /* set by SIGTERM/SIGINT: the only global, owned by main */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint32_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail: a clock Linux always has, a valid pointer */
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* The kernel's view of the wall clock: synchronized by NTP (chrony, systemd-timesyncd) or not. A
 * board without RTC boots with a stale clock that the packs must never take as the time. */
static int clock_synced(void)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int state = adjtimex(&tx);
    return state != -1 && state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
}

static void now_of(const daemon_ctx_t *d, gw_now_t *now)
{
    now->ms = mono_ms();
    now->unix_s = (int64_t)time(NULL);
    now->clock_synced = clock_synced();
    struct tm tm;
    time_t t = (time_t)now->unix_s;
    if (d->cfg.utc_offset_auto && localtime_r(&t, &tm) != NULL) {
        now->utc_offset_min = (int16_t)(tm.tm_gmtoff / 60);
    } else {
        /* Configured, or a time localtime cannot convert (the offset the configuration gives). */
        now->utc_offset_min = (int16_t)d->cfg.utc_offset_min;
    }
}

static void log_line(void *user, int level, const char *msg)
{
    const daemon_ctx_t *d = user;
    if (level > d->cfg.log_level) return;
    if (d->journal) {
        fprintf(stderr, "<%d>%s\n", level, msg); /* journald reads the level prefix */
    } else {
        const char *tag = level <= GW_LOG_ERR ? "error" : level == GW_LOG_WARN ? "warning" : level == GW_LOG_INFO ? "info" : "debug";
        fprintf(stderr, "alfaspark-gateway: %s: %s\n", tag, msg);
    }
}

#define LOG(d, lvl, ...)                                                                           \
    do {                                                                                           \
        char m_[1024];                                                                            \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
        log_line((d), (lvl), m_);                                                                  \
    } while (0)

/* Tell systemd (READY, WATCHDOG, STATUS...). 0 without NOTIFY_SOCKET (not under systemd) is no
 * failure; a refusal is logged once: under a watchdog, systemd would restart us for it. */
static void notify(daemon_ctx_t *d, const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0 && !d->notify_failed) {
        d->notify_failed = 1;
        LOG(d, GW_LOG_ERR, "systemd notification failed: %s", strerror(-rc));
    }
}

/* Every fault and warning event the core publishes is also a log line, by name: the journal then
 * tells the same story as the MQTT event stream, even when no client was listening. */
static void log_event(daemon_ctx_t *d, const char *topic, const char *payload, size_t len)
{
    size_t tl = strlen(topic);
    if (tl < 6 || strcmp(topic + tl - 6, "/event") != 0) return;
    gw_json_doc_t doc;
    memset(&doc, 0, sizeof doc);
    if (gw_json_parse(&doc, payload, len) != 0) return;
    const gw_json_member_t *pack = gw_json_get(&doc, "pack"), *type = gw_json_get(&doc, "type");
    const gw_json_member_t *name = gw_json_get(&doc, "name"), *active = gw_json_get(&doc, "active");
    if (pack == NULL || type == NULL || name == NULL || active == NULL || pack->type != GW_JSON_STRING ||
        type->type != GW_JSON_STRING || name->type != GW_JSON_STRING || active->type != GW_JSON_BOOL) {
        return;
    }
    LOG(d, active->i ? GW_LOG_WARN : GW_LOG_INFO, "pack %s: %s %s %s", pack->s, type->s, name->s,
        active->i ? "raised" : "cleared");
}

static int io_publish(void *user, const char *topic, const char *payload, size_t len, int retain)
{
    daemon_ctx_t *d = user;
    log_event(d, topic, payload, len);
    if (!d->mqtt_connected) return -1;
    int rc = mosquitto_publish(d->mosq, NULL, topic, (int)len, payload, d->cfg.mqtt_qos, retain != 0);
    if (rc != MOSQ_ERR_SUCCESS) {
        LOG(d, GW_LOG_WARN, "publish %s failed: %s", topic, mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

static int32_t io_can_send(void *user, const alfa_can_frame_t *frame)
{
    daemon_ctx_t *d = user;
    if (!d->can_open) return ALFA_PORT_E_IO;
    return alfa_lincan_send(&d->can, frame);
}

/* Every pack record and site total goes to the history, stamped with the packs' time. */
static void io_record(void *user, const struct gw_pack *pack, const alfa_telemetry_t *t, const alfa_site_totals_t *s,
                      int64_t packs_unix_s)
{
    daemon_ctx_t *d = user;
    if (d->hist == NULL) return;
    gw_hist_sample_t h;
    memset(&h, 0, sizeof h);
    h.ts_s = packs_unix_s;
    uint64_t serial = 0;
    if (pack != NULL && t != NULL) {
        serial = gw_pack_serial(pack);
        const int32_t v[GW_HIST_AVG_COUNT] = {t->soc_pct, t->p_solar_w, t->p_home_w, t->p_grid_w, t->p_batt_w, t->p_pool_w, t->p_heater_w};
        memcpy(h.avg, v, sizeof v);
        h.have_energy = 1;
        h.e_today_wh[0] = t->grid_import_today_wh;
        h.e_today_wh[1] = t->solar_today_wh;
        h.e_today_wh[2] = t->batt_charge_today_wh;
        h.e_today_wh[3] = t->batt_discharge_today_wh;
    } else if (s != NULL) {
        const int32_t v[GW_HIST_AVG_COUNT] = {s->soc_avg_pct, s->p_solar_w, s->p_home_w, s->p_grid_w, s->p_batt_w, 0, 0};
        memcpy(h.avg, v, sizeof v);
    } else {
        return;
    }
    int rc = gw_hist_add(d->hist, serial, &h);
    if (rc < 0 && !d->hist_error_logged) {
        LOG(d, GW_LOG_ERR, "history: a record was not kept (%d): %s", rc, gw_hist_errmsg(d->hist));
        d->hist_error_logged = 1;
    }
}

/* history/get: one request, one answer on history/result. */
static void on_history_request(daemon_ctx_t *d, const struct mosquitto_message *msg)
{
    char topic[160];
    int n = gw_hist_query(d->hist, msg->payload ? msg->payload : "", msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0u,
                          gw_core_utc_offset(d->core), d->hist_answer, GW_HIST_ANSWER_MAX);
    if (n < 0) {
        LOG(d, GW_LOG_ERR, "history query failed (%d): %s", n, gw_hist_errmsg(d->hist));
        n = snprintf(d->hist_answer, GW_HIST_ANSWER_MAX, "{\"id\":null,\"result\":\"failed\",\"detail\":\"the history database could not be read\"}");
    }
    snprintf(topic, sizeof topic, "alfaspark/%s/history/result", d->cfg.core.site);
    int rc = mosquitto_publish(d->mosq, NULL, topic, n, d->hist_answer, 1, false);
    if (rc != MOSQ_ERR_SUCCESS) LOG(d, GW_LOG_WARN, "publish %s failed: %s", topic, mosquitto_strerror(rc));
}

/* ---- the update sender's I/O: the bus backlog and files of [ota] state_dir ---- */

static uint32_t io_tx_backlog(void *user)
{
    daemon_ctx_t *d = user;
    /* An SLCAN frame line is at most 27 characters ("T" id dlc data "\r"). */
    return d->can_open ? (alfa_lincan_tx_pending(&d->can) + 26u) / 27u : 0u;
}

static void state_path(const daemon_ctx_t *d, const char *name, char *out, size_t cap)
{
    if (name[0] == '/') snprintf(out, cap, "%s", name);
    else snprintf(out, cap, "%s/%s", d->cfg.ota_state_dir, name);
}

static uint8_t *io_read_file(void *user, const char *name, size_t *len)
{
    char path[GW_CFG_STR + 64];
    state_path(user, name, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    uint8_t *b = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && n <= 16l * 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n + 1u)) != NULL &&
        fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b != NULL) *len = (size_t)n;
    return b;
}

static int io_write_file(void *user, const char *name, const void *data, size_t len)
{
    char path[GW_CFG_STR + 64], tmp[GW_CFG_STR + 80];
    state_path(user, name, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) return -1;
    int ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    return ok && rename(tmp, path) == 0 ? 0 : -1; /* whole or not at all */
}

/* A refused subscription leaves one topic deaf: said in the log, and the next connect tries again. */
static void subscribe(daemon_ctx_t *d, const char *topic, int opts)
{
    int rc = mosquitto_subscribe_v5(d->mosq, NULL, topic, 1, opts, NULL);
    if (rc != MOSQ_ERR_SUCCESS) LOG(d, GW_LOG_ERR, "subscribe %s failed: %s", topic, mosquitto_strerror(rc));
}

static void on_connect(struct mosquitto *mosq, void *user, int rc)
{
    (void)mosq; /* the same as d->mosq */
    daemon_ctx_t *d = user;
    if (rc != 0) {
        LOG(d, GW_LOG_ERR, "broker refused the connection: %s", mosquitto_connack_string(rc));
        return;
    }
    char t[160];
    /* MQTT 5: no-local keeps our own cmd/result messages from coming back to us */
    int opts = d->cfg.mqtt_protocol == 5 ? MQTT_SUB_OPT_NO_LOCAL : 0;
    snprintf(t, sizeof t, "alfaspark/%s/cmd/+", d->cfg.core.site);
    subscribe(d, t, opts);
    snprintf(t, sizeof t, "alfaspark/%s/pack/+/cmd/+", d->cfg.core.site);
    subscribe(d, t, opts);
    if (d->cfg.core.ha_enabled) {
        snprintf(t, sizeof t, "%s/status", d->cfg.core.ha_prefix);
        subscribe(d, t, 0);
    }
    if (d->hist) {
        snprintf(t, sizeof t, "alfaspark/%s/history/get", d->cfg.core.site);
        subscribe(d, t, 0);
    }
    static const char *const ota_topics[] = {"image", "start", "cancel"};
    for (size_t k = 0; k < sizeof ota_topics / sizeof ota_topics[0]; k++) {
        snprintf(t, sizeof t, "alfaspark/%s/ota/%s", d->cfg.core.site, ota_topics[k]);
        subscribe(d, t, 0);
    }
    d->mqtt_connected = 1;
    d->connect_backoff_ms = 500;
    LOG(d, GW_LOG_INFO, "connected to %s:%d as %s", d->cfg.mqtt_host, d->cfg.mqtt_port, d->cfg.mqtt_client_id);
    gw_now_t now;
    now_of(d, &now);
    gw_core_on_connect(d->core, &now);
    gw_ota_on_connect(d->ota);
    notify(d, "STATUS=connected to the broker");
}

static void on_disconnect(struct mosquitto *mosq, void *user, int rc)
{
    (void)mosq;
    daemon_ctx_t *d = user;
    if (d->mqtt_connected) LOG(d, GW_LOG_WARN, "disconnected from the broker (%s)", mosquitto_strerror(rc));
    d->mqtt_connected = 0;
    gw_core_on_disconnect(d->core);
}

static void on_message(struct mosquitto *mosq, void *user, const struct mosquitto_message *msg)
{
    (void)mosq;
    daemon_ctx_t *d = user;
    gw_now_t now;
    now_of(d, &now);
    size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0u;
    char hist_topic[160];
    snprintf(hist_topic, sizeof hist_topic, "alfaspark/%s/history/get", d->cfg.core.site);
    if (d->hist && strcmp(msg->topic, hist_topic) == 0) {
        on_history_request(d, msg);
        return;
    }
    if (gw_ota_on_mqtt(d->ota, msg->topic, msg->payload, len, now.ms)) return;
    gw_core_on_mqtt(d->core, msg->topic, msg->payload, len, &now);
}

/* The result of a mosquitto loop call: a lost connection drops the socket and reconnects with
 * back-off; no connection (any more) is a disconnect. */
static void mqtt_check(daemon_ctx_t *d, int rc)
{
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        /* The socket is gone or broken; NO_CONN from disconnect only says it already was. */
        int drc = mosquitto_disconnect(d->mosq);
        if (drc != MOSQ_ERR_SUCCESS && drc != MOSQ_ERR_NO_CONN) {
            LOG(d, GW_LOG_DEBUG, "disconnect after a lost connection: %s", mosquitto_strerror(drc));
        }
        if (d->mqtt_connected) on_disconnect(d->mosq, d, rc);
        d->next_connect_ms = mono_ms() + d->connect_backoff_ms;
    } else if (rc == MOSQ_ERR_NO_CONN && d->mqtt_connected) {
        on_disconnect(d->mosq, d, rc);
    }
}

static int mqtt_setup(daemon_ctx_t *d)
{
    d->mosq = mosquitto_new(d->cfg.mqtt_client_id, true, d);
    if (d->mosq == NULL) return -1;
    int orc = mosquitto_int_option(d->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                                   d->cfg.mqtt_protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    if (orc == MOSQ_ERR_SUCCESS) orc = mosquitto_int_option(d->mosq, MOSQ_OPT_TCP_NODELAY, 1); /* commands must not wait for Nagle */
    if (orc != MOSQ_ERR_SUCCESS) {
        LOG(d, GW_LOG_ERR, "MQTT client option refused: %s", mosquitto_strerror(orc));
        return -1;
    }
    mosquitto_connect_callback_set(d->mosq, on_connect);
    mosquitto_disconnect_callback_set(d->mosq, on_disconnect);
    mosquitto_message_callback_set(d->mosq, on_message);
    char will[160];
    snprintf(will, sizeof will, "alfaspark/%s/gateway/status", d->cfg.core.site);
    if (mosquitto_will_set(d->mosq, will, 7, "offline", 1, true) != MOSQ_ERR_SUCCESS) return -1;
    if (d->cfg.mqtt_username[0] &&
        mosquitto_username_pw_set(d->mosq, d->cfg.mqtt_username, d->cfg.mqtt_password[0] ? d->cfg.mqtt_password : NULL) !=
            MOSQ_ERR_SUCCESS) {
        return -1;
    }
    if (d->cfg.tls) {
        int rc = mosquitto_tls_set(d->mosq, d->cfg.tls_ca_file[0] ? d->cfg.tls_ca_file : NULL,
                                   d->cfg.tls_ca_path[0] ? d->cfg.tls_ca_path : NULL,
                                   d->cfg.tls_cert_file[0] ? d->cfg.tls_cert_file : NULL,
                                   d->cfg.tls_key_file[0] ? d->cfg.tls_key_file : NULL, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            LOG(d, GW_LOG_ERR, "TLS setup failed: %s", mosquitto_strerror(rc));
            return -1;
        }
        rc = mosquitto_tls_insecure_set(d->mosq, d->cfg.tls_insecure != 0);
        if (rc != MOSQ_ERR_SUCCESS) {
            LOG(d, GW_LOG_ERR, "TLS setup failed: %s", mosquitto_strerror(rc));
            return -1;
        }
    }
    return 0;
}

static void mqtt_try_connect(daemon_ctx_t *d, uint32_t now_ms)
{
    if ((int32_t)(now_ms - d->next_connect_ms) < 0) return;
    /* non-blocking TCP connect: an unreachable broker must not stall CAN traffic or the watchdog */
    int rc = mosquitto_connect_async(d->mosq, d->cfg.mqtt_host, d->cfg.mqtt_port, d->cfg.mqtt_keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        LOG(d, GW_LOG_WARN, "cannot reach broker %s:%d: %s (retry in %u ms)", d->cfg.mqtt_host, d->cfg.mqtt_port,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), d->connect_backoff_ms);
        d->next_connect_ms = now_ms + d->connect_backoff_ms;
        d->connect_backoff_ms = d->connect_backoff_ms * 2u > 10000u ? 10000u : d->connect_backoff_ms * 2u;
    }
}

static void can_try_open(daemon_ctx_t *d, uint32_t now_ms)
{
    if (d->can_open || (int32_t)(now_ms - d->next_can_open_ms) < 0) return;
    int err = 0;
    int rc = alfa_lincan_open(&d->can, d->cfg.can);
    if (rc < 0) {
        err = errno;
        /* say why, with a fix, once per reason; the retries that follow are debug lines */
        alfa_env_problem_t p = {"", ""};
        if (alfa_env_check_can(d->cfg.can, &p) == ALFA_PORT_OK) {
            snprintf(p.why, sizeof p.why, "%s", strerror(err));
            snprintf(p.fix, sizeof p.fix, "check the adapter (dmesg | tail)");
        }
        int repeat = strcmp(p.why, d->can_why) == 0;
        LOG(d, repeat ? GW_LOG_DEBUG : GW_LOG_ERR, "cannot open CAN %s: %s; fix: %s (retrying every 2 s)", d->cfg.can,
            p.why, p.fix);
        snprintf(d->can_why, sizeof d->can_why, "%s", p.why);
        d->next_can_open_ms = now_ms + 2000u;
        return;
    }
    d->can_open = 1;
    d->can_why[0] = '\0';
    LOG(d, GW_LOG_INFO, "CAN %s open", d->cfg.can);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: alfaspark-gateway [--config FILE] [--check-config [--syntax-only]] [--set section.key=value]...\n"
            "                         [--site NAME] [--can SPEC] [--host HOST] [--port PORT] [-v]\n"
            "\n"
            "Links the Alfaspark CAN bus to MQTT (topics under alfaspark/<site>/).\n"
            "  --config FILE      INI configuration (default /etc/alfaspark/gateway.ini if it exists)\n"
            "  --check-config     check the configuration and the machine (CAN interface, files, the broker\n"
            "                     and its login); print every problem with a fix; exit 0 when all is well\n"
            "  --syntax-only      with --check-config: the file and options only, touch nothing else\n"
            "  --is-configured    exit 0 once gateway.site is set, 1 before (the systemd unit's condition)\n"
            "  --set S.K=V        override one option (e.g. --set mqtt.port=1884); wins over the file\n"
            "  --site, --can, --host, --port   shortcuts for gateway.site, gateway.can, mqtt.host, mqtt.port\n"
            "  -v                 debug logging\n"
            "  --version          print the version\n"
            "Every option is documented in /etc/alfaspark/gateway.ini (deploy/gateway.ini.example) and in\n"
            "alfaspark-gateway(8).\n");
}

/* The daemon from its arguments to its stop; main owns d and core and frees what run left. */
static int run(daemon_ctx_t *d, gw_core_t *core, int argc, char **argv)
{
    d->core = core;
    gw_config_defaults(&d->cfg);
    const char *config = NULL;
    int check_only = 0, syntax_only = 0, is_configured = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--check-config")) check_only = 1;
        else if (!strcmp(argv[i], "--syntax-only")) syntax_only = 1;
        else if (!strcmp(argv[i], "--is-configured")) is_configured = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--version")) { printf("alfaspark-gateway %s\n", ALFA_VERSION); return 0; }
    }
    if (syntax_only && !check_only) {
        fprintf(stderr, "alfaspark-gateway: --syntax-only goes with --check-config\n");
        return 2;
    }
    if (config == NULL && access("/etc/alfaspark/gateway.ini", R_OK) == 0) config = "/etc/alfaspark/gateway.ini";
    /* The gw_config_* calls below return the count of problems so far, each of which is also in
     * cfg.errors: the count is checked once they all ran (cfg.n_errors), not after each. */
    if (config) gw_config_load(&d->cfg, config);
    for (int i = 1; i < argc; i++) {
        char buf[GW_CFG_STR + 32];
        const char *a = argv[i];
        if (!strcmp(a, "--config")) { i++; continue; }
        if (!strcmp(a, "--check-config") || !strcmp(a, "--syntax-only") || !strcmp(a, "--is-configured")) continue;
        if (!strcmp(a, "-v")) { gw_config_override(&d->cfg, "gateway.log_level=debug"); continue; }
        static const struct { const char *flag, *opt; } sc[] = {
            {"--site", "gateway.site"}, {"--can", "gateway.can"}, {"--host", "mqtt.host"}, {"--port", "mqtt.port"}, {"--set", NULL}};
        size_t k;
        for (k = 0; k < sizeof sc / sizeof sc[0]; k++) {
            if (!strcmp(a, sc[k].flag)) break;
        }
        if (k == sizeof sc / sizeof sc[0]) {
            fprintf(stderr, "alfaspark-gateway: unknown argument \"%s\" (--help lists them)\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "alfaspark-gateway: %s needs a value\n", a);
            return 2;
        }
        if (sc[k].opt) snprintf(buf, sizeof buf, "%s=%s", sc[k].opt, argv[++i]);
        else snprintf(buf, sizeof buf, "%s", argv[++i]);
        gw_config_override(&d->cfg, buf);
    }
    gw_config_finish(&d->cfg);
    if (is_configured) {
        /* the unit's ExecCondition: 1 (skip, not a failure) until the installer named the site */
        if (gw_config_is_configured(&d->cfg)) return 0;
        printf("alfaspark-gateway: gateway.site is not set in %s: not starting until it is (see the guide, "
               "\"Commissioning\")\n", config ? config : "the configuration");
        return 1;
    }
    if (check_only) return gw_check_config(&d->cfg, config, syntax_only);
    gw_config_require_site(&d->cfg);
    gw_config_read_password(&d->cfg);
    if (d->cfg.n_errors) {
        fprintf(stderr, "alfaspark-gateway: configuration%s%s has %d problem(s):\n%s", config ? " " : "", config ? config : "",
                d->cfg.n_errors, d->cfg.errors);
        return 1;
    }
    d->journal = getenv("JOURNAL_STREAM") != NULL;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* sigaction and signal fail only for a signal number that does not exist (EINVAL). */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lrc = mosquitto_lib_init();
    if (lrc != MOSQ_ERR_SUCCESS) {
        LOG(d, GW_LOG_ERR, "MQTT library: %s", mosquitto_strerror(lrc));
        return 1;
    }
    if (mqtt_setup(d) < 0) {
        LOG(d, GW_LOG_ERR, "MQTT client setup failed");
        return 1;
    }
    gw_io_t io = {d, io_publish, io_can_send, log_line};
    gw_now_t now;
    now_of(d, &now);
    if (d->cfg.history_path[0]) {
        gw_hist_cfg_t hc;
        char err[512];
        gw_hist_cfg_defaults(&hc);
        hc.path = d->cfg.history_path;
        hc.flush_s = d->cfg.history_flush_s;
        hc.keep_days = d->cfg.history_keep_days;
        d->hist_answer = malloc(GW_HIST_ANSWER_MAX);
        if (d->hist_answer == NULL || gw_hist_open(&d->hist, &hc, now.ms, err, sizeof err) < 0) {
            /* the bridge matters more than the charts: run on without history */
            LOG(d, GW_LOG_ERR, "%s; running without history", d->hist_answer ? err : "history: out of memory");
            d->hist = NULL;
        } else {
            LOG(d, GW_LOG_INFO, "history in %s (written every %u s, kept %u days)", d->cfg.history_path, hc.flush_s,
                hc.keep_days);
        }
    }
    gw_core_init(core, &d->cfg.core, &io, &now);
    if (d->hist) gw_core_set_record(core, io_record, d);
    gw_ota_cfg_t ocfg;
    gw_ota_cfg_defaults(&ocfg);
    snprintf(ocfg.site, sizeof ocfg.site, "%s", d->cfg.core.site);
    ocfg.bus_load_pct = d->cfg.ota_bus_load_pct;
    ocfg.wave_pct = d->cfg.ota_wave_pct;
    gw_ota_io_t oio = {.user = d, .publish = io_publish, .can_send = io_can_send, .tx_backlog = io_tx_backlog,
                       .read_file = io_read_file, .write_file = io_write_file, .log = log_line};
    d->ota = gw_ota_new(&ocfg, &oio);
    if (d->ota == NULL) {
        LOG(d, GW_LOG_ERR, "out of memory");
        return 1;
    }
    if (gw_ota_restore(d->ota, now.ms) < 0) {
        LOG(d, GW_LOG_WARN, "the saved firmware update session is unreadable: nothing resumed (start it again)");
    }
    d->connect_backoff_ms = 500;
    d->next_connect_ms = now.ms;
    d->next_can_open_ms = now.ms;

    uint64_t wd_usec = 0;
    int wd = sd_watchdog_enabled(0, &wd_usec) > 0;
    uint32_t wd_last = now.ms;
    notify(d, "READY=1\nSTATUS=starting");
    LOG(d, GW_LOG_INFO, "site %s, CAN %s, broker %s:%d", d->cfg.core.site, d->cfg.can, d->cfg.mqtt_host, d->cfg.mqtt_port);

    while (!g_stop) {
        uint32_t t = mono_ms();
        can_try_open(d, t);
        if (!d->mqtt_connected && mosquitto_socket(d->mosq) < 0) mqtt_try_connect(d, t);

        struct pollfd pfd[2];
        int n = 0, mi = -1, ci = -1;
        int ms = mosquitto_socket(d->mosq);
        if (ms >= 0) {
            mi = n;
            pfd[n].fd = ms;
            pfd[n].events = POLLIN | (mosquitto_want_write(d->mosq) ? POLLOUT : 0);
            pfd[n++].revents = 0;
        }
        if (d->can_open && alfa_lincan_fd(&d->can) >= 0) {
            ci = n;
            pfd[n].fd = alfa_lincan_fd(&d->can);
            pfd[n].events = POLLIN;
            if (alfa_lincan_tx_pending(&d->can) > 0) pfd[n].events |= POLLOUT;
            pfd[n++].revents = 0;
        }
        uint32_t wait = gw_ota_wait_ms(d->ota);
        int prc = poll(pfd, (nfds_t)n, wait < 50u ? (int)wait : 50);
        if (prc < 0 && errno != EINTR) {
            LOG(d, GW_LOG_ERR, "poll: %s", strerror(errno));
            break;
        }
        if (mi >= 0) {
            int rc = MOSQ_ERR_SUCCESS;
            if (pfd[mi].revents & (POLLIN | POLLHUP | POLLERR)) rc = mosquitto_loop_read(d->mosq, 1);
            if (rc == MOSQ_ERR_SUCCESS && (pfd[mi].revents & POLLOUT)) rc = mosquitto_loop_write(d->mosq, 1);
            if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(d->mosq);
            mqtt_check(d, rc);
        }
        if (ci >= 0) {
            now_of(d, &now);
            alfa_can_frame_t f;
            for (int k = 0; k < 4096; k++) {
                int32_t r = alfa_lincan_recv(&d->can, &f);
                if (r == 1) {
                    gw_core_on_can(core, &f, &now);
                    gw_ota_on_can(d->ota, &f, now.ms);
                    continue;
                }
                if (r < 0) {
                    LOG(d, GW_LOG_ERR, "CAN %s failed; reopening", d->cfg.can);
                    if (alfa_lincan_close(&d->can) < 0) {
                        LOG(d, GW_LOG_DEBUG, "CAN %s: the adapter did not hear the close command", d->cfg.can);
                    }
                    d->can_open = 0;
                    d->next_can_open_ms = now.ms + 1000u;
                }
                break;
            }
            if (d->can_open && alfa_lincan_state(&d->can) == ALFA_CAN_BUS_OFF) {
                int rrc = alfa_lincan_recover(&d->can);
                if (rrc < 0 && rrc != d->can_recover_rc) {
                    LOG(d, GW_LOG_WARN, "CAN %s is bus-off and could not be restarted (%d): trying again", d->cfg.can, rrc);
                }
                d->can_recover_rc = rrc;
            }
        }
        now_of(d, &now);
        gw_core_process(core, &now);
        if (d->hist) {
            int hrc = gw_hist_process(d->hist, now.ms);
            if (hrc < 0) LOG(d, GW_LOG_ERR, "history write failed (kept for the next try): %s", gw_hist_errmsg(d->hist));
        }
        gw_ota_process(d->ota, now.ms);
        /* flush what process() published before sleeping in poll again */
        if (d->mqtt_connected && mosquitto_want_write(d->mosq)) mqtt_check(d, mosquitto_loop_write(d->mosq, 1));
        if (wd && (uint32_t)(now.ms - wd_last) >= wd_usec / 2000u) {
            notify(d, "WATCHDOG=1");
            wd_last = now.ms;
        }
    }
    LOG(d, GW_LOG_INFO, "stopping");
    notify(d, "STOPPING=1");
    if (d->mqtt_connected) {
        /* "offline" by our own message, or else by the broker's will: a clean disconnect cancels
         * the will, so it is sent only once the message has left. */
        char topic[160];
        snprintf(topic, sizeof topic, "alfaspark/%s/gateway/status", d->cfg.core.site);
        const char *why = NULL;
        int prc = mosquitto_publish(d->mosq, NULL, topic, 7, "offline", 1, true);
        for (int k = 0; prc == MOSQ_ERR_SUCCESS && k < 20 && mosquitto_want_write(d->mosq); k++) {
            prc = mosquitto_loop_write(d->mosq, 1);
        }
        if (prc != MOSQ_ERR_SUCCESS) why = mosquitto_strerror(prc);
        else if (mosquitto_want_write(d->mosq)) why = "still queued";
        else if ((prc = mosquitto_disconnect(d->mosq)) != MOSQ_ERR_SUCCESS) why = mosquitto_strerror(prc);
        if (why != NULL) {
            LOG(d, GW_LOG_WARN, "the \"offline\" status did not leave cleanly (%s): the broker's will says it", why);
        }
    }
    mosquitto_destroy(d->mosq);
    (void)mosquitto_lib_cleanup(); /* always MOSQ_ERR_SUCCESS (mosquitto.h): a value, not an error */
    if (d->hist && gw_hist_close(d->hist) < 0) LOG(d, GW_LOG_ERR, "history: the last records could not be written");
    if (d->can_open && alfa_lincan_close(&d->can) < 0) {
        LOG(d, GW_LOG_DEBUG, "CAN %s: the adapter did not hear the close command", d->cfg.can);
    }
    return 0;
}

int main(int argc, char **argv)
{
    daemon_ctx_t *d = calloc(1, sizeof *d);
    gw_core_t *core = calloc(1, sizeof *core);
    int rc = d != NULL && core != NULL ? run(d, core, argc, argv) : 1;
    if (d != NULL) {
        free(d->hist_answer);
        gw_ota_free(d->ota);
    }
    free(core);
    free(d);
    return rc;
}
