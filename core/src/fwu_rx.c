/* Firmware update, the receiving side: one 4-KiB window, writing it, repairs on flash, parity, erase-ahead, resume scan. */
#include "alfa/bytes.h"
#include "fwu_internal.h"

/*
 * Payload units of 16 bytes (two chunks) are the grain of writing: a unit is programmed once,
 * whole, when both its chunks are here (16 bytes is the ESP32's flash-encryption block; every
 * program size the port may declare divides it). A unit whose 16 bytes equal the erased value is
 * never programmed: the flash already holds it.
 *
 * Where a unit is ("on" = on flash for this image, fwu_unit_on in fwu_hold.c):
 *   - its block is complete on flash (`done`, a bit per block);
 *   - its block is the window's: the window's unit map says; the block written last: its chunk
 *     map says (both chunks of the unit here);
 *   - it is noted in a blank run (received equal to the erased value, never programmed: the flash
 *     cannot tell it from a missing unit; notes go when their block is complete);
 *   - otherwise the flash says: a unit in this image's erased sectors below the frontier that
 *     does not read as the erased value is on (the resume scan's rule).
 * A chunk is "here" when its unit is on, when the window has it, when it is a lone chunk of the
 * block written last (kept in the window's slot of the same index), or when it waits in the
 * halves table for the other chunk of its unit.
 *
 * The stream fills the window block by block; the window is written when it is complete, when
 * the stream moves on to a newer block, or when it has been idle for ALFA_FWU_WINDOW_IDLE_MS.
 * Written incomplete, the block becomes the block written last: its missing units stay erased,
 * and a unit with one chunk keeps that chunk where it is, in the window's slot, which the next
 * block needs only when its own chunk of that index arrives (long after the repairs of the block
 * before, which follow its POLL at once; a chunk still waiting then moves to the halves table).
 * A repair for a block other than the window's is written straight into its erased unit once
 * both chunks of the unit are here. A free window takes any block, so the repair rounds after the
 * stream gather each block there. Every table is bounded; when one is full the chunk concerned is
 * simply asked for again (a unit equal to the erased value that finds no room for its note waits
 * until the window takes its block whole: a complete block needs no notes).
 */

static const alfa_slot_geom_t *geom(const alfa_fwu_t *u) { return u->port->slot_geom; }

/* Payload sectors that must be erased before block b can be written (a count from sector 0). */
static uint32_t sectors_for_block(const alfa_fwu_t *u, uint32_t b)
{
    uint32_t end = (b + 1u) * ALFA_FWU_BLOCK_BYTES;
    if (end > u->image_size) {
        end = u->image_size;
    }
    uint32_t s = geom(u)->sector_size;
    return (end + s - 1u) / s;
}

/* A unit is on flash now (it was not): `missing` counts chunks. */
static void unit_arrived(alfa_fwu_t *u, uint32_t unit)
{
    u->missing -= fwu_unit_chunks(u, unit);
    uint32_t b = unit / ALFA_FWU_BLOCK_UNITS;
    if (b + 1u > u->frontier) {
        u->frontier = (uint16_t)(b + 1u);
    }
}

void fwu_rx_drop_windows(alfa_fwu_t *u)
{
    u->win.used = 0;
    alfa_memset(&u->tab, 0, sizeof(u->tab));
}

void fwu_rx_start(alfa_fwu_t *u)
{
    u->missing = fwu_n_chunks(u);
    u->erased = 0;
    u->recorded = 0;
    u->upd_records = 0;
    u->cursor = 0;
    u->frontier = 0;
    u->nack_active = 0;
    alfa_memset(u->done, 0, sizeof(u->done));
    fwu_rx_drop_windows(u);
}

/* ---------------------------------------------------------------- writing */

/* Program `n` units starting at unit `first` from `data`. False after a port error (reported). */
static bool write_units(alfa_fwu_t *u, uint32_t first, const uint8_t *data, uint32_t n)
{
    u->stats.writes++;
    int32_t rc = u->port->slot_write(u->port->user, ALFA_SLOT_UPDATE, first * ALFA_FWU_UNIT, data, n * ALFA_FWU_UNIT);
    if (rc < 0) {
        fwu_flash_failed(u, rc);
        return false;
    }
    return true;
}

