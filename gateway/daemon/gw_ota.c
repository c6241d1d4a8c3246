/* The update sender's session: targets and their replies, offer, verification, staged activation, MQTT, persistence. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/bytes.h"
#include "alfa/gw_json.h"
#include "gw_ota_internal.h"

#define SESSION_FILE "ota-session"
#define IMAGE_FILE "ota-image.img"
#define OFFER_MAX_MS 5000u      /* the transfer starts for the packs that answered by then */
#define MAX_TRIES 8u

static const char *const tstate_names[GW_T_COUNT] = {
    "waiting", "receiving", "ready", "activating", "trial", "confirmed", "refused", "failed", "dropped",
    "rolled_back", "skipped",
};
static const char *const phase_names[] = {"idle", "offer", "transfer", "verify", "activate", "done"};

const char *gw_ota_tstate_name(uint8_t st) { return st < GW_T_COUNT ? tstate_names[st] : "?"; }
const char *gw_ota_phase_name(uint8_t ph) { return ph <= GW_OTA_DONE ? phase_names[ph] : "?"; }

void gw_ota_cfg_defaults(gw_ota_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->site, sizeof(cfg->site), "home");
    cfg->bus_load_pct = 70;
    cfg->burst_frames = 4;
    cfg->wave_pct = 25;
    cfg->pack_timeout_ms = 20000;
    cfg->confirm_timeout_ms = 240000;
    cfg->reply_timeout_ms = 1000;
}

gw_ota_t *gw_ota_new(const gw_ota_cfg_t *cfg, const gw_ota_io_t *io)
{
    gw_ota_t *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return NULL;
    }
    o->cfg = *cfg;
    o->io = *io;
    if (o->cfg.burst_frames == 0u) o->cfg.burst_frames = 1u;
    if (o->cfg.bus_load_pct == 0u || o->cfg.bus_load_pct > 100u) o->cfg.bus_load_pct = 70u;
    if (o->cfg.wave_pct == 0u || o->cfg.wave_pct > 100u) o->cfg.wave_pct = 25u;
    if (o->cfg.reply_timeout_ms == 0u) o->cfg.reply_timeout_ms = 1000u;
    snprintf(o->id_json, sizeof(o->id_json), "null");
    return o;
}

void gw_ota_free(gw_ota_t *o)
{
    if (o == NULL) {
        return;
    }
    gw_ota_tx_free(o);
    free(o->image);
    free(o);
}

void gw_ota_log(gw_ota_t *o, int level, const char *fmt, ...)
{
    if (o->io.log == NULL) {
        return;
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->io.log(o->io.user, level, msg);
}

/* ---------------------------------------------------------------- MQTT out */

static void publish(gw_ota_t *o, const char *suffix, const char *payload, int retain)
{
    char topic[160];
    snprintf(topic, sizeof(topic), "alfaspark/%s/ota/%s", o->cfg.site, suffix);
    if (o->io.publish != NULL) {
        (void)o->io.publish(o->io.user, topic, payload, strlen(payload), retain); /* retried at the next change */
    }
}

static uint32_t target_bytes(const gw_ota_t *o, const gw_ota_target_t *t)
{
    uint32_t missing = t->missing;
    if (t->st == GW_T_RECEIVING && o->round_full && o->stats.rounds == 1u && t->resumed_from == 0u &&
        o->sub == GW_TX_SEND) {
        missing = o->n_chunks - o->cursor; /* first pass: the stream's position */
    }
    if (t->st == GW_T_READY || t->st >= GW_T_ACTIVATING) {
        missing = t->st == GW_T_REFUSED ? o->n_chunks : (t->st == GW_T_FAILED || t->st == GW_T_DROPPED ? t->missing : 0u);
    }
    uint64_t have = (uint64_t)(o->n_chunks - (missing > o->n_chunks ? o->n_chunks : missing)) * ALFA_FWU_CHUNK;
    return have > o->hdr.image_size ? o->hdr.image_size : (uint32_t)have;
}

static const char *target_state_name(const gw_ota_target_t *t)
{
    if (t->st == GW_T_RECEIVING && t->pack_state == ALFA_FWU_ST_VERIFYING) {
        return "verifying";
    }
    if (t->st == GW_T_WAITING && t->pack_state == ALFA_FWU_ST_RESUMING) {
        return "resuming";
    }
    return gw_ota_tstate_name(t->st);
}

static void publish_target(gw_ota_t *o, gw_ota_target_t *t)
{
    char json[512], suffix[64];
    gw_jw_t w;
    gw_jw_init(&w, json, sizeof(json));
    gw_jw_obj_begin(&w);
    char s[16];
    gw_jw_key(&w, "serial"); gw_jw_str(&w, t->hex);
    snprintf(s, sizeof(s), "%08" PRIx32, o->session);
    gw_jw_key(&w, "session"); gw_jw_str(&w, s);
    gw_jw_key(&w, "state"); gw_jw_str(&w, target_state_name(t));
    gw_jw_key(&w, "bytes"); gw_jw_int(&w, target_bytes(o, t));
    gw_jw_key(&w, "total"); gw_jw_int(&w, o->hdr.image_size);
    gw_jw_key(&w, "resumed_from_bytes");
    gw_jw_int(&w, (int64_t)t->resumed_from * ALFA_FWU_CHUNK > o->hdr.image_size ? o->hdr.image_size
                                                                                : (int64_t)t->resumed_from * ALFA_FWU_CHUNK);
    gw_jw_key(&w, "nacked_chunks"); gw_jw_int(&w, t->nack_out);
    snprintf(s, sizeof(s), "%u.%u.%u", t->run_major, t->run_minor, t->run_patch);
    gw_jw_key(&w, "running_version"); gw_jw_str(&w, t->hb_ms != 0u ? s : "");
    snprintf(s, sizeof(s), "%u.%u.%u", o->hdr.major, o->hdr.minor, o->hdr.patch);
    gw_jw_key(&w, "version"); gw_jw_str(&w, s);
    gw_jw_key(&w, "wave"); gw_jw_int(&w, t->wave);
    gw_jw_key(&w, "error"); gw_jw_str(&w, t->error);
    gw_jw_obj_end(&w);
    if (gw_jw_finish(&w) < 0) {
        return;
    }
    snprintf(suffix, sizeof(suffix), "pack/%s", t->hex);
    publish(o, suffix, json, 1);
    t->published_ms = o->now_ms;
    t->dirty = 0;
}

static void publish_state(gw_ota_t *o)
{
    char json[640], s[16];
    uint32_t count[GW_T_COUNT];
    memset(count, 0, sizeof(count));
    for (size_t i = 0; i < o->nt; i++) {
        count[o->t[i].st]++;
    }
    gw_jw_t w;
    gw_jw_init(&w, json, sizeof(json));
    gw_jw_obj_begin(&w);
    snprintf(s, sizeof(s), "%08" PRIx32, o->session);
    gw_jw_key(&w, "session"); gw_jw_str(&w, o->session ? s : "");
    gw_jw_key(&w, "phase"); gw_jw_str(&w, gw_ota_phase_name(o->phase));
    snprintf(s, sizeof(s), "%u.%u.%u", o->hdr.major, o->hdr.minor, o->hdr.patch);
    gw_jw_key(&w, "version"); gw_jw_str(&w, o->session ? s : "");
    gw_jw_key(&w, "image_size"); gw_jw_int(&w, o->hdr.image_size);
    gw_jw_key(&w, "packs"); gw_jw_int(&w, (int64_t)o->nt);
    gw_jw_key(&w, "confirmed"); gw_jw_int(&w, count[GW_T_CONFIRMED]);
    gw_jw_key(&w, "ready"); gw_jw_int(&w, count[GW_T_READY]);
    gw_jw_key(&w, "failed");
    gw_jw_int(&w, count[GW_T_REFUSED] + count[GW_T_FAILED] + count[GW_T_DROPPED] + count[GW_T_ROLLED_BACK]);
    gw_jw_key(&w, "skipped"); gw_jw_int(&w, count[GW_T_SKIPPED]);
    gw_jw_key(&w, "wave"); gw_jw_int(&w, o->wave);
    gw_jw_key(&w, "rounds"); gw_jw_int(&w, o->stats.rounds);
    gw_jw_key(&w, "sent_bytes"); gw_jw_int(&w, (int64_t)o->stats.bytes_sent);
    gw_jw_key(&w, "result"); gw_jw_str(&w, o->result);
    gw_jw_key(&w, "id"); gw_jw_raw(&w, o->id_json, strlen(o->id_json));
    gw_jw_obj_end(&w);
    if (gw_jw_finish(&w) >= 0) {
        publish(o, "state", json, 1);
    }
    o->state_published_ms = o->now_ms;
    o->state_dirty = 0;
}

static void publish_result(gw_ota_t *o, const char *id_json, const char *result, const char *detail)
{
    char json[512], s[16];
    gw_jw_t w;
    gw_jw_init(&w, json, sizeof(json));
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "id"); gw_jw_raw(&w, id_json, strlen(id_json));
    snprintf(s, sizeof(s), "%08" PRIx32, o->session);
    gw_jw_key(&w, "session"); gw_jw_str(&w, o->session ? s : "");
    gw_jw_key(&w, "result"); gw_jw_str(&w, result);
    gw_jw_key(&w, "detail"); gw_jw_str(&w, detail != NULL ? detail : "");
    gw_jw_obj_end(&w);
    if (gw_jw_finish(&w) >= 0) {
        publish(o, "result", json, 0);
    }
}

