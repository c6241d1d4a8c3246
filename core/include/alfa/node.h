/* The pack's CAN node: node-ID claim, heartbeat, election, telemetry, master duties and commands. */
#ifndef ALFA_NODE_H
#define ALFA_NODE_H

/*
 * One `alfa_node_t` per pack, beside its `alfa_core_t`. The node owns everything the pack says
 * and hears on CAN (docs/protocol.md): it takes the frames its owner received (alfa_node_on_frame), decodes them with
 * the protocol library, applies what they ask through the core's public API (core.h), and sends
 * heartbeats, telemetry, site totals, time and acknowledgements through port->can_send.
 *
 *   alfa_node_t node;
 *   alfa_node_config_t ncfg = { .serial = mac48, .device_type = ALFA_DEV_PACK };
 *   alfa_node_init(&node, &port, &core, &ncfg);
 *   for (;;) {
 *       uint32_t now = port.now_ms(port.user);
 *       while (port.can_recv(port.user, &f) > 0) alfa_node_on_frame(&node, &f, now);
 *       alfa_core_process(&core);
 *       alfa_node_process(&node, now);
 *   }
 *
 * Life of a node (timings in docs/protocol.md §4):
 *   LISTEN   (1.1 s)  silent; learns which node IDs are live from their heartbeats.
 *   CLAIMING (3 s)    heartbeats with the CLAIMING flag under the chosen ID; yields on conflict.
 *   RUN               heartbeat 1 s, telemetry 2 s, election, master duties, commands.
 * A node that heard no other node (IDs 1..125) for 3 s and then hears one again (it was cut off)
 * claims again; frames of the Linux gateway (126) never count, so a lone pack stays master.
 *
 * No heap, no globals, no blocking. The node keeps a const pointer to the port and a pointer to
 * the core; both must outlive it. Call alfa_node_process from the same thread as the core.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/core.h"
#include "alfa/err.h"
#include "alfa/port.h"
#include "alfa/proto.h"

#define ALFA_NODE_HEARTBEAT_MS 1000u
#define ALFA_NODE_TELEMETRY_MS 2000u
#define ALFA_NODE_SITE_MS 2000u
#define ALFA_NODE_LISTEN_MS 1100u
#define ALFA_NODE_CLAIM_MS 3000u
#define ALFA_NODE_TTL_MS 120000u       /* live-node table entry kept 2 min after its last frame */
/* Election window: candidates must have been heard within this time. SPEC says "within 3 s";
 * 2.5 s (two missed 1-s heartbeats) keeps failover, bus and processing latency included, under
 * 3 s, while one lost heartbeat never changes the master. */
#define ALFA_NODE_ELECTION_MS 2500u
#define ALFA_NODE_ISOLATED_MS 3000u     /* nothing heard this long: we may be cut off */
#define ALFA_NODE_GW_TIME_SILENT_MS 90000u /* master re-broadcasts time after this gateway silence */
#define ALFA_NODE_TIME_PERIOD_MS 60000u
#define ALFA_NODE_DUP_MS 30000u         /* (src, seq, code) remembered this long */
#define ALFA_NODE_DUP_SLOTS 16u
#define ALFA_NODE_IMPORT_WINDOW_MS 30000u /* after boot: ask for today's grid import this long */
#define ALFA_NODE_CONFLICT_WARN_MS 60000u
#define ALFA_NODE_REBOOT_DELAY_MS 50u   /* reboot this long after the ack was queued */
#define ALFA_NODE_SETTINGS_PER_CALL 8u  /* setting frames queued per process call */
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

/* The live-node table is kept compact (the whole pack context must fit 4 KiB on the ESP32):
 * one 10-byte entry per node ID for the ID reservation and the election, a few pack slots with
 * the telemetry figures the master needs, and a small pool of reassemblers lent to senders while
 * their telemetry parts arrive (bursts are spread by node ID x 16 ms, so few overlap). */
