/* Firmware update, what waits in RAM and where a unit is: the block written last and its lone chunks in the window's free slots, notes of units equal to the erased value, the halves table, presence queries. */
#include "alfa/bytes.h"
#include "fwu_internal.h"

/*
 * The receiving side (fwu_rx.c) writes the window; what it cannot write yet, or what the flash
 * cannot say, is kept here (docs/ota.md §3, "Receive state"):
 *   - the block written last: a chunk map (both chunks of a unit = the unit is on flash or
 *     noted; one alone = that chunk waits in the window's slot of the same index, which the
 *     window claims back when its own chunk of that index arrives);
 *   - blank notes: runs of units received equal to the erased value in blocks not complete yet;
 *   - the halves table: chunks of other blocks waiting for the other chunk of their unit.
 * The presence queries (fwu_unit_on, fwu_block_mapped, fwu_chunk_mapped_here) combine them with
 * `done`, the window and the flash.
 */

/* ---------------------------------------------------------------- the block written last */

bool fwu_last_is(const alfa_fwu_t *u, uint32_t b) { return u->tab.rx.last1 == b + 1u; }

/* Unit `unit` of the block written last is on flash: both its chunks are here. */
bool fwu_last_unit_on(const alfa_fwu_t *u, uint32_t unit)
{
    uint32_t c = (unit % ALFA_FWU_BLOCK_UNITS) * 2u;
    return fwu_bit(u->tab.rx.last_here, c) && (fwu_unit_chunks(u, unit) == 1u || fwu_bit(u->tab.rx.last_here, c + 1u));
}

/* Chunk i (index within the block) of the block written last waits alone in the window's slot i. */
bool fwu_last_lone(const alfa_fwu_t *u, uint32_t i)
{
    uint32_t b = (uint32_t)u->tab.rx.last1 - 1u;
    return u->tab.rx.last1 != 0u && fwu_bit(u->tab.rx.last_here, i) &&
           fwu_unit_chunks(u, b * ALFA_FWU_BLOCK_UNITS + i / 2u) == 2u && !fwu_bit(u->tab.rx.last_here, i ^ 1u);
}

void fwu_last_forget(alfa_fwu_t *u)
{
    u->tab.rx.last1 = 0;
    alfa_memset(u->tab.rx.last_here, 0, sizeof(u->tab.rx.last_here));
}

/* ---------------------------------------------------------------- blank notes, halves */

#define BLANK_FIRST(r) ((r) >> 9)
#define BLANK_COUNT(r) ((r) & 0x1FFu)

bool fwu_blank_noted(const alfa_fwu_t *u, uint32_t unit)
{
    for (uint32_t k = 0; k < ALFA_FWU_BLANKS; k++) {
        uint32_t r = u->tab.rx.blank[k];
        if (r != 0u && unit >= BLANK_FIRST(r) && unit < BLANK_FIRST(r) + BLANK_COUNT(r)) {
            return true;
        }
    }
    return false;
}

/* Note a unit received equal to the erased value: it extends a run of its block (joining two
 * runs it lies between), or takes a free run. False when there is no room (nothing noted). */
bool fwu_blank_note(alfa_fwu_t *u, uint32_t unit)
{
    uint32_t b = unit / ALFA_FWU_BLOCK_UNITS;
    uint32_t *room = 0, *before = 0, *after = 0;
    for (uint32_t k = 0; k < ALFA_FWU_BLANKS; k++) {
        uint32_t *r = &u->tab.rx.blank[k];
        if (*r == 0u) {
            room = room != 0 ? room : r;
        } else if (BLANK_FIRST(*r) / ALFA_FWU_BLOCK_UNITS == b && BLANK_FIRST(*r) + BLANK_COUNT(*r) == unit) {
            before = r;
        } else if (BLANK_FIRST(*r) / ALFA_FWU_BLOCK_UNITS == b && unit + 1u == BLANK_FIRST(*r)) {
            after = r;
        }
    }
    if (before != 0) {
        *before += 1u + (after != 0 ? BLANK_COUNT(*after) : 0u);
        if (after != 0) {
            *after = 0;
        }
        return true;
    }
    if (after != 0) {
        *after = unit << 9 | (BLANK_COUNT(*after) + 1u);
        return true;
    }
    if (room == 0) {
        return false;
    }
    *room = unit << 9 | 1u;
    return true;
}

