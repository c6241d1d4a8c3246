/* The settings-store power-cut campaign: cut power at every flash operation, reboot, and check what the pack would load. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/flash_sim.h"
#include "alfa/settings.h"
#include "alfa/store.h"

/*
 * For every geometry the campaign first runs a sequence of settings events (single changes,
 * bursts of changes, the same value again, factory resets) without a cut and counts its flash
 * operations T. Then, for every n in 1..T and every cut mode, it replays the sequence on a fresh
 * flash with power failing at operation n, reboots from what is on flash and checks the loaded
 * settings are exactly the last committed ones or the ones being written, never anything else,
 * never defaults once something was committed. It then keeps going on the recovered flash with
 * a second cut at a pseudo-random later operation, checks again, and finally checks one more
 * clean save. The last line is `powercut cuts=<N> failures=<M>`.
 */

#define BLOB_LEN ALFA_SETTINGS_BLOB_SIZE
_Static_assert(BLOB_LEN <= ALFA_STORE_BLOB_MAX, "the settings blob must fit the store");

typedef enum ev_type { EV_SAVE, EV_BURST, EV_SAME, EV_RESET } ev_type_t;

/* What flash may hold: nothing yet, a blob of version v (with format f), or a factory reset. */
typedef enum kind { K_NONE, K_BLOB, K_RESET } kind_t;
typedef struct expect {
    kind_t kind;
    uint32_t v;
    uint16_t format;
} expect_t;

typedef struct campaign {
    uint64_t cuts;
    uint64_t failures;
} campaign_t;

static void fill(uint8_t *b, uint32_t v)
{
    /* Looks like a settings blob ("AS", version, count) so the sizes are real; the values differ per v. */
    b[0] = 'A';
    b[1] = 'S';
    b[2] = (uint8_t)ALFA_SETTINGS_BLOB_VERSION;
    b[3] = (uint8_t)ALFA_SET_COUNT;
    for (uint32_t i = 4; i < BLOB_LEN; i++) {
        b[i] = (uint8_t)((v * 2654435761u + i * 40503u) >> 11);
    }
}

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

typedef struct runner {
    alfa_flash_sim_t sim;
    alfa_port_t port;
    alfa_store_t st;
    uint32_t now_ms;
    uint32_t next_v;   /* next fresh version number */
    expect_t current;  /* what the store was last told */
} runner_t;

static int boot(runner_t *r, expect_t *found_out)
{
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    uint32_t len;
    uint16_t format;
    alfa_store_found_t found;
    memset(&r->port, 0, sizeof(r->port));
    alfa_flash_sim_port(&r->sim, &r->port);
    if (alfa_store_init(&r->st, &r->port, blob, sizeof(blob), &len, &format, &found) != ALFA_OK) {
        return -1;
    }
    found_out->kind = K_NONE;
    found_out->v = 0u;
    found_out->format = 0u;
    if (found == ALFA_STORE_FOUND_RESET) {
        found_out->kind = K_RESET;
    } else if (found == ALFA_STORE_FOUND_RECORD) {
        /* Identify the version by content: fill() is unique per version. */
        if (len != BLOB_LEN) {
            return -2;
        }
        uint8_t want[BLOB_LEN];
        uint32_t v = 0u;
        for (; v < r->next_v; v++) {
            fill(want, v);
            if (memcmp(want, blob, BLOB_LEN) == 0) {
                break;
            }
        }
        if (v == r->next_v) {
            return -3; /* a blob that was never saved: garbage trusted */
        }
        found_out->kind = K_BLOB;
        found_out->v = v;
        found_out->format = format;
    }
    return 0;
}

static int same(const expect_t *a, const expect_t *b)
{
    if (a->kind != b->kind) {
        return 0;
    }
    return a->kind != K_BLOB || (a->v == b->v && a->format == b->format);
}

/* Hand one event to the store; *out gets what the store should hold once it has written it.
 * Returns 0, or the store's refusal: saves and resets only queue in RAM, so no power cut can
 * cause one (cuts fail flash operations, in drain()); any refusal is a failure of the campaign. */
