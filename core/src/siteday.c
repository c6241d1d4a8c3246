/* The site day: day numbers of the 05:00-05:00 local day, forward-only, with the 24-h fallback. */
#include "alfa/siteday.h"
#include "alfa/model.h"

#define DAY_START_S (5 * 3600)
#define DAY_S 86400

void alfa_siteday_init(alfa_siteday_t *d, uint32_t now_ms)
{
    d->day = ALFA_DAY_NONE;
    d->reset_ms = now_ms;
}

uint16_t alfa_siteday_of(int64_t local_s)
{
    int64_t x = local_s - DAY_START_S;
    if (x < DAY_S) {
        return ALFA_DAY_NONE; /* before 1970-01-02 05:00: never a valid time (2020..2100) */
    }
    int64_t day = x / DAY_S;
    return day > 0xFFFF ? (uint16_t)0xFFFFu : (uint16_t)day;
}

static bool begin(alfa_siteday_t *d, uint16_t day, uint32_t now_ms)
{
    d->day = day;
    d->reset_ms = now_ms;
    return true;
}

bool alfa_siteday_tick(alfa_siteday_t *d, bool time_valid, int64_t local_s, uint32_t now_ms)
{
    if (time_valid) {
        uint16_t k = alfa_siteday_of(local_s);
        if (k == ALFA_DAY_NONE) {
            return false;
        }
        if (d->day == ALFA_DAY_NONE) {
            d->day = k; /* the first time known: what was counted since boot is this day's */
            return false;
        }
        return k > d->day ? begin(d, k, now_ms) : false;
    }
    if ((uint32_t)(now_ms - d->reset_ms) < ALFA_SITEDAY_FALLBACK_MS) {
        return false;
    }
    uint16_t next = d->day;
    if (next != ALFA_DAY_NONE && next < 0xFFFFu) {
        next++;
    }
    return begin(d, next, now_ms);
}

bool alfa_siteday_follow(alfa_siteday_t *d, uint16_t day, uint32_t now_ms)
{
    if (day == ALFA_DAY_NONE || day <= d->day) {
        return false;
    }
    if (d->day == ALFA_DAY_NONE) {
        d->day = day;
        return false;
    }
    return begin(d, day, now_ms);
}

uint16_t alfa_siteday_day(const alfa_siteday_t *d) { return d->day; }
