/* Firmware update, the receiving side: chunks into RAM windows, parity repair, presence bitmap, erase-ahead, POLL answers, resume scan. */
#include "alfa/bytes.h"
#include "fwu_internal.h"

/*
 * Payload units of 16 bytes (two chunks) are the grain of presence: a unit is written once, whole,
 * when both its chunks are here (16 bytes is the ESP32's flash-encryption block; every program
 * size the port may declare divides it). A unit whose 16 bytes equal the erased value is not
 * written at all (the flash already holds it) but counts as present. Blocks of 4 KiB are gathered
 * in two RAM windows: the stream fills one while the repairs of the previous one arrive; a window
 * is written when it is complete, when the stream needs it for a newer block, or when it has been
 * idle for ALFA_FWU_WINDOW_IDLE_MS.
 */

static const alfa_slot_geom_t *geom(const alfa_fwu_t *u) { return u->port->slot_geom; }

static uint32_t block_chunks(const alfa_fwu_t *u, uint32_t b)
{
    uint32_t first = b * ALFA_FWU_BLOCK_CHUNKS;
    uint32_t left = u->n_chunks - first;
    return left < ALFA_FWU_BLOCK_CHUNKS ? left : ALFA_FWU_BLOCK_CHUNKS;
}

/* Payload sectors that must be erased before block b can be written (a count from sector 0). */
static uint32_t sectors_for_block(const alfa_fwu_t *u, uint32_t b)
{
    uint32_t end = (b + 1u) * ALFA_FWU_BLOCK_BYTES;
    if (end > u->hdr.image_size) {
        end = u->hdr.image_size;
    }
    uint32_t s = geom(u)->sector_size;
    return (end + s - 1u) / s;
}

static void unit_present(alfa_fwu_t *u, uint32_t unit)
{
    if (!fwu_bit(u->present, unit)) {
        fwu_bit_set(u->present, unit);
        u->missing_units--;
    }
}

void fwu_rx_drop_windows(alfa_fwu_t *u)
{
    for (uint32_t k = 0; k < ALFA_FWU_WINDOWS; k++) {
        u->win[k].used = 0;
    }
    alfa_memset(u->partial, 0, sizeof(u->partial));
}

void fwu_rx_start(alfa_fwu_t *u)
{
    u->n_chunks = (u->hdr.image_size + ALFA_FWU_CHUNK - 1u) / ALFA_FWU_CHUNK;
    u->n_units = (u->hdr.image_size + ALFA_FWU_UNIT - 1u) / ALFA_FWU_UNIT;
    u->missing_units = u->n_units;
    u->need_sectors = (u->hdr.image_size + geom(u)->sector_size - 1u) / geom(u)->sector_size;
    uint32_t room = fwu_trailer_records(u) > 4u ? fwu_trailer_records(u) - 4u : 1u; /* 4 kept for outcomes */
    u->batch = (u->need_sectors + room - 1u) / room;
    u->erased = 0;
    u->recorded = 0;
    u->upd_records = 0;
    u->cursor = 0;
    u->nack_active = 0;
    alfa_memset(u->present, 0, (u->n_units + 7u) / 8u);
    fwu_rx_drop_windows(u);
}

/* ---------------------------------------------------------------- writing */

static bool unit_erased_value(const alfa_fwu_t *u, const uint8_t *p)
{
    for (uint32_t i = 0; i < ALFA_FWU_UNIT; i++) {
        if (p[i] != geom(u)->erased_value) {
            return false;
        }
    }
    return true;
}

/* Program `n` units starting at unit `first` from `data`. False after a port error (reported). */
static bool write_units(alfa_fwu_t *u, uint32_t first, const uint8_t *data, uint32_t n)
{
    if (n == 0u) {
        return true;
    }
    u->stats.writes++;
    int32_t rc = u->port->slot_write(u->port->user, ALFA_SLOT_UPDATE, first * ALFA_FWU_UNIT, data, n * ALFA_FWU_UNIT);
    if (rc < 0) {
        fwu_flash_failed(u, rc);
        return false;
    }
    for (uint32_t k = 0; k < n; k++) {
        unit_present(u, first + k);
    }
    return true;
}

static bool unit_complete_in(const alfa_fwu_t *u, const alfa_fwu_window_t *w, uint32_t unit_in_block)
{
    uint32_t c0 = unit_in_block * 2u;
    uint32_t chunks = block_chunks(u, w->block);
    return fwu_bit(w->have, c0) && (c0 + 1u >= chunks || fwu_bit(w->have, c0 + 1u));
}