void gw_ota_on_connect(gw_ota_t *o)
{
    publish_state(o);
    for (size_t i = 0; i < o->nt; i++) {
        publish_target(o, &o->t[i]);
    }
}

/* ---------------------------------------------------------------- persistence */

static void save(gw_ota_t *o)
{
    o->save_dirty = 0;
    if (o->io.write_file == NULL) {
        return;
    }
    size_t cap = 256u + o->nt * 96u, len = 0;
    char *b = malloc(cap);
    if (b == NULL) {
        return;
    }
    len += (size_t)snprintf(b + len, cap - len, "alfaspark-ota 1\nsession %08" PRIx32 "\nforce %u\nwave_pct %" PRIu32
                                                "\nphase %u\nwave %u\n",
                            o->session, o->force, o->wave_pct, o->phase, o->wave);
    for (size_t i = 0; i < o->nt && len < cap; i++) {
        const gw_ota_target_t *t = &o->t[i];
        len += (size_t)snprintf(b + len, cap - len, "target %s %u %u %u %s\n", t->hex, t->st, t->pack_result, t->wave,
                                t->error[0] ? t->error : "-");
    }
    if (len < cap && o->io.write_file(o->io.user, SESSION_FILE, b, len) < 0) {
        gw_ota_log(o, GW_OTA_LOG_WARN, "update: cannot save the session state");
    }
    free(b);
}

/* ---------------------------------------------------------------- targets */

void gw_ota_set_target(gw_ota_t *o, gw_ota_target_t *t, uint8_t st, const char *error)
{
    if (t->st != st) {
        gw_ota_log(o, st == GW_T_REFUSED || st == GW_T_FAILED || st == GW_T_DROPPED || st == GW_T_ROLLED_BACK
                          ? GW_OTA_LOG_WARN
                          : GW_OTA_LOG_INFO,
                   "update %08" PRIx32 ": pack %s %s%s%s", o->session, t->hex, gw_ota_tstate_name(st),
                   error != NULL && error[0] ? ": " : "", error != NULL ? error : "");
        o->save_dirty = 1;
        o->state_dirty = 1;
        t->tries = 0;
        t->asked_ms = 0;
    }
    t->st = st;
    if (error != NULL) {
        snprintf(t->error, sizeof(t->error), "%s", error);
    }
    t->dirty = 2; /* a state change is published at once */
}

static gw_ota_target_t *target_of_node(gw_ota_t *o, uint8_t node)
{
    if (node == 0u || node > ALFA_NODE_MAX) {
        return NULL;
    }
    for (size_t i = 0; i < o->nt; i++) {
        if (o->t[i].node == node) {
            return &o->t[i];
        }
    }
    return NULL;
}

const gw_ota_target_t *gw_ota_target(const gw_ota_t *o, uint64_t serial)
{
    for (size_t i = 0; i < o->nt; i++) {
        if (o->t[i].serial == serial) {
            return &o->t[i];
        }
    }
    return NULL;
}

static int is_final(uint8_t st)
{
    return st == GW_T_CONFIRMED || st == GW_T_REFUSED || st == GW_T_FAILED || st == GW_T_DROPPED ||
           st == GW_T_ROLLED_BACK || st == GW_T_SKIPPED;
}

