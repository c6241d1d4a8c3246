/* The pack's telemetry duty on CAN: its own record every 2 s out, other packs' records in. */
#ifndef ALFA_TLM_H
#define ALFA_TLM_H

/*
 * One `alfa_tlm_t` per pack (a CAN duty beside node.h). It sends this pack's telemetry
 * (alfa_core_telemetry, SPEC.md §8.5) as ALFA_TELEM_PARTS frames every 2 s while the node is in
 * RUN, its 2-s phase offset by node ID x 16 ms so packs powered up together do not send their
 * bursts at once; and it reassembles the telemetry of other packs in a small pool of
 * reassemblers lent to a sender for the ~2 ms of its burst (bursts rarely overlap). A completed
 * record of another pack is handed back to the caller (the pack composition gives it to the site
 * duty, which keeps what the site totals need).
 *
 * No heap, no globals; the node and the core must outlive it.
 */

#include <stdint.h>
#include "alfa/core.h"
#include "alfa/node.h"
#include "alfa/proto.h"

#define ALFA_TLM_PERIOD_MS 2000u
#define ALFA_TLM_RX_SLOTS 4u            /* telemetry records being reassembled at once */
#define ALFA_TLM_RX_STALE_MS 100u       /* a burst lasts ~2 ms: an unfinished one this old is lost */

/* A reassembler lent to one sender for the duration of its telemetry burst. */
typedef struct alfa_tlm_rx {
    alfa_telem_rx_t rx;        /* rx.have == 0: free */
    uint32_t start_ms;         /* first part of the collection */
} alfa_tlm_rx_t;

typedef struct alfa_tlm_stats {
    uint32_t sent, send_fail, received, rx_bad;
    uint32_t lost;             /* telemetry parts dropped: every reassembler busy */
} alfa_tlm_stats_t;

typedef struct alfa_tlm {
    alfa_node_t *node;
    const alfa_core_t *core;
    uint32_t cycle;            /* records sent since boot */
    uint32_t next_ms;
    uint32_t runs_seen;        /* alfa_node_runs when the phase was set */
    alfa_tlm_rx_t rx[ALFA_TLM_RX_SLOTS];
    alfa_tlm_stats_t stats;
} alfa_tlm_t;

/* Start. ALFA_E_INVAL for NULLs. */
alfa_err_t alfa_tlm_init(alfa_tlm_t *t, alfa_node_t *node, const alfa_core_t *core);

/* A received telemetry part (classes ALFA_CLS_TELEM_0..+6) from `src`. Returns 1 and fills
 * *out when it completed a record of a pack (device type 1), 0 otherwise (more parts needed,
 * unknown sender, malformed part: counted in stats). */
int alfa_tlm_on_frame(alfa_tlm_t *t, const alfa_can_frame_t *f, uint32_t now_ms, alfa_telemetry_t *out);

/* Send this pack's record when due. */
void alfa_tlm_process(alfa_tlm_t *t, uint32_t now_ms);

/* Counters since init (owned by the duty, valid while it lives). */
const alfa_tlm_stats_t *alfa_tlm_stats(const alfa_tlm_t *t);

#endif
