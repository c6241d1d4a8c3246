/* The timed CAN bus model: 500 kbit/s frames with real wire time, arbitration, errors, cut-offs. */
#ifndef ALFA_CANBUS_H
#define ALFA_CANBUS_H

/*
 * One `alfa_canbus_t` is one bus segment; nodes attach and get an `alfa_canbus_node_t` whose
 * send/recv/state/recover functions have the semantics of alfa_port_t's CAN callbacks, so a pack
 * core runs on it unchanged. Time is simulated, in microseconds, and moves only when the caller
 * calls alfa_canbus_run_until; the model is deterministic (its only randomness, the bit position
 * of an injected error, comes from a seeded alfa_rng_t).
 *
 * What is modelled:
 *  - wire time of every frame: SOF..CRC with bit stuffing (exact, computed from the frame's
 *    actual bits and CRC-15, or worst case n + (n-1)/4), CRC delimiter, ACK slot and delimiter,
 *    EOF and the 3-bit intermission;
 *  - arbitration: when the bus goes idle, of the frames waiting at the heads of the nodes'
 *    transmit FIFOs the lowest identifier wins (an extended frame loses to a standard frame with
 *    the same 11-bit base); the losers wait for the next idle bus;
 *  - two nodes sending the same identifier with different data: a bit error and an error frame
 *    for both, as on a real bus; identical frames merge into one;
 *  - every connected node except the sender receives every frame; a frame nobody else can
 *    acknowledge (the sender alone, or cut off) is an ACK error for the sender;
 *  - error counters (TEC/REC) with error-active, error-passive and bus-off states, and bus-off
 *    recovery after 128 x 11 recessive bits;
 *  - injected error frames (next N frames, or a probability per frame), and cutting a node off
 *    the bus and letting it rejoin.
 * Simplification: a frame that fails on an ACK error is dropped (single-shot), not retransmitted
 * forever, so a cut-off node's queue never jams; its TEC still rises to error-passive.
 */

#include <stdint.h>
#include "alfa/can_frame.h"
#include "alfa/port.h"
#include "alfa/sim_rng.h"

#define ALFA_CANBUS_MAX_NODES 48u
#define ALFA_CANBUS_TXQ 64u
#define ALFA_CANBUS_RXQ 512u
#define ALFA_CANBUS_BITRATE 500000u

typedef struct alfa_canbus alfa_canbus_t;

typedef struct alfa_canbus_node {
    alfa_canbus_t *bus;
    uint8_t index;
    uint8_t connected;      /* 0 while cut off */
    alfa_can_frame_t txq[ALFA_CANBUS_TXQ];
    uint64_t txq_t_us[ALFA_CANBUS_TXQ]; /* when each frame was queued */
    uint32_t tx_head, tx_count;
    alfa_can_frame_t rxq[ALFA_CANBUS_RXQ];
    uint32_t rx_head, rx_count;
    uint32_t tec, rec;      /* transmit / receive error counters */
    uint8_t bus_off;
    uint64_t recover_at_us; /* nonzero: bus-off recovery completes at this time */
    /* statistics */
    uint32_t n_tx, n_rx, n_rx_overflow, n_tx_errors, n_tx_full;
} alfa_canbus_node_t;

/* Called for every frame that completes on the wire (not for failed ones). */
typedef void (*alfa_canbus_observer_fn)(void *ctx, const alfa_can_frame_t *frame, uint8_t sender,
                                        uint64_t start_us, uint64_t end_us);

struct alfa_canbus {
    uint64_t now_us;
    uint64_t idle_since_us;   /* bus idle from this time (when not busy) */
    int busy;                 /* a frame is on the wire */
    uint64_t busy_end_us;
    uint64_t busy_start_us;
    uint8_t busy_sender[ALFA_CANBUS_MAX_NODES];
    uint8_t busy_nsenders;
    alfa_can_frame_t busy_frame;
    int busy_is_error;        /* the transfer in flight ends in an error frame */
    int busy_ack_error;       /* ... or in an ACK error (no receiver connected) */
    alfa_canbus_node_t nodes[ALFA_CANBUS_MAX_NODES];
    uint8_t n_nodes;
    int worst_case_stuffing;  /* 1: every frame takes its worst-case stuffed length */
    uint32_t inject_errors;   /* destroy the next N frames with an error frame */
    uint32_t error_ppm;       /* probability of an error per frame, parts per million */
    alfa_rng_t rng;
    alfa_canbus_observer_fn observer;
    void *observer_ctx;
    /* statistics */
    uint64_t busy_us_total;   /* wire time used, error frames included */
    uint64_t n_frames, n_error_frames;
};