static int apply(runner_t *r, ev_type_t type, expect_t *out)
{
    uint8_t b[BLOB_LEN];
    expect_t e = r->current;
    int rc = ALFA_OK;
    switch (type) {
    case EV_SAVE:
    case EV_BURST: {
        int n = type == EV_BURST ? 4 : 1;
        for (int i = 0; i < n; i++) {
            e.kind = K_BLOB;
            e.v = r->next_v++;
            e.format = (uint16_t)(1u + (e.v % 3u == 0u));
            fill(b, e.v);
            if (rc == ALFA_OK) {
                rc = alfa_store_save(&r->st, e.format, b, BLOB_LEN, r->now_ms);
            }
            r->now_ms += 250u;
        }
        break;
    }
    case EV_SAME:
        if (e.kind == K_BLOB) {
            fill(b, e.v);
            rc = alfa_store_save(&r->st, e.format, b, BLOB_LEN, r->now_ms);
        }
        break;
    case EV_RESET:
        rc = alfa_store_factory_reset(&r->st, r->now_ms);
        e.kind = K_RESET;
        break;
    }
    r->current = e;
    *out = e;
    return rc;
}

/* Drive the store until idle. 0 = written, 1 = power was cut, -1 = store error without a cut. */
static int drain(runner_t *r)
{
    r->now_ms += ALFA_STORE_QUIET_MS;
    for (int i = 0; i < 10000; i++) {
        int rc = alfa_store_process(&r->st, r->now_ms);
        if (r->sim.cut_done) {
            /* Expected: the flash died under this call or an earlier one, so whatever the store
             * returned says only that; the reboot check judges what is on flash. */
            return 1;
        }
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            return 0;
        }
    }
    return -1;
}

static ev_type_t event_type(uint32_t i)
{
    if (i % 11u == 10u) {
        return EV_RESET;
    }
    if (i % 5u == 4u) {
        return EV_BURST;
    }
    if (i % 7u == 3u) {
        return EV_SAME;
    }
    return EV_SAVE;
}

/* Run events [first, last) until done or cut. `*committed` tracks the last fully written state
 * and `*in_flight` the one being written when the cut came. Returns drain()'s code. */
static int run_events(runner_t *r, uint32_t first, uint32_t last, expect_t *committed, expect_t *in_flight)
{
    for (uint32_t i = first; i < last; i++) {
        expect_t target;
        if (apply(r, event_type(i), &target) < 0) {
            return -1;
        }
        int rc = drain(r);
        if (rc != 0) {
            *in_flight = target;
            return rc;
        }
        *committed = target;
        *in_flight = target;
    }
    return 0;
}

typedef struct cut_spec {
    uint64_t op;
    alfa_flash_cut_mode_t mode;
    uint32_t torn;
    uint32_t seed;
} cut_spec_t;

static const char *mode_name(alfa_flash_cut_mode_t m)
{
    switch (m) {
    case ALFA_FLASH_CUT_BEFORE: return "before";
    case ALFA_FLASH_CUT_TORN: return "torn";
    case ALFA_FLASH_CUT_GARBAGE: return "garbage";
    case ALFA_FLASH_CUT_AFTER: return "after";
    }
    return "?";
}

/* After a cut: reboot and check the flash holds `committed` or `in_flight`. */
static int check_reboot(runner_t *r, const expect_t *committed, const expect_t *in_flight, char *why, size_t cap)
{
    expect_t got;
    alfa_flash_sim_power_on(&r->sim);
    int rc = boot(r, &got);
    if (rc < 0) {
        snprintf(why, cap, "boot failed or trusted garbage (%d)", rc);
        return -1;
    }
    if (got.kind == K_NONE && committed->kind == K_NONE) {
        r->current = got;
        return 0; /* nothing was ever committed: defaults are right */
    }
    if (!same(&got, committed) && !same(&got, in_flight)) {
        snprintf(why, cap, "loaded kind=%d v=%" PRIu32 ", expected v=%" PRIu32 " (kind %d) or v=%" PRIu32 " (kind %d)",
                 (int)got.kind, got.v, committed->v, (int)committed->kind, in_flight->v, (int)in_flight->kind);
        return -1;
    }
    r->current = got;
    return 0;
}

