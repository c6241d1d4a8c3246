/* The firmware-update power-cut campaign: cut power at every flash operation of a whole update and check the pack always boots a valid signed image. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/otasite.h"
#include "fwsign.h"

/*
 * In the manner of MCUboot's simulator. A pack runs image A (factory-flashed into slot 0) and is
 * updated to image B by the real sender: session start, transfer into the update slot, hashing,
 * activation (boot record), the bootloader's first start of B (NEW -> PENDING), the self-test and
 * the confirmation. The uncut run counts its T flash operations (program or erase of the slots
 * and their boot records). Then, for every n in 1..T and every cut mode (the operation does not
 * happen; it lands torn after its first unit; torn at a random unit; a unit of garbage; it
 * completes), the run is replayed with the power failing at operation n; the pack stays off
 * 500 ms and boots again (again and again if a cut hits the bootloader's own write). Checked after
 * every cut:
 *   - the bootloader starts a slot ("never none"), and that slot holds an image whose trailer
 *     manifest, SHA-256 and signature verify, and which is A or B (never anything else);
 *   - no flash rule was broken (a unit programmed twice, a misaligned write);
 * and at the end, with no further cut: the pack runs B confirmed (the transfer resumed or
 * restarted after the cut), or A after a rollback that the pack reports. The last line is
 * `powercut-ota cuts=<N> failures=<M>`.
 */

typedef struct plan {
    alfa_slot_geom_t geom;
    uint32_t payload;
} plan_t;

typedef struct result {
    uint64_t cuts, failures, ended_new, ended_old, restarts;
} result_t;

static uint8_t *g_a, *g_b;
static uint32_t g_a_len, g_b_len;
static alfa_fwsign_key_t g_key;

static ota_site_t *make_site(const plan_t *p)
{
    ota_site_cfg_t c;
    memset(&c, 0, sizeof(c));
    c.packs = 1;
    c.geom = p->geom;
    c.seed = 5;
    c.keys = (const uint8_t(*)[65])g_key.point;
    c.nkeys = 1;
    gw_ota_cfg_defaults(&c.gw);
    c.gw.pack_timeout_ms = 60000u;
    c.gw.confirm_timeout_ms = 120000u;
    c.factory_image = g_a;
    c.factory_len = g_a_len;
    ota_site_t *s = ota_site_new(&c);
    if (s != NULL) {
        ota_site_run_ms(s, 5000);
    }
    return s;
}

static int start(ota_site_t *s)
{
    char why[160];
    return gw_ota_start(ota_site_gw(s), g_b, g_b_len, NULL, 0, 0, ota_site_now_ms(s), why, sizeof(why));
}

/* Which image slot `slot` holds: 'A', 'B', or 0 when it does not verify or is another one. */
static char image_in(ota_site_t *s, uint8_t slot)
{
    uint8_t m[128];
    if (!alfa_slot_sim_valid(ota_site_slots(s, 0), slot, m)) {
        return 0;
    }
    return memcmp(m, g_a, 128) == 0 ? 'A' : memcmp(m, g_b, 128) == 0 ? 'B' : 0;
}

/* Power off for 500 ms and on, until a boot ran without being cut itself. 0, or -1 on "none". */
static int power_cycle(ota_site_t *s, result_t *r, char *why, size_t cap)
{
    alfa_slot_sim_t *sl = ota_site_slots(s, 0);
    for (int k = 0; k < 8; k++) {
        ota_site_power(s, 0, 0);
        ota_site_run_ms(s, 500);
        r->restarts++;
        ota_site_power(s, 0, 1); /* power-on: the bootloader runs, then the controller starts */
        if (!sl->flash.cut_done) {
            break;
        }
    }
    if (ota_site_pack(s, 0) == NULL || sl->no_slot) {
        snprintf(why, cap, "no slot boots after the cut");
        return -1;
    }
    char img = image_in(s, sl->running);
    if (img == 0) {
        snprintf(why, cap, "the booted slot %u does not hold a valid signed A or B", sl->running);
        return -1;
    }
    return 0;
}

