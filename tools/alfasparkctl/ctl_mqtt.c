/* alfasparkctl's MQTT session: connect, subscribe to the site, keep a view of its retained topics, publish. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail: a clock Linux always has, a valid pointer */
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const ctl_pack_t *ctl_find_pack(const ctl_t *c, const char *serial)
{
    for (int k = 0; k < c->n_packs; k++) {
        if (strcmp(c->packs[k].serial, serial) == 0) return &c->packs[k];
    }
    return NULL;
}

/* The view's slot for `serial`, created on demand; NULL when full or the serial is too long. */
static ctl_pack_t *pack_slot(ctl_t *c, const char *serial, size_t len)
{
    for (int k = 0; k < c->n_packs; k++) {
        if (strlen(c->packs[k].serial) == len && memcmp(c->packs[k].serial, serial, len) == 0) return &c->packs[k];
    }
    if (c->n_packs >= CTL_MAX_PACKS || len == 0 || len >= sizeof c->packs[0].serial) return NULL;
    ctl_pack_t *p = &c->packs[c->n_packs++];
    memset(p, 0, sizeof *p);
    memcpy(p->serial, serial, len);
    return p;
}

static void copy_payload(char *dst, size_t cap, const char *payload, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, payload, n);
    dst[n] = '\0';
}

/* alfaspark/<other site>/gateway/status: remember the site, to name it when ours has none. */
static void note_site(ctl_t *c, const char *topic)
{
    const char *s = topic + strlen("alfaspark/"), *slash = strchr(s, '/');
    if (slash == NULL || strcmp(slash, "/gateway/status") != 0) return;
    size_t n = (size_t)(slash - s);
    if (n == 0 || n >= sizeof c->sites[0]) return;
    for (int k = 0; k < c->n_sites; k++) {
        if (strlen(c->sites[k]) == n && memcmp(c->sites[k], s, n) == 0) return;
    }
    if (c->n_sites < CTL_MAX_SITES) {
        memcpy(c->sites[c->n_sites], s, n);
        c->sites[c->n_sites++][n] = '\0';
    }
}

static void on_message(struct mosquitto *m, void *user, const struct mosquitto_message *msg)
{
    (void)m;
    ctl_t *c = user;
    char prefix[128];
    int n = snprintf(prefix, sizeof prefix, "alfaspark/%s/", c->site);
    if (strncmp(msg->topic, prefix, (size_t)n) != 0) {
        if (strncmp(msg->topic, "alfaspark/", 10) == 0) note_site(c, msg->topic);
        return;
    }
    const char *t = msg->topic + n;
    const char *payload = msg->payload ? (const char *)msg->payload : "";
    size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0u;
    if (strcmp(t, "gateway/status") == 0) {
        copy_payload(c->gw_status, sizeof c->gw_status, payload, len);
    } else if (strcmp(t, "site/state") == 0) {
        copy_payload(c->site_state, sizeof c->site_state, payload, len);
    } else if (strncmp(t, "pack/", 5) == 0) {
        /* only what the gateway publishes about a pack makes it exist: commands addressed to a
         * serial (pack/<serial>/cmd/...) do not */
        const char *s = t + 5, *slash = strchr(s, '/');
        if (slash != NULL) {
            int is_status = strcmp(slash, "/status") == 0, is_state = strcmp(slash, "/state") == 0;
            ctl_pack_t *p = NULL;
            if (is_status || is_state || strcmp(slash, "/settings") == 0) p = pack_slot(c, s, (size_t)(slash - s));
            if (p != NULL && is_status) copy_payload(p->status, sizeof p->status, payload, len);
            else if (p != NULL && is_state) copy_payload(p->state, sizeof p->state, payload, len);
            else if (p != NULL) copy_payload(p->settings, sizeof p->settings, payload, len);
        }
    }
    if (c->cmd_hook != NULL) c->cmd_hook(c, t, payload, len);
    if (c->on_message != NULL) c->on_message(c, t, payload, len);
}

static void on_connect(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    ctl_t *c = user;
    c->connack = rc;
    c->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    (void)rc;
    ((ctl_t *)user)->connected = 0;
}