/* Write the complete units of a window (runs of consecutive ones in one program each) and free
 * it. Incomplete units stay missing. False after a port error. */
static bool flush_window(alfa_fwu_t *u, alfa_fwu_window_t *w)
{
    uint32_t base = (uint32_t)w->block * (ALFA_FWU_BLOCK_BYTES / ALFA_FWU_UNIT);
    uint32_t units = (block_chunks(u, w->block) + 1u) / 2u;
    uint32_t run = 0, run_start = 0;
    for (uint32_t k = 0; k <= units; k++) {
        bool take = false;
        if (k < units && !fwu_bit(u->present, base + k) && unit_complete_in(u, w, k)) {
            if (unit_erased_value(u, &w->data[k * ALFA_FWU_UNIT])) {
                unit_present(u, base + k); /* the flash holds it already */
            } else {
                take = true;
            }
        }
        if (take) {
            if (run == 0u) {
                run_start = k;
            }
            run++;
            continue;
        }
        if (run > 0u && !write_units(u, base + run_start, &w->data[run_start * ALFA_FWU_UNIT], run)) {
            return false;
        }
        run = 0;
    }
    w->used = 0;
    if (u->missing_units == 0u) {
        fwu_complete(u);
    }
    return true;
}

static bool window_writable(const alfa_fwu_t *u, const alfa_fwu_window_t *w)
{
    return u->erased >= sectors_for_block(u, w->block);
}

/* Index of the window holding block b, or ALFA_FWU_WINDOWS when none does. */
static uint32_t window_index(const alfa_fwu_t *u, uint32_t b)
{
    for (uint32_t k = 0; k < ALFA_FWU_WINDOWS; k++) {
        if (u->win[k].used && u->win[k].block == b) {
            return k;
        }
    }
    return ALFA_FWU_WINDOWS;
}

static alfa_fwu_window_t *window_of(alfa_fwu_t *u, uint32_t b)
{
    uint32_t k = window_index(u, b);
    return k < ALFA_FWU_WINDOWS ? &u->win[k] : 0;
}

/* A window for block b, newer than every open one. The oldest is written to make room; NULL
 * when it cannot be written yet (its sectors are still being erased) or the read fails. */
static alfa_fwu_window_t *window_open(alfa_fwu_t *u, uint32_t b)
{
    alfa_fwu_window_t *w = 0;
    for (uint32_t k = 0; k < ALFA_FWU_WINDOWS; k++) {
        if (!u->win[k].used) {
            w = &u->win[k];
            break;
        }
        if (w == 0 || u->win[k].block < w->block) {
            w = &u->win[k];
        }
    }
    if (w->used && (!window_writable(u, w) || !flush_window(u, w))) {
        return 0;
    }
    w->block = (uint16_t)b;
    w->used = 1;
    w->complete = 0;
    w->last_ms = u->now_ms;
    alfa_memset(w->have, 0, sizeof(w->have));
    uint32_t chunks = block_chunks(u, b);
    uint32_t base = b * (ALFA_FWU_BLOCK_BYTES / ALFA_FWU_UNIT);
    alfa_memset(w->data, geom(u)->erased_value, sizeof(w->data));
    bool any = false;
    for (uint32_t k = 0; k < (chunks + 1u) / 2u; k++) {
        if (fwu_bit(u->present, base + k)) {
            fwu_bit_set(w->have, 2u * k);
            if (2u * k + 1u < chunks) {
                fwu_bit_set(w->have, 2u * k + 1u);
            }
            any = true;
        }
    }
    if (any) {
        /* Parity repair needs the bytes of the units already on flash. */
        int32_t rc = u->port->slot_read(u->port->user, ALFA_SLOT_UPDATE, b * ALFA_FWU_BLOCK_BYTES, w->data,
                                        ((chunks + 1u) / 2u) * ALFA_FWU_UNIT);
        if (rc < 0) {
            w->used = 0;
            fwu_flash_failed(u, rc);
            return 0;
        }
    }
    return w;
}

