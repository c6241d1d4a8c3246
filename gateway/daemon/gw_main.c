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
#include <time.h>
#include <unistd.h>

#include "alfa/gw_config.h"
#include "alfa/gw_core.h"
#include "alfa/gw_ota.h"
#include "alfa/lincan.h"

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
    int journal;
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
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static void now_of(const daemon_ctx_t *d, gw_now_t *now)
{
    now->ms = mono_ms();
    now->unix_s = (int64_t)time(NULL);
    if (d->cfg.utc_offset_auto) {
        struct tm tm;
        time_t t = (time_t)now->unix_s;
        localtime_r(&t, &tm);
        now->utc_offset_min = (int16_t)(tm.tm_gmtoff / 60);
    } else {
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

static int io_publish(void *user, const char *topic, const char *payload, size_t len, int retain)
{
    daemon_ctx_t *d = user;
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

/* ---- the update sender's I/O: the bus backlog and files of [ota] state_dir ---- */

static uint32_t io_tx_backlog(void *user)
{
    daemon_ctx_t *d = user;
    /* An SLCAN frame line is at most 27 characters ("T" id dlc data "\r"). */
    return d->can_open && d->can.kind == ALFA_LINCAN_SLCAN ? (d->can.b.slcan.tx_len + 26u) / 27u : 0u;
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

static void on_connect(struct mosquitto *mosq, void *user, int rc)
{
    daemon_ctx_t *d = user;
    if (rc != 0) {
        LOG(d, GW_LOG_ERR, "broker refused the connection: %s", mosquitto_connack_string(rc));
        return;
    }
    char t1[160], t2[160], t3[160];
    snprintf(t1, sizeof t1, "alfaspark/%s/cmd/+", d->cfg.core.site);
    snprintf(t2, sizeof t2, "alfaspark/%s/pack/+/cmd/+", d->cfg.core.site);
    snprintf(t3, sizeof t3, "%s/status", d->cfg.core.ha_prefix);
    /* MQTT 5: no-local keeps our own cmd/result messages from coming back to us */
    int opts = d->cfg.mqtt_protocol == 5 ? MQTT_SUB_OPT_NO_LOCAL : 0;
    mosquitto_subscribe_v5(mosq, NULL, t1, 1, opts, NULL);
    mosquitto_subscribe_v5(mosq, NULL, t2, 1, opts, NULL);
    if (d->cfg.core.ha_enabled) mosquitto_subscribe(mosq, NULL, t3, 1);
    static const char *const ota_topics[] = {"image", "start", "cancel"};
    for (size_t k = 0; k < sizeof ota_topics / sizeof ota_topics[0]; k++) {
        char t[160];
        snprintf(t, sizeof t, "alfaspark/%s/ota/%s", d->cfg.core.site, ota_topics[k]);
        mosquitto_subscribe(mosq, NULL, t, 1);
    }
    d->mqtt_connected = 1;
    d->connect_backoff_ms = 500;
    LOG(d, GW_LOG_INFO, "connected to %s:%d as %s", d->cfg.mqtt_host, d->cfg.mqtt_port, d->cfg.mqtt_client_id);
    gw_now_t now;
    now_of(d, &now);
    gw_core_on_connect(d->core, &now);
    gw_ota_on_connect(d->ota);
    sd_notify(0, "STATUS=connected to the broker");
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
    if (gw_ota_on_mqtt(d->ota, msg->topic, msg->payload, len, now.ms)) return;
    gw_core_on_mqtt(d->core, msg->topic, msg->payload, len, &now);
}

static int mqtt_setup(daemon_ctx_t *d)
{
    d->mosq = mosquitto_new(d->cfg.mqtt_client_id, true, d);
    if (d->mosq == NULL) return -1;
    mosquitto_int_option(d->mosq, MOSQ_OPT_PROTOCOL_VERSION, d->cfg.mqtt_protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    mosquitto_int_option(d->mosq, MOSQ_OPT_TCP_NODELAY, 1); /* commands must not wait for Nagle */
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
        mosquitto_tls_insecure_set(d->mosq, d->cfg.tls_insecure != 0);
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
    int rc = alfa_lincan_open(&d->can, d->cfg.can);
    if (rc < 0) {
        LOG(d, GW_LOG_ERR, "cannot open CAN %s: %s (retry in 2 s)", d->cfg.can, strerror(errno));
        d->next_can_open_ms = now_ms + 2000u;
        return;
    }
    d->can_open = 1;
    LOG(d, GW_LOG_INFO, "CAN %s open", d->cfg.can);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: alfaspark-gateway [--config FILE] [--check-config] [--set section.key=value]...\n"
            "                         [--site NAME] [--can SPEC] [--host HOST] [--port PORT] [-v]\n"
            "\n"
            "Links the Alfaspark CAN bus to MQTT (topics under alfaspark/<site>/).\n"
            "  --config FILE      INI configuration (default /etc/alfaspark/gateway.ini if it exists)\n"
            "  --check-config     check the configuration, print every problem, exit 0 if it is valid\n"
            "  --set S.K=V        override one option (e.g. --set mqtt.port=1884); wins over the file\n"
            "  --site, --can, --host, --port   shortcuts for gateway.site, gateway.can, mqtt.host, mqtt.port\n"
            "  -v                 debug logging\n"
            "Options are documented in deploy/gateway.ini.example.\n");
}

int main(int argc, char **argv)
{
    daemon_ctx_t *d = calloc(1, sizeof *d);
    gw_core_t *core = calloc(1, sizeof *core);
    if (d == NULL || core == NULL) return 1;
    d->core = core;
    gw_config_defaults(&d->cfg);
    const char *config = NULL;
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--check-config")) check_only = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
    }
    if (config == NULL && access("/etc/alfaspark/gateway.ini", R_OK) == 0) config = "/etc/alfaspark/gateway.ini";
    if (config) gw_config_load(&d->cfg, config);
    for (int i = 1; i < argc; i++) {
        char buf[GW_CFG_STR + 32];
        const char *a = argv[i];
        if (!strcmp(a, "--config")) { i++; continue; }
        if (!strcmp(a, "--check-config")) continue;
        if (!strcmp(a, "-v")) { gw_config_override(&d->cfg, "gateway.log_level=debug"); continue; }
        static const struct { const char *flag, *opt; } sc[] = {
            {"--site", "gateway.site"}, {"--can", "gateway.can"}, {"--host", "mqtt.host"}, {"--port", "mqtt.port"}, {"--set", NULL}};
        size_t k;
        for (k = 0; k < sizeof sc / sizeof sc[0]; k++) {
            if (!strcmp(a, sc[k].flag)) break;
        }
        if (k == sizeof sc / sizeof sc[0] || i + 1 >= argc) {
            fprintf(stderr, "alfaspark-gateway: unknown or incomplete argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
        if (sc[k].opt) snprintf(buf, sizeof buf, "%s=%s", sc[k].opt, argv[++i]);
        else snprintf(buf, sizeof buf, "%s", argv[++i]);
        gw_config_override(&d->cfg, buf);
    }
    gw_config_finish(&d->cfg);
    if (d->cfg.n_errors) {
        fprintf(stderr, "alfaspark-gateway: configuration%s%s has %d problem(s):\n%s", config ? " " : "", config ? config : "",
                d->cfg.n_errors, d->cfg.errors);
        return 1;
    }
    if (check_only) {
        printf("configuration OK: site %s, CAN %s, broker %s:%d (MQTT %s%s)\n", d->cfg.core.site, d->cfg.can,
               d->cfg.mqtt_host, d->cfg.mqtt_port, d->cfg.mqtt_protocol == 5 ? "5" : "3.1.1", d->cfg.tls ? ", TLS" : "");
        return 0;
    }
    d->journal = getenv("JOURNAL_STREAM") != NULL;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    mosquitto_lib_init();
    if (mqtt_setup(d) < 0) {
        LOG(d, GW_LOG_ERR, "MQTT client setup failed");
        return 1;
    }
    gw_io_t io = {d, io_publish, io_can_send, log_line};
    gw_now_t now;
    now_of(d, &now);
    gw_core_init(core, &d->cfg.core, &io, &now);
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
    (void)gw_ota_restore(d->ota, now.ms); /* -1 (unreadable session) is logged and leaves nothing running */
    d->connect_backoff_ms = 500;
    d->next_connect_ms = now.ms;
    d->next_can_open_ms = now.ms;

    uint64_t wd_usec = 0;
    int wd = sd_watchdog_enabled(0, &wd_usec) > 0;
    uint32_t wd_last = now.ms;
    sd_notify(0, "READY=1\nSTATUS=starting");
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
            if (d->can.kind == ALFA_LINCAN_SLCAN && d->can.b.slcan.tx_len > 0) pfd[n].events |= POLLOUT;
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
            if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
                /* connection lost: drop the socket, reconnect with back-off */
                mosquitto_disconnect(d->mosq);
                if (d->mqtt_connected) on_disconnect(d->mosq, d, rc);
                d->next_connect_ms = mono_ms() + d->connect_backoff_ms;
            } else if (rc == MOSQ_ERR_NO_CONN && d->mqtt_connected) {
                on_disconnect(d->mosq, d, rc);
            }
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
                    alfa_lincan_close(&d->can);
                    d->can_open = 0;
                    d->next_can_open_ms = now.ms + 1000u;
                }
                break;
            }
            if (d->can_open && alfa_lincan_state(&d->can) == ALFA_CAN_BUS_OFF) alfa_lincan_recover(&d->can);
        }
        now_of(d, &now);
        gw_core_process(core, &now);
        gw_ota_process(d->ota, now.ms);
        /* flush what process() published before sleeping in poll again */
        if (d->mqtt_connected && mosquitto_want_write(d->mosq)) mosquitto_loop_write(d->mosq, 1);
        if (wd && (uint32_t)(now.ms - wd_last) >= wd_usec / 2000u) {
            sd_notify(0, "WATCHDOG=1");
            wd_last = now.ms;
        }
    }
    LOG(d, GW_LOG_INFO, "stopping");
    sd_notify(0, "STOPPING=1");
    if (d->mqtt_connected) {
        char topic[160];
        snprintf(topic, sizeof topic, "alfaspark/%s/gateway/status", d->cfg.core.site);
        mosquitto_publish(d->mosq, NULL, topic, 7, "offline", 1, true);
        for (int k = 0; k < 20 && mosquitto_want_write(d->mosq); k++) mosquitto_loop_write(d->mosq, 1);
        mosquitto_disconnect(d->mosq);
    }
    mosquitto_destroy(d->mosq);
    mosquitto_lib_cleanup();
    if (d->can_open) alfa_lincan_close(&d->can);
    gw_ota_free(d->ota);
    free(core);
    free(d);
    return 0;
}