/* One replay with a cut at operation `op` in `mode`. Returns 1 on failure (why filled). */
static int replay(const plan_t *p, uint64_t op, alfa_flash_cut_mode_t mode, uint32_t torn, uint32_t seed, int second,
                  result_t *r, char *why, size_t cap)
{
    ota_site_t *s = make_site(p);
    if (s == NULL || start(s) != 0) {
        snprintf(why, cap, "set-up failed");
        ota_site_free(s);
        return 1;
    }
    alfa_slot_sim_t *sl = ota_site_slots(s, 0);
    alfa_flash_sim_cut_at(&sl->flash, op, mode, torn, seed);
    int failed = 0, cut = 0;
    for (uint32_t t = 0; t < 400000u && gw_ota_active(ota_site_gw(s)); t++) {
        ota_site_run_ms(s, 1);
        if (sl->flash.cut_done) {
            cut = 1;
            r->cuts++;
            if (power_cycle(s, r, why, cap) < 0) {
                failed = 1;
                break;
            }
            if (second) {
                /* A second cut somewhere in the recovery (--full). */
                second = 0;
                uint32_t h = seed * 2654435761u + 17u;
                alfa_flash_sim_cut_at(&sl->flash, 1u + h % 24u, (alfa_flash_cut_mode_t)((h >> 8) % 4u), (h >> 12) % 3u, h);
            }
        }
    }
    if (!failed && !cut) {
        snprintf(why, cap, "the cut at operation %" PRIu64 " never came", op);
        failed = 1;
    }
    if (!failed && gw_ota_active(ota_site_gw(s))) {
        snprintf(why, cap, "the update never ended after the cut");
        failed = 1;
    }
    if (!failed) {
        char img = image_in(s, sl->running);
        const gw_ota_target_t *t = gw_ota_target(ota_site_gw(s), ota_site_serial(s, 0));
        if (img == 'B' && t->st == GW_T_CONFIRMED &&
            alfa_slot_sim_state_of(sl, ALFA_SLOT_RUNNING) == ALFA_SLOT_VALID) {
            r->ended_new++;
        } else if (img == 'A' && t->st != GW_T_CONFIRMED) {
            r->ended_old++; /* reported: the gateway says why (rolled back / not restarted into it) */
            if (getenv("POWERCUT_VERBOSE") != NULL) {
                printf("  op %" PRIu64 " mode %d: ended on A: %s %s\n", op, (int)mode, gw_ota_tstate_name(t->st), t->error);
            }
        } else {
            snprintf(why, cap, "ended running %c with the gateway saying %s", img ? img : '?', gw_ota_tstate_name(t->st));
            failed = 1;
        }
    }
    if (!failed && sl->flash.rule_breaks != 0u) {
        snprintf(why, cap, "%" PRIu64 " flash rules broken", sl->flash.rule_breaks);
        failed = 1;
    }
    ota_site_free(s);
    return failed;
}

static uint64_t count_ops(const plan_t *p, int *ok)
{
    *ok = 0;
    ota_site_t *s = make_site(p);
    if (s == NULL || start(s) != 0) {
        ota_site_free(s);
        return 0;
    }
    uint64_t before = ota_site_slots(s, 0)->flash.ops;
    for (uint32_t t = 0; t < 400000u && gw_ota_active(ota_site_gw(s)); t++) {
        ota_site_run_ms(s, 1);
    }
    const gw_ota_target_t *t = gw_ota_target(ota_site_gw(s), ota_site_serial(s, 0));
    *ok = t != NULL && t->st == GW_T_CONFIRMED && image_in(s, ota_site_slots(s, 0)->running) == 'B';
    uint64_t ops = ota_site_slots(s, 0)->flash.ops - before;
    ota_site_free(s);
    return ops;
}

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    return x ^ (x >> 16);
}

static int make_images(uint32_t len)
{
    free(g_a);
    free(g_b);
    g_a_len = 1024u + 128u;
    g_b_len = len + 128u;
    uint8_t *pa = malloc(1024u), *pb = malloc(len);
    g_a = malloc(g_a_len);
    g_b = malloc(g_b_len);
    if (pa == NULL || pb == NULL || g_a == NULL || g_b == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < len; i++) pb[i] = (uint8_t)mix(i + 77u);
    for (uint32_t i = 0; i < 1024u; i++) pa[i] = (uint8_t)mix(i + 5u);
    alfa_fwimg_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.device_type = 1;
    h.hw_class = 1;
    h.major = 2;
    h.minor = 5;
    h.security_counter = 1;
    int rc = alfa_fwsign_image(&g_key, &h, pa, 1024u, g_a);
    h.minor = 6;
    rc |= alfa_fwsign_image(&g_key, &h, pb, len, g_b);
    free(pa);
    free(pb);
    return rc;
}