alfa_fwu_half_t *fwu_half_of(alfa_fwu_t *u, uint32_t chunk)
{
    for (uint32_t k = 0; k < ALFA_FWU_HALVES; k++) {
        if (u->tab.rx.half[k].chunk1 == chunk + 1u) {
            return &u->tab.rx.half[k];
        }
    }
    return 0;
}

bool fwu_half_held(const alfa_fwu_t *u, uint32_t chunk)
{
    for (uint32_t k = 0; k < ALFA_FWU_HALVES; k++) {
        if (u->tab.rx.half[k].chunk1 == chunk + 1u) {
            return true;
        }
    }
    return false;
}

/* Keep a chunk until the other one of its unit arrives. A chunk that moves out of its slot in
 * the window (`moved`) only takes a free entry and leaves one free, which repairs arriving in
 * pairs need for the first chunk of each pair; an arriving chunk takes a free entry or replaces
 * the oldest. Whatever finds no place is asked for again. */
void fwu_half_put(alfa_fwu_t *u, uint32_t chunk, const uint8_t *d, bool moved)
{
    alfa_fwu_half_t *h = 0;
    uint32_t free_n = 0;
    for (uint32_t k = 0; k < ALFA_FWU_HALVES; k++) {
        if (u->tab.rx.half[k].chunk1 == 0u) {
            h = h != 0 ? h : &u->tab.rx.half[k];
            free_n++;
        }
    }
    if (moved && free_n < 2u) {
        u->stats.chunks_dropped++;
        return;
    }
    if (h == 0) {
        for (uint32_t k = 0; k + 1u < ALFA_FWU_HALVES; k++) {
            u->tab.rx.half[k] = u->tab.rx.half[k + 1u];
        }
        h = &u->tab.rx.half[ALFA_FWU_HALVES - 1u];
        u->stats.chunks_dropped++;
    }
    h->chunk1 = chunk + 1u;
    alfa_memcpy(h->data, d, ALFA_FWU_CHUNK);
}

/* The window does not need slot i now: no chunk of its block there, nor the erased half of its
 * last unit when that unit has one chunk. */
bool fwu_slot_free(const alfa_fwu_t *u, uint32_t i)
{
    if (!u->win.used) {
        return true;
    }
    uint32_t chunks = fwu_block_chunks(u, u->win.block);
    return !fwu_bit(u->win.have, i) && !((chunks & 1u) != 0u && i == chunks);
}

/* The window needs slot i: a lone chunk of the block written last waiting there moves to the
 * halves table (or is asked for again). */
void fwu_slot_claim(alfa_fwu_t *u, uint32_t i)
{
    if (fwu_last_lone(u, i)) {
        fwu_half_put(u, ((uint32_t)u->tab.rx.last1 - 1u) * ALFA_FWU_BLOCK_CHUNKS + i, &u->win.data[i * ALFA_FWU_CHUNK], true);
        u->tab.rx.last_here[i >> 3] = (uint8_t)(u->tab.rx.last_here[i >> 3] & ~(1u << (i & 7u)));
    }
}

/* Every lone chunk of the block written last leaves the window (the window's bytes are needed). */
void fwu_slots_claim_all(alfa_fwu_t *u)
{
    for (uint32_t i = 0; u->tab.rx.last1 != 0u && i < ALFA_FWU_BLOCK_CHUNKS; i++) {
        fwu_slot_claim(u, i);
    }
}

/* ---------------------------------------------------------------- presence */

