/* One complete pack controller: the core, its settings store, its BMS poller, its CAN node and its firmware update, composed. */
#ifndef ALFA_PACK_H
#define ALFA_PACK_H

/*
 * This is what a board's main loop (ESP-IDF), the Linux daemon and the site simulator run:
 *
 *   alfa_pack_t pack;                              // owned by the caller; ~ a few KiB
 *   alfa_pack_config_t cfg = { .serial = mac48 };
 *   alfa_pack_init(&pack, &port, &cfg);
 *   for (;;) { alfa_pack_process(&pack); wait_a_few_ms_or_for_an_event(); }
 *
 * Boot (alfa_pack_init): the store is mounted and the newest valid settings record decoded; a
 * blank, unreadable or undecodable store boots with factory defaults and raises
 * ALFA_FAULT_SETTINGS_CORRUPT (cleared once a record has been written again), a factory-reset
 * record boots with defaults and no fault. A port without flash (flash_geom NULL) runs with
 * defaults, the fault raised, and nothing persisted. Then the core, the BMS poller and the CAN
 * node start; the relays go to their boot state at once.
 *
 * Each alfa_pack_process call, in this order (why: a BMS value or a command must act in the same
 * call, and a settings change must reach the store in the call that made it):
 *   1. the BMS poller advances; its result goes into the core through the one BMS seam
 *      (alfa_pack_bms_result): a good reading, or a failed poll — with the alarm bits of a
 *      well-formed answer, which always act — and the comm-lost and degraded verdicts;
 *   2. the received CAN frames are routed: firmware-update classes 0x40..0x4F to the update
 *      module (fwu.h); every other frame to the node (node IDs, liveness), then by class to the
 *      duty that owns it — telemetry, site totals/time/import recovery, commands;
 *   3. each CAN duty sends what is due; the core runs its cycle and indicators when due (and
 *      feeds the watchdog after a full cycle);
 *   4. the update module does its flash work (at most one erase or one 4-KiB write per call); while
 *      a new image is on trial it gets the self-test checks: settings readable, a BMS answer, the
 *      node settled on the bus (not bus-off), a full control cycle after a BMS reading;
 *   5. a settings change (the core's generation counter moved) is encoded and handed to the store,
 *      which coalesces bursts and writes after its quiet period, one flash operation per call;
 *      before a commanded reboot (or factory reset, or the restart into a new image) the pending
 *      record is written first, so an acknowledged change is never lost to the reboot.
 * Nothing a part returns is dropped: a refusal is counted in alfa_pack_stats and, where it can
 * be, acted on (docs/architecture.md).
 * Measurements and energy counters are never written to flash (SPEC.md §10).
 *
 * Firmware: the version the pack reports is the running image's (its slot's signed header, read
 * by alfa_fwu_init; the build's ALFA_FW_VERSION_* for an image without one).
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/err.h"
#include "alfa/port.h"
#include "alfa/core.h"
#include "alfa/store.h"
#include "alfa/bms.h"
#include "alfa/node.h"
#include "alfa/site.h"
#include "alfa/tlm.h"
#include "alfa/dispatch.h"
#include "alfa/fwu.h"

typedef struct alfa_pack_config {
    uint64_t serial;                /* 48-bit hardware serial (the ESP32's factory MAC) */
    uint8_t device_type;            /* ALFA_DEV_PACK (0 = pack) */
    const alfa_bms_config_t *bms;   /* NULL = SPEC.md §5.1 defaults (address 1, 2 s, default profile) */
    uint8_t bms_external;           /* 1: no poller; the owner hands results to alfa_pack_bms_result
                                     * (test benches whose BMS is not on a serial line) */
    uint8_t hw_class;               /* hardware class of the board (0 = ALFA_HW_CLASS_DEFAULT): images must match */
} alfa_pack_config_t;

/* What the boot found in the settings store. */
typedef enum alfa_pack_boot {
    ALFA_PACK_BOOT_RESTORED = 0,    /* the last committed settings were loaded */
    ALFA_PACK_BOOT_FACTORY = 1,     /* a factory reset was the last thing stored: defaults */
    ALFA_PACK_BOOT_DEFAULTS = 2,    /* nothing usable on flash: defaults, fault raised */
    ALFA_PACK_BOOT_NO_FLASH = 3,    /* the port has no flash: defaults, fault raised, nothing kept */
} alfa_pack_boot_t;

/* What the composition counted instead of dropping. */
typedef struct alfa_pack_stats {
    uint32_t core_refused;          /* the core refused a BMS input (resent without its values) */
    uint32_t store_errors;          /* negative results of the store */
    uint32_t encode_errors;         /* settings that could not be encoded (kept unsaved) */
    uint32_t flush_failed;          /* a reboot or shutdown found the pending record not written
                                     * in full (a store error, or the bound of flash operations) */
} alfa_pack_stats_t;