/* A whole unit is here (outside the window): programmed, or noted when it equals the erased
 * value. False when it could not be (no room for the note, or a port error: reported). */
static bool unit_store(alfa_fwu_t *u, uint32_t unit, const uint8_t d[ALFA_FWU_UNIT])
{
    if (fwu_blank(u, d, ALFA_FWU_UNIT)) {
        if (!fwu_blank_note(u, unit)) {
            u->stats.chunks_dropped += fwu_unit_chunks(u, unit); /* asked for again */
            return false;
        }
    } else if (!write_units(u, unit, d, 1u)) {
        return false;
    }
    unit_arrived(u, unit);
    return true;
}

/* ---------------------------------------------------------------- the window */

static uint32_t have_in_unit(const alfa_fwu_t *u, uint32_t k)
{
    uint32_t c0 = 2u * k;
    uint32_t n = fwu_bit(u->win.have, c0) ? 1u : 0u;
    if (c0 + 1u < fwu_block_chunks(u, u->win.block) && fwu_bit(u->win.have, c0 + 1u)) {
        n++;
    }
    return n;
}

/* Write the window and free it: runs of complete units in one program each; units equal to the
 * erased value are only noted; a unit with one chunk keeps it in its slot. The block is then
 * done, or it becomes the block written last (the one before it is forgotten: its lone chunks
 * move to the halves table). False after a port error. */
static bool flush_window(alfa_fwu_t *u)
{
    alfa_fwu_window_t *w = &u->win;
    uint32_t b = w->block, units = fwu_block_units(u, b), base = b * ALFA_FWU_BLOCK_UNITS;
    bool whole = true;
    for (uint32_t k = 0; k < units && whole; k++) {
        whole = fwu_bit(w->on, k) || have_in_unit(u, k) == fwu_unit_chunks(u, base + k);
    }
    uint32_t run = 0, run_start = 0;
    for (uint32_t k = 0; k <= units; k++) {
        bool take = false;
        if (k < units && !fwu_bit(w->on, k) && have_in_unit(u, k) == fwu_unit_chunks(u, base + k)) {
            if (!fwu_blank(u, &w->data[k * ALFA_FWU_UNIT], ALFA_FWU_UNIT)) {
                take = true;
            } else if (whole || fwu_blank_note(u, base + k)) {
                fwu_bit_set(w->on, k); /* a complete block needs no note */
                unit_arrived(u, base + k);
            } else {
                u->stats.chunks_dropped += fwu_unit_chunks(u, base + k); /* asked for again */
                w->have[(2u * k) >> 3] = (uint8_t)(w->have[(2u * k) >> 3] & ~(3u << ((2u * k) & 7u)));
            }
        }
        if (take) {
            if (run == 0u) {
                run_start = k;
            }
            run++;
            continue;
        }
        if (run > 0u) {
            if (!write_units(u, base + run_start, &w->data[run_start * ALFA_FWU_UNIT], run)) {
                return false;
            }
            for (uint32_t j = run_start; j < run_start + run; j++) {
                fwu_bit_set(w->on, j);
                unit_arrived(u, base + j);
            }
        }
        run = 0;
    }
    w->used = 0;
    /* A unit noted nowhere went missing again: a POLL answer half-way through this block must
     * not take it for complete. */
    u->nack_clean = 0;
    if (whole) {
        fwu_block_done(u, b);
    } else {
        if (!fwu_last_is(u, b)) {
            fwu_slots_claim_all(u); /* lone chunks of the block before lie in slots this block left free */
        }
        u->tab.rx.last1 = (uint16_t)(b + 1u);
        alfa_memset(u->tab.rx.last_here, 0, sizeof(u->tab.rx.last_here));
        for (uint32_t k = 0; k < units; k++) {
            /* on: both chunks; one chunk here alone: it stays in its slot */
            uint32_t c = 2u * k;
            bool on = fwu_bit(w->on, k);
            if (on || fwu_bit(w->have, c)) {
                fwu_bit_set(u->tab.rx.last_here, c);
            }
            if (c + 1u < fwu_block_chunks(u, b) && (on || fwu_bit(w->have, c + 1u))) {
                fwu_bit_set(u->tab.rx.last_here, c + 1u);
            }
        }
    }
    if (u->missing == 0u) {
        fwu_complete(u);
    }
    return true;
}