/* One replay with a first cut, a second cut during recovery, and a clean check. Returns the
 * number of cuts made (1 or 2); `*failed` set on any violation. */
static int replay(const alfa_flash_geom_t *g, uint32_t nevents, const cut_spec_t *cut, int *failed, char *why,
                  size_t cap)
{
    runner_t *r = calloc(1, sizeof(*r));
    int cuts = 0;
    *failed = 0;
    if (r == NULL || alfa_flash_sim_init(&r->sim, g) != 0) {
        snprintf(why, cap, "out of memory");
        *failed = 1;
        free(r);
        return 0;
    }
    r->now_ms = 1000u;
    expect_t got, committed = {K_NONE, 0u, 0u}, in_flight = committed;
    r->current = committed;
    if (boot(r, &got) < 0 || got.kind != K_NONE) {
        snprintf(why, cap, "blank flash did not boot blank");
        *failed = 1;
        goto out;
    }
    alfa_flash_sim_cut_at(&r->sim, cut->op, cut->mode, cut->torn, cut->seed);
    int rc = run_events(r, 0u, nevents, &committed, &in_flight);
    if (rc < 0) {
        snprintf(why, cap, "store error without a power cut");
        *failed = 1;
        goto out;
    }
    if (rc == 1) {
        cuts++;
        if (check_reboot(r, &committed, &in_flight, why, cap) < 0) {
            *failed = 1;
            goto out;
        }
        committed = r->current;
        in_flight = r->current;
        /* Recovery: eight more events, with a second cut somewhere in the next ~30 operations. */
        uint32_t h = mix((uint32_t)cut->op * 31u + cut->seed);
        alfa_flash_sim_cut_at(&r->sim, 1u + h % 30u, (alfa_flash_cut_mode_t)((h >> 8) % 4u), (h >> 12) % 40u, h);
        rc = run_events(r, nevents, nevents + 8u, &committed, &in_flight);
        if (rc < 0) {
            snprintf(why, cap, "store error without a power cut after recovery");
            *failed = 1;
            goto out;
        }
        if (rc == 1) {
            cuts++;
            if (check_reboot(r, &committed, &in_flight, why, cap) < 0) {
                snprintf(why + strlen(why), cap - strlen(why), " [second cut]");
                *failed = 1;
                goto out;
            }
        }
    }
    /* Whatever happened, one clean save must now be what boots. */
    alfa_flash_sim_power_on(&r->sim);
    if (apply(r, EV_SAVE, &committed) < 0 || drain(r) != 0) {
        snprintf(why, cap, "final clean save failed");
        *failed = 1;
        goto out;
    }
    if (boot(r, &got) < 0 || !same(&got, &committed)) {
        snprintf(why, cap, "final clean save not loaded");
        *failed = 1;
        goto out;
    }
    if (r->sim.rule_breaks != 0u) {
        snprintf(why, cap, "store broke a flash rule %" PRIu64 " times", r->sim.rule_breaks);
        *failed = 1;
    }
out:
    alfa_flash_sim_free(&r->sim);
    free(r);
    return cuts;
}

/* Flash operations of the whole sequence without any cut. */
static uint64_t count_ops(const alfa_flash_geom_t *g, uint32_t nevents)
{
    runner_t *r = calloc(1, sizeof(*r));
    uint64_t ops = 0u;
    if (r == NULL || alfa_flash_sim_init(&r->sim, g) != 0) {
        free(r);
        return 0u;
    }
    r->now_ms = 1000u;
    expect_t got, committed = {K_NONE, 0u, 0u}, in_flight = committed;
    if (boot(r, &got) == 0 && run_events(r, 0u, nevents, &committed, &in_flight) == 0) {
        ops = r->sim.ops;
    }
    alfa_flash_sim_free(&r->sim);
    free(r);
    return ops;
}