void gw_ota_queue_ctrl(gw_ota_t *o, const alfa_can_frame_t *f)
{
    if (o->cq_count >= GW_OTA_CTRLQ) {
        return; /* a full queue only delays the next retry */
    }
    o->ctrlq[(o->cq_head + o->cq_count) % GW_OTA_CTRLQ] = *f;
    o->cq_count++;
}

void gw_ota_send_ctrl(gw_ota_t *o, uint8_t dst, uint8_t op, uint16_t first, uint16_t last, uint8_t want)
{
    alfa_fwu_ctrl_t c;
    memset(&c, 0, sizeof(c));
    c.src = ALFA_NODE_LINUX_GATEWAY;
    c.dst = dst;
    c.op = op;
    c.session = o->session;
    c.flags = (uint8_t)(ALFA_FWU_BEGIN_FEC | (o->force ? ALFA_FWU_BEGIN_FORCE : 0u));
    c.first_block = first;
    c.last_block = last;
    c.want_status = want;
    if (op != ALFA_FWU_OP_BEGIN) {
        c.flags = 0;
    }
    alfa_can_frame_t f;
    if (alfa_fwu_ctrl_encode(&c, &f) == 0) {
        gw_ota_queue_ctrl(o, &f);
    }
}

static void send_manifest(gw_ota_t *o, uint8_t dst, uint16_t parts)
{
    for (uint8_t p = 0; p < ALFA_FWU_MANIFEST_PARTS; p++) {
        alfa_can_frame_t f;
        if (((parts >> p) & 1u) && alfa_fwu_manifest_encode(ALFA_NODE_LINUX_GATEWAY, dst, p, o->image + p * 8u, &f) == 0) {
            gw_ota_queue_ctrl(o, &f);
        }
    }
}

/* ---------------------------------------------------------------- start, cancel */

static int image_check(const uint8_t *img, size_t len, alfa_fwimg_hdr_t *h, char *why, size_t cap)
{
    if (len < ALFA_FWIMG_MANIFEST_SIZE || alfa_fwimg_parse(img, h) < 0) {
        snprintf(why, cap, "not an Alfaspark firmware image (header)");
        return -1;
    }
    if (h->image_size != len - ALFA_FWIMG_MANIFEST_SIZE) {
        snprintf(why, cap, "image is %zu bytes, its header says %" PRIu32, len - ALFA_FWIMG_MANIFEST_SIZE, h->image_size);
        return -1;
    }
    uint8_t d[32];
    alfa_sha256(img + ALFA_FWIMG_MANIFEST_SIZE, h->image_size, d);
    if (memcmp(d, h->sha256, 32) != 0) {
        snprintf(why, cap, "payload does not match the header's SHA-256 (damaged or tampered)");
        return -1;
    }
    return 0;
}

static void target_add(gw_ota_t *o, uint64_t serial)
{
    if (o->nt >= GW_OTA_MAX_TARGETS || gw_ota_target(o, serial) != NULL) {
        return;
    }
    gw_ota_target_t *t = &o->t[o->nt++];
    memset(t, 0, sizeof(*t));
    t->serial = serial;
    snprintf(t->hex, sizeof(t->hex), "%012" PRIx64, serial);
    t->missing = o->n_chunks;
    t->last_heard_ms = o->now_ms;
    t->dirty = 2;
    for (uint32_t n = 1; n <= ALFA_NODE_MAX; n++) {
        if (o->node_serial[n] == serial && o->node_hb_ms[n] != 0u) {
            t->node = (uint8_t)n;
            t->hb_ms = o->node_hb_ms[n];
            t->run_major = o->node_ver[n][0];
            t->run_minor = o->node_ver[n][1];
            t->run_patch = o->node_ver[n][2];
        }
    }
}

static int load_image(gw_ota_t *o, const uint8_t *image, size_t len, char *why, size_t cap)
{
    alfa_fwimg_hdr_t h;
    if (image_check(image, len, &h, why, cap) < 0) {
        return -1;
    }
    uint8_t *copy = malloc(len);
    if (copy == NULL) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    memcpy(copy, image, len);
    free(o->image);
    o->image = copy;
    o->image_len = len;
    o->hdr = h;
    o->session = alfa_fwimg_session_id(image);
    o->n_chunks = (h.image_size + ALFA_FWU_CHUNK - 1u) / ALFA_FWU_CHUNK;
    o->n_blocks = (o->n_chunks + ALFA_FWU_BLOCK_CHUNKS - 1u) / ALFA_FWU_BLOCK_CHUNKS;
    if (gw_ota_tx_alloc(o) < 0) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    return 0;
}

static void reset_session(gw_ota_t *o)
{
    o->nt = 0;
    o->cq_count = 0;
    o->cq_head = 0;
    o->urgent_count = 0;
    o->cursor = 0;
    o->sub = GW_TX_SEND;
    o->parity_due = 0;
    o->wave = 0;
    o->waves_started = 0;
    o->xfer = 0;
    o->result[0] = '\0';
    memset(&o->stats, 0, sizeof(o->stats));
}

int gw_ota_start(gw_ota_t *o, const uint8_t *image, size_t len, const uint64_t *serials, size_t n, int force,
                 uint32_t now_ms, char *why, size_t why_cap)
{
    o->now_ms = now_ms;
    if (gw_ota_active(o)) {
        snprintf(why, why_cap, "an update (%08" PRIx32 ") is running", o->session);
        return -1;
    }
    reset_session(o);
    if (load_image(o, image, len, why, why_cap) < 0) {
        o->session = 0;
        return -1;
    }
    if (n > 0u) {
        for (size_t i = 0; i < n; i++) {
            target_add(o, serials[i]);
        }
    } else {
        for (uint32_t k = 1; k <= ALFA_NODE_LAST; k++) {
            if (o->node_type[k] == ALFA_DEV_PACK && o->node_hb_ms[k] != 0u &&
                now_ms - o->node_hb_ms[k] < GW_OTA_HB_ONLINE_MS) {
                target_add(o, o->node_serial[k]);
            }
        }
    }
    if (o->nt == 0u) {
        snprintf(why, why_cap, "no packs: none online (or none named)");
        o->session = 0;
        return -1;
    }
    o->force = (uint8_t)(force != 0);
    o->wave_pct = o->cfg.wave_pct;
    o->phase = GW_OTA_OFFER;
    o->phase_ms = now_ms;
    if (o->io.write_file != NULL && o->io.write_file(o->io.user, IMAGE_FILE, image, len) < 0) {
        gw_ota_log(o, GW_OTA_LOG_WARN, "update: cannot keep a copy of the image: a gateway restart cannot resume it");
    }
    /* Every target gets its BEGIN, then one broadcast manifest serves them all. */
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (t->node != 0u) {
            gw_ota_send_ctrl(o, t->node, ALFA_FWU_OP_BEGIN, 0, 0, 0);
            t->asked_ms = now_ms;
            t->tries = 1;
        }
    }
    send_manifest(o, ALFA_NODE_BROADCAST, 0xFFFFu);
    gw_ota_log(o, GW_OTA_LOG_INFO, "update %08" PRIx32 ": %u.%u.%u, %" PRIu32 " bytes, to %zu pack(s)%s", o->session,
               o->hdr.major, o->hdr.minor, o->hdr.patch, o->hdr.image_size, o->nt, o->force ? " (forced)" : "");
    o->state_dirty = 1;
    o->save_dirty = 1;
    return 0;
}

