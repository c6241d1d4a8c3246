/* The update sender's MQTT side and persistence: progress and state out, image/start/cancel in,
 * the session file that lets a restarted gateway resume. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/gw_json.h"
#include "gw_ota_internal.h"

/* ---------------------------------------------------------------- MQTT out */

static void publish(gw_ota_t *o, const char *suffix, const char *payload, int retain)
{
    char topic[160];
    snprintf(topic, sizeof(topic), "alfaspark/%s/ota/%s", o->cfg.site, suffix);
    if (o->io.publish != NULL) {
        if (o->io.publish(o->io.user, topic, payload, strlen(payload), retain) < 0) {
            o->stats.publish_fail++; /* the daemon logged why; the next change publishes again */
        }
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

void gw_ota_publish_target(gw_ota_t *o, gw_ota_target_t *t)
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

void gw_ota_publish_state(gw_ota_t *o)
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

void gw_ota_publish_result(gw_ota_t *o, const char *id_json, const char *result, const char *detail)
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
    gw_ota_publish_state(o);
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_publish_target(o, &o->t[i]);
    }
}

/* ---------------------------------------------------------------- persistence */

void gw_ota_save(gw_ota_t *o)
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
    if (len < cap && o->io.write_file(o->io.user, GW_OTA_SESSION_FILE, b, len) < 0) {
        gw_ota_log(o, GW_OTA_LOG_WARN, "update: cannot save the session state");
    }
    free(b);
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
        gw_ota_publish_result(o, id, "refused", why);
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
            gw_ota_publish_result(o, id, "refused", why);
            return;
        }
    }
    if ((m = gw_json_get(&doc, "packs")) != NULL &&
        ((m->type != GW_JSON_STRING && m->type != GW_JSON_NESTED) || parse_packs(m, serials, GW_OTA_MAX_TARGETS, &n) < 0)) {
        gw_ota_publish_result(o, id, "refused", "\"packs\" must list serials of 12 hex digits");
        return;
    }
    if ((m = gw_json_get(&doc, "force")) != NULL) {
        if (m->type != GW_JSON_BOOL) {
            gw_ota_publish_result(o, id, "refused", "\"force\" must be true or false");
            return;
        }
        force = (int)m->i;
    }
    uint32_t wave = o->cfg.wave_pct;
    if ((m = gw_json_get(&doc, "wave_pct")) != NULL) {
        if (m->type != GW_JSON_INT || m->i < 1 || m->i > 100) {
            gw_ota_publish_result(o, id, "refused", "\"wave_pct\" must be 1..100");
            return;
        }
        wave = (uint32_t)m->i;
    }
    const char *src = GW_OTA_IMAGE_FILE;
    if ((m = gw_json_get(&doc, "image")) != NULL) {
        if (m->type != GW_JSON_STRING || m->s_len == 0u || m->s[0] != '/') {
            gw_ota_publish_result(o, id, "refused", "\"image\" must be an absolute path on the gateway");
            return;
        }
        src = m->s;
    }
    size_t ilen = 0;
    uint8_t *img = o->io.read_file != NULL ? o->io.read_file(o->io.user, src, &ilen) : NULL;
    if (img == NULL) {
        snprintf(why, sizeof(why), "cannot read the image %s",
                 gw_json_get(&doc, "image") == NULL ? "(publish one on ota/image first)" : src);
        gw_ota_publish_result(o, id, "refused", why);
        return;
    }
    int rc = gw_ota_start(o, img, ilen, serials, n, force, now_ms, why, sizeof(why));
    free(img);
    if (rc < 0) {
        gw_ota_publish_result(o, id, "refused", why);
        return;
    }
    o->wave_pct = wave;
    snprintf(o->id_json, sizeof(o->id_json), "%s", id);
    gw_ota_publish_result(o, id, "started", "");
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
        if (gw_ota_image_check(payload, len, &h, why, sizeof(why)) < 0) {
            gw_ota_publish_result(o, "null", "refused", why);
        } else if (o->io.write_file == NULL || o->io.write_file(o->io.user, GW_OTA_IMAGE_FILE, payload, len) < 0) {
            gw_ota_publish_result(o, "null", "refused", "cannot store the image on the gateway");
        } else {
            snprintf(why, sizeof(why), "staged %u.%u.%u, %" PRIu32 " bytes", h.major, h.minor, h.patch, h.image_size);
            gw_ota_publish_result(o, "null", "image", why);
        }
    } else if (topic_is(o, topic, "start")) {
        on_start(o, payload, len, now_ms);
    } else if (topic_is(o, topic, "cancel")) {
        if (gw_ota_active(o)) {
            gw_ota_cancel(o, now_ms);
        } else {
            gw_ota_publish_result(o, "null", "refused", "no update is running");
        }
    }
    return 1; /* our own retained state/pack topics coming back are ignored here too */
}

/* ---------------------------------------------------------------- restore */

int gw_ota_restore(gw_ota_t *o, uint32_t now_ms)
{
    o->now_ms = now_ms;
    size_t len = 0;
    uint8_t *txt = o->io.read_file != NULL ? o->io.read_file(o->io.user, GW_OTA_SESSION_FILE, &len) : NULL;
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
    uint8_t *img = o->io.read_file(o->io.user, GW_OTA_IMAGE_FILE, &ilen);
    char why[160];
    gw_ota_reset_session(o);
    if (img == NULL || gw_ota_load_image(o, img, ilen, why, sizeof(why)) < 0 || o->session != session) {
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
        gw_ota_target_add(o, serial);
        gw_ota_target_t *t = &o->t[o->nt - 1u];
        t->pack_result = (uint8_t)res;
        t->wave = (uint8_t)tw;
        t->st = (uint8_t)st;
        snprintf(t->error, sizeof(t->error), "%s", strcmp(err, "-") ? err : "");
        if (!gw_ota_is_final(t->st) && t->st != GW_T_ACTIVATING && t->st != GW_T_TRIAL) {
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

