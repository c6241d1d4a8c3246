/* The pack's place on the CAN bus: node-ID claim, heartbeat, live-node table and master election. */
#ifndef ALFA_NODE_H
#define ALFA_NODE_H

/*
 * One `alfa_node_t` per pack. The node is one of the pack's four CAN duties, each its own module
 * with its own small struct (docs/architecture.md, "CAN duties"):
 *
 *   node      (node.h)      node IDs, heartbeats, the live-node table, the election, bus-off
 *   site      (site.h)      site totals, the site day's import table, recovery, time
 *   telemetry (tlm.h)       this pack's telemetry out, other packs' telemetry in
 *   dispatch  (dispatch.h)  commands, acknowledgements, read-settings answers, reboot
 *
 * The pack composition (pack.c) owns the receive queue: every frame goes first to
 * alfa_node_on_frame (which keeps the table of who is alive and handles heartbeats and ID
 * notices), then to the duty of its class. The other duties ask the node who they are, who the
 * master is and what it knows of a sender, through the functions below, and send through
 * alfa_node_send. The node changes the pack only through core.h.
 *
 *   alfa_node_init(&node, &port, &core, &cfg);
 *   each call:  for every received frame f: alfa_node_on_frame(&node, &f, now);  ...
 *               alfa_node_process(&node, now);
 *
 * Life of a node (timings in docs/protocol.md §4):
 *   LISTEN   (1.1 s)  silent; learns which node IDs are live from their heartbeats.
 *   CLAIMING (3 s)    heartbeats with the CLAIMING flag under the chosen ID; yields on conflict.
 *   RUN               heartbeat 1 s, election; the other duties work.
 * Cut off and back: a node that heard nothing from any other node (the Linux gateway included)
 * for 3 s, and was not the master when it last heard one, claims its ID again when it hears one:
 * it was the one cut off, so its view is stale. A master that was alone — its only peer away —
 * stays master when the peer comes back (docs/protocol.md §4).
 *
 * No heap, no globals, no blocking. The node keeps a const pointer to the port and a pointer to
 * the core; both must outlive it. Call everything from the thread that runs the core.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/core.h"
#include "alfa/err.h"
#include "alfa/port.h"
#include "alfa/proto.h"

#define ALFA_NODE_HEARTBEAT_MS 1000u
#define ALFA_NODE_LISTEN_MS 1100u
#define ALFA_NODE_CLAIM_MS 3000u
#define ALFA_NODE_TTL_MS 120000u       /* live-node table entry kept 2 min after its last frame */
/* Election window: candidates must have been heard within this time. SPEC says "within 3 s";
 * 2.5 s (two missed 1-s heartbeats) keeps failover, bus and processing latency included, under
 * 3 s, while one lost heartbeat never changes the master. */
#define ALFA_NODE_ELECTION_MS 2500u
#define ALFA_NODE_ISOLATED_MS 3000u     /* nothing heard this long: we may be cut off */
#define ALFA_NODE_CONFLICT_WARN_MS 60000u
#define ALFA_NODE_HOUSEKEEPING_MS 250u  /* table expiry (and a safety-net re-election) this often; the
                                         * election runs at once when a heartbeat can change it or
                                         * the master's heartbeat ages out (checked every call) */

typedef enum alfa_node_phase {
    ALFA_NODE_PHASE_LISTEN = 0,
    ALFA_NODE_PHASE_CLAIMING = 1,
    ALFA_NODE_PHASE_RUN = 2,
} alfa_node_phase_t;

typedef struct alfa_node_config {
    uint64_t serial;       /* 48-bit hardware serial; must equal the core's */
    uint8_t device_type;   /* ALFA_DEV_PACK (default when 0) or ALFA_DEV_ENERGY_GATEWAY */
} alfa_node_config_t;

#define ALFA_NODE_HB_TICK_SHIFT 2u      /* heartbeat times in 4-ms ticks (16 bits: 262 s > TTL) */
#define ALFA_NODE_AGE_TICK_SHIFT 10u    /* last-frame times in 1.024-s ticks (8 bits: 262 s > TTL) */

/* alfa_node_entry_t.flags */
#define ALFA_NODE_E_USED 0x01u
#define ALFA_NODE_E_HEARD_HB 0x02u      /* a heartbeat was heard (hb_tick valid) */
#define ALFA_NODE_E_RESERVED 0x04u      /* learnt from an ID_IN_USE notice, never heard */
#define ALFA_NODE_E_CLAIMING 0x08u      /* its last heartbeat had ALFA_HB_CLAIMING */
#define ALFA_NODE_E_TYPE_SHIFT 4u       /* bits 4..5: device type of its last heartbeat */

/* What the node knows of another node, kept compact: the whole pack context must stay small on
 * the ESP32. Entries are held for ALFA_NODE_SLOTS IDs at once (a site's packs and its gateway;
 * site.h keeps 48 packs too), found through slot_of[]: a table indexed by all 127 IDs would be
 * mostly empty. When every slot is taken, a node not heard for the election window makes room
 * for a new one; a live one never does (the newcomer is counted in stats.table_full). */
#define ALFA_NODE_SLOTS 48u
typedef struct alfa_node_entry {
    uint8_t serial[6];         /* 48-bit serial, little-endian */
    uint8_t hb_tick[2];        /* last heartbeat, 4-ms ticks, little-endian */
    uint8_t last_tick;         /* last frame of any kind, 1.024-s ticks */
    uint8_t flags;             /* ALFA_NODE_E_* and the device type */
} alfa_node_entry_t;
_Static_assert(sizeof(alfa_node_entry_t) == 10u, "node table entry stays 10 bytes");

