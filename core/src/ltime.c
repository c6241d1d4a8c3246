/* Wall-clock time kept on the monotonic clock, local minute of day and the 05:00 day boundary. */
#include "alfa/ltime.h"
#include "alfa/err.h"

void alfa_time_init(alfa_clock_t *t)
{
    alfa_clock_t z = {0};
    *t = z;
}

int alfa_time_set(alfa_clock_t *t, int64_t unix_s, int16_t utc_offset_min, uint32_t now_ms)
{
    if (unix_s < ALFA_TIME_MIN_UNIX || unix_s > ALFA_TIME_MAX_UNIX ||
        utc_offset_min < ALFA_UTC_OFFSET_MIN_MIN || utc_offset_min > ALFA_UTC_OFFSET_MAX_MIN) {
        return ALFA_E_RANGE;
    }
    t->valid = true;
    t->unix_s = unix_s;
    t->ref_ms = now_ms;
    t->utc_offset_min = utc_offset_min;
    return ALFA_OK;
}

void alfa_time_tick(alfa_clock_t *t, uint32_t now_ms)
{
    uint32_t secs = (uint32_t)(now_ms - t->ref_ms) / 1000u;
    t->unix_s += secs;
    t->ref_ms += secs * 1000u;
}

int64_t alfa_time_local_s(const alfa_clock_t *t, uint32_t now_ms)
{
    return t->unix_s + (int64_t)((uint32_t)(now_ms - t->ref_ms) / 1000u) +
           (int64_t)t->utc_offset_min * 60;
}

int32_t alfa_time_minute_of_day(int64_t local_s)
{
    int64_t s = local_s % 86400;
    if (s < 0) {
        s += 86400;
    }
    return (int32_t)(s / 60);
}