static bool window_writable(const alfa_fwu_t *u) { return u->erased >= sectors_for_block(u, u->win.block); }

static bool window_full(const alfa_fwu_t *u)
{
    uint32_t chunks = fwu_block_chunks(u, u->win.block);
    for (uint32_t i = 0; i < chunks; i++) {
        if (!fwu_bit(u->win.have, i)) {
            return false;
        }
    }
    return true;
}

/* Read the bytes of units k0..k1-1 of the window's block from flash into their slots. */
static bool read_units(alfa_fwu_t *u, uint32_t k0, uint32_t k1)
{
    if (k1 <= k0) {
        return true;
    }
    uint32_t b = u->win.block;
    int32_t rc = u->port->slot_read(u->port->user, ALFA_SLOT_UPDATE, (b * ALFA_FWU_BLOCK_UNITS + k0) * ALFA_FWU_UNIT,
                                    &u->win.data[k0 * ALFA_FWU_UNIT], (k1 - k0) * ALFA_FWU_UNIT);
    if (rc < 0) {
        u->win.used = 0;
        fwu_flash_failed(u, rc);
        return false;
    }
    return true;
}

/* Open the window on block b (it is free). The block written last comes back with its lone
 * chunks where they are and the bytes of its units on flash read around them; another block's
 * units on flash are read whole (they say which units are there, with the blank notes) after the
 * lone chunks of the block written last left the window. Parity needs those bytes. False after a
 * port error. */
static bool window_open(alfa_fwu_t *u, uint32_t b)
{
    alfa_fwu_window_t *w = &u->win;
    uint32_t units = fwu_block_units(u, b), base = b * ALFA_FWU_BLOCK_UNITS, chunks = fwu_block_chunks(u, b);
    w->block = (uint16_t)b;
    w->used = 1;
    w->complete = 0;
    w->last_ms = u->now_ms;
    alfa_memset(w->have, 0, sizeof(w->have));
    alfa_memset(w->on, 0, sizeof(w->on));
    if (fwu_last_is(u, b)) {
        alfa_memcpy(w->have, u->tab.rx.last_here, sizeof(w->have));
        fwu_last_forget(u);
        uint32_t run = 0;
        for (uint32_t k = 0; k <= units; k++) {
            bool on = k < units && fwu_bit(w->have, 2u * k) && (2u * k + 1u >= chunks || fwu_bit(w->have, 2u * k + 1u));
            if (on) {
                fwu_bit_set(w->on, k);
                run++;
                continue;
            }
            if (!read_units(u, k - run, k)) {
                return false;
            }
            run = 0;
        }
    } else if (b < u->frontier) {
        uint32_t n = 0;
        while (n < units && fwu_unit_in_erased(u, base + n)) {
            n++; /* only sectors erased for this image hold its bytes */
        }
        fwu_slots_claim_all(u);
        if (!read_units(u, 0, n)) {
            return false;
        }
        for (uint32_t k = 0; k < n; k++) {
            if (!fwu_blank(u, &w->data[k * ALFA_FWU_UNIT], ALFA_FWU_UNIT) || fwu_blank_noted(u, base + k)) {
                fwu_bit_set(w->on, k);
                fwu_bit_set(w->have, 2u * k);
                if (2u * k + 1u < chunks) {
                    fwu_bit_set(w->have, 2u * k + 1u);
                }
            }
        }
    }
    if ((chunks & 1u) != 0u) {
        /* the last unit has one chunk: the other half of its 16 bytes is the erased value */
        fwu_slot_claim(u, chunks);
        alfa_memset(&w->data[chunks * ALFA_FWU_CHUNK], geom(u)->erased_value, ALFA_FWU_CHUNK);
    }
    for (uint32_t k = 0; k < ALFA_FWU_HALVES; k++) {
        alfa_fwu_half_t *h = &u->tab.rx.half[k];
        if (h->chunk1 != 0u && (h->chunk1 - 1u) / ALFA_FWU_BLOCK_CHUNKS == b) {
            uint32_t i = h->chunk1 - 1u - b * ALFA_FWU_BLOCK_CHUNKS;
            fwu_slot_claim(u, i);
            alfa_memcpy(&w->data[i * ALFA_FWU_CHUNK], h->data, ALFA_FWU_CHUNK);
            fwu_bit_set(w->have, i);
            h->chunk1 = 0;
        }
    }
    w->complete = window_full(u) ? 1u : 0u; /* a block complete on flash but not known done yet */
    return true;
}

