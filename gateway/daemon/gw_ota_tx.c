/* The update sender's transfer: rounds over the chunks packs miss, parity groups, block POLLs, repairs first, bus-load pacing. */
#include <stdlib.h>
#include <string.h>

#include "alfa/bytes.h"
#include "alfa/port.h"
#include "gw_ota_internal.h"

int gw_ota_tx_alloc(gw_ota_t *o)
{
    gw_ota_tx_free(o);
    size_t bytes = (o->n_chunks + 7u) / 8u;
    o->need = calloc(bytes, 1);
    o->urgent = calloc(bytes, 1);
    return o->need != NULL && o->urgent != NULL ? 0 : -1;
}

void gw_ota_tx_free(gw_ota_t *o)
{
    free(o->need);
    free(o->urgent);
    o->need = NULL;
    o->urgent = NULL;
}

void gw_ota_tx_begin(gw_ota_t *o, int full)
{
    if (full) {
        for (uint32_t c = 0; c < o->n_chunks; c++) {
            gw_ota_bit_set(o->need, c);
        }
    }
    o->cursor = 0;
    o->round_full = (uint8_t)(full != 0);
    o->sub = GW_TX_SEND;
    o->parity_due = 0;
    o->stats.rounds++;
    gw_ota_log(o, GW_OTA_LOG_DEBUG, "update %08x: round %u (%s)", (unsigned)o->session, (unsigned)o->stats.rounds,
               full ? "whole image" : "repairs");
}

/* Chunks a pack reports missing: re-sent in this round if the cursor has not passed them, ahead
 * of new data if it has, or in the next round while a poll is being answered. */
static void mark_missing(gw_ota_t *o, uint32_t c)
{
    if (c >= o->n_chunks || o->need == NULL) {
        return;
    }
    if (o->sub == GW_TX_POLL || c >= o->cursor) {
        gw_ota_bit_set(o->need, c);
    } else if (!gw_ota_bit(o->urgent, c)) {
        gw_ota_bit_set(o->urgent, c);
        o->urgent_count++;
    }
}

void gw_ota_tx_on_nack(gw_ota_t *o, gw_ota_target_t *t, const alfa_fwu_reply_t *r)
{
    if (r->op == ALFA_FWU_REP_NACK_RANGE) {
        for (uint32_t k = 0; k < r->count; k++) {
            mark_missing(o, r->first + k);
        }
        t->nack_out += r->count;
        return;
    }
    for (uint32_t k = 0; k < ALFA_FWU_NACK_BITS; k++) {
        if ((r->map[k >> 3] >> (k & 7u)) & 1u) {
            mark_missing(o, r->first + k);
            t->nack_out++;
        }
    }
}

static void chunk_bytes(const gw_ota_t *o, uint32_t c, uint8_t out[8])
{
    size_t off = ALFA_FWIMG_MANIFEST_SIZE + (size_t)c * ALFA_FWU_CHUNK;
    size_t n = o->image_len - off < ALFA_FWU_CHUNK ? o->image_len - off : ALFA_FWU_CHUNK;
    memset(out, 0xFF, ALFA_FWU_CHUNK); /* the last chunk is padded with the erased value */
    memcpy(out, o->image + off, n);
}

static uint32_t next_bit(const uint8_t *m, uint32_t from, uint32_t n)
{
    uint32_t i = from;
    while (i < n) {
        if ((i & 7u) == 0u && m[i >> 3] == 0u) {
            i += 8u;
            continue;
        }
        if (gw_ota_bit(m, i)) {
            return i;
        }
        i++;
    }
    return n;
}

/* Wire bits of a frame as the budget counts them: 67 bits of extended-frame overhead, 8 per
 * data byte, ~2 per byte of stuffing, 3 of intermission (150 for 8 bytes). */
static int64_t frame_bits(const alfa_can_frame_t *f) { return 70 + 10 * (int64_t)f->len; }

enum { K_CTRL, K_PARITY, K_REPAIR, K_DATA };

