/* The packs' clock as the gateway knows it (gw_clock.h). */
#include "alfa/gw_clock.h"

#include <string.h>

void gw_clock_init(gw_clock_t *c, uint32_t stale_ms)
{
    memset(c, 0, sizeof *c);
    c->rate_milli = 1000u;
    c->stale_ms = stale_ms;
}

static int64_t estimate(const gw_clock_t *c, uint32_t now_ms)
{
    uint64_t el_ms = (uint32_t)(now_ms - c->base_ms);
    int64_t ahead_s = (int64_t)(el_ms * c->rate_milli / 1000000u);
    if (ahead_s > GW_CLOCK_MAX_EXTRAP_S) ahead_s = GW_CLOCK_MAX_EXTRAP_S;
    return c->base_s + ahead_s;
}

void gw_clock_heard(gw_clock_t *c, int64_t unix_s, int16_t utc_offset_min, uint32_t now_ms)
{
    if (c->heard) {
        uint32_t dms = now_ms - c->base_ms;
        int64_t ds = unix_s - c->base_s;
        /* a rate only from two frames far enough apart to measure, and only forward moves of
         * at most a day (anything else is a correction, not the clock running) */
        if (dms >= 20u && ds > 0 && ds <= 86400) {
            uint64_t r = (uint64_t)ds * 1000000u / dms;
            if (r < 100u) r = 100u;
            if (r > 100000000u) r = 100000000u;
            /* the first measurement as it is, then smoothed against the jitter of arrival */
            c->rate_milli = c->rate_valid ? (uint32_t)((3u * (uint64_t)c->rate_milli + r) / 4u) : (uint32_t)r;
            c->rate_valid = 1;
        } else if (ds <= 0 || ds > 86400) {
            c->rate_milli = 1000u;
            c->rate_valid = 0;
        }
    }
    c->heard = 1;
    c->base_s = unix_s;
    c->base_ms = now_ms;
    c->offset_min = utc_offset_min;
}

int64_t gw_clock_now(gw_clock_t *c, uint32_t now_ms, int64_t own_unix_s, int16_t own_offset_min, int16_t *offset_min)
{
    int64_t t;
    int16_t off;
    if (c->heard && (uint32_t)(now_ms - c->base_ms) < c->stale_ms) {
        t = estimate(c, now_ms);
        off = c->offset_min;
    } else {
        t = own_unix_s;
        off = own_offset_min;
    }
    if (c->have_out && t < c->last_out_s && t > c->last_out_s - GW_CLOCK_BACKSTEP_S) t = c->last_out_s;
    c->have_out = 1;
    c->last_out_s = t;
    if (offset_min) *offset_min = off;
    return t;
}
