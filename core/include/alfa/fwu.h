/* The pack's firmware-update module: receives a signed image over CAN into the update slot, verifies, activates, confirms. */
#ifndef ALFA_FWU_H
#define ALFA_FWU_H

/*
 * One `alfa_fwu_t` per pack, beside its core and node (the pack composition, pack.h, owns all
 * three). It speaks the update classes 0x40..0x4F (fwu_proto.h, docs/protocol.md §7) with the
 * update sender (the Linux gateway, node 126), writes through the port's slot callbacks
 * (port.h, "firmware slots") and changes the pack only through core.h (fw version, red LED):
 *
 *   alfa_fwu_t u;
 *   alfa_fwu_config_t fc = { .device_type = ALFA_DEV_PACK, .hw_class = 1 };
 *   alfa_fwu_init(&u, &port, &core, &node, &fc);      // reads both slots' trailers, never writes
 *   for (;;) {
 *       ... for every received frame of class 0x40..0x4F: alfa_fwu_on_frame(&u, &f, now);
 *       alfa_fwu_selftest(&u, checks_passed);          // only matters while a new image is on trial
 *       alfa_fwu_process(&u, now);                     // at most one erase or one window flush
 *       if (alfa_fwu_reboot_due(&u, now)) { flush settings; port.reboot(port.user); }
 *   }
 *
 * Life of an update on the pack (docs/ota.md has the whole story):
 *   BEGIN -> MANIFEST (16 parts) -> checks (format, session, device type, hardware class, size,
 *   security counter, version unless forced, signature through port->fw_verify) -> slot_begin,
 *   trailer erased, manifest recorded -> RECEIVING: data chunks are gathered per 4-KiB block in
 *   two RAM windows (a flash sector is buffered before it is written), parity frames repair one
 *   lost chunk per group of 16, POLLs are answered with the chunks still missing; sectors are
 *   erased just ahead of the data and recorded in the trailer -> every chunk in: VERIFYING
 *   (SHA-256 of the slot, a few KiB per call) -> READY -> ACTIVATE: slot_end, slot_set_boot,
 *   reboot -> the new image runs on TRIAL until the pack reports every self-test check passed
 *   (slot_confirm -> CONFIRMED) or ALFA_FWU_SELFTEST_MS passes (the reason is appended to its
 *   trailer and it restarts: the bootloader boots the previous image, which reports ROLLED_BACK).
 *
 * Resume: what is on flash is the progress. After a restart the update slot's trailer says which
 * image and which sectors were erased for it; a BEGIN of the same session reads the slot (a few
 * KiB per call) and asks only for what is missing. A gateway restart is just a new BEGIN.
 *
 * Memory: a 16-KiB presence bitmap (one bit per 16 payload bytes, images up to 2 MiB) and two
 * 4-KiB windows live in the context; no heap, no globals. Every port error is counted and turns
 * into a FAILED/FLASH report; nothing here blocks longer than one flash operation.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/core.h"
#include "alfa/err.h"
#include "alfa/fwimg.h"
#include "alfa/fwu_proto.h"
#include "alfa/node.h"
#include "alfa/port.h"

#define ALFA_FWU_UNIT 16u                                  /* payload bytes per presence bit */
#define ALFA_FWU_UNITS_MAX (ALFA_FWIMG_PAYLOAD_MAX / ALFA_FWU_UNIT)
#define ALFA_FWU_WINDOWS 2u                                /* blocks gathered in RAM at once */
#define ALFA_FWU_PARTIALS 8u                               /* repaired units outside the windows */
#define ALFA_FWU_NACK_FRAMES 32u                           /* NACK frames per POLL answer at most */
#define ALFA_FWU_SELFTEST_MS 60000u                        /* a new image must pass its self-test within this */
#define ALFA_FWU_REBOOT_DELAY_MS 100u                      /* activation: reboot this long after the STATUS */
#define ALFA_FWU_WINDOW_IDLE_MS 1500u                      /* a window that got nothing this long is written */
#define ALFA_FWU_SESSION_IDLE_MS 600000u                   /* no frame of the sender for 10 min: session dropped */
#define ALFA_FWU_READ_PER_CALL 4096u                       /* bytes hashed or scanned per process call */
#define ALFA_FWU_HASH_RETRIES 2u                           /* hash mismatches before the transfer fails */
#define ALFA_FWU_SENDER ALFA_NODE_LINUX_GATEWAY            /* the only node a session is accepted from */

