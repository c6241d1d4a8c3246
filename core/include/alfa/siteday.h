/* The site day: which 05:00-05:00 local day "today" is, decided in one place and moving only forward. */
#ifndef ALFA_SITEDAY_H
#define ALFA_SITEDAY_H

/*
 * Every "today" figure of a pack (grid import, solar, battery in and out), the daily grid-import
 * limit and every CAN message about them belong to one site day (SPEC.md §5.5, §6.2). This module
 * is the only place that decides when a day ends. Its rules:
 *
 *   - The day is numbered (ALFA_DAY_NONE = 0 until any wall-clock time is known; see model.h).
 *   - With valid time, the day is the one containing local time; the number only moves FORWARD.
 *     A reset ("a new day began") happens when local time passes a 05:00 later than the last
 *     reset. A backward clock correction never resets or releases anything: the day simply lasts
 *     longer. The first time ever known sets the day without a reset (what was counted since boot
 *     counts for that day).
 *   - Without time, the reset comes 24 h after the previous one (boot counts as one), and a known
 *     day number advances by one with it.
 *   - A pack follows the master's day forward (alfa_siteday_follow): the site's day is the
 *     master's, so a pack without time of its own, or whose clock lags a little, turns the day
 *     with the site and never takes a message of the old day for one of the new.
 *
 * No heap, no globals; the core holds one and calls it every cycle.
 */

#include <stdbool.h>
#include <stdint.h>

/* Without valid time, the reset happens this long after the previous one (SPEC.md §6.2). */
#define ALFA_SITEDAY_FALLBACK_MS 86400000u

typedef struct alfa_siteday {
    uint16_t day;        /* current site day, ALFA_DAY_NONE until known */
    uint32_t reset_ms;   /* monotonic time of the last reset (boot counts as one) */
} alfa_siteday_t;

/* Start at boot: day unknown, "last reset" now. */
void alfa_siteday_init(alfa_siteday_t *d, uint32_t now_ms);

/* Day number of a local time (seconds since the epoch in local time); ALFA_DAY_NONE before 1970. */
uint16_t alfa_siteday_of(int64_t local_s);

/* Advance with the clock: `time_valid` and `local_s` from the pack's clock. Returns true when a
 * new day began now (the caller resets its "today" figures). */
bool alfa_siteday_tick(alfa_siteday_t *d, bool time_valid, int64_t local_s, uint32_t now_ms);

/* The master announced `day`: follow it if it is later than ours (true: a new day began now);
 * an earlier day or ALFA_DAY_NONE changes nothing. A pack whose day was unknown takes it without
 * a reset (like the first time). */
bool alfa_siteday_follow(alfa_siteday_t *d, uint16_t day, uint32_t now_ms);

/* The current day (ALFA_DAY_NONE when not known). */
uint16_t alfa_siteday_day(const alfa_siteday_t *d);

#endif
