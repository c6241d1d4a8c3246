/* alfasparkctl update: send a signed firmware image to the gateway, start the update, show a progress bar per pack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alfa/fwimg.h"
#include "ctl.h"

#define UPD_MAX_PACKS CTL_MAX_PACKS
#define UPD_DOC_MAX 1024

typedef struct upd_pack {
    char serial[16];
    char state[24];
    char error[64];
    char version[16];
    long long bytes, total;
    int shown_pct;               /* what a non-terminal output printed last */
    char shown_state[24];
} upd_pack_t;

typedef struct upd {
    char id[64];
    char session[16];
    int image_ok, image_refused, started, refused;
    char detail[200];
    char phase[16], result[128];
    upd_pack_t packs[UPD_MAX_PACKS];
    int n;
} upd_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ota/result, ota/state and ota/pack/<serial> of the session we started (older retained ones are not ours). */
static void on_ota(ctl_t *c, const char *sub, const char *payload, size_t len)
{
    upd_t *u = c->user_data;
    if (strncmp(sub, "ota/", 4) != 0 || strcmp(sub, "ota/image") == 0 || len == 0 || len >= UPD_DOC_MAX) return;
    char doc[UPD_DOC_MAX], session[16], id[80], result[40];
    memcpy(doc, payload, len);
    doc[len] = '\0';
    const char *t = sub + 4;
    ctl_json_str(doc, "session", session, sizeof session);
    if (!strcmp(t, "result")) {
        ctl_json_str(doc, "id", id, sizeof id);
        ctl_json_str(doc, "result", result, sizeof result);
        if (!strcmp(result, "image")) {
            u->image_ok = 1;
        } else if (!strcmp(id, u->id) || (!u->image_ok && id[0] == '\0' && !strcmp(result, "refused"))) {
            ctl_json_str(doc, "detail", u->detail, sizeof u->detail);
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
            ctl_json_str(doc, "phase", u->phase, sizeof u->phase);
            ctl_json_str(doc, "result", u->result, sizeof u->result);
        }
    } else if (!strncmp(t, "pack/", 5)) {
        if (!u->session[0] || strcmp(session, u->session) != 0) return;
        upd_pack_t *p = NULL;
        for (int k = 0; k < u->n && p == NULL; k++) {
            if (!strcmp(u->packs[k].serial, t + 5)) p = &u->packs[k];
        }
        if (p == NULL && u->n < UPD_MAX_PACKS && strlen(t + 5) < sizeof p->serial) {
            p = &u->packs[u->n++];
            memset(p, 0, sizeof *p);
            snprintf(p->serial, sizeof p->serial, "%s", t + 5);
        }
        if (p == NULL) return;
        int ok;
        ctl_json_str(doc, "state", p->state, sizeof p->state);
        ctl_json_str(doc, "error", p->error, sizeof p->error);
        ctl_json_str(doc, "running_version", p->version, sizeof p->version);
        p->bytes = ctl_json_int(doc, "bytes", &ok);
        p->total = ctl_json_int(doc, "total", &ok);
    }
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
        /* not a terminal (a log): a line when the state changes or per 25 % */
        if (!tty && !final && !strcmp(p->shown_state, p->state) && p->shown_pct / 25 == pct / 25) continue;
        char bar[33];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        printf("%-12s [%s] %3d%%  %-11s %s%s%s%s\n", p->serial, bar, pct, p->state, p->version[0] ? "runs " : "",
               p->version, p->error[0] ? "  " : "", p->error);
        _Static_assert(sizeof p->shown_state == sizeof p->state, "the shown state is a copy of the state");
        memcpy(p->shown_state, p->state, sizeof p->shown_state); /* (gcc -O0 misreads snprintf here as overlapping) */
        p->shown_pct = pct;
    }
    fflush(stdout);
}

/* Serve the connection for up to `ms` or until *flag is set; -1 when the connection is gone. */
static int wait_for(ctl_t *c, const int *flag, long long ms)
{
    long long t0 = now_ms();
    while ((flag == NULL || !*flag) && now_ms() - t0 < ms) {
        if (ctl_loop(c, 50) < 0) return -1;
    }
    return 0;
}

static int add_pack(const ctl_cmd_t *cmd, char *packs, size_t cap, const char *serial)
{
    size_t n = strlen(packs), l = strlen(serial);
    if (l == 0 || l > 12 || strspn(serial, "0123456789abcdefABCDEF") != l) {
        return ctl_usage_error(cmd, "--pack \"%s\": a serial is 12 hex digits", serial);
    }
    if (n + l + 4 >= cap) return ctl_usage_error(cmd, "too many --pack options");
    snprintf(packs + n, cap - n, "%s\"%s\"", n ? "," : "", serial);
    return CTL_OK;
}