void fwu_block_done(alfa_fwu_t *u, uint32_t b)
{
    fwu_bit_set(u->done, b);
    if (fwu_last_is(u, b)) {
        fwu_last_forget(u);
    }
    for (uint32_t k = 0; k < ALFA_FWU_BLANKS; k++) {
        if (u->tab.rx.blank[k] != 0u && BLANK_FIRST(u->tab.rx.blank[k]) / ALFA_FWU_BLOCK_UNITS == b) {
            u->tab.rx.blank[k] = 0;
        }
    }
    for (uint32_t k = 0; k < ALFA_FWU_HALVES; k++) {
        if (u->tab.rx.half[k].chunk1 != 0u && (u->tab.rx.half[k].chunk1 - 1u) / ALFA_FWU_BLOCK_CHUNKS == b) {
            u->tab.rx.half[k].chunk1 = 0;
        }
    }
}

int fwu_unit_on(alfa_fwu_t *u, uint32_t unit, uint32_t *reads)
{
    uint32_t b = unit / ALFA_FWU_BLOCK_UNITS;
    if (fwu_bit(u->done, b)) {
        return 1;
    }
    if (fwu_win_is(u, b)) {
        return fwu_bit(u->win.on, unit % ALFA_FWU_BLOCK_UNITS) ? 1 : 0;
    }
    if (fwu_last_is(u, b)) {
        return fwu_last_unit_on(u, unit) ? 1 : 0;
    }
    if (fwu_blank_noted(u, unit)) {
        return 1;
    }
    if (b >= u->frontier || !fwu_unit_in_erased(u, unit)) {
        return 0;
    }
    uint8_t d[ALFA_FWU_UNIT];
    int32_t rc = u->port->slot_read(u->port->user, ALFA_SLOT_UPDATE, unit * ALFA_FWU_UNIT, d, sizeof(d));
    if (reads != 0) {
        *reads += ALFA_FWU_UNIT;
    }
    if (rc < 0) {
        fwu_flash_failed(u, rc);
        return -1;
    }
    return fwu_blank(u, d, sizeof(d)) ? 0 : 1;
}

bool fwu_block_mapped(const alfa_fwu_t *u, uint32_t b) { return fwu_bit(u->done, b) || fwu_win_is(u, b) || fwu_last_is(u, b); }

bool fwu_chunk_mapped_here(const alfa_fwu_t *u, uint32_t i)
{
    uint32_t b = i / ALFA_FWU_BLOCK_CHUNKS;
    if (fwu_win_is(u, b)) {
        return fwu_bit(u->win.have, i - b * ALFA_FWU_BLOCK_CHUNKS);
    }
    if (fwu_last_is(u, b)) {
        return fwu_bit(u->tab.rx.last_here, i - b * ALFA_FWU_BLOCK_CHUNKS) || fwu_half_held(u, i); /* a lone chunk that moved */
    }
    return fwu_bit(u->done, b);
}

uint32_t fwu_rx_held(const alfa_fwu_t *u)
{
    uint32_t held = 0;
    const alfa_fwu_window_t *w = &u->win;
    if (w->used) {
        uint32_t chunks = fwu_block_chunks(u, w->block);
        for (uint32_t i = 0; i < chunks; i++) {
            held += fwu_bit(w->have, i) && !fwu_bit(w->on, i / 2u) ? 1u : 0u; /* in RAM, not yet on flash */
        }
    }
    if (u->tab.rx.last1 != 0u) {
        uint32_t chunks = fwu_block_chunks(u, (uint32_t)u->tab.rx.last1 - 1u);
        for (uint32_t i = 0; i < chunks; i++) {
            held += fwu_last_lone(u, i) ? 1u : 0u;
        }
    }
    for (uint32_t k = 0; k < ALFA_FWU_HALVES; k++) {
        held += u->tab.rx.half[k].chunk1 != 0u ? 1u : 0u;
    }
    return held;
}
