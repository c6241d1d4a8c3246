/* A pack's "today" grid import as kept by others across its reboots (the rules are in alfa/dayfig.h). */
#include "alfa/dayfig.h"

static uint32_t add_sat(uint32_t a, uint32_t b) { return a > UINT32_MAX - b ? UINT32_MAX : a + b; }

bool alfa_dayfig_report(alfa_dayfig_t *d, uint32_t wh, bool recovering)
{
    uint32_t before = d->wh;
    if (!recovering) {
        d->recovering = 0;
        d->base_wh = 0;
        if (wh > d->wh) {
            d->wh = wh;
        }
        return d->wh != before;
    }
    if (!d->recovering || wh < d->wh - d->base_wh) {
        d->base_wh = d->wh; /* a (new) boot: all it had is before it */
        d->recovering = 1;
    }
    uint32_t total = add_sat(d->base_wh, wh);
    if (total > d->wh) {
        d->wh = total;
    }
    return d->wh != before;
}

bool alfa_dayfig_merge(alfa_dayfig_t *d, uint32_t wh)
{
    if (d->recovering) {
        if (wh <= d->base_wh) {
            return false;
        }
        d->wh = add_sat(d->wh, wh - d->base_wh);
        d->base_wh = wh;
        return true;
    }
    if (wh <= d->wh) {
        return false;
    }
    d->wh = wh;
    return true;
}

uint32_t alfa_dayfig_answer(const alfa_dayfig_t *d) { return d->recovering ? d->base_wh : d->wh; }