static void on_subscribe(struct mosquitto *m, void *user, int mid, int n, const int *granted)
{
    (void)m;
    ctl_t *c = user;
    if (mid == c->mid_site && n > 0 && granted[0] > 2) c->site_refused = 1;
    c->subacks++;
}

static int site_name_ok(const char *s)
{
    if (s[0] == '\0' || strlen(s) >= 48) return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-')) {
            return 0;
        }
    }
    return 1;
}

/* Serve the connection until `done` or `ms` passed. */
static void pump_until(ctl_t *c, const int *done_flag, int want, long ms)
{
    long long t0 = mono_ms();
    while (*done_flag < want && mono_ms() - t0 < ms) {
        if (mosquitto_loop(c->m, 50, 1) != MOSQ_ERR_SUCCESS) break;
    }
}

int ctl_connect(ctl_t *c)
{
    if (!site_name_ok(c->site)) {
        fprintf(stderr, "alfasparkctl: --site \"%s\": a site name is letters, digits, '_' or '-' (gateway.site of the "
                        "gateway's configuration)\n", c->site);
        return CTL_USAGE;
    }
    int lrc = mosquitto_lib_init();
    if (lrc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "alfasparkctl: the MQTT library cannot start: %s\n", mosquitto_strerror(lrc));
        return CTL_USAGE;
    }
    char cid[64];
    snprintf(cid, sizeof cid, "alfasparkctl-%ld-%lld", (long)getpid(), mono_ms() % 100000);
    c->connack = -1;
    c->m = mosquitto_new(cid, true, c);
    if (c->m == NULL) {
        fprintf(stderr, "alfasparkctl: cannot create an MQTT client: %s\n", strerror(errno));
        return CTL_USAGE;
    }
    mosquitto_message_callback_set(c->m, on_message);
    mosquitto_connect_callback_set(c->m, on_connect);
    mosquitto_disconnect_callback_set(c->m, on_disconnect);
    mosquitto_subscribe_callback_set(c->m, on_subscribe);
    lrc = mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
    if (lrc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "alfasparkctl: MQTT client option refused: %s\n", mosquitto_strerror(lrc));
        return CTL_USAGE;
    }
    if (c->user != NULL && mosquitto_username_pw_set(c->m, c->user, c->password) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "alfasparkctl: --user \"%s\": not a valid MQTT user name\n", c->user);
        return CTL_USAGE;
    }
    if (c->cafile != NULL) {
        int rc = mosquitto_tls_set(c->m, c->cafile, NULL, NULL, NULL, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "alfasparkctl: --cafile %s: %s\n", c->cafile,
                    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            return CTL_USAGE;
        }
    }
    int rc = mosquitto_connect(c->m, c->host, c->port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "alfasparkctl: cannot reach the broker at %s:%d: %s\n", c->host, c->port,
                rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        return CTL_USAGE;
    }
    pump_until(c, &c->connected, 1, 5000);
    if (!c->connected) {
        if (c->connack > 0) {
            fprintf(stderr, "alfasparkctl: the broker at %s:%d refused the login%s%s: %s\n", c->host, c->port,
                    c->user ? " of user " : " without a user", c->user ? c->user : "", mosquitto_connack_string(c->connack));
        } else {
            fprintf(stderr, "alfasparkctl: the broker at %s:%d did not answer the connection\n", c->host, c->port);
        }
        return CTL_USAGE;
    }
    /* Retained messages of a subscription reach us before the SUBACK of the next SUBSCRIBE (the
     * broker handles one connection's packets in order): the third SUBACK marks the view as
     * complete, without guessing a delay. QoS 0: retained messages are not held back by the
     * QoS 1 in-flight window. */
    char topic[3][160];
    snprintf(topic[0], sizeof topic[0], "alfaspark/%s/#", c->site);
    snprintf(topic[1], sizeof topic[1], "alfaspark/+/gateway/status");
    snprintf(topic[2], sizeof topic[2], "alfaspark/%s/ctl/%s", c->site, cid);
    for (int k = 0; k < 3; k++) {
        rc = mosquitto_subscribe(c->m, k == 0 ? &c->mid_site : NULL, topic[k], 0);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "alfasparkctl: cannot subscribe to %s: %s\n", topic[k],
                    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            return CTL_USAGE;
        }
    }
    pump_until(c, &c->subacks, 3, 5000);
    if (c->subacks < 3) {
        fprintf(stderr, "alfasparkctl: the broker at %s:%d did not answer the subscriptions\n", c->host, c->port);
        return CTL_USAGE;
    }
    return CTL_OK;
}