static void finish(gw_ota_t *o, const char *result)
{
    snprintf(o->result, sizeof(o->result), "%s", result);
    o->phase = GW_OTA_DONE;
    o->xfer = 0;
    o->parity_due = 0;
    o->state_dirty = 1; /* control frames still queued (a CANCEL) go out */
    o->save_dirty = 1;
    gw_ota_log(o, GW_OTA_LOG_INFO, "update %08" PRIx32 ": %s", o->session, result);
    publish_result(o, o->id_json, strncmp(result, "ok", 2) == 0 ? "done" : "failed", result);
}

void gw_ota_cancel(gw_ota_t *o, uint32_t now_ms)
{
    o->now_ms = now_ms;
    if (!gw_ota_active(o)) {
        return;
    }
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (!is_final(t->st) && t->st != GW_T_ACTIVATING && t->st != GW_T_TRIAL) {
            gw_ota_set_target(o, t, GW_T_SKIPPED, "cancelled");
        }
    }
    o->cq_count = 0;
    o->parity_due = 0;
    gw_ota_send_ctrl(o, ALFA_NODE_BROADCAST, ALFA_FWU_OP_CANCEL, 0, 0, 0);
    finish(o, "cancelled");
    publish_result(o, o->id_json, "cancelled", "");
}

/* ---------------------------------------------------------------- CAN in */

static void on_heartbeat(gw_ota_t *o, const alfa_can_frame_t *f)
{
    alfa_heartbeat_t hb;
    if (alfa_proto_heartbeat_decode(f, &hb) < 0 || hb.node_id > ALFA_NODE_MAX) {
        return;
    }
    uint8_t n = hb.node_id;
    o->node_serial[n] = hb.serial;
    o->node_hb_ms[n] = o->now_ms != 0u ? o->now_ms : 1u;
    o->node_state[n] = hb.state;
    o->node_type[n] = hb.device_type;
    o->node_ver[n][0] = hb.fw_major;
    o->node_ver[n][1] = hb.fw_minor;
    o->node_ver[n][2] = hb.fw_patch;
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (t->serial != hb.serial) {
            if (t->node == n) {
                t->node = 0; /* that ID belongs to another pack now */
            }
            continue;
        }
        if (t->run_major != hb.fw_major || t->run_minor != hb.fw_minor || t->run_patch != hb.fw_patch) {
            t->dirty = t->dirty ? t->dirty : 1;
        }
        /* A CLAIMING heartbeat after a silence is a restart even if the last one claimed too
         * (a pack that lost power again before it settled). */
        if ((hb.state & ALFA_HB_CLAIMING) && t->hb_ms != 0u && o->now_ms - t->hb_ms > 1500u) {
            t->restarted = 0;
        }
        t->node = n;
        t->hb_ms = o->node_hb_ms[n];
        t->run_major = hb.fw_major;
        t->run_minor = hb.fw_minor;
        t->run_patch = hb.fw_patch;
        if (hb.state & ALFA_HB_CLAIMING) {
            if (t->st == GW_T_ACTIVATING || t->st == GW_T_TRIAL) {
                t->came_back = 1;
            }
            if (!t->restarted && o->phase != GW_OTA_DONE && !is_final(t->st) && t->st != GW_T_ACTIVATING &&
                t->st != GW_T_TRIAL && t->st != GW_T_WAITING) {
                /* It restarted (a power cut): offer the session again; it resumes from its slot. */
                gw_ota_set_target(o, t, GW_T_WAITING, NULL);
                t->pack_state = ALFA_FWU_ST_IDLE;
            }
            t->restarted = 1;
        } else {
            t->restarted = 0;
        }
    }
}

static int runs_new(const gw_ota_t *o, const gw_ota_target_t *t);