static bool window_full(const alfa_fwu_t *u, const alfa_fwu_window_t *w)
{
    uint32_t chunks = block_chunks(u, w->block);
    for (uint32_t i = 0; i < chunks; i++) {
        if (!fwu_bit(w->have, i)) {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- receiving */

/* A repair for a block no window holds: assemble its unit, write the unit when whole. */
static void rx_partial(alfa_fwu_t *u, uint32_t index, const uint8_t *d)
{
    uint32_t unit = index / 2u;
    uint32_t s = geom(u)->sector_size;
    if ((unit * ALFA_FWU_UNIT) / s >= u->erased) {
        u->stats.chunks_dropped++; /* its sector is not erased for this image yet */
        return;
    }
    alfa_fwu_partial_t *p = 0;
    for (uint32_t k = 0; k < ALFA_FWU_PARTIALS && p == 0; k++) {
        if (u->partial[k].unit == unit + 1u) {
            p = &u->partial[k];
        }
    }
    if (p == 0) {
        p = &u->partial[0]; /* the oldest goes: entries move down, the newest is last */
        for (uint32_t k = 0; k < ALFA_FWU_PARTIALS; k++) {
            if (u->partial[k].unit == 0u) {
                p = &u->partial[k];
                break;
            }
        }
        if (p->unit != 0u) {
            for (uint32_t k = 0; k + 1u < ALFA_FWU_PARTIALS; k++) {
                u->partial[k] = u->partial[k + 1u];
            }
            p = &u->partial[ALFA_FWU_PARTIALS - 1u];
        }
        p->unit = unit + 1u;
        p->have = 0;
        alfa_memset(p->data, geom(u)->erased_value, sizeof(p->data));
    }
    uint32_t half = index & 1u;
    alfa_memcpy(&p->data[half * ALFA_FWU_CHUNK], d, ALFA_FWU_CHUNK);
    p->have = (uint8_t)(p->have | (1u << half));
    bool whole = p->have == 3u || (p->have == 1u && 2u * unit + 1u >= u->n_chunks);
    if (!whole) {
        return;
    }
    p->unit = 0;
    if (unit_erased_value(u, p->data)) {
        unit_present(u, unit);
    } else if (!write_units(u, unit, p->data, 1u)) {
        return;
    }
    if (u->missing_units == 0u) {
        fwu_complete(u);
    }
}

void fwu_rx_data(alfa_fwu_t *u, uint32_t index, const uint8_t d[ALFA_FWU_CHUNK])
{
    if (index >= u->n_chunks) {
        u->stats.frames_bad++;
        return;
    }
    u->stats.chunks++;
    if (fwu_bit(u->present, index / 2u)) {
        u->stats.chunks_dup++;
        return;
    }
    uint32_t b = index / ALFA_FWU_BLOCK_CHUNKS;
    alfa_fwu_window_t *w = window_of(u, b);
    if (w == 0) {
        bool newer = true;
        for (uint32_t k = 0; k < ALFA_FWU_WINDOWS; k++) {
            if (u->win[k].used && u->win[k].block > b) {
                newer = false;
            }
        }
        if (!newer) {
            rx_partial(u, index, d);
            return;
        }
        w = window_open(u, b);
        if (w == 0) {
            u->stats.chunks_dropped++;
            return;
        }
    }
    uint32_t i = index - b * ALFA_FWU_BLOCK_CHUNKS;
    if (fwu_bit(w->have, i)) {
        u->stats.chunks_dup++;
        return;
    }
    alfa_memcpy(&w->data[i * ALFA_FWU_CHUNK], d, ALFA_FWU_CHUNK);
    fwu_bit_set(w->have, i);
    w->last_ms = u->now_ms;
    if (window_full(u, w)) {
        w->complete = 1;
    }
}

/* Parity of group g: with exactly one chunk of the group missing from its window, that chunk is
 * the XOR of the parity and the others. */
void fwu_rx_parity(alfa_fwu_t *u, uint32_t group, const uint8_t x[ALFA_FWU_CHUNK])
{
    uint32_t first = group * ALFA_FWU_GROUP;
    if (first >= u->n_chunks) {
        u->stats.frames_bad++;
        return;
    }
    alfa_fwu_window_t *w = window_of(u, first / ALFA_FWU_BLOCK_CHUNKS);
    if (w == 0) {
        return;
    }
    uint32_t i0 = first - (uint32_t)w->block * ALFA_FWU_BLOCK_CHUNKS;
    uint32_t n = u->n_chunks - first < ALFA_FWU_GROUP ? u->n_chunks - first : ALFA_FWU_GROUP;
    uint32_t missing = 0, which = 0;
    uint8_t acc[ALFA_FWU_CHUNK];
    alfa_memcpy(acc, x, ALFA_FWU_CHUNK);
    for (uint32_t k = 0; k < n; k++) {
        if (!fwu_bit(w->have, i0 + k)) {
            missing++;
            which = i0 + k;
            continue;
        }
        for (uint32_t j = 0; j < ALFA_FWU_CHUNK; j++) {
            acc[j] ^= w->data[(i0 + k) * ALFA_FWU_CHUNK + j];
        }
    }
    if (missing != 1u) {
        return;
    }
    alfa_memcpy(&w->data[which * ALFA_FWU_CHUNK], acc, ALFA_FWU_CHUNK);
    fwu_bit_set(w->have, which);
    u->stats.fec_recovered++;
    w->last_ms = u->now_ms;
    if (window_full(u, w)) {
        w->complete = 1;
    }
}

/* ---------------------------------------------------------------- flash work */

/* One flash operation that is due: erase ahead of the data, record the erase progress, or write
 * a window that is complete or idle. */
bool fwu_rx_step(alfa_fwu_t *u)
{
    uint32_t target = 0;
    for (uint32_t k = 0; k < ALFA_FWU_WINDOWS; k++) {
        if (u->win[k].used) {
            uint32_t ahead = (uint32_t)u->win[k].block + 2u;
            uint32_t blocks = (u->n_chunks + ALFA_FWU_BLOCK_CHUNKS - 1u) / ALFA_FWU_BLOCK_CHUNKS;
            uint32_t t = sectors_for_block(u, ahead < blocks ? ahead : blocks - 1u);
            target = t > target ? t : target;
        }
    }
    if (target == 0u) {
        target = sectors_for_block(u, 1u < (u->n_chunks + ALFA_FWU_BLOCK_CHUNKS - 1u) / ALFA_FWU_BLOCK_CHUNKS ? 1u : 0u);
    }
    if (u->recorded < u->erased && (u->erased - u->recorded >= u->batch || u->erased == u->need_sectors)) {
        int32_t rc = fwu_trailer_append(u, ALFA_SLOT_UPDATE, &u->upd_records, ALFA_FWU_REC_ERASED, u->erased, 0);
        if (rc < 0 && rc != ALFA_PORT_E_RANGE) {
            fwu_flash_failed(u, rc);
        } else {
            u->recorded = u->erased; /* a full trailer only costs a resume some re-erasing */
        }
        return true;
    }
    if (u->erased < target && u->erased < u->need_sectors) {
        u->stats.erases++;
        int32_t rc = u->port->slot_erase(u->port->user, ALFA_SLOT_UPDATE, u->erased);
        if (rc < 0) {
            fwu_flash_failed(u, rc);
        } else {
            u->erased++;
        }
        return true;
    }
    for (uint32_t k = 0; k < ALFA_FWU_WINDOWS; k++) {
        alfa_fwu_window_t *w = &u->win[k];
        if (w->used && window_writable(u, w) && (w->complete || u->now_ms - w->last_ms >= ALFA_FWU_WINDOW_IDLE_MS)) {
            (void)flush_window(u, w); /* a failure is reported inside */
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------- resume */

/* Read a slice of the update slot: units in sectors erased for this image that do not read
 * erased are present. When done, the transfer goes on from there. */
void fwu_scan_step(alfa_fwu_t *u)
{
    uint8_t *buf = u->win[0].data; /* windows are empty while resuming */
    uint32_t s = geom(u)->sector_size;
    uint32_t limit = u->erased * s < u->n_units * ALFA_FWU_UNIT ? u->erased * s : u->n_units * ALFA_FWU_UNIT;
    if (u->cursor < limit) {
        uint32_t n = limit - u->cursor < ALFA_FWU_READ_PER_CALL ? limit - u->cursor : ALFA_FWU_READ_PER_CALL;
        int32_t rc = u->port->slot_read(u->port->user, ALFA_SLOT_UPDATE, u->cursor, buf, n);
        if (rc < 0) {
            fwu_flash_failed(u, rc);
            return;
        }
        for (uint32_t k = 0; k < n / ALFA_FWU_UNIT; k++) {
            if (!unit_erased_value(u, &buf[k * ALFA_FWU_UNIT])) {
                unit_present(u, u->cursor / ALFA_FWU_UNIT + k);
                u->stats.resumed_units++;
            }
        }
        u->cursor += n;
        return;
    }
    u->cursor = 0;
    fwu_set_state(u, ALFA_FWU_ST_RECEIVING, ALFA_FWU_R_OK);
    if (u->missing_units == 0u) {
        fwu_complete(u);
    }
    fwu_report(u);
}

/* ---------------------------------------------------------------- POLL answers */

static bool chunk_missing(const alfa_fwu_t *u, uint32_t i)
{
    uint32_t b = i / ALFA_FWU_BLOCK_CHUNKS;
    uint32_t k = window_index(u, b);
    if (k < ALFA_FWU_WINDOWS) {
        return !fwu_bit(u->win[k].have, i - b * ALFA_FWU_BLOCK_CHUNKS);
    }
    return !fwu_bit(u->present, i / 2u);
}

/* The next missing chunk at or after i (or `end`), skipping whole present bytes of the bitmap. */
static uint32_t next_missing(const alfa_fwu_t *u, uint32_t i, uint32_t end)
{
    while (i < end) {
        if ((i & 15u) == 0u && u->present[i >> 4] == 0xFFu &&
            window_index(u, i / ALFA_FWU_BLOCK_CHUNKS) == ALFA_FWU_WINDOWS) {
            i += 16u;
            continue;
        }
        if (chunk_missing(u, i)) {
            return i;
        }
        i++;
    }
    return end;
}

uint32_t fwu_missing_chunks(const alfa_fwu_t *u)
{
    uint32_t n = u->missing_units * 2u;
    if ((u->n_chunks & 1u) != 0u && u->n_units > 0u && !fwu_bit(u->present, u->n_units - 1u)) {
        n--; /* the last unit has one chunk */
    }
    for (uint32_t k = 0; k < ALFA_FWU_WINDOWS; k++) {
        const alfa_fwu_window_t *w = &u->win[k];
        if (!w->used) {
            continue;
        }
        uint32_t base = (uint32_t)w->block * ALFA_FWU_BLOCK_CHUNKS;
        uint32_t chunks = block_chunks(u, w->block);
        for (uint32_t i = 0; i < chunks; i++) {
            if (fwu_bit(w->have, i) && !fwu_bit(u->present, (base + i) / 2u)) {
                n--; /* here in RAM, not yet on flash */
            }
        }
    }
    return n;
}

void fwu_nack_start(alfa_fwu_t *u, const alfa_fwu_ctrl_t *c)
{
    u->nack_active = 1;
    u->nack_status = c->want_status;
    u->nack_sent = 0;
    u->nack_pos = (uint32_t)c->first_block * ALFA_FWU_BLOCK_CHUNKS;
    uint32_t end = ((uint32_t)c->last_block + 1u) * ALFA_FWU_BLOCK_CHUNKS;
    u->nack_end = end < u->n_chunks ? end : u->n_chunks;
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

/* A few NACK frames per call: a run of 40 or more missing chunks as a range, otherwise the map
 * of the 40 chunks from the first missing one. At most ALFA_FWU_NACK_FRAMES per POLL: the sender
 * polls again after its repairs. */
void fwu_nack_step(alfa_fwu_t *u)
{
    uint8_t me = alfa_node_id(u->node);
    for (uint32_t k = 0; k < 4u && u->nack_active; k++) {
        uint32_t i = next_missing(u, u->nack_pos, u->nack_end);
        if (i >= u->nack_end || u->nack_sent >= ALFA_FWU_NACK_FRAMES || me == 0u) {
            u->nack_active = 0;
            if (u->nack_status) {
                fwu_report(u);
            }
            return;
        }
        alfa_fwu_reply_t r;
        alfa_memset(&r, 0, sizeof(r));
        r.src = me;
        r.dst = u->sender;
        r.first = i;
        uint32_t run = 1;
        while (i + run < u->nack_end && chunk_missing(u, i + run)) {
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
                if (chunk_missing(u, i + j)) {
                    r.map[j >> 3] = (uint8_t)(r.map[j >> 3] | (1u << (j & 7u)));
                }
            }
            next = i + ALFA_FWU_NACK_BITS;
        }
        if (send_reply(u, &r) == ALFA_PORT_E_FULL) {
            return; /* the same frame at the next call */
        }
        u->nack_sent++;
        u->nack_pos = next;
    }
}