/* Chunk i of the window's block is here now (its bytes in slot i). */
static void window_take(alfa_fwu_t *u, uint32_t i)
{
    fwu_bit_set(u->win.have, i);
    u->win.last_ms = u->now_ms;
    if (window_full(u)) {
        u->win.complete = 1;
    }
}

/* ---------------------------------------------------------------- receiving */

/* The 16 bytes of the unit of chunk `index`: `d` in its half, `other` (NULL: the erased value,
 * for the image's last unit when it has one chunk) in the other. */
static void unit_bytes(const alfa_fwu_t *u, uint32_t index, const uint8_t *d, const uint8_t *other, uint8_t buf[ALFA_FWU_UNIT])
{
    uint32_t half = index & 1u;
    alfa_memset(buf, geom(u)->erased_value, ALFA_FWU_UNIT);
    alfa_memcpy(&buf[half * ALFA_FWU_CHUNK], d, ALFA_FWU_CHUNK);
    if (other != 0) {
        alfa_memcpy(&buf[(half ^ 1u) * ALFA_FWU_CHUNK], other, ALFA_FWU_CHUNK);
    }
}

/* The block written last completes when every unit is on. */
static void last_check(alfa_fwu_t *u)
{
    uint32_t b = (uint32_t)u->tab.rx.last1 - 1u, units = fwu_block_units(u, b);
    for (uint32_t k = 0; k < units; k++) {
        if (!fwu_last_unit_on(u, b * ALFA_FWU_BLOCK_UNITS + k)) {
            return;
        }
    }
    fwu_block_done(u, b);
}

/* A repair for the block written last: its partner waits in the window's slot (or the halves
 * table); a chunk whose partner is missing waits in its own slot while the window does not need
 * it. */
static void rx_last(alfa_fwu_t *u, uint32_t index, const uint8_t *d)
{
    uint32_t b = index / ALFA_FWU_BLOCK_CHUNKS, i = index - b * ALFA_FWU_BLOCK_CHUNKS, unit = index / 2u;
    if (fwu_last_unit_on(u, unit) || fwu_bit(u->tab.rx.last_here, i) || fwu_half_of(u, index) != 0) {
        u->stats.chunks_dup++;
        return;
    }
    uint8_t buf[ALFA_FWU_UNIT];
    if (fwu_unit_chunks(u, unit) == 1u) {
        unit_bytes(u, index, d, 0, buf);
    } else if (fwu_last_lone(u, i ^ 1u)) {
        unit_bytes(u, index, d, &u->win.data[(i ^ 1u) * ALFA_FWU_CHUNK], buf);
    } else if (fwu_half_of(u, index ^ 1u) != 0) {
        alfa_fwu_half_t *h = fwu_half_of(u, index ^ 1u);
        unit_bytes(u, index, d, h->data, buf);
        h->chunk1 = 0;
    } else {
        if (fwu_slot_free(u, i)) {
            alfa_memcpy(&u->win.data[i * ALFA_FWU_CHUNK], d, ALFA_FWU_CHUNK);
            fwu_bit_set(u->tab.rx.last_here, i);
        } else {
            fwu_half_put(u, index, d, false);
        }
        return;
    }
    if (!unit_store(u, unit, buf)) {
        if (fwu_unit_chunks(u, unit) == 2u) {
            u->tab.rx.last_here[(i & ~1u) >> 3] = (uint8_t)(u->tab.rx.last_here[(i & ~1u) >> 3] & ~(3u << ((i & ~1u) & 7u)));
        }
        return;
    }
    fwu_bit_set(u->tab.rx.last_here, i);
    fwu_bit_set(u->tab.rx.last_here, i ^ 1u);
    last_check(u);
    if (u->missing == 0u) {
        fwu_complete(u);
    }
}

