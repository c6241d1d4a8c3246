/* alfaspark-soak: seeded fault-injection runs of the whole simulated site, with invariants checked against the truth (make soak). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: alfaspark-soak [--days N] [--packs N] [--seeds A-B | --seed N ...] [--max-reports N] [--verbose]\n"
            "                      [--stop-at-first]\n"
            "  Runs the simulated site for N days per seed (default 30 days, 8 packs, seeds 1-5) under a\n"
            "  seeded schedule of faults and commands, and checks the invariants of docs/soak.md every\n"
            "  half second. Prints every violation (up to --max-reports per kind and seed, default 20),\n"
            "  then: soak days=<D> packs=<P> seeds=<S> faults=<F> violations=<V>. Exit 0 only without\n"
            "  violations.\n");
}

static int parse_u(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    soak_opts_t o = {.days = 30, .packs = 8, .verbose = 0, .max_reports = 20};
    uint64_t seeds[64];
    unsigned nseeds = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long x, y;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--verbose")) {
            o.verbose = 1;
        } else if (!strcmp(a, "--stop-at-first")) {
            o.stop_at_first = 1;
        } else if (!strcmp(a, "--days") && v && parse_u(v, 1, 366, &x) == 0) {
            o.days = (uint32_t)x;
            i++;
        } else if (!strcmp(a, "--packs") && v && parse_u(v, 1, 40, &x) == 0) {
            o.packs = (uint8_t)x;
            i++;
        } else if (!strcmp(a, "--max-reports") && v && parse_u(v, 0, 1000000, &x) == 0) {
            o.max_reports = (uint32_t)x;
            i++;
        } else if (!strcmp(a, "--seed") && v && parse_u(v, 0, 1000000000ul, &x) == 0 && nseeds < 64) {
            seeds[nseeds++] = x;
            i++;
        } else if (!strcmp(a, "--seeds") && v && sscanf(v, "%lu-%lu", &x, &y) == 2 && x <= y && y - x < 64) {
            for (unsigned long s = x; s <= y && nseeds < 64; s++) {
                seeds[nseeds++] = s;
            }
            i++;
        } else {
            fprintf(stderr, "alfaspark-soak: bad or incomplete argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (nseeds == 0) {
        for (unsigned s = 1; s <= 5; s++) {
            seeds[nseeds++] = s;
        }
    }
    uint64_t faults = 0, violations = 0; /* commands: in each seed's line, not in the summary's format */
    for (unsigned k = 0; k < nseeds; k++) {
        soak_result_t r;
        if (soak_run(seeds[k], &o, &r, stdout) < 0) {
            fprintf(stderr, "alfaspark-soak: seed %" PRIu64 ": the site could not be built\n", seeds[k]);
            return 2;
        }
        uint64_t v = 0;
        printf("soak seed %" PRIu64 ": %u days, %u packs, %" PRIu64 " faults, %" PRIu64 " commands, %" PRIu64
               " checks, %.1f s CPU; violations:",
               seeds[k], o.days, o.packs, r.faults, r.commands, r.checks, r.cpu_s);
        for (unsigned kind = 0; kind < SOAK_KINDS; kind++) {
            printf(" %s=%" PRIu64, soak_kind_name(kind), r.violations[kind]);
            v += r.violations[kind];
        }
        printf("; limit overshoot max %" PRIu64 " Wh; changes lost to a cut in the quiet period %" PRIu64
               "; import lost unheard to reboots %" PRIu64 " Wh\n",
               r.limit_overshoot_wh_max, r.lost_in_quiet, r.lost_at_boot_wh);
        fflush(stdout);
        faults += r.faults;
        violations += v;
    }
    printf("soak days=%u packs=%u seeds=%u faults=%" PRIu64 " violations=%" PRIu64 "\n", o.days, o.packs, nseeds, faults,
           violations);
    return violations == 0 ? 0 : 1;
}
