/* Functions the firmware-update module's files share (fwu.c, fwu_rx.c, fwu_slot.c); not a public interface. */
#ifndef ALFA_FWU_INTERNAL_H
#define ALFA_FWU_INTERNAL_H

#include "alfa/fwu.h"

/* Session-start flash work, one step per process call (fwu->job). */
#define FWU_JOB_NONE 0u
#define FWU_JOB_ERASE_TRAILER 1u
#define FWU_JOB_WRITE_HEAD 2u

static inline bool fwu_due(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }
static inline bool fwu_bit(const uint8_t *map, uint32_t i) { return ((map[i >> 3] >> (i & 7u)) & 1u) != 0u; }
static inline void fwu_bit_set(uint8_t *map, uint32_t i) { map[i >> 3] = (uint8_t)(map[i >> 3] | (1u << (i & 7u))); }
/* Chunks of the session's image. */
static inline uint32_t fwu_n_chunks(const alfa_fwu_t *u) { return (u->image_size + ALFA_FWU_CHUNK - 1u) / ALFA_FWU_CHUNK; }

/* Geometry of the session's image (fwu_rx.c, fwu_hold.c, fwu_nack.c). */
static inline uint32_t fwu_block_chunks(const alfa_fwu_t *u, uint32_t b)
{
    uint32_t first = b * ALFA_FWU_BLOCK_CHUNKS;
    uint32_t left = fwu_n_chunks(u) - first;
    return left < ALFA_FWU_BLOCK_CHUNKS ? left : ALFA_FWU_BLOCK_CHUNKS;
}
static inline uint32_t fwu_block_units(const alfa_fwu_t *u, uint32_t b) { return (fwu_block_chunks(u, b) + 1u) / 2u; }
/* Chunks of a unit: 2, or 1 for the image's last unit when the chunk count is odd. */
static inline uint32_t fwu_unit_chunks(const alfa_fwu_t *u, uint32_t unit) { return 2u * unit + 1u < fwu_n_chunks(u) ? 2u : 1u; }
/* The unit lies in a sector erased for this image. */
static inline bool fwu_unit_in_erased(const alfa_fwu_t *u, uint32_t unit)
{
    return (unit * ALFA_FWU_UNIT) / u->port->slot_geom->sector_size < u->erased;
}
static inline bool fwu_blank(const alfa_fwu_t *u, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] != u->port->slot_geom->erased_value) {
            return false;
        }
    }
    return true;
}
static inline bool fwu_win_is(const alfa_fwu_t *u, uint32_t b) { return u->win.used && u->win.block == b; }


/* The manifest's buffer: the window's bytes, free while the manifest is gathered (MANIFEST) and
 * until the session start has written it into the trailer (job), since no data is taken then. */
static inline uint8_t *fwu_manifest(alfa_fwu_t *u) { return u->win.data; }

/* fwu.c */
void fwu_set_state(alfa_fwu_t *u, uint8_t state, uint8_t result);
void fwu_report(alfa_fwu_t *u);                 /* a STATUS to the sender, now or at the next call */
void fwu_flash_failed(alfa_fwu_t *u, int32_t rc);
void fwu_complete(alfa_fwu_t *u);               /* every unit is on flash: start hashing */

/* fwu_slot.c: trailers, hashing, the trial of a new image */
uint32_t fwu_trailer_offset(const alfa_fwu_t *u);
uint32_t fwu_trailer_records(const alfa_fwu_t *u);
/* Read a slot's trailer head into `head` (the manifest is its first 128 bytes; callers pass the
 * free window, fwu_manifest): 0 and the session when it is valid, -1 otherwise. */
int fwu_trailer_head(alfa_fwu_t *u, uint8_t which, uint8_t head[ALFA_FWU_TRAILER_HEAD], uint32_t *session);
/* Walk a slot's trailer records: the highest ERASED count, the last OUTCOME, the next free record. */
void fwu_trailer_walk(alfa_fwu_t *u, uint8_t which, uint32_t *erased, uint32_t *outcome, uint32_t *detail,
                      uint8_t *next_free);