/* A repair for any other block behind the window: written straight into its erased unit once
 * both chunks of the unit are here (the first waits in the halves table). */
static void rx_direct(alfa_fwu_t *u, uint32_t index, const uint8_t *d)
{
    uint32_t unit = index / 2u;
    if (!fwu_unit_in_erased(u, unit)) {
        u->stats.chunks_dropped++; /* its sector is not erased for this image yet */
        return;
    }
    int on = fwu_unit_on(u, unit, 0);
    if (on != 0) {
        if (on > 0) {
            u->stats.chunks_dup++;
        }
        return;
    }
    uint8_t buf[ALFA_FWU_UNIT];
    alfa_fwu_half_t *h = fwu_unit_chunks(u, unit) == 2u ? fwu_half_of(u, index ^ 1u) : 0;
    if (fwu_unit_chunks(u, unit) == 2u && h == 0) {
        if (fwu_half_of(u, index) != 0) {
            u->stats.chunks_dup++;
        } else {
            fwu_half_put(u, index, d, false);
        }
        return;
    }
    unit_bytes(u, index, d, h != 0 ? h->data : 0, buf);
    if (h != 0) {
        h->chunk1 = 0;
    }
    if (unit_store(u, unit, buf) && u->missing == 0u) {
        fwu_complete(u);
    }
}

void fwu_rx_data(alfa_fwu_t *u, uint32_t index, const uint8_t d[ALFA_FWU_CHUNK])
{
    if (index >= fwu_n_chunks(u)) {
        u->stats.frames_bad++;
        return;
    }
    u->stats.chunks++;
    uint32_t b = index / ALFA_FWU_BLOCK_CHUNKS;
    if (fwu_bit(u->done, b)) {
        u->stats.chunks_dup++;
        return;
    }
    alfa_fwu_window_t *w = &u->win;
    if (!fwu_win_is(u, b)) {
        if (fwu_last_is(u, b) && w->used) {
            rx_last(u, index, d); /* a repair of the block written last */
            return;
        }
        if (w->used && b < w->block) {
            rx_direct(u, index, d);
            return;
        }
        /* The stream moved on (or the window is free): write the window, take the new block. */
        if (w->used && (!window_writable(u) || !flush_window(u))) {
            u->stats.chunks_dropped++;
            return;
        }
        if (u->state != ALFA_FWU_ST_RECEIVING) {
            return; /* that write completed the image (or failed) */
        }
        if (!window_open(u, b)) {
            u->stats.chunks_dropped++;
            return;
        }
    }
    uint32_t i = index - b * ALFA_FWU_BLOCK_CHUNKS;
    if (fwu_bit(w->have, i)) {
        u->stats.chunks_dup++;
        return;
    }
    fwu_slot_claim(u, i);
    alfa_memcpy(&w->data[i * ALFA_FWU_CHUNK], d, ALFA_FWU_CHUNK);
    window_take(u, i);
}

/* Parity of group g: with exactly one chunk of the group missing from the window, that chunk is
 * the XOR of the parity and the others. */
void fwu_rx_parity(alfa_fwu_t *u, uint32_t group, const uint8_t x[ALFA_FWU_CHUNK])
{
    uint32_t first = group * ALFA_FWU_GROUP;
    if (first >= fwu_n_chunks(u)) {
        u->stats.frames_bad++;
        return;
    }
    alfa_fwu_window_t *w = &u->win;
    if (!fwu_win_is(u, first / ALFA_FWU_BLOCK_CHUNKS)) {
        return;
    }
    uint32_t i0 = first - (uint32_t)w->block * ALFA_FWU_BLOCK_CHUNKS;
    uint32_t n = fwu_n_chunks(u) - first < ALFA_FWU_GROUP ? fwu_n_chunks(u) - first : ALFA_FWU_GROUP;
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
    fwu_slot_claim(u, which);
    alfa_memcpy(&w->data[which * ALFA_FWU_CHUNK], acc, ALFA_FWU_CHUNK);
    u->stats.fec_recovered++;
    window_take(u, which);
}