int main(int argc, char **argv)
{
    int full = argc > 1 && strcmp(argv[1], "--full") == 0;
    if (argc > 1 && !full) {
        fprintf(stderr, "usage: %s [--full]\n", argv[0]);
        return 2;
    }
    if (alfa_fwsign_key_from_seed(9, &g_key) != 0) {
        return 1;
    }
    /* ESP32-like sectors with 16-byte units (flash encryption), and small sectors with 8-byte units. */
    static const plan_t plans[] = {
        {{16u * 4096u, 4096u, 16u, 0xFFu}, 9000u},
        {{24u * 512u, 512u, 8u, 0xFFu}, 7000u},
        {{16u * 4096u, 4096u, 16u, 0xFFu}, 41000u},
        {{40u * 1024u, 1024u, 4u, 0x00u}, 30000u},
    };
    static const alfa_flash_cut_mode_t modes[] = {ALFA_FLASH_CUT_BEFORE, ALFA_FLASH_CUT_TORN, ALFA_FLASH_CUT_TORN,
                                                  ALFA_FLASH_CUT_GARBAGE, ALFA_FLASH_CUT_AFTER};
    result_t total;
    memset(&total, 0, sizeof(total));
    size_t nplans = full ? sizeof(plans) / sizeof(plans[0]) : 1u;
    for (size_t k = 0; k < nplans; k++) {
        const plan_t *p = &plans[k];
        if (make_images(p->payload) != 0) {
            return 1;
        }
        int ok = 0;
        uint64_t ops = count_ops(p, &ok);
        if (!ok || ops == 0u) {
            printf("powercut-ota geometry sector=%" PRIu32 ": the uncut update failed\n", p->geom.sector_size);
            total.failures++;
            continue;
        }
        result_t r;
        memset(&r, 0, sizeof(r));
        /* The short pass (make test) cuts every operation in two modes; --full in all five. */
        size_t nmodes = full ? sizeof(modes) / sizeof(modes[0]) : 2u;
        const char *only = getenv("POWERCUT_ONLY"); /* "plan,op,mode": one replay, for a look at it */
        for (uint64_t op = 1; op <= ops; op++) {
            for (size_t m = 0; m < nmodes; m++) {
                if (only != NULL) {
                    unsigned pk, po, pm;
                    if (sscanf(only, "%u,%u,%u", &pk, &po, &pm) != 3 || pk != k || po != op || pm != m) {
                        continue;
                    }
                }
                size_t mi = full ? m : (m == 0u ? (op % 2u ? 3u : 0u) : (op % 2u ? 1u : 4u));
                uint32_t h = mix((uint32_t)(op * 31u + mi));
                char why[200] = "";
                if (replay(p, op, modes[mi], mi == 1u ? 1u : h % 4u, h, full, &r, why, sizeof(why))) {
                    r.failures++;
                    if (r.failures <= 10u) {
                        printf("powercut-ota FAIL sector=%" PRIu32 " op %" PRIu64 " mode %zu: %s\n", p->geom.sector_size, op,
                               mi, why);
                    }
                }
            }
        }
        printf("powercut-ota geometry slot=%" PRIu32 " sector=%" PRIu32 " prog=%" PRIu32 " image=%" PRIu32
               " ops=%" PRIu64 " cuts=%" PRIu64 " failures=%" PRIu64 " ended_new=%" PRIu64 " ended_old=%" PRIu64 "\n",
               p->geom.slot_size, p->geom.sector_size, p->geom.prog_size, p->payload, ops, r.cuts, r.failures,
               r.ended_new, r.ended_old);
        total.cuts += r.cuts;
        total.failures += r.failures;
    }
    printf("powercut-ota cuts=%" PRIu64 " failures=%" PRIu64 "\n", total.cuts, total.failures);
    free(g_a);
    free(g_b);
    return total.failures == 0u ? 0 : 1;
}