/* The next frame to go, or 0 when there is none now. It is committed only once it is sent. */
static int peek(gw_ota_t *o, alfa_can_frame_t *f, int *kind, uint32_t *chunk)
{
    if (o->parity_due) {
        *kind = K_PARITY;
        return alfa_fwu_parity_encode(ALFA_NODE_LINUX_GATEWAY, o->parity_group, o->parity, f) == 0;
    }
    if (o->cq_count > 0u) {
        *f = o->ctrlq[o->cq_head];
        *kind = K_CTRL;
        return 1;
    }
    if (!o->xfer || o->sub != GW_TX_SEND) {
        return 0;
    }
    uint8_t d[8];
    if (o->urgent_count > 0u) {
        uint32_t c = next_bit(o->urgent, o->urgent_cursor, o->n_chunks);
        if (c >= o->n_chunks) {
            c = next_bit(o->urgent, 0, o->n_chunks);
        }
        if (c < o->n_chunks) {
            chunk_bytes(o, c, d);
            *kind = K_REPAIR;
            *chunk = c;
            return alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, d, f) == 0;
        }
        o->urgent_count = 0; /* the count drifted: the map is the truth */
    }
    uint32_t c = next_bit(o->need, o->cursor, o->n_chunks);
    o->cursor = c;
    if (c >= o->n_chunks) {
        return 0;
    }
    chunk_bytes(o, c, d);
    *kind = K_DATA;
    *chunk = c;
    return alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, d, f) == 0;
}

static void commit(gw_ota_t *o, const alfa_can_frame_t *f, int kind, uint32_t c)
{
    o->stats.frames_sent++;
    o->stats.bytes_sent += f->len;
    switch (kind) {
    case K_PARITY:
        o->parity_due = 0;
        o->stats.parity_frames++;
        return;
    case K_CTRL:
        o->cq_head = (o->cq_head + 1u) % GW_OTA_CTRLQ;
        o->cq_count--;
        if (ALFA_PROTO_ID_CLASS(f->id) == ALFA_CLS_FWU_MANIFEST) {
            o->stats.manifest_frames++;
        } else {
            o->stats.ctrl_frames++;
        }
        return;
    case K_REPAIR:
        gw_ota_bit_clr(o->urgent, c);
        o->urgent_count--;
        o->urgent_cursor = c + 1u;
        o->stats.repair_frames++;
        return;
    default:
        break;
    }
    /* A chunk of the round, in order. */
    gw_ota_bit_clr(o->need, c);
    o->cursor = c + 1u;
    o->stats.data_frames++;
    if (o->stats.rounds > 1u || !o->round_full) {
        o->stats.repair_frames++;
    }
    if (!o->round_full) {
        return;
    }
    if (c % ALFA_FWU_GROUP == 0u) {
        memset(o->parity, 0, sizeof(o->parity));
    }
    for (uint32_t j = 0; j < 8u; j++) {
        o->parity[j] ^= f->data[j];
    }
    if (c % ALFA_FWU_GROUP == ALFA_FWU_GROUP - 1u || c + 1u == o->n_chunks) {
        o->parity_due = 1;
        o->parity_group = c / ALFA_FWU_GROUP;
    }
    if (c % ALFA_FWU_BLOCK_CHUNKS == ALFA_FWU_BLOCK_CHUNKS - 1u || c + 1u == o->n_chunks) {
        /* Block end: the packs report what they miss of it while the next block streams. */
        uint16_t b = (uint16_t)(c / ALFA_FWU_BLOCK_CHUNKS);
        gw_ota_send_ctrl(o, ALFA_NODE_BROADCAST, ALFA_FWU_OP_POLL, b, b, 0);
    }
}