static void on_status(gw_ota_t *o, gw_ota_target_t *t, const alfa_fwu_reply_t *r)
{
    t->pack_state = r->state;
    t->pack_result = r->result;
    t->detail = r->missing;
    if (t->st == GW_T_ACTIVATING || t->st == GW_T_TRIAL) {
        if (r->state == ALFA_FWU_ST_CONFIRMED && r->session == o->session) {
            gw_ota_set_target(o, t, GW_T_CONFIRMED, "");
        } else if (r->state == ALFA_FWU_ST_ROLLED_BACK && r->session == o->session) {
            char e[48];
            snprintf(e, sizeof(e), "%s%s", alfa_fwu_result_name(r->result),
                     r->result == ALFA_FWU_R_SELFTEST
                         ? ((r->missing & ALFA_FWU_CHECK_BMS) ? " (bms)" : (r->missing & ALFA_FWU_CHECK_CAN) ? " (can)"
                                                                          : (r->missing & ALFA_FWU_CHECK_SETTINGS) ? " (settings)"
                                                                                                                    : " (cycle)")
                         : "");
            gw_ota_set_target(o, t, GW_T_ROLLED_BACK, e);
        } else if (r->state == ALFA_FWU_ST_TRIAL && r->session == o->session) {
            gw_ota_set_target(o, t, GW_T_TRIAL, NULL);
        } else if (t->came_back && runs_new(o, t) && (r->state == ALFA_FWU_ST_IDLE || r->state == ALFA_FWU_ST_CONFIRMED)) {
            /* It runs the new image and not on trial: confirmed (its own report of it was lost). */
            gw_ota_set_target(o, t, GW_T_CONFIRMED, "");
        } else if (t->came_back && r->state != ALFA_FWU_ST_ACTIVATING && r->state != ALFA_FWU_ST_TRIAL &&
                   !runs_new(o, t)) {
            /* Back on the old image without a verdict on the new one (the switch itself failed,
             * or power was cut before the new image started): once more from its slot. */
            if (t->activations < 2u) {
                gw_ota_set_target(o, t, GW_T_WAITING, NULL);
            } else {
                gw_ota_set_target(o, t, GW_T_FAILED, "did not restart into it");
            }
        }
        return;
    }
    if (is_final(t->st)) {
        return;
    }
    if (r->session != o->session) {
        if (t->st != GW_T_WAITING) {
            gw_ota_set_target(o, t, GW_T_WAITING, NULL); /* it lost the session: offer again */
        }
        return;
    }
    if (r->result == ALFA_FWU_R_BUSY) {
        gw_ota_set_target(o, t, GW_T_REFUSED, "busy: its running image is not confirmed yet");
        return;
    }
    switch (r->state) {
    case ALFA_FWU_ST_MANIFEST:
        if (r->missing != 0u && (o->now_ms - t->asked_ms >= 100u || t->tries == 0u)) {
            send_manifest(o, t->node, r->missing); /* only the parts it lacks */
            t->asked_ms = o->now_ms;
        }
        break;
    case ALFA_FWU_ST_RESUMING:
        break;
    case ALFA_FWU_ST_RECEIVING:
        if (t->st == GW_T_WAITING && r->missing < o->n_chunks) {
            t->resumed_from = o->n_chunks - r->missing;
            gw_ota_log(o, GW_OTA_LOG_INFO, "update %08" PRIx32 ": pack %s resumes with %" PRIu32 " of %" PRIu32 " chunks",
                       o->session, t->hex, t->resumed_from, o->n_chunks);
        }
        t->missing = r->missing == 0xFFFFu && o->n_chunks > 0xFFFFu ? o->n_chunks : r->missing;
        t->answered = 1;
        if (r->result == ALFA_FWU_R_HASH) {
            gw_ota_log(o, GW_OTA_LOG_WARN, "update %08" PRIx32 ": pack %s: image hash mismatch, its transfer restarts",
                       o->session, t->hex);
            t->missing = o->n_chunks;
        }
        gw_ota_set_target(o, t, GW_T_RECEIVING, NULL);
        break;
    case ALFA_FWU_ST_VERIFYING:
        t->missing = 0;
        t->answered = 1;
        gw_ota_set_target(o, t, GW_T_RECEIVING, NULL);
        break;
    case ALFA_FWU_ST_READY:
        t->missing = 0;
        t->answered = 1;
        gw_ota_set_target(o, t, GW_T_READY, NULL);
        break;
    case ALFA_FWU_ST_REFUSED:
        gw_ota_set_target(o, t, GW_T_REFUSED, alfa_fwu_result_name(r->result));
        break;
    case ALFA_FWU_ST_FAILED:
        gw_ota_set_target(o, t, GW_T_FAILED, alfa_fwu_result_name(r->result));
        break;
    case ALFA_FWU_ST_IDLE:
        gw_ota_set_target(o, t, GW_T_WAITING, NULL);
        break;
    default:
        break;
    }
}

void gw_ota_on_can(gw_ota_t *o, const alfa_can_frame_t *f, uint32_t now_ms)
{
    o->now_ms = now_ms;
    int cls = alfa_proto_classify(f);
    if (cls == ALFA_CLS_HEARTBEAT) {
        on_heartbeat(o, f);
        return;
    }
    if (cls != ALFA_CLS_FWU_REPLY || o->session == 0u) {
        return;
    }
    alfa_fwu_reply_t r;
    if (alfa_fwu_reply_decode(f, &r) < 0 || r.dst != ALFA_NODE_LINUX_GATEWAY) {
        return;
    }
    o->stats.reply_frames++;
    o->stats.reply_bytes += f->len;
    gw_ota_target_t *t = target_of_node(o, r.src);
    if (t == NULL) {
        return;
    }
    t->last_heard_ms = now_ms;
    t->dirty = t->dirty ? t->dirty : 1;
    if (r.op == ALFA_FWU_REP_STATUS) {
        on_status(o, t, &r);
    } else if (t->st == GW_T_RECEIVING && o->phase != GW_OTA_DONE) {
        o->stats.nack_frames++;
        gw_ota_tx_on_nack(o, t, &r);
    }
}

/* ---------------------------------------------------------------- MQTT in */

static int topic_is(const gw_ota_t *o, const char *topic, const char *suffix)
{
    char want[160];
    snprintf(want, sizeof(want), "alfaspark/%s/ota/%s", o->cfg.site, suffix);
    return strcmp(topic, want) == 0;
}

/* "packs": a JSON array of serial strings, or one string of serials separated by commas. */
static int parse_packs(const gw_json_member_t *m, uint64_t *out, size_t cap, size_t *n)
{
    const char *p = m->type == GW_JSON_STRING ? m->s : m->raw;
    size_t len = m->type == GW_JSON_STRING ? m->s_len : m->raw_len;
    *n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (p[i] == '[' || p[i] == ']' || p[i] == ',' || p[i] == ' ' || p[i] == '"' || p[i] == '\n')) i++;
        if (i >= len) break;
        size_t j = i;
        uint64_t v = 0;
        while (j < len && ((p[j] >= '0' && p[j] <= '9') || ((p[j] | 0x20) >= 'a' && (p[j] | 0x20) <= 'f'))) {
            v = v * 16u + (uint64_t)(p[j] <= '9' ? p[j] - '0' : (p[j] | 0x20) - 'a' + 10);
            j++;
        }
        if (j - i != 12u || *n >= cap || v == 0u) {
            return -1;
        }
        out[(*n)++] = v;
        i = j;
    }
    return 0;
}