int ctl_require_gateway(ctl_t *c)
{
    if (strcmp(c->gw_status, "online") == 0) return CTL_OK;
    if (c->site_refused) {
        fprintf(stderr, "alfasparkctl: no gateway for site \"%s\" that user %s may see: the broker's ACL refused "
                        "reading alfaspark/%s/ (an app user is named after its site)\n",
                c->site, c->user ? c->user : "(anonymous)", c->site);
    } else if (strcmp(c->gw_status, "offline") == 0) {
        fprintf(stderr, "alfasparkctl: the gateway of site \"%s\" is offline (it stopped or lost the broker; "
                        "`systemctl status alfaspark-gateway` on the gateway says why)\n", c->site);
    } else {
        char others[CTL_MAX_SITES * 50] = "";
        size_t o = 0;
        for (int k = 0; k < c->n_sites; k++) {
            int w = snprintf(others + o, sizeof others - o, "%s%s", k ? ", " : "", c->sites[k]);
            if (w > 0 && (size_t)w < sizeof others - o) o += (size_t)w;
        }
        fprintf(stderr, "alfasparkctl: no gateway for site \"%s\" on %s:%d (nothing retained on alfaspark/%s/gateway/status)%s%s%s\n",
                c->site, c->host, c->port, c->site, c->n_sites ? "; sites on this broker: " : "", others,
                c->n_sites ? "" : "; check --site (gateway.site in the gateway's configuration)");
    }
    return CTL_NO_GATEWAY;
}

int ctl_loop(ctl_t *c, int ms)
{
    int rc = mosquitto_loop(c->m, ms, 1);
    if (rc == MOSQ_ERR_SUCCESS) return 0;
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST) {
        if (mosquitto_reconnect(c->m) == MOSQ_ERR_SUCCESS) return 0;
    }
    return -1;
}

int ctl_publish(ctl_t *c, const char *subtopic, const char *payload)
{
    return ctl_publish_bytes(c, subtopic, payload, strlen(payload));
}

int ctl_publish_bytes(ctl_t *c, const char *subtopic, const void *data, size_t len)
{
    char topic[256];
    snprintf(topic, sizeof topic, "alfaspark/%s/%s", c->site, subtopic);
    int rc = len > (size_t)INT32_MAX ? MOSQ_ERR_PAYLOAD_SIZE : mosquitto_publish(c->m, NULL, topic, (int)len, data, 1, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "alfasparkctl: cannot publish on %s: %s\n", topic, mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

int ctl_disconnect(ctl_t *c)
{
    int ok = 1;
    if (c->m != NULL) {
        /* let a QoS 1 command leave before the socket closes */
        int rc = MOSQ_ERR_SUCCESS;
        for (int k = 0; rc == MOSQ_ERR_SUCCESS && k < 20 && mosquitto_want_write(c->m); k++) {
            rc = mosquitto_loop(c->m, 10, 1);
        }
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "alfasparkctl: the connection failed while the last message left: %s\n", mosquitto_strerror(rc));
            ok = 0;
        } else if (mosquitto_want_write(c->m)) {
            fprintf(stderr, "alfasparkctl: a message was still queued when the session ended: it may not have left\n");
            ok = 0;
        } else if ((rc = mosquitto_disconnect(c->m)) != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
            /* everything left: only the goodbye was lost, and the broker drops the client anyway */
            fprintf(stderr, "alfasparkctl: note: disconnect from the broker failed: %s\n", mosquitto_strerror(rc));
        }
        mosquitto_destroy(c->m);
        c->m = NULL;
    }
    (void)mosquitto_lib_cleanup(); /* always MOSQ_ERR_SUCCESS (mosquitto.h): a value, not an error */
    return ok ? 0 : -1;
}