void gw_ota_tx_pump(gw_ota_t *o)
{
    if (!o->tokens_init) {
        o->tokens_init = 1;
        o->tokens_ms = o->now_ms;
        o->tokens = (int64_t)o->cfg.burst_frames * GW_OTA_BITS_DATA; /* a first burst at once */
    }
    uint32_t dt = o->now_ms - o->tokens_ms;
    o->tokens_ms = o->now_ms;
    int64_t rate = 500 * (int64_t)o->cfg.bus_load_pct / 100; /* bits per ms: 500 at 100 % */
    /* At most burst_frames wait in the transmit path; a caller that comes only every few ms (the
     * simulator's 10-ms step) may queue what the bus carries until its next call, never more than
     * 20 ms of it. */
    int64_t cap = (int64_t)o->cfg.burst_frames * GW_OTA_BITS_DATA;
    int64_t interval = (int64_t)(dt < 20u ? dt : 20u) * rate;
    if (interval > cap) {
        cap = interval;
    }
    uint32_t backlog_max = (uint32_t)(cap / GW_OTA_BITS_DATA);
    o->tokens += (int64_t)dt * rate;
    if (o->tokens > cap) {
        o->tokens = cap;
    }
    for (;;) {
        if (o->io.tx_backlog != NULL && o->io.tx_backlog(o->io.user) >= backlog_max) {
            return; /* never a deep queue of update frames in front of a command */
        }
        alfa_can_frame_t f;
        int kind = K_DATA;
        uint32_t c = 0;
        if (!peek(o, &f, &kind, &c)) {
            return;
        }
        int64_t bits = frame_bits(&f);
        if (o->tokens < bits) {
            return;
        }
        int32_t rc = o->io.can_send(o->io.user, &f);
        if (rc == ALFA_PORT_E_FULL) {
            o->stats.tx_full++;
            return;
        }
        o->tokens -= bits;
        if (rc < 0) {
            o->stats.tx_full++; /* a refused frame counts as lost: the packs will ask for it */
        }
        commit(o, &f, kind, c);
    }
}

int gw_ota_tx_idle(const gw_ota_t *o) { return o->cq_count == 0u && !o->parity_due; }

static void start_poll(gw_ota_t *o)
{
    o->sub = GW_TX_POLL;
    o->poll_ms = o->now_ms;
    for (size_t i = 0; i < o->nt; i++) {
        o->t[i].answered = 0;
    }
    gw_ota_send_ctrl(o, ALFA_NODE_BROADCAST, ALFA_FWU_OP_POLL, 0, (uint16_t)(o->n_blocks - 1u), 1);
}

/* The round logic of the transfer phase. */
void gw_ota_tx_step(gw_ota_t *o)
{
    if (o->sub == GW_TX_SEND) {
        if (o->cursor >= o->n_chunks && o->urgent_count == 0u && gw_ota_tx_idle(o)) {
            start_poll(o);
        }
        return;
    }
    /* A poll is out: wait for every receiving pack's STATUS (or the reply timeout). */
    int waiting = 0, incomplete = 0;
    for (size_t i = 0; i < o->nt; i++) {
        gw_ota_target_t *t = &o->t[i];
        if (t->st != GW_T_RECEIVING) {
            continue;
        }
        if (!t->answered) {
            waiting++;
        } else if (t->missing > 0u) {
            incomplete++;
        }
    }
    uint32_t since = o->now_ms - o->poll_ms;
    if (waiting > 0 && since < o->cfg.reply_timeout_ms) {
        return;
    }
    /* Give the NACKs that follow a STATUS a moment, even when everyone answered. */
    if (since < 20u) {
        return;
    }
    uint32_t need = 0;
    for (uint32_t c = next_bit(o->need, 0, o->n_chunks); c < o->n_chunks; c = next_bit(o->need, c + 1u, o->n_chunks)) {
        need++;
    }
    if (need > 0u) {
        gw_ota_tx_begin(o, need == o->n_chunks);
        return;
    }
    if (waiting > 0) {
        /* Silent to a poll: it may have lost the session (a restart we did not see): offer it
         * again; a pack still in the session just answers where it is. */
        for (size_t i = 0; i < o->nt; i++) {
            if (o->t[i].st == GW_T_RECEIVING && !o->t[i].answered) {
                gw_ota_set_target(o, &o->t[i], GW_T_WAITING, NULL);
            }
        }
    }
    if (waiting > 0 || incomplete > 0) {
        start_poll(o); /* reports without NACKs: ask again */
    }
}