static void on_start(gw_ota_t *o, const char *payload, size_t len, uint32_t now_ms)
{
    gw_json_doc_t doc;
    char why[160] = "";
    char id[80] = "null";
    uint64_t serials[GW_OTA_MAX_TARGETS];
    size_t n = 0;
    int force = 0;
    memset(&doc, 0, sizeof(doc));
    if (gw_json_parse(&doc, payload, len) < 0) {
        snprintf(why, sizeof(why), "invalid JSON: %s", doc.error);
        publish_result(o, id, "refused", why);
        return;
    }
    const gw_json_member_t *m = gw_json_get(&doc, "id");
    if (m != NULL && m->raw_len < sizeof(id) && (m->type == GW_JSON_STRING || m->type == GW_JSON_INT)) {
        memcpy(id, m->raw, m->raw_len);
        id[m->raw_len] = '\0';
    }
    for (uint32_t k = 0; k < doc.count; k++) {
        const char *key = doc.m[k].key;
        if (strcmp(key, "id") && strcmp(key, "image") && strcmp(key, "packs") && strcmp(key, "force") &&
            strcmp(key, "wave_pct") && strcmp(key, "client")) {
            snprintf(why, sizeof(why), "unknown member \"%s\"", key);
            publish_result(o, id, "refused", why);
            return;
        }
    }
    if ((m = gw_json_get(&doc, "packs")) != NULL &&
        ((m->type != GW_JSON_STRING && m->type != GW_JSON_NESTED) || parse_packs(m, serials, GW_OTA_MAX_TARGETS, &n) < 0)) {
        publish_result(o, id, "refused", "\"packs\" must list serials of 12 hex digits");
        return;
    }
    if ((m = gw_json_get(&doc, "force")) != NULL) {
        if (m->type != GW_JSON_BOOL) {
            publish_result(o, id, "refused", "\"force\" must be true or false");
            return;
        }
        force = (int)m->i;
    }
    uint32_t wave = o->cfg.wave_pct;
    if ((m = gw_json_get(&doc, "wave_pct")) != NULL) {
        if (m->type != GW_JSON_INT || m->i < 1 || m->i > 100) {
            publish_result(o, id, "refused", "\"wave_pct\" must be 1..100");
            return;
        }
        wave = (uint32_t)m->i;
    }
    const char *src = IMAGE_FILE;
    if ((m = gw_json_get(&doc, "image")) != NULL) {
        if (m->type != GW_JSON_STRING || m->s_len == 0u || m->s[0] != '/') {
            publish_result(o, id, "refused", "\"image\" must be an absolute path on the gateway");
            return;
        }
        src = m->s;
    }
    size_t ilen = 0;
    uint8_t *img = o->io.read_file != NULL ? o->io.read_file(o->io.user, src, &ilen) : NULL;
    if (img == NULL) {
        snprintf(why, sizeof(why), "cannot read the image %s",
                 gw_json_get(&doc, "image") == NULL ? "(publish one on ota/image first)" : src);
        publish_result(o, id, "refused", why);
        return;
    }
    int rc = gw_ota_start(o, img, ilen, serials, n, force, now_ms, why, sizeof(why));
    free(img);
    if (rc < 0) {
        publish_result(o, id, "refused", why);
        return;
    }
    o->wave_pct = wave;
    snprintf(o->id_json, sizeof(o->id_json), "%s", id);
    publish_result(o, id, "started", "");
}

int gw_ota_on_mqtt(gw_ota_t *o, const char *topic, const void *payload, size_t len, uint32_t now_ms)
{
    o->now_ms = now_ms;
    char prefix[128];
    int pn = snprintf(prefix, sizeof(prefix), "alfaspark/%s/ota/", o->cfg.site);
    if (pn < 0 || strncmp(topic, prefix, (size_t)pn) != 0) {
        return 0;
    }
    if (topic_is(o, topic, "image")) {
        alfa_fwimg_hdr_t h;
        char why[160];
        if (image_check(payload, len, &h, why, sizeof(why)) < 0) {
            publish_result(o, "null", "refused", why);
        } else if (o->io.write_file == NULL || o->io.write_file(o->io.user, IMAGE_FILE, payload, len) < 0) {
            publish_result(o, "null", "refused", "cannot store the image on the gateway");
        } else {
            snprintf(why, sizeof(why), "staged %u.%u.%u, %" PRIu32 " bytes", h.major, h.minor, h.patch, h.image_size);
            publish_result(o, "null", "image", why);
        }
    } else if (topic_is(o, topic, "start")) {
        on_start(o, payload, len, now_ms);
    } else if (topic_is(o, topic, "cancel")) {
        if (gw_ota_active(o)) {
            gw_ota_cancel(o, now_ms);
        } else {
            publish_result(o, "null", "refused", "no update is running");
        }
    }
    return 1; /* our own retained state/pack topics coming back are ignored here too */
}

/* ---------------------------------------------------------------- timers and phases */

static int needs_data(const gw_ota_target_t *t)
{
    return t->st == GW_T_RECEIVING && (t->missing > 0u || !t->answered) && t->pack_state != ALFA_FWU_ST_VERIFYING;
}

/* Offer the session to the packs that have not taken it (or lost it). */
static void offer_step(gw_ota_t *o)
{
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (t->st != GW_T_WAITING) {
            continue;
        }
        if (o->now_ms - t->last_heard_ms >= o->cfg.pack_timeout_ms && t->tries >= 3u) {
            gw_ota_set_target(o, t, GW_T_DROPPED, "no answer");
            continue;
        }
        if (t->node == 0u || (t->asked_ms != 0u && o->now_ms - t->asked_ms < o->cfg.reply_timeout_ms)) {
            continue;
        }
        if (t->pack_state == ALFA_FWU_ST_RESUMING) {
            gw_ota_send_ctrl(o, t->node, ALFA_FWU_OP_QUERY, 0, 0, 0);
        } else {
            gw_ota_send_ctrl(o, t->node, ALFA_FWU_OP_BEGIN, 0, 0, 0);
            send_manifest(o, t->node, 0xFFFFu);
        }
        t->asked_ms = o->now_ms;
        if (t->tries < 255u) t->tries++;
    }
}

/* Complete packs hash their slot; ask the slow or silent ones. */
static void verify_step(gw_ota_t *o)
{
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (t->st != GW_T_RECEIVING || needs_data(t)) {
            continue;
        }
        if (o->now_ms - t->last_heard_ms >= o->cfg.pack_timeout_ms) {
            gw_ota_set_target(o, t, GW_T_DROPPED, "no answer");
            continue;
        }
        if (t->asked_ms == 0u || o->now_ms - t->asked_ms >= o->cfg.reply_timeout_ms) {
            gw_ota_send_ctrl(o, t->node, ALFA_FWU_OP_VERIFY, 0, 0, 0);
            t->asked_ms = o->now_ms;
        }
    }
}