typedef struct alfa_node_stats {
    uint32_t rx_frames, rx_bad, rx_ignored, tx_frames, tx_fail;
    uint32_t id_moves, claims, bus_off_events;
    uint32_t joins_heard;      /* CLAIMING heartbeats of other nodes starting a claim */
    uint32_t table_full;       /* a node could not be kept: every slot held by a live node */
} alfa_node_stats_t;

typedef struct alfa_node {
    const alfa_port_t *port;
    alfa_core_t *core;
    uint64_t serial;
    uint8_t device_type;
    uint8_t node_id;             /* 0 until chosen at the end of LISTEN */
    alfa_node_phase_t phase;
    uint32_t phase_ms;           /* when the current phase began */
    uint32_t now_ms;
    uint32_t runs;               /* entries into RUN since boot (the other duties watch it) */
    uint8_t started;
    uint8_t house_due;           /* run the election at this call */
    uint32_t next_house_ms;
    uint32_t next_hb_ms;

    uint32_t last_heard_ms;      /* any valid frame from another node, the Linux gateway included */
    uint8_t heard_any;           /* such a frame was heard since boot */
    uint8_t heard_as_master;     /* this node was master when it last heard one */

    uint8_t is_master;
    uint8_t master_id;           /* elected master's node ID (0 = none) */
    uint64_t master_serial;

    uint8_t conflict_warn;
    uint32_t conflict_until_ms;

    uint8_t bus_off;
    uint32_t recover_ms;

    alfa_node_entry_t nodes[ALFA_NODE_SLOTS];       /* the entries, in no order */
    uint8_t slot_of[ALFA_NODE_MAX];                 /* node ID -> its entry + 1 (0: none) */
    uint32_t used_map[(ALFA_NODE_MAX + 31u) / 32u]; /* bit id: the ID has an entry; the periodic
                                                      * table walks visit only these */
    alfa_node_stats_t stats;
} alfa_node_t;
/* The node takes at most 800 bytes of the pack's context on the 32-bit target. */
_Static_assert(sizeof(void *) != 4u || sizeof(alfa_node_t) <= 800u, "alfa_node_t within 800 bytes");

/* Start a node for the pack whose core is `core`. Reads the stored node ID (setting node_id) to
 * prefer it. Sends nothing yet. ALFA_E_INVAL for NULL arguments, a port without can_send /
 * can_recv / now_ms, a serial above 48 bits or 0, or a device type that cannot take part
 * (the Linux gateway is not a node.c node). */
alfa_err_t alfa_node_init(alfa_node_t *n, const alfa_port_t *port, alfa_core_t *core,
                          const alfa_node_config_t *cfg);

/* Take one received frame, of any class, before any other duty sees it: it refreshes the
 * sender's entry and the "heard" clock, and handles heartbeats and ID-in-use notices. Returns
 * true when the frame is well addressed (sender 1..126, not our own ID unless a heartbeat) and
 * the other duties may look at it; false when it was bad, ours or consumed here. */
bool alfa_node_on_frame(alfa_node_t *n, const alfa_can_frame_t *f, uint32_t now_ms);

/* Send the heartbeat when due, run the election and the table expiry. Never blocks. Call it every
 * few milliseconds, after handing it the frames received since the last call. */
void alfa_node_process(alfa_node_t *n, uint32_t now_ms);

/* Send one frame from any duty; counts it (stats). Returns port->can_send's result. */
int32_t alfa_node_send(alfa_node_t *n, const alfa_can_frame_t *f);

/* Counters since init (owned by the node, valid while it lives). */
const alfa_node_stats_t *alfa_node_stats(const alfa_node_t *n);

/* ---- what the other duties ask ---- */

uint8_t alfa_node_id(const alfa_node_t *n);
alfa_node_phase_t alfa_node_phase(const alfa_node_t *n);
bool alfa_node_is_master(const alfa_node_t *n);
/* Node ID of the master this node follows (0 = none yet). */
uint8_t alfa_node_master_id(const alfa_node_t *n);
/* Entries into RUN since boot: a change means the node (re)joined the bus. */
uint32_t alfa_node_runs(const alfa_node_t *n);
/* True when no other node (the Linux gateway included) has been heard for ALFA_NODE_ISOLATED_MS:
 * nobody could answer a question now. */
bool alfa_node_alone(const alfa_node_t *n);
/* CLAIMING heartbeats heard from other nodes starting a claim: a change means a node joined. */
uint32_t alfa_node_joins_heard(const alfa_node_t *n);
/* The highest-serial live pack other than the master: it answers the master's own requests. */
bool alfa_node_is_deputy(const alfa_node_t *n);

/* What the node knows of node `id`. */
typedef struct alfa_node_peer {
    uint64_t serial;
    uint8_t device_type;   /* of its last heartbeat (0 = none heard) */
    uint8_t known;         /* in the table and heard (not only reserved) */
    uint8_t settled;       /* its last heartbeat was not CLAIMING */
    uint8_t live;          /* a settled candidate heard within the election window */
} alfa_node_peer_t;
/* False (and *out zeroed) when `id` is out of range or unknown. */
bool alfa_node_peer(const alfa_node_t *n, uint8_t id, alfa_node_peer_t *out);

/* Whether commands and time from `src` are to be trusted: the Linux gateway, an Energy-Gateway
 * device, or (`from_master`) the master this node follows. */
bool alfa_node_trusted(const alfa_node_t *n, uint8_t src, bool from_master);

#endif
