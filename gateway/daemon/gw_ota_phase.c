/* The update sender's timers and phases: offer, transfer watch, verification, staged activation. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gw_ota_internal.h"

#define OFFER_MAX_MS 5000u      /* the transfer starts for the packs that answered by then */

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
            gw_ota_send_manifest(o, t->node, 0xFFFFu);
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

/* Packs that stop answering in the transfer are dropped. A pack that misses nothing has nothing
 * to say while the image streams (block POLLs ask only for NACKs): silent for half the timeout, it
 * is asked for its STATUS (once per reply timeout), and dropped only if that goes unanswered. */
static void transfer_watch(gw_ota_t *o)
{
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (t->st != GW_T_RECEIVING) {
            continue;
        }
        uint32_t silent_ms = o->now_ms - t->last_heard_ms;
        if (silent_ms >= o->cfg.pack_timeout_ms) {
            gw_ota_set_target(o, t, GW_T_DROPPED, "stopped answering");
        } else if (silent_ms >= o->cfg.pack_timeout_ms / 2u &&
                   (t->asked_ms == 0u || o->now_ms - t->asked_ms >= o->cfg.reply_timeout_ms)) {
            gw_ota_send_ctrl(o, t->node, ALFA_FWU_OP_POLL, 0, 0, 1);
            t->asked_ms = o->now_ms;
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

int gw_ota_runs_new(const gw_ota_t *o, const gw_ota_target_t *t)
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
            gw_ota_set_target(o, t, GW_T_FAILED, gw_ota_runs_new(o, t) ? "not confirmed in time" : "did not restart into it");
            bad = 1;
            continue;
        }
        if (o->now_ms - t->asked_ms < o->cfg.reply_timeout_ms * 2u) {
            continue;
        }
        t->asked_ms = o->now_ms;
        int settled = t->hb_ms != 0u && o->now_ms - t->hb_ms < GW_OTA_HB_ONLINE_MS && !t->restarted;
        if (t->st == GW_T_ACTIVATING && t->pack_state != ALFA_FWU_ST_ACTIVATING && t->tries < 3u && !gw_ota_runs_new(o, t)) {
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
        gw_ota_finish(o, "failed: a pack of the roll-out did not confirm the new image");
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
    gw_ota_finish(o, r);
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
        gw_ota_finish(o, "failed: no pack took the image");
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
            gw_ota_publish_target(o, t);
        }
    }
    if (o->state_dirty || (gw_ota_active(o) && now_ms - o->state_published_ms >= 2u * GW_OTA_PUBLISH_MS)) {
        gw_ota_publish_state(o);
    }
    if (o->save_dirty) {
        gw_ota_save(o);
    }
}

uint32_t gw_ota_wait_ms(const gw_ota_t *o)
{
    if (o->xfer || o->cq_count > 0u || o->parity_due) {
        return 1u;
    }
    return gw_ota_active(o) ? 20u : 100u;
}

