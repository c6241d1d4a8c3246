/* Wall-clock and local time for the core: kept from the gateway's time broadcasts on the monotonic clock. */
#ifndef ALFA_LTIME_H
#define ALFA_LTIME_H

#include <stdbool.h>
#include <stdint.h>

/* Accepted time: 2020-01-01 .. 2100-01-01 UTC, offsets -12:00 .. +14:00. */
#define ALFA_TIME_MIN_UNIX 1577836800LL
#define ALFA_TIME_MAX_UNIX 4102444800LL
#define ALFA_UTC_OFFSET_MIN_MIN (-720)
#define ALFA_UTC_OFFSET_MAX_MIN 840
/* The day for the grid-import limit starts at 05:00 local (SPEC.md §6.2). */

typedef struct alfa_clock {
    bool valid;
    int16_t utc_offset_min;
    int64_t unix_s;   /* wall time at ref_ms */
    uint32_t ref_ms;  /* monotonic ms of unix_s; advanced in whole seconds, so now_ms may wrap */
} alfa_clock_t;

void alfa_time_init(alfa_clock_t *t);
/* Set the time. ALFA_E_RANGE (nothing changed) when unix_s or the offset is out of range. */
int alfa_time_set(alfa_clock_t *t, int64_t unix_s, int16_t utc_offset_min, uint32_t now_ms);
/* Carry the reference forward; call at least every 49 days (the core calls it every cycle). */
void alfa_time_tick(alfa_clock_t *t, uint32_t now_ms);
/* A time was ever set. */
static inline bool alfa_time_valid(const alfa_clock_t *t) { return t->valid; }
/* The local offset from UTC in minutes of the last time set (0 before any). */
static inline int16_t alfa_time_utc_offset_min(const alfa_clock_t *t) { return t->utc_offset_min; }
/* Local seconds since the epoch (UTC seconds + offset); meaningless when !valid. */
int64_t alfa_time_local_s(const alfa_clock_t *t, uint32_t now_ms);
/* Minute of the local day, 0..1439. */
int32_t alfa_time_minute_of_day(int64_t local_s);

#endif
