/* The packs' clock as the gateway knows it: its own time broadcast, or the time frames it hears on the bus. */
#ifndef ALFA_GW_CLOCK_H
#define ALFA_GW_CLOCK_H

/*
 * The packs keep the time the last time frame (class 0x03) gave them. On a real site that is the
 * gateway's own broadcast, so the packs' clock is the gateway's wall clock. When another node
 * sends the time — the master pack while the gateway's clock is not trusted, an Energy-Gateway
 * device, or the site simulator, whose time runs 60-1000x faster than the wall — the packs follow
 * that node, and everything the gateway stamps with "the packs' time" (ts_s in the state JSON,
 * history buckets, events) must follow it too.
 *
 * gw_clock_t learns that clock from the heard frames: the last frame's time plus the time elapsed
 * since, at the rate measured between the last frames (packs' seconds per gateway second), never
 * extrapolated more than GW_CLOCK_MAX_EXTRAP_S past the last frame, and never running backwards
 * by less than GW_CLOCK_BACKSTEP_S (a real correction, larger, is followed at once). Without a
 * heard frame for `stale_ms` it is the gateway's own wall clock again.
 *
 * No I/O, no clock reads: every call takes the gateway's present moment (gw_now_t).
 */

#include <stdint.h>

#define GW_CLOCK_MAX_EXTRAP_S 120    /* two 60-s time periods */
#define GW_CLOCK_BACKSTEP_S 300

typedef struct gw_clock {
    int heard;                /* a time frame from another node was heard */
    int64_t base_s;           /* the last heard frame's unix_s ... */
    uint32_t base_ms;         /* ... and our monotonic ms when it came */
    int16_t offset_min;       /* its UTC offset */
    uint32_t rate_milli;      /* packs' ms per gateway ms, x1000 (1000 = real time) */
    int rate_valid;           /* rate_milli was measured (else the 1000 assumed) */
    uint32_t stale_ms;        /* back to our own clock after this long without a frame */
    int have_out;
    int64_t last_out_s;       /* last answer (answers never step back by a little) */
} gw_clock_t;

/* Start with our own clock; `stale_ms` as above (e.g. 3 x the time period). */
void gw_clock_init(gw_clock_t *c, uint32_t stale_ms);

/* A time frame from another node (unix_s, offset) came at our monotonic `now_ms`. */
void gw_clock_heard(gw_clock_t *c, int64_t unix_s, int16_t utc_offset_min, uint32_t now_ms);

/* The packs' time at the gateway's moment (`now_ms`, `own_unix_s`, `own_offset_min`: the
 * gateway's monotonic ms, wall clock and UTC offset). `*offset_min` (may be NULL) gets the
 * packs' UTC offset. */
int64_t gw_clock_now(gw_clock_t *c, uint32_t now_ms, int64_t own_unix_s, int16_t own_offset_min, int16_t *offset_min);

#endif
