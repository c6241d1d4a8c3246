/* The update sender's session: the image, targets and their replies on the bus, start and cancel.
 * MQTT and persistence are in gw_ota_io.c, timers and phases in gw_ota_phase.c, frames and pacing in gw_ota_tx.c. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_ota_internal.h"

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

int gw_ota_is_final(uint8_t st)
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

void gw_ota_send_manifest(gw_ota_t *o, uint8_t dst, uint16_t parts)
{
    for (uint8_t p = 0; p < ALFA_FWU_MANIFEST_PARTS; p++) {
        alfa_can_frame_t f;
        if (((parts >> p) & 1u) && alfa_fwu_manifest_encode(ALFA_NODE_LINUX_GATEWAY, dst, p, o->image + p * 8u, &f) == 0) {
            gw_ota_queue_ctrl(o, &f);
        }
    }
}

/* ---------------------------------------------------------------- start, cancel */

int gw_ota_image_check(const uint8_t *img, size_t len, alfa_fwimg_hdr_t *h, char *why, size_t cap)
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

void gw_ota_target_add(gw_ota_t *o, uint64_t serial)
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

int gw_ota_load_image(gw_ota_t *o, const uint8_t *image, size_t len, char *why, size_t cap)
{
    alfa_fwimg_hdr_t h;
    if (gw_ota_image_check(image, len, &h, why, cap) < 0) {
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

void gw_ota_reset_session(gw_ota_t *o)
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
    gw_ota_reset_session(o);
    if (gw_ota_load_image(o, image, len, why, why_cap) < 0) {
        o->session = 0;
        return -1;
    }
    if (n > 0u) {
        for (size_t i = 0; i < n; i++) {
            gw_ota_target_add(o, serials[i]);
        }
    } else {
        for (uint32_t k = 1; k <= ALFA_NODE_LAST; k++) {
            if (o->node_type[k] == ALFA_DEV_PACK && o->node_hb_ms[k] != 0u &&
                now_ms - o->node_hb_ms[k] < GW_OTA_HB_ONLINE_MS) {
                gw_ota_target_add(o, o->node_serial[k]);
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
    if (o->io.write_file != NULL && o->io.write_file(o->io.user, GW_OTA_IMAGE_FILE, image, len) < 0) {
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
    gw_ota_send_manifest(o, ALFA_NODE_BROADCAST, 0xFFFFu);
    gw_ota_log(o, GW_OTA_LOG_INFO, "update %08" PRIx32 ": %u.%u.%u, %" PRIu32 " bytes, to %zu pack(s)%s", o->session,
               o->hdr.major, o->hdr.minor, o->hdr.patch, o->hdr.image_size, o->nt, o->force ? " (forced)" : "");
    o->state_dirty = 1;
    o->save_dirty = 1;
    return 0;
}

void gw_ota_finish(gw_ota_t *o, const char *result)
{
    snprintf(o->result, sizeof(o->result), "%s", result);
    o->phase = GW_OTA_DONE;
    o->xfer = 0;
    o->parity_due = 0;
    o->state_dirty = 1; /* control frames still queued (a CANCEL) go out */
    o->save_dirty = 1;
    gw_ota_log(o, GW_OTA_LOG_INFO, "update %08" PRIx32 ": %s", o->session, result);
    gw_ota_publish_result(o, o->id_json, strncmp(result, "ok", 2) == 0 ? "done" : "failed", result);
}

void gw_ota_cancel(gw_ota_t *o, uint32_t now_ms)
{
    o->now_ms = now_ms;
    if (!gw_ota_active(o)) {
        return;
    }
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (!gw_ota_is_final(t->st) && t->st != GW_T_ACTIVATING && t->st != GW_T_TRIAL) {
            gw_ota_set_target(o, t, GW_T_SKIPPED, "cancelled");
        }
    }
    o->cq_count = 0;
    o->parity_due = 0;
    gw_ota_send_ctrl(o, ALFA_NODE_BROADCAST, ALFA_FWU_OP_CANCEL, 0, 0, 0);
    gw_ota_finish(o, "cancelled");
    gw_ota_publish_result(o, o->id_json, "cancelled", "");
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
            if (!t->restarted && o->phase != GW_OTA_DONE && !gw_ota_is_final(t->st) && t->st != GW_T_ACTIVATING &&
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
        } else if (t->came_back && gw_ota_runs_new(o, t) && (r->state == ALFA_FWU_ST_IDLE || r->state == ALFA_FWU_ST_CONFIRMED)) {
            /* It runs the new image and not on trial: confirmed (its own report of it was lost). */
            gw_ota_set_target(o, t, GW_T_CONFIRMED, "");
        } else if (t->came_back && r->state != ALFA_FWU_ST_ACTIVATING && r->state != ALFA_FWU_ST_TRIAL &&
                   !gw_ota_runs_new(o, t)) {
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
    if (gw_ota_is_final(t->st)) {
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
            gw_ota_send_manifest(o, t->node, r->missing); /* only the parts it lacks */
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
