/* The whole-site soak: a seeded fault-injection run of the simulated site, checked against the plant's truth every cycle. */
#ifndef SIM_SOAK_H
#define SIM_SOAK_H

/*
 * One soak run is one seed: a site of `packs` packs for `days` days (docs/soak.md). A schedule
 * drawn from the seed injects faults at random moments — many within a minute of 05:00 — and
 * sends every kind of command; after every check period the invariants are judged against the
 * plant (which knows the real energy) and the real gateway logic (gw_core, fed every frame of
 * the bus). Every violation is printed with its time and seed.
 */

#include <stdint.h>
#include <stdio.h>

#include "alfa/scenario.h"
#include "site.h"

typedef struct soak_opts {
    uint32_t days;
    uint8_t packs;
    int verbose;               /* print every injected fault */
    uint32_t max_reports;      /* violation lines printed per kind and seed */
    int stop_at_first;         /* end the seed's run at its first violation (debugging) */
} soak_opts_t;

/* Invariant kinds (docs/soak.md). */
enum soak_kind {
    SOAK_SITE_COUNT = 0,   /* the site's count of today's import vs the truth */
    SOAK_LIMIT,            /* a grid relay closed after the site limit was reached */
    SOAK_TODAY,            /* a "today" counter went down within a day, or reset off 05:00 */
    SOAK_MASTERS,          /* more than one master on a connected bus beyond 3 s */
    SOAK_SETTINGS,         /* an acknowledged setting was lost */
    SOAK_SAFE,             /* relays not in their safe state within a cycle of a critical alarm */
    SOAK_KINDS
};

typedef struct soak_result {
    uint64_t faults;                 /* injected faults */
    uint64_t commands;               /* commands sent */
    uint64_t violations[SOAK_KINDS];
    uint64_t checks;
    double cpu_s;
    uint64_t limit_overshoot_wh_max; /* worst site import past a reached limit (information) */
    uint64_t lost_in_quiet;          /* acknowledged changes lost to a cut in the quiet period (allowed) */
    uint64_t lost_at_boot_wh;        /* import counted unheard, then lost to a reboot (RAM only: allowed) */
} soak_result_t;

/* Run one seed. Returns 0 when it ran (violations are in *r), -1 when the site could not be built. */
int soak_run(uint64_t seed, const soak_opts_t *o, soak_result_t *r, FILE *out);

/* Name of an invariant kind. */
const char *soak_kind_name(unsigned kind);

#endif
