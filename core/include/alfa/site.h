/* The pack's site duty on CAN: site totals, the site day's import table, import recovery and time. */
#ifndef ALFA_SITE_H
#define ALFA_SITE_H

/*
 * One `alfa_site_t` per pack (a CAN duty beside node.h). Every pack runs it; the master's does
 * the master duties of SPEC.md §8.4. What it owns:
 *
 *  - The site day's import table: every pack's grid import of the current site day (core.h,
 *    siteday.h), keyed by the low 24 bits of its serial (ALFA_SERIAL24), this pack included. It
 *    takes each pack's telemetry of the same day by the rules of alfa/dayfig.h (the larger figure
 *    wins; a pack that counts since its boot has it added to what it had before) and is kept for
 *    the WHOLE day — a pack that is off the bus or powered off still counts — and cleared when
 *    the day turns. Every pack keeps it, so a new master has it at once.
 *  - Site totals (master): every 2 s, and at once when the limit flag changes: packs online and
 *    the sums of the live packs' latest figures, the site's import (the sum of the table) and
 *    the "limit reached" flag, with the day they belong to. A pack follows the master's day
 *    forward and takes "limit reached" only for its own day.
 *  - Import recovery: after joining the bus (boot, return from a cut) a pack asks for its day's
 *    figures; the master (or, when the asker is the master, the deputy) answers with its whole
 *    table for that day, and the gateway with what it knows; the asker merges them, and takes
 *    its own figure back (never lowering its counter).
 *  - Time: accepted from the Linux gateway, an Energy-Gateway device or the master; the master
 *    sends it every 60 s when the gateway has been silent for 90 s, and at once to a node that
 *    joins then.
 *
 * No heap, no globals; the node and the core must outlive it.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/core.h"
#include "alfa/node.h"
#include "alfa/proto.h"

#define ALFA_SITE_PERIOD_MS 2000u
#define ALFA_SITE_GW_TIME_SILENT_MS 90000u /* master sends time after this gateway silence */
#define ALFA_SITE_TIME_PERIOD_MS 60000u
#define ALFA_SITE_RECOVER_MS 30000u       /* after joining: ask for the day's import this long */
#define ALFA_SITE_RECOVER_EVERY_MS 2000u
#define ALFA_SITE_ANSWERS_PER_CALL 8u     /* recovery answer frames queued per process call */
#define ALFA_SITE_REBUILD_MS 6000u        /* a master rebuilding its table holds its totals this long at most */
#define ALFA_SITE_DEPUTY_TIME_MS 5000u    /* the deputy gives a master without time the time this often */
#define ALFA_SITE_PACKS 32u               /* other packs whose live figures count in site totals */
#define ALFA_SITE_DAY_PACKS 48u           /* packs in the day's import table (this one included) */

/* The latest telemetry figures of another live pack (site totals). */
typedef struct alfa_site_pack {
    uint8_t id;                /* its node ID; 0 = slot free */
    uint8_t soc_pct;
    uint8_t serial24[3];       /* whose figures (an ID may change hands) */
    uint8_t p_batt_w[3], p_solar_w[3], p_home_w[3], p_grid_w[3]; /* signed 24-bit, as on the wire */
} alfa_site_pack_t;
_Static_assert(sizeof(alfa_site_pack_t) == 17u, "site pack slot stays 17 bytes");

/* One pack's import on the current site day (an alfa_dayfig_t in 9 bytes). */
typedef struct alfa_site_day_entry {
    uint8_t serial24[3];
    uint8_t wh_plus1[3];       /* import + 1 (u24; 0 = free slot) */
    uint8_t base_plus1[3];     /* while it recovers: its import before its boot + 1; 0 = not */
} alfa_site_day_entry_t;

typedef struct alfa_site_stats {
    uint32_t totals_sent, rx_bad, rx_ignored, tx_fail;
    uint32_t day_resets;       /* the table was cleared for a new day */
    uint32_t table_full;       /* a pack's import could not be kept: every slot taken */
    uint32_t recovered;        /* answers merged into the table */
    uint32_t answers_sent;
} alfa_site_stats_t;

typedef struct alfa_site {
    alfa_node_t *node;
    alfa_core_t *core;
    uint32_t now_ms;

    uint16_t day;                /* the day the table belongs to */
    uint32_t own_wh;             /* this pack's import last put in the table */
    uint16_t own_warnings;       /* and the core's warnings then (the recovering flag) */
    alfa_site_day_entry_t table[ALFA_SITE_DAY_PACKS];
    alfa_site_pack_t packs[ALFA_SITE_PACKS];

    /* master */
    uint8_t was_master;
    uint8_t limit_sent;          /* the flag last sent */
    uint32_t totals_cycle;
    uint32_t next_totals_ms;
    uint8_t totals_due;          /* an import or a setting moved: check the limit at this call */
    uint32_t settings_gen;       /* the core's settings generation last seen */

    /* totals heard from the master (or sent) */
    alfa_site_rx_t site_rx;
    uint8_t site_rx_from;
    alfa_site_totals_t totals;
    uint8_t have_totals;

    /* time */
    uint8_t time_from_gw;        /* a time frame from the Linux gateway was heard */
    uint32_t gw_time_ms;
    uint32_t next_time_ms;
    uint32_t joins_seen;         /* node stats.joins_heard already answered with a time frame */

    /* recovery: asking */
    uint32_t runs_seen;
    uint8_t asking;
    uint16_t ask_day;            /* the day we last started asking for (NONE: asked without one) */
    uint32_t joined_ms;          /* when the node last entered RUN */
    uint32_t rebuild_until_ms;   /* the master holds its totals until then (table being rebuilt) */
    uint32_t ask_until_ms, next_ask_ms;
    uint32_t deputy_time_ms;     /* the deputy last gave a master without time the time */
    /* recovery: answering one asker at a time */
    uint8_t answer_dst;          /* 0 = none */
    uint16_t answer_day;
    uint8_t answer_next;         /* next table slot to send */

    alfa_site_stats_t stats;
} alfa_site_t;

/* Start. ALFA_E_INVAL for NULLs. */
alfa_err_t alfa_site_init(alfa_site_t *s, alfa_node_t *node, alfa_core_t *core);

/* A received site-totals part, time frame or import request/answer (other classes ignored). */
void alfa_site_on_frame(alfa_site_t *s, const alfa_can_frame_t *f, uint32_t now_ms);

/* Another pack's completed telemetry record (from alfa_tlm_on_frame), sent by node `src`. */
void alfa_site_on_telemetry(alfa_site_t *s, uint8_t src, const alfa_telemetry_t *t, uint32_t now_ms);

/* Turn the table's day, send totals, time, recovery requests and answers when due. */
void alfa_site_process(alfa_site_t *s, uint32_t now_ms);

/* Last site totals heard from the master (or sent, on the master); false when none yet. */
bool alfa_site_totals(const alfa_site_t *s, alfa_site_totals_t *out);
/* The site's import on the current day by this pack's table (this pack included). */
uint32_t alfa_site_import_wh(const alfa_site_t *s);
/* Counters since init (owned by the duty, valid while it lives). */
const alfa_site_stats_t *alfa_site_stats(const alfa_site_t *s);

#endif