static void run_geometry(campaign_t *c, const alfa_flash_geom_t *g, uint32_t nevents)
{
    uint64_t total = count_ops(g, nevents);
    uint64_t cuts = 0u, failures = 0u;
    /* Every operation is cut five ways: not done, torn after its first unit, torn at a random
     * unit, torn with a garbage unit (for an erase: a garbage block), and done. */
    const alfa_flash_cut_mode_t modes[] = {ALFA_FLASH_CUT_BEFORE, ALFA_FLASH_CUT_TORN, ALFA_FLASH_CUT_TORN,
                                           ALFA_FLASH_CUT_GARBAGE, ALFA_FLASH_CUT_AFTER};
    const size_t nmodes = sizeof(modes) / sizeof(modes[0]);
    if (total == 0u) {
        printf("powercut geometry %" PRIu32 "x%" PRIu32 " prog %" PRIu32 ": the uncut sequence failed\n",
               g->block_size, g->block_count, g->prog_size);
        c->failures++;
        return;
    }
    uint32_t units = alfa_store_record_size(g, BLOB_LEN) / g->prog_size;
    for (uint64_t op = 1u; op <= total; op++) {
        for (size_t m = 0; m < nmodes; m++) {
            uint32_t h = mix((uint32_t)(op * 7u + m));
            cut_spec_t cut = {op, modes[m], 0u, h};
            if (m == 1u) {
                cut.torn = 1u; /* only the first unit lands: the header without its payload */
            } else {
                cut.torn = h % (units + 1u);
            }
            int failed = 0;
            char why[200] = "";
            cuts += (uint64_t)replay(g, nevents, &cut, &failed, why, sizeof(why));
            if (failed) {
                failures++;
                if (failures <= 10u) {
                    printf("powercut FAIL geometry %" PRIu32 "x%" PRIu32 "/%" PRIu32 "/%02x op %" PRIu64
                           " mode %s torn %" PRIu32 ": %s\n",
                           g->block_size, g->block_count, g->prog_size, g->erased_value, op, mode_name(cut.mode),
                           cut.torn, why);
                }
            }
        }
    }
    printf("powercut geometry block=%" PRIu32 " blocks=%" PRIu32 " prog=%" PRIu32 " erased=0x%02X ops=%" PRIu64
           " cuts=%" PRIu64 " failures=%" PRIu64 "\n",
           g->block_size, g->block_count, g->prog_size, g->erased_value, total, cuts, failures);
    c->cuts += cuts;
    c->failures += failures;
}

int main(int argc, char **argv)
{
    int full = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") == 0) {
            full = 1;
        } else {
            fprintf(stderr, "usage: %s [--full]\n", argv[0]);
            return 2;
        }
    }
    /* ESP32 raw partition (4 KiB sectors, 16-byte units as with flash encryption), a tiny EEPROM-like
     * part, a NAND-like wide program unit with erased 0x00, and a small-block part. */
    static const struct {
        alfa_flash_geom_t g;
        uint32_t events_full;
        uint32_t events_short;
    } plan[] = {
        {{4096u, 4u, 16u, 0xFFu}, 400u, 60u},
        {{256u, 3u, 1u, 0xFFu}, 60u, 20u},
        {{2048u, 2u, 32u, 0x00u}, 60u, 20u},
        {{512u, 2u, 8u, 0x00u}, 60u, 0u},
        {{8192u, 2u, 32u, 0xFFu}, 200u, 0u},
    };
    campaign_t c = {0u, 0u};
    for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
        uint32_t n = full ? plan[i].events_full : plan[i].events_short;
        if (n > 0u) {
            run_geometry(&c, &plan[i].g, n);
        }
    }
    printf("powercut cuts=%" PRIu64 " failures=%" PRIu64 "\n", c.cuts, c.failures);
    return c.failures == 0u ? 0 : 1;
}