#define ALFA_NODE_PACK_SLOTS 32u        /* other packs whose figures count in site totals */
#define ALFA_NODE_RX_SLOTS 4u           /* telemetry records being reassembled at once */
#define ALFA_NODE_RX_STALE_MS 100u      /* a burst lasts ~2 ms: an unfinished one this old is lost */
#define ALFA_NODE_HB_TICK_SHIFT 2u      /* heartbeat times in 4-ms ticks (16 bits: 262 s > TTL) */
#define ALFA_NODE_AGE_TICK_SHIFT 10u    /* last-frame times in 1.024-s ticks (8 bits: 262 s > TTL) */

/* alfa_node_entry_t.flags */
#define ALFA_NODE_E_USED 0x01u
#define ALFA_NODE_E_HEARD_HB 0x02u      /* a heartbeat was heard (hb_tick valid) */
#define ALFA_NODE_E_RESERVED 0x04u      /* learnt from an ID_IN_USE notice, never heard */
#define ALFA_NODE_E_CLAIMING 0x08u      /* its last heartbeat had ALFA_HB_CLAIMING */
#define ALFA_NODE_E_TYPE_SHIFT 4u       /* bits 4..5: device type of its last heartbeat */

/* What the node knows of another node (index = its node ID). */
typedef struct alfa_node_entry {
    uint8_t serial[6];         /* 48-bit serial, little-endian */
    uint8_t hb_tick[2];        /* last heartbeat, 4-ms ticks, little-endian */
    uint8_t last_tick;         /* last frame of any kind, 1.024-s ticks */
    uint8_t flags;             /* ALFA_NODE_E_* and the device type */
} alfa_node_entry_t;
_Static_assert(sizeof(alfa_node_entry_t) == 10u, "node table entry stays 10 bytes");

/* The latest complete telemetry of another pack, for site totals and grid-import recovery. */
typedef struct alfa_node_pack {
    uint8_t id;                /* its node ID; 0 = slot free */
    uint8_t soc_pct;
    uint8_t saved;             /* seen rebooting: its import is kept (the larger) for recovery */
    uint8_t saved_tick;        /* when, in 1.024-s ticks */
    uint8_t p_batt_w[3], p_solar_w[3], p_home_w[3], p_grid_w[3]; /* signed 24-bit, as on the wire */
    uint8_t import_wh[3];      /* grid import today, unsigned 24-bit */
} alfa_node_pack_t;
_Static_assert(sizeof(alfa_node_pack_t) == 19u, "pack slot stays 19 bytes");

/* A reassembler lent to one sender for the duration of its telemetry burst. */
typedef struct alfa_node_rx {
    alfa_telem_rx_t rx;        /* rx.have == 0: free */
    uint32_t start_ms;         /* first part of the collection */
} alfa_node_rx_t;

typedef struct alfa_node_dup {
    uint8_t src, seq, code, result; /* src 0 = slot free (0 never sends) */
    uint8_t tick[2];           /* when, 4-ms ticks, little-endian */
} alfa_node_dup_t;
_Static_assert(sizeof(alfa_node_dup_t) == 6u, "duplicate slot stays 6 bytes");

typedef struct alfa_node_stats {
    uint32_t rx_frames, rx_bad, rx_ignored, tx_frames, tx_fail;
    uint32_t cmds_applied, cmds_refused, cmds_duplicate;
    uint32_t id_moves, claims, bus_off_events;
    uint32_t telem_lost;       /* telemetry parts dropped: every reassembler busy */
    uint32_t packs_untracked;  /* telemetry records not kept: every pack slot taken */
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
    uint8_t started;
    uint8_t ran;                 /* RUN was reached once since boot */
    uint8_t house_due;           /* run the election at this call */
    uint32_t next_house_ms;

    uint32_t next_hb_ms, next_telem_ms, next_site_ms;
    uint32_t telem_cycle, site_cycle;
    uint32_t last_heard_ms;      /* any valid frame from a node of IDs 1..125 (not the gateway) */
    uint8_t heard_any;           /* such a frame was heard since boot */

    uint8_t is_master;
    uint8_t master_id;           /* elected master's node ID (0 = none) */
    uint64_t master_serial;
    uint8_t site_limit;          /* the flag this node (as master) last sent */

    uint8_t time_from_gw;        /* a time frame from the Linux gateway was heard */
    uint32_t gw_time_ms;
    uint32_t next_time_ms;

    uint8_t import_active;       /* grid-import recovery window open */
    uint32_t import_until_ms, next_import_ms;
    uint32_t import_best_wh;

    uint8_t conflict_warn;
    uint32_t conflict_until_ms;

    uint8_t bus_off;
    uint32_t recover_ms;

    uint8_t reboot_pending;
    uint32_t reboot_at_ms;

    uint8_t rs_active;           /* READ_SETTINGS answer being streamed */
    uint8_t rs_dst, rs_seq, rs_next;

    alfa_site_rx_t site_rx;
    alfa_site_totals_t site;     /* last site totals heard from the master (or sent) */
    uint8_t have_site;

    alfa_node_dup_t dup[ALFA_NODE_DUP_SLOTS];
    alfa_node_entry_t nodes[ALFA_NODE_MAX];
    uint32_t used_map[(ALFA_NODE_MAX + 31u) / 32u]; /* bit id: nodes[id] is in use; the periodic
                                                      * table walks visit only these */
    alfa_node_pack_t packs[ALFA_NODE_PACK_SLOTS];
    alfa_node_rx_t rx[ALFA_NODE_RX_SLOTS];
    alfa_node_stats_t stats;
} alfa_node_t;
/* The per-pack context budget is 4 KiB; the node takes at most 2.5 KiB of it on the 32-bit target
 * (a 64-bit host adds pointer widths and 8-byte alignment). */