/* Append one record (one flash program). 0, or the port error. */
int32_t fwu_trailer_append(alfa_fwu_t *u, uint8_t which, uint8_t *next_free, uint8_t type, uint32_t a, uint32_t b);
/* Program the head (manifest + magic, session, CRC) of the update slot's erased trailer. */
int32_t fwu_trailer_write_head(alfa_fwu_t *u);
void fwu_boot(alfa_fwu_t *u);
void fwu_hash_step(alfa_fwu_t *u);
void fwu_trial_step(alfa_fwu_t *u);

/* fwu_hold.c: the block written last, blank notes, halves, presence */
bool fwu_last_is(const alfa_fwu_t *u, uint32_t b);            /* block b is the block written last */
bool fwu_last_unit_on(const alfa_fwu_t *u, uint32_t unit);    /* ... and that unit of it is on flash */
bool fwu_last_lone(const alfa_fwu_t *u, uint32_t i);          /* its chunk i waits in the window's slot i */
void fwu_last_forget(alfa_fwu_t *u);
bool fwu_blank_noted(const alfa_fwu_t *u, uint32_t unit);
/* Note a unit received equal to the erased value. False when no run has room (nothing noted). */
bool fwu_blank_note(alfa_fwu_t *u, uint32_t unit);
alfa_fwu_half_t *fwu_half_of(alfa_fwu_t *u, uint32_t chunk);
/* The chunk waits in the halves table for the other chunk of its unit. */
bool fwu_half_held(const alfa_fwu_t *u, uint32_t chunk);
/* Keep a chunk in the halves table; `moved` = it leaves a slot of the window (lower priority). */
void fwu_half_put(alfa_fwu_t *u, uint32_t chunk, const uint8_t *d, bool moved);
bool fwu_slot_free(const alfa_fwu_t *u, uint32_t i);         /* the window does not need slot i now */
void fwu_slot_claim(alfa_fwu_t *u, uint32_t i);              /* the window needs slot i: a lone chunk there moves */
void fwu_slots_claim_all(alfa_fwu_t *u);
/* Block b is complete on flash: the block written last (if it is), its notes and halves go. */
void fwu_block_done(alfa_fwu_t *u, uint32_t b);
/* 1 when the unit is on flash for this image, 0 when it is missing, -1 after a port error
 * (reported). Reads 16 bytes of flash at most (added to `*reads` when given). */
int fwu_unit_on(alfa_fwu_t *u, uint32_t unit, uint32_t *reads);
/* Block b is done, the window's, or the block written last: its chunks are known without reading
 * (fwu_chunk_mapped_here). */
bool fwu_block_mapped(const alfa_fwu_t *u, uint32_t b);
bool fwu_chunk_mapped_here(const alfa_fwu_t *u, uint32_t i);
/* Chunks here in RAM but not on flash (window, lone chunks, halves): STATUS subtracts them. */
uint32_t fwu_rx_held(const alfa_fwu_t *u);

/* fwu_rx.c: chunks, the window, repairs, erase-ahead, resume scan */
void fwu_rx_start(alfa_fwu_t *u);               /* a fresh transfer: nothing present, nothing erased */
void fwu_rx_data(alfa_fwu_t *u, uint32_t index, const uint8_t data[ALFA_FWU_CHUNK]);
void fwu_rx_parity(alfa_fwu_t *u, uint32_t group, const uint8_t x[ALFA_FWU_CHUNK]);
bool fwu_rx_step(alfa_fwu_t *u);                /* true when a flash operation was done */
void fwu_rx_drop_windows(alfa_fwu_t *u);
void fwu_scan_step(alfa_fwu_t *u);

/* fwu_nack.c: POLL answers */
void fwu_nack_start(alfa_fwu_t *u, const alfa_fwu_ctrl_t *c);
void fwu_nack_step(alfa_fwu_t *u);
uint32_t fwu_missing_chunks(const alfa_fwu_t *u);

#endif
