/* alfasparkctl update: send a signed firmware image to the gateway, start the update, show a progress bar per pack. */
#include "ctl_update.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alfa/fwimg.h"
#include "alfa/gw_json.h"

#define MAX_TARGETS 64

typedef struct upd_pack {
    char serial[16];
    char state[24];
    char error[64];
    char version[16];
    long long bytes, total;
    int shown;          /* state printed (non-tty output) */
    char shown_state[24];
} upd_pack_t;

typedef struct upd {
    const char *site;
    char id[64];
    char session[16];
    int connect_rc, subscribed;
    int image_ok, image_refused, started, refused;
    char detail[200];
    char phase[16], result[128];
    upd_pack_t packs[MAX_TARGETS];
    int n;
} upd_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void str_member(const gw_json_doc_t *d, const char *key, char *out, size_t cap)
{
    const gw_json_member_t *m = gw_json_get(d, key);
    if (m == NULL) {
        out[0] = '\0';
    } else if (m->type == GW_JSON_STRING) {
        snprintf(out, cap, "%s", m->s);
    } else {
        snprintf(out, cap, "%.*s", (int)m->raw_len, m->raw);
    }
}

static long long int_member(const gw_json_doc_t *d, const char *key)
{
    const gw_json_member_t *m = gw_json_get(d, key);
    return m != NULL && m->type == GW_JSON_INT ? (long long)m->i : 0;
}

static void on_message(struct mosquitto *m, void *user, const struct mosquitto_message *msg)
{
    (void)m;
    upd_t *u = user;
    char prefix[128];
    int n = snprintf(prefix, sizeof prefix, "alfaspark/%s/ota/", u->site);
    if (strncmp(msg->topic, prefix, (size_t)n) != 0 || msg->payloadlen <= 0) return;
    const char *t = msg->topic + n;
    gw_json_doc_t d;
    memset(&d, 0, sizeof d);
    if (gw_json_parse(&d, msg->payload, (size_t)msg->payloadlen) != 0) return;
    char session[16], id[80], result[40];
    str_member(&d, "session", session, sizeof session);
    if (!strcmp(t, "result")) {
        str_member(&d, "id", id, sizeof id);
        str_member(&d, "result", result, sizeof result);
        if (!strcmp(result, "image")) {
            u->image_ok = 1;
        } else if (!strcmp(id, u->id) || (!u->image_ok && !strcmp(id, "null") && !strcmp(result, "refused"))) {
            str_member(&d, "detail", u->detail, sizeof u->detail);
            if (!strcmp(result, "started")) {
                u->started = 1;
                snprintf(u->session, sizeof u->session, "%s", session);
            } else if (!strcmp(result, "refused")) {
                if (!u->image_ok) u->image_refused = 1;
                else u->refused = 1;
            }
        }
    } else if (!strcmp(t, "state")) {
        if (u->session[0] && !strcmp(session, u->session)) {
            str_member(&d, "phase", u->phase, sizeof u->phase);
            str_member(&d, "result", u->result, sizeof u->result);
        }
    } else if (!strncmp(t, "pack/", 5)) {
        if (!u->session[0] || strcmp(session, u->session) != 0) return; /* an older session's retained state */
        upd_pack_t *p = NULL;
        for (int k = 0; k < u->n && p == NULL; k++) {
            if (!strcmp(u->packs[k].serial, t + 5)) p = &u->packs[k];
        }
        if (p == NULL && u->n < MAX_TARGETS && strlen(t + 5) < sizeof p->serial) {
            p = &u->packs[u->n++];
            memset(p, 0, sizeof *p);
            snprintf(p->serial, sizeof p->serial, "%s", t + 5);
        }
        if (p == NULL) return;
        str_member(&d, "state", p->state, sizeof p->state);
        str_member(&d, "error", p->error, sizeof p->error);
        str_member(&d, "running_version", p->version, sizeof p->version);
        p->bytes = int_member(&d, "bytes");
        p->total = int_member(&d, "total");
    }
}

static void on_connect(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    ((upd_t *)user)->connect_rc = rc;
}

