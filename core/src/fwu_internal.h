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
/* Read a slot's trailer head: 0 and the manifest + session when valid, -1 otherwise. */
int fwu_trailer_head(alfa_fwu_t *u, uint8_t which, uint8_t manifest[ALFA_FWIMG_MANIFEST_SIZE], uint32_t *session);
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

/* fwu_rx.c: chunks, the window, presence, erase-ahead, resume scan */
uint32_t fwu_block_chunks(const alfa_fwu_t *u, uint32_t b);
/* 1 when the unit is on flash for this image, 0 when it is missing, -1 after a port error
 * (reported). Reads 16 bytes of flash at most (added to `*reads` when given). */
int fwu_unit_on(alfa_fwu_t *u, uint32_t unit, uint32_t *reads);
/* The chunk waits in the halves table for the other chunk of its unit. */
bool fwu_half_held(const alfa_fwu_t *u, uint32_t chunk);
/* Block b is done, the window's, or the block written last: its chunks are known without reading
 * (fwu_chunk_mapped_here). */
bool fwu_block_mapped(const alfa_fwu_t *u, uint32_t b);
bool fwu_chunk_mapped_here(const alfa_fwu_t *u, uint32_t i);
/* Chunks here in RAM but not on flash (window, lone chunks, halves): STATUS subtracts them. */
uint32_t fwu_rx_held(const alfa_fwu_t *u);
/* Block b is complete on flash: its entry and any chunk held for it go. */
void fwu_block_done(alfa_fwu_t *u, uint32_t b);
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