/* Packs that stop answering in the transfer are dropped. */
static void transfer_watch(gw_ota_t *o)
{
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (t->st == GW_T_RECEIVING && o->now_ms - t->last_heard_ms >= o->cfg.pack_timeout_ms) {
            gw_ota_set_target(o, t, GW_T_DROPPED, "stopped answering");
        }
    }
}

static size_t wave_size(const gw_ota_t *o)
{
    size_t n = (o->nt * o->wave_pct + 99u) / 100u;
    if (n == 0u) n = 1u;
    if (o->nt >= 2u && n > o->nt - 1u) n = o->nt - 1u; /* the site keeps packs in service */
    return n;
}

/* The next wave: the canary first (wave 0, one pack, preferably not the master, whose restart
 * would also move the master role), then wave_size() packs at a time. */
static void start_wave(gw_ota_t *o)
{
    o->wave = o->waves_started;
    size_t quota = o->waves_started == 0u ? 1u : wave_size(o);
    size_t started = 0;
    for (int pass = 0; pass < 2 && started < quota; pass++) {
        for (size_t i = 0; i < o->nt && started < quota; i++) {
            gw_ota_target_t *t = &o->t[i];
            int master = t->node != 0u && (o->node_state[t->node] & ALFA_HB_MASTER) != 0u;
            if (t->st != GW_T_READY || (pass == 0 && master)) {
                continue;
            }
            t->wave = o->wave;
            t->activations++;
            t->activated_ms = o->now_ms;
            t->came_back = 0;
            gw_ota_set_target(o, t, GW_T_ACTIVATING, NULL);
            gw_ota_send_ctrl(o, t->node, ALFA_FWU_OP_ACTIVATE, 0, 0, 0);
            t->asked_ms = o->now_ms;
            t->tries = 1;
            t->restarted = 0;
            t->last_heard_ms = o->now_ms;
            started++;
        }
    }
    o->waves_started++;
    o->state_dirty = 1;
    o->save_dirty = 1;
    gw_ota_log(o, GW_OTA_LOG_INFO, "update %08" PRIx32 ": activating wave %u (%zu pack(s))", o->session, o->wave, started);
}

static int runs_new(const gw_ota_t *o, const gw_ota_target_t *t)
{
    return t->run_major == o->hdr.major && t->run_minor == o->hdr.minor && t->run_patch == o->hdr.patch;
}

static void activate_step(gw_ota_t *o)
{
    int busy = 0, bad = 0, ready = 0, not_ok = 0;
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        ready += t->st == GW_T_READY;
        not_ok += t->st != GW_T_CONFIRMED;
        if (t->st == GW_T_WAITING || t->st == GW_T_RECEIVING) {
            busy = 1; /* a pack that restarted before its turn comes back first */
            continue;
        }
        if (t->st != GW_T_ACTIVATING && t->st != GW_T_TRIAL) {
            if (o->waves_started > 0u && t->wave == o->wave &&
                (t->st == GW_T_ROLLED_BACK || t->st == GW_T_FAILED || t->st == GW_T_DROPPED)) {
                bad = 1;
            }
            continue;
        }
        busy = 1;
        if (o->now_ms - t->activated_ms >= o->cfg.confirm_timeout_ms) {
            gw_ota_set_target(o, t, GW_T_FAILED, runs_new(o, t) ? "not confirmed in time" : "did not restart into it");
            bad = 1;
            continue;
        }
        if (o->now_ms - t->asked_ms < o->cfg.reply_timeout_ms * 2u) {
            continue;
        }
        t->asked_ms = o->now_ms;
        int settled = t->hb_ms != 0u && o->now_ms - t->hb_ms < GW_OTA_HB_ONLINE_MS && !t->restarted;
        if (t->st == GW_T_ACTIVATING && t->pack_state != ALFA_FWU_ST_ACTIVATING && t->tries < 3u && !runs_new(o, t)) {
            gw_ota_send_ctrl(o, t->node, ALFA_FWU_OP_ACTIVATE, 0, 0, 0); /* the order was lost */
            t->tries++;
        } else if (settled) {
            gw_ota_send_ctrl(o, t->node, ALFA_FWU_OP_QUERY, 0, 0, 0);
        }
    }
    if (busy) {
        return;
    }
    if (bad) {
        for (size_t i = 0; i < o->nt; i++) {
            if (o->t[i].st == GW_T_READY) {
                gw_ota_set_target(o, &o->t[i], GW_T_SKIPPED, "roll-out stopped after a failure");
            }
        }
        gw_ota_send_ctrl(o, ALFA_NODE_BROADCAST, ALFA_FWU_OP_CANCEL, 0, 0, 0);
        finish(o, "failed: a pack of the roll-out did not confirm the new image");
        return;
    }
    if (ready > 0) {
        start_wave(o);
        return;
    }
    char r[96];
    if (not_ok > 0) {
        snprintf(r, sizeof(r), "failed: %d of %zu pack(s) not updated", not_ok, o->nt);
    } else {
        snprintf(r, sizeof(r), "ok: %zu pack(s) updated", o->nt);
    }
    finish(o, r);
}

static void advance(gw_ota_t *o)
{
    size_t waiting = 0, data = 0, complete = 0, ready = 0, active = 0;
    for (size_t i = 0; i < o->nt; i++) {
        const gw_ota_target_t *t = &o->t[i];
        waiting += t->st == GW_T_WAITING ? 1u : 0u;
        data += needs_data(t) ? 1u : 0u;
        complete += t->st == GW_T_RECEIVING && !needs_data(t) ? 1u : 0u;
        ready += t->st == GW_T_READY ? 1u : 0u;
        active += t->st == GW_T_ACTIVATING || t->st == GW_T_TRIAL ? 1u : 0u;
    }
    uint8_t was = o->xfer;
    o->xfer = data > 0u && (o->phase != GW_OTA_OFFER || waiting == 0u || o->now_ms - o->phase_ms >= OFFER_MAX_MS);
    if (o->xfer && !was) {
        /* Packs that start from nothing get the whole image in order; resumed ones say first. */
        int fresh = 0;
        for (size_t i = 0; i < o->nt; i++) {
            fresh |= needs_data(&o->t[i]) && o->t[i].missing >= o->n_chunks && o->t[i].resumed_from == 0u;
        }
        if (fresh) {
            gw_ota_tx_begin(o, 1);
        } else {
            o->cursor = o->n_chunks;
            o->sub = GW_TX_SEND; /* the round ends at once and polls */
        }
    }
    uint8_t phase = o->phase;
    if (o->phase == GW_OTA_ACTIVATE || active > 0u || o->waves_started > 0u) {
        phase = GW_OTA_ACTIVATE;
    } else if (o->phase == GW_OTA_OFFER && waiting > 0u && !o->xfer) {
        phase = GW_OTA_OFFER;
    } else if (data > 0u || waiting > 0u) {
        phase = GW_OTA_TRANSFER;
    } else if (complete > 0u) {
        phase = GW_OTA_VERIFY;
    } else if (ready > 0u) {
        phase = GW_OTA_ACTIVATE; /* activate_step starts the canary */
    } else {
        finish(o, "failed: no pack took the image");
        return;
    }
    if (phase != o->phase) {
        o->phase = phase;
        o->phase_ms = o->now_ms;
        o->state_dirty = 1;
        o->save_dirty = 1;
    }
}