/* The image: the file whole, its manifest parsed (the gateway and the packs check it all again). */
static uint8_t *read_image(const ctl_cmd_t *cmd, const char *file, size_t *len, alfa_fwimg_hdr_t *h, int *rc)
{
    size_t cap = ALFA_FWIMG_PAYLOAD_MAX + ALFA_FWIMG_MANIFEST_SIZE + 1u;
    FILE *f = fopen(file, "rb");
    if (f == NULL) {
        *rc = ctl_usage_error(cmd, "%s: cannot be read", file);
        return NULL;
    }
    uint8_t *img = malloc(cap);
    *len = img != NULL ? fread(img, 1, cap, f) : 0;
    int read_err = ferror(f);
    fclose(f);
    if (img == NULL || read_err || *len < ALFA_FWIMG_MANIFEST_SIZE || alfa_fwimg_parse(img, h) != 0 ||
        h->image_size != *len - ALFA_FWIMG_MANIFEST_SIZE) {
        *rc = ctl_usage_error(cmd, "%s is not an Alfaspark firmware image (alfaspark-sign makes them)", file);
        free(img);
        return NULL;
    }
    return img;
}

int ctl_update(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv)
{
    const char *file = NULL;
    char packs[UPD_MAX_PACKS * 18] = "";
    int force = 0;
    long wave = 0, timeout_s = 3600;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--force")) {
            force = 1;
        } else if (!strcmp(argv[i], "--pack") && i + 1 < argc) {
            if (add_pack(cmd, packs, sizeof packs, argv[++i]) != CTL_OK) return CTL_USAGE;
        } else if (!strcmp(argv[i], "--wave-pct") && i + 1 < argc) {
            wave = strtol(argv[++i], &end, 10);
            if (*end != '\0' || wave < 1 || wave > 100) return ctl_usage_error(cmd, "--wave-pct: 1..100");
        } else if (!strcmp(argv[i], "--timeout-s") && i + 1 < argc) {
            timeout_s = strtol(argv[++i], &end, 10);
            if (*end != '\0' || timeout_s < 1) return ctl_usage_error(cmd, "--timeout-s: a number of seconds");
        } else if (argv[i][0] == '-' || file != NULL) {
            return ctl_usage_error(cmd, "%s: not understood", argv[i]);
        } else {
            file = argv[i];
        }
    }
    if (file == NULL) return ctl_usage_error(cmd, "which image? (a file made by alfaspark-sign)");
    if (c->pack != NULL && add_pack(cmd, packs, sizeof packs, c->pack) != CTL_OK) return CTL_USAGE;
    size_t len = 0;
    alfa_fwimg_hdr_t h;
    int rc = CTL_USAGE;
    uint8_t *img = read_image(cmd, file, &len, &h, &rc);
    if (img == NULL) return rc;
    static upd_t u;
    snprintf(u.id, sizeof u.id, "update-%ld-%lld", (long)getpid(), now_ms());
    c->on_message = on_ota;
    c->user_data = &u;
    rc = ctl_connect(c);
    if (rc == CTL_OK) rc = ctl_require_gateway(c);
    if (rc != CTL_OK) goto out;
    printf("image %s: version %u.%u.%u, %u bytes, hardware class %u, security counter %u\n", file, h.major, h.minor,
           h.patch, (unsigned)h.image_size, h.hw_class, (unsigned)h.security_counter);
    rc = CTL_FAILED;
    if (ctl_publish_bytes(c, "ota/image", img, len) < 0 || wait_for(c, &u.image_ok, 30000) < 0) goto lost;
    if (!u.image_ok) {
        printf("refused: %s\n", u.image_refused ? u.detail : "the gateway did not take the image");
        goto out;
    }
    char payload[UPD_MAX_PACKS * 18 + 200];
    int n = snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"client\":\"alfasparkctl\",\"force\":%s", u.id,
                     force ? "true" : "false");
    if (packs[0]) n += snprintf(payload + n, sizeof payload - (size_t)n, ",\"packs\":[%s]", packs);
    if (wave > 0) n += snprintf(payload + n, sizeof payload - (size_t)n, ",\"wave_pct\":%ld", wave);
    snprintf(payload + n, sizeof payload - (size_t)n, "}");
    if (ctl_publish(c, "ota/start", payload) < 0 || wait_for(c, &u.started, 10000) < 0) goto lost;
    if (!u.started) {
        printf("refused: %s\n", u.refused ? u.detail : "no answer from the gateway");
        goto out;
    }
    int tty = isatty(1);
    long long next = 0, t0 = now_ms();
    while (strcmp(u.phase, "done") != 0 && now_ms() - t0 < timeout_s * 1000) {
        if (ctl_loop(c, 100) < 0) goto lost;
        if (now_ms() >= next) {
            draw(&u, tty, 0);
            next = now_ms() + (tty ? 500 : 1000);
        }
    }
    /* the last pack states come with or just after the final session state */
    if (wait_for(c, NULL, 300) < 0) goto lost;
    draw(&u, 0, 1);
    int bad = strcmp(u.phase, "done") != 0 || strncmp(u.result, "ok", 2) != 0;
    for (int k = 0; k < u.n; k++) bad |= failed_state(u.packs[k].state) || strcmp(u.packs[k].state, "confirmed") != 0;
    if (strcmp(u.phase, "done") != 0) printf("timeout: the update is still running after %ld s\n", timeout_s);
    rc = bad ? CTL_FAILED : CTL_OK;
    goto out;
lost:
    printf("the connection to the broker was lost: the update goes on in the gateway (ota/state on MQTT)\n");
    rc = CTL_FAILED;
out:
    c->on_message = NULL;
    free(img);
    return rc;
}