/* Reset a bus at time 0 with no nodes; `seed` feeds the error-position generator. */
void alfa_canbus_init(alfa_canbus_t *bus, uint64_t seed);

/* Attach a new node, connected. Returns it, or NULL when ALFA_CANBUS_MAX_NODES are attached. */
alfa_canbus_node_t *alfa_canbus_attach(alfa_canbus_t *bus);

/* Advance simulated time to t_us (never backwards), completing and starting transfers. */
void alfa_canbus_run_until(alfa_canbus_t *bus, uint64_t t_us);

/* Cut a node off (its frames reach nobody, it receives nothing) or reconnect it. Queued frames
 * stay queued. */
void alfa_canbus_set_connected(alfa_canbus_node_t *node, int connected);

/* Destroy the next `count` transfers with error frames (at a random bit of each). */
void alfa_canbus_inject_errors(alfa_canbus_t *bus, uint32_t count);
/* Destroy each transfer with probability `ppm` parts per million from now on (0: none). */
void alfa_canbus_set_error_ppm(alfa_canbus_t *bus, uint32_t ppm);
/* Call `fn` (NULL: none) with `ctx` for every frame that completes on the wire. */
void alfa_canbus_set_observer(alfa_canbus_t *bus, alfa_canbus_observer_fn fn, void *ctx);

/* The bus's simulated time, its wire time used so far (error frames included) and the error
 * frames sent so far. */
uint64_t alfa_canbus_now_us(const alfa_canbus_t *bus);
uint64_t alfa_canbus_busy_us(const alfa_canbus_t *bus);
uint64_t alfa_canbus_error_frames(const alfa_canbus_t *bus);

/* Wire length of a frame in bits including the 3-bit intermission: exact stuffing of its actual
 * bits, or (worst_case != 0) the maximum n + (n-1)/4 stuffing of SOF..CRC. */
uint32_t alfa_canbus_frame_bits(const alfa_can_frame_t *frame, int worst_case);

/* ---- the node side: alfa_port_t CAN callback semantics ---- */

/* Queue a frame at the bus's current time: ALFA_PORT_OK, ALFA_PORT_E_FULL (FIFO full),
 * ALFA_PORT_E_BUSOFF, or ALFA_PORT_E_RANGE (len > 8 or id too wide). */
int32_t alfa_canbus_send(alfa_canbus_node_t *node, const alfa_can_frame_t *frame);
/* 1 and a frame copied, or 0 when none is waiting. */
int32_t alfa_canbus_recv(alfa_canbus_node_t *node, alfa_can_frame_t *frame);
alfa_can_state_t alfa_canbus_state(const alfa_canbus_node_t *node);
/* Start bus-off recovery (128 x 11 recessive bits); no effect unless bus-off. */
void alfa_canbus_recover(alfa_canbus_node_t *node);

/* ---- the node's owner (a simulator's pack or gateway) ---- */

/* 1 while connected to the bus (not cut off). */
int alfa_canbus_node_connected(const alfa_canbus_node_t *node);
/* Frames queued for transmission and not yet on the wire. */
uint32_t alfa_canbus_node_tx_backlog(const alfa_canbus_node_t *node);
/* The transmit queue emptied (the process that filled it ended), or both queues (a board that
 * restarts). */
void alfa_canbus_node_clear_tx(alfa_canbus_node_t *node);
void alfa_canbus_node_clear_queues(alfa_canbus_node_t *node);
/* The controller loses power: queues emptied, error counters cleared, bus-off and a recovery in
 * progress forgotten (connection and statistics untouched). */
void alfa_canbus_node_power_off(alfa_canbus_node_t *node);
/* Fault injection (a wiring fault): the controller is bus-off now, any recovery in progress
 * undone; alfa_canbus_recover starts a new one. */
void alfa_canbus_node_force_bus_off(alfa_canbus_node_t *node);

#endif
