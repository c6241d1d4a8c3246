/* One pack's "today" grid import as another keeper holds it (master, every pack, gateway, simulator), across that pack's reboots. */
#ifndef ALFA_DAYFIG_H
#define ALFA_DAYFIG_H

/*
 * A pack counts its grid import of the site day in RAM only (SPEC.md §5.5). After a boot it
 * counts from 0 and sets ALFA_WARN_IMPORT_RECOVERING in its telemetry until it has the figure of
 * before its boot back (from an answer to its import request) or the day turns. While the flag
 * is up its figure is "since my boot", so a keeper adds it to what the pack had before (the
 * base) instead of taking the larger: a pack that rebooted off the bus and imported more since
 * than before must not lose the before (docs/protocol.md §3.3).
 *
 *   report:  a figure from the pack itself (its telemetry), with its flag
 *   merge:   a figure from another keeper (an answer to an import request): the larger wins;
 *            while the pack is recovering, what others hold is its figure of before the boot
 *   answer:  what this keeper tells others: the base while the pack is recovering, so that the
 *            pack (which adds it to its own count) and other keepers (which take it as the base)
 *            never count the since-boot part twice
 *
 * The day is the caller's: a new day starts from a zeroed figure. Pure functions on the struct;
 * no heap, no globals.
 */

#include <stdbool.h>
#include <stdint.h>

typedef struct alfa_dayfig {
    uint32_t wh;         /* the pack's import of the day as far as known */
    uint32_t base_wh;    /* while recovering: its import before its last boot */
    uint8_t recovering;  /* its last report carried ALFA_WARN_IMPORT_RECOVERING */
} alfa_dayfig_t;

/* The pack's own report. While recovering, a figure below what it reported since its boot means
 * it booted again: what it had is kept as the new base. Returns true when `wh` rose. */
bool alfa_dayfig_report(alfa_dayfig_t *d, uint32_t wh, bool recovering);

/* Another keeper's figure for the pack. Returns true when `wh` rose. */
bool alfa_dayfig_merge(alfa_dayfig_t *d, uint32_t wh);

/* The figure to give others. */
uint32_t alfa_dayfig_answer(const alfa_dayfig_t *d);

#endif
