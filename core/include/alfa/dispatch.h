/* The pack's command duty on CAN: the const dispatch table, duplicates, acknowledgements, read-settings answers, reboot. */
#ifndef ALFA_DISPATCH_H
#define ALFA_DISPATCH_H

/*
 * One `alfa_dispatch_t` per pack (a CAN duty beside node.h). A command frame (class 0x20,
 * SPEC.md §8.6) addressed to this node or to all is looked up in a const table (code -> handler,
 * payload length, accepted senders), applied through core.h — every settings change through the
 * core's one commit, several fields at once through alfa_core_settings_change — and answered
 * with one acknowledgement (ok or the reason). The same (sender, sequence, code) seen again
 * within 30 s is acknowledged again with the same result and not applied twice. A read_settings
 * command is answered by the ack and then one setting frame per setting, a few per call. A reboot
 * or factory reset is carried out ALFA_DISPATCH_REBOOT_DELAY_MS after its ack was queued; until
 * then alfa_dispatch_reboot_pending tells the pack to write its pending settings first.
 *
 * No heap, no globals; the node, the core and the port must outlive it.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/core.h"
#include "alfa/node.h"
#include "alfa/proto.h"

#define ALFA_DISPATCH_DUP_MS 30000u      /* (src, seq, code) remembered this long */
#define ALFA_DISPATCH_DUP_SLOTS 16u
#define ALFA_DISPATCH_REBOOT_DELAY_MS 50u /* reboot this long after the ack was queued */
#define ALFA_DISPATCH_SETTINGS_PER_CALL 8u /* setting frames queued per process call */

typedef struct alfa_dispatch_dup {
    uint8_t src, seq, code, result; /* src 0 = slot free (0 never sends) */
    uint32_t at_ms;
} alfa_dispatch_dup_t;

typedef struct alfa_dispatch_stats {
    uint32_t applied, refused, duplicate, rx_bad, ack_fail;
} alfa_dispatch_stats_t;

typedef struct alfa_dispatch {
    alfa_node_t *node;
    alfa_core_t *core;
    const alfa_port_t *port;
    uint32_t now_ms;
    uint8_t reboot_pending;
    uint32_t reboot_at_ms;
    uint8_t rs_active;           /* READ_SETTINGS answer being streamed */
    uint8_t rs_dst, rs_seq;
    uint16_t rs_next;
    alfa_dispatch_dup_t dup[ALFA_DISPATCH_DUP_SLOTS];
    alfa_dispatch_stats_t stats;
} alfa_dispatch_t;

/* Start. ALFA_E_INVAL for NULLs. */
alfa_err_t alfa_dispatch_init(alfa_dispatch_t *d, alfa_node_t *node, alfa_core_t *core, const alfa_port_t *port);

/* A received command frame (class ALFA_CLS_CMD). Ignored while the node has no ID yet. */
void alfa_dispatch_on_frame(alfa_dispatch_t *d, const alfa_can_frame_t *f, uint32_t now_ms);

/* Stream read-settings answers; reboot when due (port->reboot). */
void alfa_dispatch_process(alfa_dispatch_t *d, uint32_t now_ms);

/* A commanded reboot or factory reset is coming: what was acknowledged must reach flash first. */
bool alfa_dispatch_reboot_pending(const alfa_dispatch_t *d);

/* Counters since init (owned by the duty, valid while it lives). */
const alfa_dispatch_stats_t *alfa_dispatch_stats(const alfa_dispatch_t *d);

/* The command dispatch table, exposed so that tests can check it against the protocol's lengths. */
#define ALFA_DISPATCH_FROM_GATEWAY 0x01u /* the Linux gateway (ID 126) */
#define ALFA_DISPATCH_FROM_EGW 0x02u     /* an Energy-Gateway device */
#define ALFA_DISPATCH_FROM_MASTER 0x04u  /* the current master pack */

typedef struct alfa_dispatch_row {
    uint8_t code;
    uint8_t payload_len;
    uint8_t allowed;             /* ALFA_DISPATCH_FROM_* */
    uint8_t (*handler)(alfa_dispatch_t *d, const alfa_cmd_t *cmd); /* returns alfa_ack_result_t */
} alfa_dispatch_row_t;

/* The row for `code`, or NULL when the command is unknown. */
const alfa_dispatch_row_t *alfa_dispatch_row(uint8_t code);

#endif