typedef struct alfa_pack {
    const alfa_port_t *port;
    alfa_core_t core;
    alfa_store_t store;
    alfa_bms_t bms;
    alfa_node_t node;
    alfa_site_t site;
    alfa_tlm_t tlm;
    alfa_dispatch_t dispatch;
    alfa_fwu_t fwu;                 /* firmware update (receiving, verifying, the new image's trial) */
    alfa_bms_result_t last_poll;    /* the last finished BMS poll (for logs and probes) */
    uint32_t polls;                 /* finished BMS polls since boot */
    uint32_t settings_gen_saved;    /* core settings generation last handed to the store */
    int32_t store_err;              /* last negative result of the store, 0 when none */
    alfa_pack_stats_t stats;
    uint8_t boot;                   /* alfa_pack_boot_t */
    uint8_t has_store;
    uint8_t bms_external;
    uint8_t corrupt_pending;        /* SETTINGS_CORRUPT stands until a record is written */
    uint8_t settings_unreadable;    /* the store holds a record this image cannot read (self-test) */
    uint8_t bms_answered;           /* a good BMS reading since boot (self-test) */
    uint32_t cycle_at_bms;          /* core cycle count at the first good reading */
    uint8_t fw_rebooted;            /* the update's restart was asked of the port */
} alfa_pack_t;

/* Start a pack on `port` (which, with its user object, must outlive `p`). Reads flash, never
 * writes it. ALFA_E_INVAL for NULL arguments or a port the core, the BMS poller or the node
 * refuses (missing now_ms, relays_set, serial or CAN callbacks); a bad serial (0 or above 48
 * bits) is ALFA_E_INVAL too. On error `p` is not usable. */
alfa_err_t alfa_pack_init(alfa_pack_t *p, const alfa_port_t *port, const alfa_pack_config_t *cfg);

/* Do everything that is due now. Never blocks; call it every few milliseconds. */
void alfa_pack_process(alfa_pack_t *p);

/* The one BMS seam: hand a poll result (or a comm-lost verdict) to the core. A reading the core
 * refuses is counted and its alarm bits still act. Called by alfa_pack_process for the built-in
 * poller; with bms_external, by the owner. */
void alfa_pack_bms_result(alfa_pack_t *p, const alfa_bms_result_t *r);
/* The same seam on a bare core (BMS test rigs): ALFA_OK, or ALFA_E_RANGE when the core refused
 * the values (their alarm bits acted anyway). */
alfa_err_t alfa_pack_bms_to_core(alfa_core_t *c, const alfa_bms_result_t *r);

/* What the boot found (alfa_pack_boot_t). */
alfa_pack_boot_t alfa_pack_boot_state(const alfa_pack_t *p);

/* Before the process or the board stops on its own (a daemon's SIGTERM): write the pending
 * settings record now, at most a few dozen flash operations. ALFA_OK when nothing acknowledged is
 * left unwritten (also for a pack without a store); otherwise the store's negative alfa_err_t, or
 * ALFA_E_BUSY when the bound was not enough. Failures are also counted in the stats. */
alfa_err_t alfa_pack_flush(alfa_pack_t *p);

/* What the composition counted instead of dropping (owned by the pack, valid while it lives). */
const alfa_pack_stats_t *alfa_pack_stats(const alfa_pack_t *p);
/* Finished BMS polls since boot, and the last one (owned by the pack; for logs and probes). */
uint32_t alfa_pack_polls(const alfa_pack_t *p);
const alfa_bms_result_t *alfa_pack_last_poll(const alfa_pack_t *p);

/* The parts, for the daemon, the simulator and tests (read only unless their API says so). */
static inline alfa_core_t *alfa_pack_core(alfa_pack_t *p) { return &p->core; }
static inline const alfa_core_t *alfa_pack_core_const(const alfa_pack_t *p) { return &p->core; }
static inline const alfa_node_t *alfa_pack_node(const alfa_pack_t *p) { return &p->node; }
static inline const alfa_site_t *alfa_pack_site(const alfa_pack_t *p) { return &p->site; }
static inline const alfa_tlm_t *alfa_pack_tlm(const alfa_pack_t *p) { return &p->tlm; }
static inline const alfa_dispatch_t *alfa_pack_dispatch(const alfa_pack_t *p) { return &p->dispatch; }
static inline const alfa_store_t *alfa_pack_store(const alfa_pack_t *p) { return &p->store; }
static inline const alfa_fwu_t *alfa_pack_fwu(const alfa_pack_t *p) { return &p->fwu; }

#endif