static void on_subscribe(struct mosquitto *m, void *user, int mid, int n, const int *granted)
{
    (void)m;
    (void)mid;
    (void)n;
    (void)granted;
    ((upd_t *)user)->subscribed = 1;
}

static int failed_state(const char *s)
{
    return !strcmp(s, "refused") || !strcmp(s, "failed") || !strcmp(s, "dropped") || !strcmp(s, "rolled_back") ||
           !strcmp(s, "skipped");
}

static void draw(upd_t *u, int tty, int final)
{
    if (tty) printf("\033[H\033[2J");
    if (tty || final) printf("update %s: %s%s%s\n", u->session, u->phase[0] ? u->phase : "starting", u->result[0] ? " — " : "",
                             u->result);
    for (int k = 0; k < u->n; k++) {
        upd_pack_t *p = &u->packs[k];
        int pct = p->total > 0 ? (int)(p->bytes * 100 / p->total) : 0;
        if (!tty && !final && !strcmp(p->shown_state, p->state) && p->shown / 25 == pct / 25) continue;
        char bar[33];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        printf("%-12s [%s] %3d%%  %-11s %s%s%s%s\n", p->serial, bar, pct, p->state, p->version[0] ? "runs " : "",
               p->version, p->error[0] ? "  " : "", p->error);
        snprintf(p->shown_state, sizeof p->shown_state, "%s", p->state);
        p->shown = pct;
    }
    fflush(stdout);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: alfasparkctl [connection options] update FILE [--pack SERIAL]... [--force] [--wave-pct N]\n"
               "                    [--timeout-s S]\n"
               "Sends the signed image FILE (alfaspark-sign) to the gateway and updates every pack online, or the\n"
               "packs named, with a progress bar per pack. --force lets packs take a version that is not newer.\n"
               "Exit status 0 when every pack runs the new image confirmed, 1 otherwise, 2 on a usage or\n"
               "connection error.\n");
}

