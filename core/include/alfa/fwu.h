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
 *   one RAM window (a flash sector is buffered before it is written), parity frames repair one
 *   lost chunk per group of 16, repairs of blocks already written go to flash unit by unit, POLLs
 *   are answered with the chunks still missing; sectors are erased just ahead of the data and
 *   recorded in the trailer -> every chunk in: VERIFYING (SHA-256 of the slot, a few KiB per
 *   call) -> READY -> ACTIVATE: slot_end, slot_set_boot, reboot -> the new image runs on TRIAL
 *   until the pack reports every self-test check passed (slot_confirm -> CONFIRMED) or
 *   ALFA_FWU_SELFTEST_MS passes (the reason is appended to its trailer and it restarts: the
 *   bootloader boots the previous image, which reports ROLLED_BACK).
 *
 * Resume: what is on flash is the progress. After a restart the update slot's trailer says which
 * image and which sectors were erased for it; a BEGIN of the same session reads the slot (a few
 * KiB per call) and asks only for what is missing. A gateway restart is just a new BEGIN.
 *
 * Memory (docs/ota.md, "Receive state"): presence is not kept per unit in RAM. The flash is the
 * record (a unit in this image's erased sectors that does not read as the erased value is there),
 * helped by a bit per block complete on flash, the window, a chunk map of the block written last
 * (whose lone chunks wait in the window's free slots for the other half of their unit), notes of
 * received units equal to the erased value in blocks not complete yet (as runs) and a few chunks
 * of other blocks waiting for the other half of their unit. `sizeof(alfa_fwu_t)` stays within 4,608 bytes on a
 * 32-bit target (asserted below); no heap, no globals. Every port error is counted and turns into
 * a FAILED/FLASH report; nothing here blocks longer than one flash operation.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/core.h"
#include "alfa/err.h"
#include "alfa/fwimg.h"
#include "alfa/fwu_proto.h"
#include "alfa/node.h"
#include "alfa/port.h"

#define ALFA_FWU_UNIT 16u                                  /* payload bytes written at once (two chunks) */
#define ALFA_FWU_BLOCK_UNITS (ALFA_FWU_BLOCK_BYTES / ALFA_FWU_UNIT) /* 256 units per 4-KiB block */
#define ALFA_FWU_HALVES 2u                                 /* chunks of other blocks kept while the other half of their unit is missing */
#define ALFA_FWU_BLANKS 22u                                /* runs of units received equal to the erased value */
#define ALFA_FWU_NACK_FRAMES 32u                           /* NACK frames per POLL answer at most */
#define ALFA_FWU_SELFTEST_MS 60000u                        /* a new image must pass its self-test within this */
#define ALFA_FWU_REBOOT_DELAY_MS 100u                      /* activation: reboot this long after the STATUS */
#define ALFA_FWU_WINDOW_IDLE_MS 1500u                      /* a window that got nothing this long is written */
#define ALFA_FWU_SESSION_IDLE_MS 600000u                   /* no frame of the sender for 10 min: session dropped */
#define ALFA_FWU_READ_PER_CALL 4096u                       /* bytes hashed, scanned or read for a POLL answer per process call */
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

/* The block being gathered in RAM: written whole when complete, when the stream moves to a newer
 * block, or when idle. Slot i of `data` holds chunk i of the block when `have` says so; a slot
 * without it may hold chunk i of the block written last (its lone chunks, `last_here`). */
typedef struct alfa_fwu_window {
    uint16_t block;        /* block index (4 KiB of payload) */
    uint8_t used;
    uint8_t complete;      /* every chunk of the block is here: write it */
    uint32_t last_ms;      /* last chunk received */
    uint8_t have[ALFA_FWU_BLOCK_CHUNKS / 8u];  /* bit i = chunk i is here (received, or on flash) */
    uint8_t on[ALFA_FWU_BLOCK_UNITS / 8u];     /* bit k = unit k is on flash (or noted) */
    uint8_t data[ALFA_FWU_BLOCK_BYTES];        /* also the manifest's buffer while no block is received */
} alfa_fwu_window_t;

/* A chunk whose unit cannot be written yet: the other chunk of the unit is missing. */
typedef struct alfa_fwu_half {
    uint32_t chunk1;       /* chunk index + 1 (0 = free) */
    uint8_t data[ALFA_FWU_CHUNK];
} alfa_fwu_half_t;

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
    uint8_t job;               /* flash work of the session start (internal) */
    uint32_t now_ms;

    /* the running image (its trailer) */
    uint8_t run_has_hdr;
    uint8_t run_records;       /* records used in the running slot's trailer */
    uint8_t upd_has_manifest;  /* the update slot's trailer (an interrupted transfer, or a rolled-back image) */
    uint8_t upd_records;       /* next free record */
    uint32_t run_counter;      /* the running image's security counter */
    uint32_t upd_session;

    /* the session */
    uint8_t state, result;     /* alfa_fwu_state_t, alfa_fwu_result_t of the last report */
    uint16_t detail;           /* STATUS "missing" field for states that carry no count */
    uint32_t session;
    uint8_t sender, flags;
    uint16_t parts;            /* manifest parts received (bit k) */
    uint32_t last_rx_ms;       /* last frame of the sender */
    uint32_t image_size;       /* of the session's image (its signed header; the hash is re-read from the trailer) */
    uint32_t missing;          /* chunks not on flash yet */
    uint32_t erased;           /* payload sectors erased for this image (in RAM) */
    uint32_t recorded;         /* ... of which the trailer records */
    uint32_t cursor;           /* resume scan / hash position, bytes */
    uint16_t frontier;         /* blocks at or above it hold nothing of this transfer */
    uint8_t hash_failures;

    /* the answer to a POLL, sent a few frames per call */
    uint8_t nack_active, nack_status, nack_sent, nack_clean;
    uint32_t nack_pos, nack_end;
    uint8_t status_due;        /* a STATUS is owed to the sender */

    /* trial of a new image */
    uint8_t checks;            /* ALFA_FWU_CHECK_* passed (reported by the pack) */
    uint8_t reboot_pending;
    uint32_t trial_start_ms;
    uint32_t reboot_at_ms;

    alfa_fwu_stats_t stats;
    uint8_t done[ALFA_FWU_BLOCKS_MAX / 8u];   /* bit b = block b is complete on flash */
    union {
        struct {
            uint16_t last1;    /* the block written last + 1 (0 = none) */
            /* Its chunks that are here: both chunks of a unit = the unit is on flash (or noted);
             * one alone = that chunk waits in the window's slot of the same index. */
            uint8_t last_here[ALFA_FWU_BLOCK_CHUNKS / 8u];
            alfa_fwu_half_t half[ALFA_FWU_HALVES];
            /* Units received equal to the erased value in blocks not complete yet: never
             * programmed, so the flash cannot tell them from missing ones. A run of units of one
             * block: first unit << 9 | count (1..256); 0 = free. */
            uint32_t blank[ALFA_FWU_BLANKS];
        } rx;                  /* while RECEIVING */
        alfa_sha256_t sha;     /* while VERIFYING */
    } tab;
    alfa_fwu_window_t win;
} alfa_fwu_t;

/* The receive state is bounded for the ESP32 board (issue 12: the whole pack within 16 KiB): one
 * 4-KiB window and at most 512 bytes of everything else on a 32-bit target. */
_Static_assert(sizeof(void *) != 4u || sizeof(alfa_fwu_t) <= 4608u, "alfa_fwu_t within 4.5 KiB");
_Static_assert(sizeof(alfa_fwu_t) <= 4608u + 64u, "alfa_fwu_t within 4.5 KiB (64-bit host)");

/* Start the module: read the running slot's trailer (its version becomes the core's reported
 * firmware version, alfa_core_set_fw_version), its boot state (PENDING: the new image's trial
 * starts) and the update slot's trailer (a rollback to report, or an interrupted transfer to
 * resume). Reads only. A port without slots (slot_geom NULL) or with an unusable geometry gives a
 * module that refuses every session (NO_SLOTS). ALFA_E_INVAL for NULL arguments. */
alfa_err_t alfa_fwu_init(alfa_fwu_t *u, const alfa_port_t *port, alfa_core_t *core, const alfa_node_t *node,
                         const alfa_fwu_config_t *cfg);

/* One received frame of class 0x40..0x4F (others are ignored). Malformed frames are counted and
 * change nothing. May write the window to flash (when the stream moves past it) and read the next
 * block's bytes already there, or read and program one 16-byte unit (a repair of an older block). */
void alfa_fwu_on_frame(alfa_fwu_t *u, const alfa_can_frame_t *f, uint32_t now_ms);

/* The pack's self-test results while a new image is on trial: ALFA_FWU_CHECK_* bits that hold now.
 * Once all of them have held, the image is confirmed. Ignored outside a trial. */
void alfa_fwu_selftest(alfa_fwu_t *u, uint8_t checks_passed);

/* Do what is due: one erase, a window write, a record, a slice of hashing or scanning, the POLL
 * answer (at most ALFA_FWU_READ_PER_CALL bytes of flash read for it), timers. Never blocks longer
 * than one flash operation. */
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
