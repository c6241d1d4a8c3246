/* Firmware update, the POLL answers: which chunks are missing (done bits, the window, unit maps, halves, flash reads), as NACK frames and the STATUS count. */
#include "alfa/bytes.h"
#include "fwu_internal.h"

/*
 * A POLL names a range of blocks; the answer walks it chunk by chunk from the same sources the
 * receiving side keeps (fwu_rx.c): a done block is skipped whole, the window's block and the block
 * written last are read from their chunk bitmaps, other blocks from the blank notes, the halves
 * table and 16-byte reads of the flash (at most ALFA_FWU_READ_PER_CALL bytes per process call: the answer goes on at the
 * next call). A block read from its first chunk to its last with nothing missing is marked done.
 */

/* What the POLL answer learns per call: the last unit looked up, and the flash bytes read. */
typedef struct nack_scan {
    uint32_t unit1; /* unit + 1 of `on` (0 = none) */
    int on;
    uint32_t reads;
} nack_scan_t;

/* 1 when chunk i is missing, 0 when it is here, -1 after a port error. */
static int chunk_missing(alfa_fwu_t *u, nack_scan_t *sc, uint32_t i)
{
    if (fwu_block_mapped(u, i / ALFA_FWU_BLOCK_CHUNKS)) {
        return fwu_chunk_mapped_here(u, i) ? 0 : 1;
    }
    if (sc->unit1 != i / 2u + 1u) {
        sc->on = fwu_unit_on(u, i / 2u, &sc->reads);
        sc->unit1 = i / 2u + 1u;
    }
    if (sc->on != 0) {
        return sc->on > 0 ? 0 : -1;
    }
    return fwu_half_held(u, i) ? 0 : 1;
}

#define NACK_LATER 0xFFFFFFFFu

/* The next missing chunk at or after i (or `end`); NACK_LATER when this call's flash reads are
 * spent. A block found complete on the way (read from its first chunk, nothing missing, not the
 * window's) is marked done, so later answers skip it without reading. */
static uint32_t next_missing(alfa_fwu_t *u, nack_scan_t *sc, uint32_t i, uint32_t end)
{
    while (i < end) {
        uint32_t b = i / ALFA_FWU_BLOCK_CHUNKS;
        uint32_t bend = b * ALFA_FWU_BLOCK_CHUNKS + fwu_block_chunks(u, b);
        if (fwu_bit(u->done, b)) {
            i = bend;
            continue;
        }
        if (i == b * ALFA_FWU_BLOCK_CHUNKS) {
            u->nack_clean = 1;
        }
        for (; i < bend && i < end; i++) {
            if (sc->reads + ALFA_FWU_UNIT > ALFA_FWU_READ_PER_CALL) {
                u->nack_pos = i;
                return NACK_LATER;
            }
            int m = chunk_missing(u, sc, i);
            if (m != 0) {
                u->nack_clean = 0;
                return m > 0 ? i : end;
            }
        }
        if (i == bend && u->nack_clean && !(u->win.used && u->win.block == b)) {
            fwu_block_done(u, b);
        }
    }
    return end;
}

uint32_t fwu_missing_chunks(const alfa_fwu_t *u)
{
    uint32_t n = u->missing;
    if (u->state != ALFA_FWU_ST_RECEIVING || n == 0u) {
        return n;
    }
    uint32_t held = fwu_rx_held(u);
    return held < n ? n - held : 1u; /* something is still missing: never say 0 before it is on flash */
}

void fwu_nack_start(alfa_fwu_t *u, const alfa_fwu_ctrl_t *c)
{
    u->nack_active = 1;
    u->nack_status = c->want_status;
    u->nack_sent = 0;
    u->nack_clean = 0;
    u->nack_pos = (uint32_t)c->first_block * ALFA_FWU_BLOCK_CHUNKS;
    uint32_t end = ((uint32_t)c->last_block + 1u) * ALFA_FWU_BLOCK_CHUNKS;
    u->nack_end = end < fwu_n_chunks(u) ? end : fwu_n_chunks(u);
}

static int32_t send_reply(alfa_fwu_t *u, const alfa_fwu_reply_t *r)
{
    alfa_can_frame_t f;
    if (alfa_fwu_reply_encode(r, &f) < 0) {
        return ALFA_PORT_E_RANGE;
    }
    int32_t rc = u->port->can_send(u->port->user, &f);
    if (rc < 0) {
        u->stats.tx_fail++;
    } else {
        u->stats.nack_frames++;
    }
    return rc;
}

static void nack_finish(alfa_fwu_t *u)
{
    u->nack_active = 0;
    if (u->nack_status) {
        fwu_report(u);
    }
}

/* A few NACK frames per call: a run of 40 or more missing chunks as a range, otherwise the map
 * of the 40 chunks from the first missing one. At most ALFA_FWU_NACK_FRAMES per POLL: the sender
 * polls again after its repairs. Reads at most ALFA_FWU_READ_PER_CALL bytes of flash per call
 * (and the 20 units of one map beyond that). */
void fwu_nack_step(alfa_fwu_t *u)
{
    uint8_t me = alfa_node_id(u->node);
    nack_scan_t sc = {0, 0, 0};
    for (uint32_t k = 0; k < 4u && u->nack_active; k++) {
        if (u->state != ALFA_FWU_ST_RECEIVING || u->missing == 0u) {
            nack_finish(u); /* nothing is missing any more */
            return;
        }
        uint32_t i = next_missing(u, &sc, u->nack_pos, u->nack_end);
        if (!u->nack_active || i == NACK_LATER) {
            return; /* a port error ended it, or the flash reads of this call are spent */
        }
        if (i >= u->nack_end || u->nack_sent >= ALFA_FWU_NACK_FRAMES || me == 0u) {
            nack_finish(u);
            return;
        }
        alfa_fwu_reply_t r;
        alfa_memset(&r, 0, sizeof(r));
        r.src = me;
        r.dst = u->sender;
        r.first = i;
        uint32_t run = 1;
        while (i + run < u->nack_end && sc.reads + ALFA_FWU_UNIT <= ALFA_FWU_READ_PER_CALL &&
               chunk_missing(u, &sc, i + run) == 1) {
            run++;
        }
        uint32_t next;
        if (run >= ALFA_FWU_NACK_BITS) {
            r.op = ALFA_FWU_REP_NACK_RANGE;
            r.count = run;
            next = i + run;
        } else {
            r.op = ALFA_FWU_REP_NACK;
            for (uint32_t j = 0; j < ALFA_FWU_NACK_BITS && i + j < u->nack_end; j++) {
                if (chunk_missing(u, &sc, i + j) == 1) {
                    r.map[j >> 3] = (uint8_t)(r.map[j >> 3] | (1u << (j & 7u)));
                }
            }
            next = i + ALFA_FWU_NACK_BITS;
        }
        if (!u->nack_active) {
            return; /* a port error while reading */
        }
        if (send_reply(u, &r) == ALFA_PORT_E_FULL) {
            u->nack_pos = i;
            return; /* the same frame at the next call */
        }
        u->nack_sent++;
        u->nack_pos = next;
        u->nack_clean = 0;
    }
}