/* The trailer: the last sector of a slot (docs/ota.md). */
#define ALFA_FWU_TRAILER_MAGIC 0x31544641u                 /* "AFT1" */
#define ALFA_FWU_TRAILER_HEAD 144u                         /* manifest (128) + magic, session, crc, reserved */
#define ALFA_FWU_RECORD 16u
#define ALFA_FWU_REC_ERASED 1u                             /* a = payload sectors erased for this image */
#define ALFA_FWU_REC_OUTCOME 2u                            /* a = alfa_fwu_result_t, b = detail (failed checks) */

typedef struct alfa_fwu_config {
    uint8_t device_type;   /* ALFA_DEV_PACK when 0 */
    uint8_t hw_class;      /* this board's hardware class (images of another class are refused) */
} alfa_fwu_config_t;

typedef struct alfa_fwu_window {
    uint16_t block;        /* block index (4 KiB of payload) */
    uint8_t used;
    uint8_t complete;      /* every chunk of the block is here: write it */
    uint32_t last_ms;      /* last chunk received */
    uint8_t have[ALFA_FWU_BLOCK_CHUNKS / 8u];
    uint8_t data[ALFA_FWU_BLOCK_BYTES];
} alfa_fwu_window_t;

typedef struct alfa_fwu_partial {
    uint32_t unit;         /* unit index + 1 (0 = free) */
    uint8_t have;          /* bit k = chunk k of the unit */
    uint8_t data[ALFA_FWU_UNIT];
} alfa_fwu_partial_t;

typedef struct alfa_fwu_stats {
    uint32_t frames, frames_bad, chunks, chunks_dup, chunks_dropped, fec_recovered;
    uint32_t nack_frames, status_frames, tx_fail;
    uint32_t erases, writes, flash_errors, hash_failures, resumed_units;
} alfa_fwu_stats_t;

typedef struct alfa_fwu {
    const alfa_port_t *port;
    alfa_core_t *core;
    const alfa_node_t *node;
    alfa_fwu_config_t cfg;
    uint8_t has_slots;
    uint32_t now_ms;

    /* the running image (its trailer) */
    uint8_t run_has_hdr;
    alfa_fwimg_hdr_t run_hdr;
    uint32_t run_session;
    uint8_t run_records;       /* records used in the running slot's trailer */

    /* the update slot's trailer found at boot (an interrupted transfer, or a rolled-back image) */
    uint8_t upd_has_manifest;
    uint32_t upd_session;
    uint32_t upd_erased;       /* sectors recorded erased */
    uint8_t upd_records;       /* next free record */

    /* the session */
    uint8_t state, result;     /* alfa_fwu_state_t, alfa_fwu_result_t of the last report */
    uint16_t detail;           /* STATUS "missing" field for states that carry no count */
    uint32_t session;
    uint8_t sender, flags;
    uint32_t last_rx_ms;       /* last frame of the sender */
    uint16_t parts;            /* manifest parts received (bit k) */
    uint8_t manifest[ALFA_FWIMG_MANIFEST_SIZE];
    alfa_fwimg_hdr_t hdr;
    uint8_t job;               /* flash work of the session start (internal) */
    uint32_t n_chunks, n_units, missing_units;
    uint32_t need_sectors;     /* payload sectors the image spans */
    uint32_t erased;           /* payload sectors erased for this image (in RAM) */
    uint32_t recorded;         /* ... of which the trailer records */
    uint32_t batch;            /* sectors per ERASED record */
    uint32_t cursor;           /* resume scan / hash position, bytes */
    alfa_sha256_t sha;
    uint8_t hash_failures;

    /* the answer to a POLL, sent a few frames per call */
    uint8_t nack_active, nack_status, nack_sent;
    uint32_t nack_pos, nack_end;
    uint8_t status_due;        /* a STATUS is owed to the sender */

    /* trial of a new image */
    uint8_t checks;            /* ALFA_FWU_CHECK_* passed (reported by the pack) */
    uint32_t trial_start_ms;
    uint8_t reboot_pending;
    uint32_t reboot_at_ms;

    alfa_fwu_stats_t stats;
    alfa_fwu_window_t win[ALFA_FWU_WINDOWS];
    alfa_fwu_partial_t partial[ALFA_FWU_PARTIALS];
    uint8_t present[ALFA_FWU_UNITS_MAX / 8u]; /* bit u = payload unit u is on flash */
} alfa_fwu_t;

