/* The settings store: keeps one opaque settings blob on the port's flash so it survives sudden power loss. */
#ifndef ALFA_STORE_H
#define ALFA_STORE_H

/*
 * What it does. The store persists the newest copy of one opaque byte blob (the settings model's
 * encoded form; the store never looks inside) on the flash region described by
 * `port->flash_geom`, using only `flash_read`, `flash_prog` and `flash_erase`. Layout, recovery
 * rules and wear figures are in docs/store.md.
 *
 * How it keeps the flash alive (SPEC.md §10: no periodic writes). Nothing is written unless the
 * caller hands in a blob that differs from the one on flash. A burst of changes is coalesced:
 * the write starts ALFA_STORE_QUIET_MS after the last change, or ALFA_STORE_MAX_DELAY_MS after
 * the first unsaved one if changes keep coming. Handing in the same bytes again costs nothing.
 *
 * How it survives power loss. Records are appended, never rewritten, to a log that runs round
 * robin over every erase block of the region (at least two). Each record carries a sequence
 * number and a CRC-32, and a separate commit marker programmed only after the record body has
 * been programmed and read back. At boot the valid record with the highest sequence number
 * wins; a torn, half-written or garbage record is skipped, never trusted. The block that holds
 * the newest committed record is never erased, so a cut at any moment leaves either the old or
 * the new blob.
 *
 * Memory and time. No heap, no globals: everything lives in `alfa_store_t`, which the caller
 * owns. `alfa_store_init` reads the whole region once (boot time, reads only). Afterwards
 * `alfa_store_process` performs at most ONE program or erase per call, so a slow erase never
 * stalls the control cycle for longer than the port's single operation.
 *
 * Geometry. Any region with block_size % prog_size == 0, prog_size 1..ALFA_STORE_PROG_MAX,
 * block_count >= 2 and erased value 0xFF or 0x00. A blob of `len` bytes needs
 * alfa_store_record_size(geom, len) <= block_size; a larger one is refused with ALFA_E_RANGE.
 */

#include <stdint.h>
#include "alfa/err.h"
#include "alfa/port.h"

/* Largest blob the store keeps; the settings blob is ALFA_SETTINGS_BLOB_SIZE (164 bytes today). */
#define ALFA_STORE_BLOB_MAX 256u
/* Largest program unit supported (bytes): the ESP32's encrypted flash uses 16, 256-bit flash words (STM32H7) 32. */
#define ALFA_STORE_PROG_MAX 32u
/* Quiet period after the last change before the write starts: an app sending five settings in
 * a second makes one write. Two seconds is short enough that a pack losing power right after a
 * change rarely loses it, and long enough to cover a burst of MQTT/CAN commands. */
#define ALFA_STORE_QUIET_MS 2000u
/* A never-ending stream of changes still gets written this long after the first unsaved one. */
#define ALFA_STORE_MAX_DELAY_MS 10000u

/* Record header bytes and commit marker bytes before padding to the program unit. */
#define ALFA_STORE_HEADER_SIZE 16u
#define ALFA_STORE_COMMIT_SIZE 8u
/* Largest body (header + blob padded to the program unit). */
#define ALFA_STORE_BODY_MAX \
    (((ALFA_STORE_HEADER_SIZE + ALFA_STORE_BLOB_MAX + ALFA_STORE_PROG_MAX - 1u) / ALFA_STORE_PROG_MAX) * \
     ALFA_STORE_PROG_MAX)
#define ALFA_STORE_SCRATCH 64u

/* What alfa_store_init found on flash (also kept in the context, see alfa_store_found). */
typedef enum alfa_store_found {
    ALFA_STORE_FOUND_RECORD = 0, /* a valid blob: use it */
    ALFA_STORE_FOUND_RESET = 1,  /* the newest record is a factory reset: use defaults, no fault */
    ALFA_STORE_FOUND_BLANK = 2,  /* region entirely erased (new pack): defaults + settings fault */
    ALFA_STORE_FOUND_CORRUPT = 3 /* data but no valid record (or unreadable): defaults + fault */
} alfa_store_found_t;

/* Internal state of the write sequence; callers only ever look at alfa_store_busy(). */
typedef enum alfa_store_step {
    ALFA_STORE_STEP_IDLE = 0,
    ALFA_STORE_STEP_ERASE = 1,
    ALFA_STORE_STEP_BODY = 2,
    ALFA_STORE_STEP_COMMIT = 3,
    ALFA_STORE_STEP_WIPE = 4,    /* renumbering: erase every block but the newest's */
    ALFA_STORE_STEP_WIPE_OLD = 5 /* renumbering: erase the old newest's block after the commit */
} alfa_store_step_t;

/* Counters a user or test may read (never written to flash). */
typedef struct alfa_store_stats {
    uint32_t records_written; /* records committed since init */
    uint32_t erases;          /* blocks erased since init */
    uint32_t bytes_programmed;
    uint32_t saves_ignored;   /* alfa_store_save calls that changed nothing */
    uint32_t write_failures;  /* program/verify/erase failures (each moves to a fresh block) */
    uint32_t records_skipped; /* invalid records met by the boot scan */
} alfa_store_stats_t;