/* ---------------------------------------------------------------- flash work */

/* One flash operation that is due: erase ahead of the data, record the erase progress, or write
 * the window when it is complete or idle. */
bool fwu_rx_step(alfa_fwu_t *u)
{
    uint32_t blocks = (fwu_n_chunks(u) + ALFA_FWU_BLOCK_CHUNKS - 1u) / ALFA_FWU_BLOCK_CHUNKS;
    uint32_t ahead = u->win.used ? (uint32_t)u->win.block + 2u : 1u;
    uint32_t target = sectors_for_block(u, ahead < blocks ? ahead : blocks - 1u);
    uint32_t need = (u->image_size + geom(u)->sector_size - 1u) / geom(u)->sector_size;
    uint32_t room = fwu_trailer_records(u) > 4u ? fwu_trailer_records(u) - 4u : 1u; /* 4 kept for outcomes */
    uint32_t batch = (need + room - 1u) / room; /* sectors per ERASED record: any image fits the trailer */
    if (u->recorded < u->erased && (u->erased - u->recorded >= batch || u->erased == need)) {
        int32_t rc = fwu_trailer_append(u, ALFA_SLOT_UPDATE, &u->upd_records, ALFA_FWU_REC_ERASED, u->erased, 0);
        if (rc < 0 && rc != ALFA_PORT_E_RANGE) {
            fwu_flash_failed(u, rc);
        } else {
            u->recorded = u->erased; /* a full trailer only costs a resume some re-erasing */
        }
        return true;
    }
    if (u->erased < target && u->erased < need) {
        u->stats.erases++;
        int32_t rc = u->port->slot_erase(u->port->user, ALFA_SLOT_UPDATE, u->erased);
        if (rc < 0) {
            fwu_flash_failed(u, rc);
        } else {
            u->erased++;
        }
        return true;
    }
    alfa_fwu_window_t *w = &u->win;
    if (w->used && window_writable(u) && (w->complete || u->now_ms - w->last_ms >= ALFA_FWU_WINDOW_IDLE_MS)) {
        (void)flush_window(u); /* a failure is reported inside */
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------- resume */

/* Read a block of the update slot per call: units in sectors erased for this image that do not
 * read erased are on flash. When done, the transfer goes on from there. */
void fwu_scan_step(alfa_fwu_t *u)
{
    uint8_t *buf = u->win.data; /* the window is free while resuming */
    uint32_t s = geom(u)->sector_size;
    uint32_t n_units = (u->image_size + ALFA_FWU_UNIT - 1u) / ALFA_FWU_UNIT;
    uint32_t limit = u->erased * s < n_units * ALFA_FWU_UNIT ? u->erased * s : n_units * ALFA_FWU_UNIT;
    if (u->cursor < limit) {
        uint32_t n = limit - u->cursor < ALFA_FWU_BLOCK_BYTES ? limit - u->cursor : ALFA_FWU_BLOCK_BYTES;
        int32_t rc = u->port->slot_read(u->port->user, ALFA_SLOT_UPDATE, u->cursor, buf, n);
        if (rc < 0) {
            fwu_flash_failed(u, rc);
            return;
        }
        uint32_t b = u->cursor / ALFA_FWU_BLOCK_BYTES, found = 0;
        for (uint32_t k = 0; k < n / ALFA_FWU_UNIT; k++) {
            if (!fwu_blank(u, &buf[k * ALFA_FWU_UNIT], ALFA_FWU_UNIT)) {
                unit_arrived(u, u->cursor / ALFA_FWU_UNIT + k);
                u->stats.resumed_units++;
                found++;
            }
        }
        if (found == fwu_block_units(u, b)) {
            fwu_bit_set(u->done, b);
        }
        u->cursor += n;
        return;
    }
    u->cursor = 0;
    fwu_set_state(u, ALFA_FWU_ST_RECEIVING, ALFA_FWU_R_OK);
    if (u->missing == 0u) {
        fwu_complete(u);
    }
    fwu_report(u);
}