int ctl_update(int argc, char **argv, const ctl_conn_t *conn)
{
    const char *file = NULL;
    char packs[MAX_TARGETS * 16] = "";
    int force = 0, wave = 0;
    long timeout_s = 3600;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--force")) { force = 1; continue; }
        if (i + 1 < argc && !strcmp(argv[i], "--pack")) {
            size_t n = strlen(packs);
            snprintf(packs + n, sizeof packs - n, "%s\"%s\"", n ? "," : "", argv[++i]);
            continue;
        }
        if (i + 1 < argc && !strcmp(argv[i], "--wave-pct")) { wave = atoi(argv[++i]); continue; }
        if (i + 1 < argc && !strcmp(argv[i], "--timeout-s")) { timeout_s = atol(argv[++i]); continue; }
        if (argv[i][0] == '-' || file != NULL) { usage(stderr); return 2; }
        file = argv[i];
    }
    if (conn->pack != NULL) {
        size_t n = strlen(packs);
        snprintf(packs + n, sizeof packs - n, "%s\"%s\"", n ? "," : "", conn->pack);
    }
    if (file == NULL) { usage(stderr); return 2; }
    FILE *f = fopen(file, "rb");
    uint8_t *img = malloc(ALFA_FWIMG_PAYLOAD_MAX + ALFA_FWIMG_MANIFEST_SIZE + 1u);
    size_t len = f != NULL && img != NULL ? fread(img, 1, ALFA_FWIMG_PAYLOAD_MAX + ALFA_FWIMG_MANIFEST_SIZE + 1u, f) : 0;
    if (f != NULL) fclose(f);
    alfa_fwimg_hdr_t h;
    if (img == NULL || len < ALFA_FWIMG_MANIFEST_SIZE || alfa_fwimg_parse(img, &h) != 0 ||
        h.image_size != len - ALFA_FWIMG_MANIFEST_SIZE) {
        fprintf(stderr, "alfasparkctl: %s is not an Alfaspark firmware image%s\n", file, f == NULL ? " (unreadable)" : "");
        free(img);
        return 2;
    }
    static upd_t u;
    u.site = conn->site;
    u.connect_rc = -1;
    snprintf(u.id, sizeof u.id, "update-%ld-%lld", (long)getpid(), now_ms());
    mosquitto_lib_init();
    char cid[64];
    snprintf(cid, sizeof cid, "alfasparkctl-%ld", (long)getpid());
    struct mosquitto *m = mosquitto_new(cid, true, &u);
    int rc = 2;
    if (m == NULL) goto out;
    mosquitto_message_callback_set(m, on_message);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    if (conn->user) mosquitto_username_pw_set(m, conn->user, conn->pass);
    if ((conn->cafile && mosquitto_tls_set(m, conn->cafile, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS) ||
        mosquitto_connect(m, conn->host, conn->port, 30) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "alfasparkctl: cannot reach broker %s:%d\n", conn->host, conn->port);
        goto out;
    }
    long long t0 = now_ms();
    while (u.connect_rc < 0 && now_ms() - t0 < 5000) {
        if (mosquitto_loop(m, 50, 1) != MOSQ_ERR_SUCCESS) break;
    }
    if (u.connect_rc != 0) {
        fprintf(stderr, "alfasparkctl: broker refused the connection\n");
        goto out;
    }
    char topic[160], payload[1400];
    snprintf(topic, sizeof topic, "alfaspark/%s/ota/#", conn->site);
    mosquitto_subscribe(m, NULL, topic, 1);
    t0 = now_ms();
    while (!u.subscribed && now_ms() - t0 < 5000) mosquitto_loop(m, 50, 1);
    printf("image %s: version %u.%u.%u, %u bytes, hardware class %u, security counter %u\n", file, h.major, h.minor,
           h.patch, (unsigned)h.image_size, h.hw_class, (unsigned)h.security_counter);
    snprintf(topic, sizeof topic, "alfaspark/%s/ota/image", conn->site);
    mosquitto_publish(m, NULL, topic, (int)len, img, 1, false);
    rc = 1;
    t0 = now_ms();
    while (!u.image_ok && !u.image_refused && now_ms() - t0 < 30000) mosquitto_loop(m, 50, 1);
    if (!u.image_ok) {
        printf("refused: %s\n", u.image_refused ? u.detail : "the gateway did not take the image (is it running?)");
        goto out;
    }
    snprintf(topic, sizeof topic, "alfaspark/%s/ota/start", conn->site);
    int n = snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"client\":\"alfasparkctl\",\"force\":%s", u.id,
                     force ? "true" : "false");
    if (packs[0]) n += snprintf(payload + n, sizeof payload - (size_t)n, ",\"packs\":[%s]", packs);
    if (wave > 0) n += snprintf(payload + n, sizeof payload - (size_t)n, ",\"wave_pct\":%d", wave);
    snprintf(payload + n, sizeof payload - (size_t)n, "}");
    mosquitto_publish(m, NULL, topic, (int)strlen(payload), payload, 1, false);
    t0 = now_ms();
    while (!u.started && !u.refused && now_ms() - t0 < 10000) mosquitto_loop(m, 50, 1);
    if (!u.started) {
        printf("refused: %s\n", u.refused ? u.detail : "no answer from the gateway");
        goto out;
    }
    int tty = isatty(1);
    long long next = 0;
    t0 = now_ms();
    while (strcmp(u.phase, "done") != 0 && now_ms() - t0 < timeout_s * 1000) {
        if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS) mosquitto_reconnect(m);
        if (now_ms() >= next) {
            draw(&u, tty, 0);
            next = now_ms() + (tty ? 500 : 1000);
        }
    }
    /* the last pack states come with or just after the final session state */
    long long t1 = now_ms();
    while (now_ms() - t1 < 300) mosquitto_loop(m, 50, 1);
    draw(&u, 0, 1);
    int bad = strcmp(u.phase, "done") != 0 || strncmp(u.result, "ok", 2) != 0;
    for (int k = 0; k < u.n; k++) bad |= failed_state(u.packs[k].state) || strcmp(u.packs[k].state, "confirmed") != 0;
    if (strcmp(u.phase, "done") != 0) printf("timeout: the update is still running after %ld s\n", timeout_s);
    rc = bad ? 1 : 0;
out:
    if (m != NULL) {
        mosquitto_disconnect(m);
        mosquitto_destroy(m);
    }
    mosquitto_lib_cleanup();
    free(img);
    return rc;
}