/* The store's context. Plain data owned by the caller; fields are private. */
typedef struct alfa_store {
    const alfa_port_t *port;
    alfa_flash_geom_t geom;
    uint8_t found;            /* alfa_store_found_t */
    uint8_t step;             /* alfa_store_step_t */
    uint8_t have_newest;      /* a committed record (blob or reset) is on flash */
    uint8_t append_ok;        /* cur_block may take more records at cur_off */
    uint8_t dirty;            /* pending[] differs from flash and waits to be written */
    uint8_t pending_reset;    /* the pending write is a factory-reset record */
    uint8_t flush;            /* write now, skip the quiet period */
    uint32_t attempts;        /* fresh blocks tried for the current write */
    uint8_t stalled;          /* the last write failed everywhere: wait for the caller */
    uint8_t wrap;             /* the sequence number is exhausted: renumber (see store.c) */
    uint32_t wipe_block;      /* next block the renumbering erases */
    uint32_t erase_block;     /* block the ERASE step erases */
    /* the newest committed record */
    uint32_t newest_seq;
    uint32_t newest_block;
    uint32_t newest_off;
    uint32_t newest_crc;
    uint16_t newest_len;
    uint16_t newest_format;
    uint8_t newest_reset;
    /* where the next record goes */
    uint32_t cur_block;
    uint32_t cur_off;
    /* change waiting for its quiet period */
    uint32_t first_change_ms;
    uint32_t last_change_ms;
    uint16_t pending_len;
    uint16_t pending_format;
    uint8_t pending[ALFA_STORE_BLOB_MAX];
    /* the record being written */
    uint32_t write_seq;
    uint32_t write_crc;
    uint32_t write_body_size;
    uint16_t write_len;
    uint16_t write_format;
    uint8_t write_reset;
    uint8_t body[ALFA_STORE_BODY_MAX];
    uint8_t unit[ALFA_STORE_PROG_MAX];
    uint8_t scratch[ALFA_STORE_SCRATCH];
    alfa_store_stats_t stats;
} alfa_store_t;

/* Bytes one record of a `len`-byte blob takes on flash with geometry `geom` (body padded to the
 * program unit plus the commit marker padded to the program unit). */
uint32_t alfa_store_record_size(const alfa_flash_geom_t *geom, uint32_t len);

/*
 * Mount the store on `port`'s flash and load the newest blob (boot time; reads only, never
 * programs or erases). `st` is overwritten; `port` and its geometry must outlive `st`.
 * On ALFA_OK `*found` (if not NULL) says what was found:
 *  - ALFA_STORE_FOUND_RECORD: `blob` (capacity `cap`) holds `*len` bytes written with caller
 *    format `*format`; the caller decodes it (and treats a decode failure like CORRUPT);
 *  - ALFA_STORE_FOUND_RESET: the last thing stored was a factory reset: boot with defaults;
 *  - ALFA_STORE_FOUND_BLANK / _CORRUPT: boot with defaults and raise ALFA_FAULT_SETTINGS_CORRUPT.
 * In every one of these cases the store is usable: later saves write normally. Unreadable
 * blocks (flash_read errors) count as corrupt data, not as a failure of init.
 * Fails with ALFA_E_INVAL (NULL st/port/callback/geometry), ALFA_E_RANGE (geometry the store
 * cannot use: see the file comment) or ALFA_E_NOSPACE (`cap` smaller than the stored blob; the
 * store is mounted, `*len` gets the size needed). `blob`, `len` and `format` are required;
 * `found` may be NULL. Nothing is written to flash in any case.
 */
int alfa_store_init(alfa_store_t *st, const alfa_port_t *port, uint8_t *blob, uint32_t cap, uint32_t *len,
                    uint16_t *format, alfa_store_found_t *found);

/* What init found (alfa_store_found_t). */
alfa_store_found_t alfa_store_found(const alfa_store_t *st);

/*
 * Hand in the current settings blob (`len` <= ALFA_STORE_BLOB_MAX bytes, copied; the caller
 * keeps ownership of `blob`) with the caller's `format` number (kept for migration by a later
 * firmware), after a setting changed at `now_ms`. Returns ALFA_OK when the blob will be written
 * after the quiet period, or when nothing needs writing (same bytes as on flash or as already
 * pending: counted in stats.saves_ignored, no timer restarted). ALFA_E_INVAL for NULL or zero
 * length, ALFA_E_RANGE when the blob is too large for the store or for one erase block: in
 * both error cases nothing changes. A save during a write in progress is queued behind it.
 */
int alfa_store_save(alfa_store_t *st, uint16_t format, const uint8_t *blob, uint32_t len, uint32_t now_ms);

/*
 * Queue a factory reset: a small record that makes the next boot report ALFA_STORE_FOUND_RESET.
 * It replaces any pending blob and is written without waiting for the quiet period. Written as a
 * record like any other, so a power cut leaves either the old settings or the reset.
 * ALFA_E_INVAL for NULL.
 */
int alfa_store_factory_reset(alfa_store_t *st, uint32_t now_ms);

/* Skip the quiet period for the pending blob (e.g. before a commanded reboot). ALFA_E_INVAL for NULL. */
int alfa_store_flush(alfa_store_t *st);

/*
 * Advance the store at `now_ms`: when a write is due it performs at most one flash program or
 * erase per call (plus reads). Returns 0 when idle (nothing due), 1 when it did flash work and
 * more may follow (call again next cycle), or a negative error: ALFA_E_INVAL for NULL,
 * ALFA_E_IO when no block could take the record (every candidate failed; the blob stays
 * pending and is retried only on the next save, flush or factory reset, so broken flash is not
 * hammered with retries). Failures of a single program, erase or
 * read-back are handled here by moving to a fresh block; they count in stats.write_failures.
 */
int alfa_store_process(alfa_store_t *st, uint32_t now_ms);

/* True (1) while a blob is pending or being written, 0 when flash holds the last one handed in. */
int alfa_store_busy(const alfa_store_t *st);

/* The counters; never NULL for a valid `st`. */
const alfa_store_stats_t *alfa_store_stats(const alfa_store_t *st);

#endif