void gw_ota_process(gw_ota_t *o, uint32_t now_ms)
{
    o->now_ms = now_ms;
    if (o->phase != GW_OTA_IDLE && o->phase != GW_OTA_DONE) {
        offer_step(o);
        advance(o);
        if (o->phase == GW_OTA_DONE) {
            goto out;
        }
        if (o->xfer) {
            transfer_watch(o);
            gw_ota_tx_step(o);
        }
        verify_step(o);
        if (o->phase == GW_OTA_ACTIVATE) {
            activate_step(o);
        }
    }
out:
    gw_ota_tx_pump(o);
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (t->dirty == 2u || (t->dirty && now_ms - t->published_ms >= GW_OTA_PUBLISH_MS) ||
            (o->xfer && t->st == GW_T_RECEIVING && now_ms - t->published_ms >= GW_OTA_PUBLISH_MS)) {
            publish_target(o, t);
        }
    }
    if (o->state_dirty || (gw_ota_active(o) && now_ms - o->state_published_ms >= 2u * GW_OTA_PUBLISH_MS)) {
        publish_state(o);
    }
    if (o->save_dirty) {
        save(o);
    }
}

uint32_t gw_ota_wait_ms(const gw_ota_t *o)
{
    if (o->xfer || o->cq_count > 0u || o->parity_due) {
        return 1u;
    }
    return gw_ota_active(o) ? 20u : 100u;
}

/* ---------------------------------------------------------------- restore */

int gw_ota_restore(gw_ota_t *o, uint32_t now_ms)
{
    o->now_ms = now_ms;
    size_t len = 0;
    uint8_t *txt = o->io.read_file != NULL ? o->io.read_file(o->io.user, SESSION_FILE, &len) : NULL;
    if (txt == NULL) {
        return 0;
    }
    char *s = realloc(txt, len + 1u);
    if (s == NULL) {
        free(txt);
        return -1;
    }
    s[len] = '\0';
    unsigned version = 0, force = 0, phase = 0, wave = 0;
    uint32_t session = 0, wave_pct = 25;
    if (sscanf(s, "alfaspark-ota %u\nsession %" SCNx32 "\nforce %u\nwave_pct %" SCNu32 "\nphase %u\nwave %u", &version,
               &session, &force, &wave_pct, &phase, &wave) != 6 ||
        version != 1u) {
        gw_ota_log(o, GW_OTA_LOG_WARN, "update: the saved session is unreadable; ignored");
        free(s);
        return -1;
    }
    if (phase == GW_OTA_DONE || phase == GW_OTA_IDLE) {
        free(s);
        return 0;
    }
    size_t ilen = 0;
    uint8_t *img = o->io.read_file(o->io.user, IMAGE_FILE, &ilen);
    char why[160];
    reset_session(o);
    if (img == NULL || load_image(o, img, ilen, why, sizeof(why)) < 0 || o->session != session) {
        gw_ota_log(o, GW_OTA_LOG_WARN, "update %08" PRIx32 ": its image is gone or changed; not resumed", session);
        free(img);
        free(s);
        o->session = 0;
        return -1;
    }
    free(img);
    o->force = (uint8_t)(force != 0u);
    o->wave_pct = wave_pct;
    o->wave = (uint8_t)wave;
    o->waves_started = (uint8_t)(phase == GW_OTA_ACTIVATE ? wave + 1u : 0u);
    for (char *line = strstr(s, "\ntarget "); line != NULL; line = strstr(line + 1, "\ntarget ")) {
        char hex[16], err[48];
        unsigned st = 0, res = 0, tw = 0;
        if (sscanf(line, "\ntarget %15s %u %u %u %47s", hex, &st, &res, &tw, err) != 5 || st >= GW_T_COUNT) {
            continue;
        }
        uint64_t serial = strtoull(hex, NULL, 16);
        target_add(o, serial);
        gw_ota_target_t *t = &o->t[o->nt - 1u];
        t->pack_result = (uint8_t)res;
        t->wave = (uint8_t)tw;
        t->st = (uint8_t)st;
        snprintf(t->error, sizeof(t->error), "%s", strcmp(err, "-") ? err : "");
        if (!is_final(t->st) && t->st != GW_T_ACTIVATING && t->st != GW_T_TRIAL) {
            t->st = GW_T_WAITING; /* offered again: it resumes from what its slot holds */
        }
        t->asked_ms = 0;
        t->last_heard_ms = now_ms;
    }
    free(s);
    o->phase = (uint8_t)(phase == GW_OTA_ACTIVATE ? GW_OTA_ACTIVATE : GW_OTA_OFFER);
    o->phase_ms = now_ms;
    o->state_dirty = 1;
    gw_ota_log(o, GW_OTA_LOG_INFO, "update %08" PRIx32 ": resumed after a gateway restart (%zu pack(s))", o->session,
               o->nt);
    return 1;
}

/* ---------------------------------------------------------------- introspection */

int gw_ota_active(const gw_ota_t *o) { return o->phase != GW_OTA_IDLE && o->phase != GW_OTA_DONE; }
gw_ota_phase_t gw_ota_phase(const gw_ota_t *o) { return (gw_ota_phase_t)o->phase; }
uint32_t gw_ota_session(const gw_ota_t *o) { return o->session; }
size_t gw_ota_targets(const gw_ota_t *o, const gw_ota_target_t **out)
{
    *out = o->t;
    return o->nt;
}
const gw_ota_stats_t *gw_ota_stats(const gw_ota_t *o) { return &o->stats; }
uint32_t gw_ota_image_size(const gw_ota_t *o) { return o->session ? o->hdr.image_size : 0u; }