/* Start the module: read the running slot's trailer (its version becomes the core's reported
 * firmware version, alfa_core_set_fw_version), its boot state (PENDING: the new image's trial
 * starts) and the update slot's trailer (a rollback to report, or an interrupted transfer to
 * resume). Reads only. A port without slots (slot_geom NULL) or with an unusable geometry gives a
 * module that refuses every session (NO_SLOTS). ALFA_E_INVAL for NULL arguments. */
alfa_err_t alfa_fwu_init(alfa_fwu_t *u, const alfa_port_t *port, alfa_core_t *core, const alfa_node_t *node,
                         const alfa_fwu_config_t *cfg);

/* One received frame of class 0x40..0x4F (others are ignored). Malformed frames are counted and
 * change nothing. May write one window of data to flash (when the stream moves past it). */
void alfa_fwu_on_frame(alfa_fwu_t *u, const alfa_can_frame_t *f, uint32_t now_ms);

/* The pack's self-test results while a new image is on trial: ALFA_FWU_CHECK_* bits that hold now.
 * Once all of them have held, the image is confirmed. Ignored outside a trial. */
void alfa_fwu_selftest(alfa_fwu_t *u, uint8_t checks_passed);

/* Do what is due: one erase, a window write, a record, a slice of hashing or scanning, the POLL
 * answer, timers. Never blocks longer than one flash operation. */
void alfa_fwu_process(alfa_fwu_t *u, uint32_t now_ms);

/* True once the activation's (or a failed trial's) reboot is due: the owner writes what must be
 * kept and restarts the controller (port->reboot). */
bool alfa_fwu_reboot_due(const alfa_fwu_t *u, uint32_t now_ms);
/* A restart (into a new image, or back after a failed trial) is coming: settings must reach flash first. */
bool alfa_fwu_reboot_pending(const alfa_fwu_t *u);

/* The head of a slot's trailer (its first ALFA_FWU_TRAILER_HEAD bytes, docs/ota.md): 0 and the
 * image header when it is a complete, intact record of a parseable manifest, -1 otherwise. Ports'
 * bootloaders (slot_sim.c, the Linux launcher) use it to find the image a slot claims to hold. */
int alfa_fwu_trailer_check(const uint8_t head[ALFA_FWU_TRAILER_HEAD], alfa_fwimg_hdr_t *hdr);
/* Write the head of a trailer for `manifest` into `head` (factory programming, tools). */
void alfa_fwu_trailer_make(const uint8_t manifest[ALFA_FWIMG_MANIFEST_SIZE], uint8_t head[ALFA_FWU_TRAILER_HEAD]);

/* Introspection (tests, simulator, daemon logs). */
alfa_fwu_state_t alfa_fwu_state(const alfa_fwu_t *u);
alfa_fwu_result_t alfa_fwu_result(const alfa_fwu_t *u);
/* Chunks still missing in the current transfer (0 when none is running). */
uint32_t alfa_fwu_missing_chunks(const alfa_fwu_t *u);
/* True while a new image runs unconfirmed. */
bool alfa_fwu_on_trial(const alfa_fwu_t *u);
const alfa_fwu_stats_t *alfa_fwu_stats(const alfa_fwu_t *u);

#endif