_Static_assert(sizeof(void *) != 4u || sizeof(alfa_node_t) <= 2560u, "alfa_node_t within 2.5 KiB");
_Static_assert(sizeof(alfa_node_t) <= 2560u + 64u, "alfa_node_t within 2.5 KiB (64-bit host)");

/* Start a node for the pack whose core is `core`. Reads the stored node ID (setting node_id) to
 * prefer it. Sends nothing yet. ALFA_E_INVAL for NULL arguments, a port without can_send /
 * can_recv / now_ms, a serial above 48 bits or 0, or a device type that cannot take part
 * (the Linux gateway is not a node.c node). */
alfa_err_t alfa_node_init(alfa_node_t *n, const alfa_port_t *port, alfa_core_t *core,
                          const alfa_node_config_t *cfg);

/* Handle one received frame (any class; what is not the node's is counted and ignored). The
 * node does not read port->can_recv itself: the owner of the receive queue (the pack
 * composition, which also routes firmware-update frames elsewhere) hands every frame here, in
 * arrival order, before calling alfa_node_process. */
void alfa_node_on_frame(alfa_node_t *n, const alfa_can_frame_t *f, uint32_t now_ms);

/* Send whatever is due at `now_ms` (heartbeat, telemetry, site totals, answers) and run the
 * election and table expiry. Never blocks. Call it every few milliseconds, after handing it the
 * frames received since the last call (commands are answered at the next call). */
void alfa_node_process(alfa_node_t *n, uint32_t now_ms);

/* Introspection for tests, the simulator and the Linux daemon. */
uint8_t alfa_node_id(const alfa_node_t *n);
bool alfa_node_is_master(const alfa_node_t *n);
/* Node ID of the master this node follows (0 = none yet). */
uint8_t alfa_node_master_id(const alfa_node_t *n);
alfa_node_phase_t alfa_node_phase(const alfa_node_t *n);
/* Last site totals heard (or sent, on the master); false when none yet. */
bool alfa_node_site(const alfa_node_t *n, alfa_site_totals_t *out);

/* The command dispatch table, exposed so that tests can check it against the protocol's lengths. */
#define ALFA_NODE_FROM_GATEWAY 0x01u /* the Linux gateway (ID 126) */
#define ALFA_NODE_FROM_EGW 0x02u     /* an Energy-Gateway device */
#define ALFA_NODE_FROM_MASTER 0x04u  /* the current master pack */

typedef struct alfa_node_cmd_row {
    uint8_t code;
    uint8_t payload_len;
    uint8_t allowed;             /* ALFA_NODE_FROM_* */
    uint8_t (*handler)(alfa_node_t *n, const alfa_cmd_t *cmd); /* returns alfa_ack_result_t */
} alfa_node_cmd_row_t;

/* The row for `code`, or NULL when the command is unknown. */
const alfa_node_cmd_row_t *alfa_node_cmd_row(uint8_t code);

#endif
