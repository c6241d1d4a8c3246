/* Tests of the settings store: boot results, coalescing, no-op saves, recovery, wear spread, reset, renumbering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alfa/flash_sim.h"
#include "alfa/store.h"

#define BLOB_LEN 164u /* the settings blob size (4 + 4 x 40 settings) */

typedef struct rig {
    alfa_flash_sim_t sim;
    alfa_port_t port;
    alfa_store_t st;
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    uint32_t len;
    uint16_t format;
    alfa_store_found_t found;
} rig_t;

static const alfa_flash_geom_t geom_esp32 = {4096u, 4u, 16u, 0xFFu};
static const alfa_flash_geom_t geom_tiny = {256u, 3u, 1u, 0xFFu};
static const alfa_flash_geom_t geom_wide = {2048u, 2u, 32u, 0x00u}; /* 256-bit flash words, erased to 0 */

static void fill(uint8_t *b, uint32_t len, uint32_t version)
{
    for (uint32_t i = 0; i < len; i++) {
        b[i] = (uint8_t)(version * 31u + i * 7u + (version >> 8));
    }
}

static void rig_boot(rig_t *r)
{
    memset(&r->port, 0, sizeof(r->port));
    alfa_flash_sim_port(&r->sim, &r->port);
    memset(r->blob, 0, sizeof(r->blob));
    assert_int_equal(alfa_store_init(&r->st, &r->port, r->blob, sizeof(r->blob), &r->len, &r->format, &r->found),
                     ALFA_OK);
}

static void rig_new(rig_t *r, const alfa_flash_geom_t *g)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(alfa_flash_sim_init(&r->sim, g), 0);
    rig_boot(r);
}

/* Run process() until the store is idle; returns the number of calls that did flash work. */
static int drain(rig_t *r, uint32_t now_ms)
{
    int work = 0;
    for (int i = 0; i < 1000; i++) {
        int rc = alfa_store_process(&r->st, now_ms);
        assert_true(rc >= 0);
        if (rc == 0) {
            return work;
        }
        work++;
    }
    fail_msg("store never went idle");
    return work;
}

static void save_and_commit(rig_t *r, uint32_t version, uint32_t *now_ms)
{
    uint8_t b[BLOB_LEN];
    fill(b, BLOB_LEN, version);
    assert_int_equal(alfa_store_save(&r->st, 1u, b, BLOB_LEN, *now_ms), ALFA_OK);
    *now_ms += ALFA_STORE_QUIET_MS;
    drain(r, *now_ms);
    assert_false(alfa_store_busy(&r->st));
}

static void assert_holds(rig_t *r, uint32_t version)
{
    uint8_t b[BLOB_LEN];
    fill(b, BLOB_LEN, version);
    assert_int_equal(r->found, ALFA_STORE_FOUND_RECORD);
    assert_int_equal(r->len, BLOB_LEN);
    assert_memory_equal(r->blob, b, BLOB_LEN);
}

static void test_blank_boots_blank_then_keeps_a_save(void **state)
{
    (void)state;
    const alfa_flash_geom_t *geoms[] = {&geom_esp32, &geom_tiny, &geom_wide};
    for (size_t i = 0; i < 3; i++) {
        rig_t r;
        rig_new(&r, geoms[i]);
        assert_int_equal(r.found, ALFA_STORE_FOUND_BLANK);
        assert_int_equal(alfa_store_found(&r.st), ALFA_STORE_FOUND_BLANK);
        assert_int_equal(r.len, 0u);
        uint32_t now = 1000u;
        save_and_commit(&r, 7u, &now);
        rig_boot(&r);
        assert_holds(&r, 7u);
        assert_int_equal(r.format, 1u);
        alfa_flash_sim_free(&r.sim);
    }
}

static void test_burst_is_coalesced_into_one_write(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_esp32);
    uint8_t b[BLOB_LEN];
    uint32_t now = 5000u;
    /* An app sends five settings within one second. */
    for (uint32_t k = 0; k < 5u; k++) {
        fill(b, BLOB_LEN, 100u + k);
        assert_int_equal(alfa_store_save(&r.st, 1u, b, BLOB_LEN, now), ALFA_OK);
        assert_int_equal(alfa_store_process(&r.st, now), 0);
        now += 200u;
    }
    /* Nothing reaches flash during the quiet period. */
    assert_int_equal(alfa_store_process(&r.st, now - 200u + ALFA_STORE_QUIET_MS - 1u), 0);
    assert_int_equal(r.sim.ops, 0u);
    drain(&r, now - 200u + ALFA_STORE_QUIET_MS);
    assert_int_equal(alfa_store_stats(&r.st)->records_written, 1u);
    assert_int_equal(r.sim.progs, 2u);  /* body, then commit marker */
    assert_int_equal(r.sim.erases, 1u); /* the first record erases its block */
    rig_boot(&r);
    assert_holds(&r, 104u);
    alfa_flash_sim_free(&r.sim);
}

static void test_same_value_again_costs_nothing(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_esp32);
    uint32_t now = 0u;
    save_and_commit(&r, 3u, &now);
    uint64_t ops = r.sim.ops;
    uint8_t b[BLOB_LEN];
    fill(b, BLOB_LEN, 3u);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(alfa_store_save(&r.st, 1u, b, BLOB_LEN, now), ALFA_OK);
        assert_false(alfa_store_busy(&r.st));
        now += 60000u;
        assert_int_equal(alfa_store_process(&r.st, now), 0);
    }
    assert_int_equal(r.sim.ops, ops);
    assert_int_equal(alfa_store_stats(&r.st)->saves_ignored, 10u);
    /* A change and a change back inside the quiet period write nothing either. */
    fill(b, BLOB_LEN, 4u);
    assert_int_equal(alfa_store_save(&r.st, 1u, b, BLOB_LEN, now), ALFA_OK);
    assert_true(alfa_store_busy(&r.st));
    fill(b, BLOB_LEN, 3u);
    assert_int_equal(alfa_store_save(&r.st, 1u, b, BLOB_LEN, now + 100u), ALFA_OK);
    assert_false(alfa_store_busy(&r.st));
    drain(&r, now + 100000u);
    assert_int_equal(r.sim.ops, ops);
    /* The same bytes under another format number are a change (a migration must be written). */
    assert_int_equal(alfa_store_save(&r.st, 2u, b, BLOB_LEN, now), ALFA_OK);
    assert_true(alfa_store_busy(&r.st));
    alfa_flash_sim_free(&r.sim);
}

static void test_endless_changes_still_written_after_max_delay(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_esp32);
    uint8_t b[BLOB_LEN];
    uint32_t now = 0xFFFFF000u; /* across the 32-bit clock wrap too */
    uint32_t start = now;
    while (r.sim.ops == 0u) {
        fill(b, BLOB_LEN, now);
        assert_int_equal(alfa_store_save(&r.st, 1u, b, BLOB_LEN, now), ALFA_OK);
        now += 1000u;
        assert_true(alfa_store_process(&r.st, now) >= 0);
        assert_true((uint32_t)(now - start) <= ALFA_STORE_MAX_DELAY_MS);
    }
    assert_int_equal((uint32_t)(now - start), ALFA_STORE_MAX_DELAY_MS);
    alfa_flash_sim_free(&r.sim);
}

static void test_log_wraps_round_robin_and_newest_wins(void **state)
{
    (void)state;
    const alfa_flash_geom_t *geoms[] = {&geom_esp32, &geom_tiny, &geom_wide};
    for (size_t gi = 0; gi < 3; gi++) {
        rig_t r;
        rig_new(&r, geoms[gi]);
        const alfa_flash_geom_t *g = geoms[gi];
        uint32_t per_block = g->block_size / alfa_store_record_size(g, BLOB_LEN);
        uint32_t writes = per_block * g->block_count * 5u + 1u;
        uint32_t now = 0u;
        for (uint32_t v = 1; v <= writes; v++) {
            save_and_commit(&r, v, &now);
            if (v % 7u == 0u || v == writes) {
                rig_boot(&r); /* a reboot at random moments must not disturb anything */
                assert_holds(&r, v);
            }
        }
        /* Wear is spread evenly: every block erased within one cycle of the others. */
        uint32_t lo = UINT32_MAX, hi = 0u;
        for (uint32_t b = 0; b < g->block_count; b++) {
            lo = r.sim.wear[b] < lo ? r.sim.wear[b] : lo;
            hi = r.sim.wear[b] > hi ? r.sim.wear[b] : hi;
        }
        assert_true(lo >= 4u);
        assert_true(hi - lo <= 1u);
        /* One erase per block's worth of records, never more. */
        assert_true(r.sim.erases <= writes / per_block + 1u);
        assert_int_equal(r.sim.rule_breaks, 0u);
        alfa_flash_sim_free(&r.sim);
    }
}

static void test_corrupt_newest_falls_back_to_previous(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_esp32);
    uint32_t now = 0u;
    save_and_commit(&r, 1u, &now);
    save_and_commit(&r, 2u, &now);
    /* Flip one payload bit of record 2 (second record of block 0). */
    uint32_t rec = alfa_store_record_size(&geom_esp32, BLOB_LEN);
    r.sim.mem[rec + ALFA_STORE_HEADER_SIZE + 40u] ^= 0x10u;
    rig_boot(&r);
    assert_holds(&r, 1u);
    assert_int_equal(alfa_store_stats(&r.st)->records_skipped, 1u);
    /* The next write does not append after the damaged record; it starts a fresh block. */
    save_and_commit(&r, 3u, &now);
    assert_int_equal(r.sim.rule_breaks, 0u);
    rig_boot(&r);
    assert_holds(&r, 3u);
    alfa_flash_sim_free(&r.sim);
}

static void test_garbage_flash_is_corrupt_and_recovers(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_wide);
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)(i * 151u + 7u);
    }
    alfa_flash_sim_load(&r.sim, junk, sizeof(junk));
    rig_boot(&r);
    assert_int_equal(r.found, ALFA_STORE_FOUND_CORRUPT);
    assert_int_equal(r.len, 0u);
    uint32_t now = 0u;
    save_and_commit(&r, 9u, &now);
    assert_int_equal(r.sim.rule_breaks, 0u);
    rig_boot(&r);
    assert_holds(&r, 9u);
    /* A single stray byte in an otherwise blank region is "corrupt", not "blank". */
    alfa_flash_sim_free(&r.sim);
    rig_new(&r, &geom_tiny);
    r.sim.mem[300] = 0x12u;
    r.sim.programmed[300] = 1u;
    rig_boot(&r);
    assert_int_equal(r.found, ALFA_STORE_FOUND_CORRUPT);
    alfa_flash_sim_free(&r.sim);
}

static void test_factory_reset(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_esp32);
    uint32_t now = 0u;
    save_and_commit(&r, 5u, &now);
    assert_int_equal(alfa_store_factory_reset(&r.st, now), ALFA_OK);
    assert_true(alfa_store_busy(&r.st));
    drain(&r, now); /* no quiet period for a reset */
    rig_boot(&r);
    assert_int_equal(r.found, ALFA_STORE_FOUND_RESET);
    assert_int_equal(r.len, 0u);
    uint64_t ops = r.sim.ops;
    assert_int_equal(alfa_store_factory_reset(&r.st, now), ALFA_OK); /* already reset: free */
    drain(&r, now);
    assert_int_equal(r.sim.ops, ops);
    save_and_commit(&r, 6u, &now);
    rig_boot(&r);
    assert_holds(&r, 6u);
    alfa_flash_sim_free(&r.sim);
}

static void test_bad_arguments_and_geometries_refused(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_esp32);
    uint8_t b[ALFA_STORE_BLOB_MAX + 1u];
    memset(b, 1, sizeof(b));
    assert_int_equal(alfa_store_save(&r.st, 1u, b, 0u, 0u), ALFA_E_INVAL);
    assert_int_equal(alfa_store_save(&r.st, 1u, NULL, 4u, 0u), ALFA_E_INVAL);
    assert_int_equal(alfa_store_save(NULL, 1u, b, 4u, 0u), ALFA_E_INVAL);
    assert_int_equal(alfa_store_save(&r.st, 1u, b, ALFA_STORE_BLOB_MAX + 1u, 0u), ALFA_E_RANGE);
    assert_false(alfa_store_busy(&r.st));
    assert_int_equal(alfa_store_process(NULL, 0u), ALFA_E_INVAL);
    uint32_t len;
    uint16_t fmt;
    assert_int_equal(alfa_store_init(&r.st, &r.port, NULL, 0u, &len, &fmt, NULL), ALFA_E_INVAL);
    alfa_flash_sim_free(&r.sim);

    const alfa_flash_geom_t bad[] = {
        {4096u, 1u, 16u, 0xFFu},  /* one block: nothing to fall back on */
        {4096u, 2u, 512u, 0xFFu}, /* program unit larger than supported */
        {4096u, 2u, 0u, 0xFFu},   /* no program unit */
        {1000u, 2u, 16u, 0xFFu},  /* program unit does not divide the block */
        {4096u, 2u, 16u, 0x55u},  /* erased value neither 0xFF nor 0x00 */
        {32u, 2u, 32u, 0xFFu},    /* even a reset record (2 units) does not fit a block */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        alfa_port_t port;
        memset(&port, 0, sizeof(port));
        alfa_flash_sim_t sim;
        alfa_flash_geom_t g = bad[i];
        if (alfa_flash_sim_init(&sim, &g) == 0) {
            alfa_flash_sim_port(&sim, &port);
        } else {
            memset(&sim, 0, sizeof(sim));
            sim.geom = g;
            port.user = &sim;
            port.flash_geom = &sim.geom;
            port.flash_read = alfa_flash_sim_read;
            port.flash_prog = alfa_flash_sim_prog;
            port.flash_erase = alfa_flash_sim_erase;
        }
        alfa_store_t st;
        uint8_t blob[8];
        assert_int_equal(alfa_store_init(&st, &port, blob, sizeof(blob), &len, &fmt, NULL), ALFA_E_RANGE);
        assert_int_equal(alfa_store_save(&st, 1u, blob, 4u, 0u), ALFA_E_INVAL);
        alfa_flash_sim_free(&sim);
    }

    /* A blob too large for one block of a small geometry is refused, nothing queued. */
    rig_new(&r, &geom_tiny);
    assert_int_equal(alfa_store_save(&r.st, 1u, b, 250u, 0u), ALFA_E_RANGE);
    assert_false(alfa_store_busy(&r.st));
    /* A caller buffer too small for the stored blob gets ALFA_E_NOSPACE and the size needed. */
    uint32_t now = 0u;
    save_and_commit(&r, 1u, &now);
    alfa_store_t st2;
    uint8_t small[16];
    assert_int_equal(alfa_store_init(&st2, &r.port, small, sizeof(small), &len, &fmt, NULL), ALFA_E_NOSPACE);
    assert_int_equal(len, BLOB_LEN);
    alfa_flash_sim_free(&r.sim);
}

static void test_failing_block_is_avoided(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_esp32);
    uint32_t now = 0u;
    r.sim.bad_blocks = 1u << 1;
    uint32_t per_block = geom_esp32.block_size / alfa_store_record_size(&geom_esp32, BLOB_LEN);
    for (uint32_t v = 1; v <= per_block * 6u; v++) {
        save_and_commit(&r, v, &now);
    }
    assert_true(alfa_store_stats(&r.st)->write_failures > 0u);
    rig_boot(&r);
    assert_holds(&r, per_block * 6u);
    alfa_flash_sim_free(&r.sim);
}

static void test_dead_flash_gives_error_without_hammering(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_tiny);
    uint32_t now = 0u;
    save_and_commit(&r, 1u, &now); /* block 0 holds the newest record and is full */
    r.sim.bad_blocks = 1u << 1;
    uint8_t b[BLOB_LEN];
    fill(b, BLOB_LEN, 2u);
    assert_int_equal(alfa_store_save(&r.st, 1u, b, BLOB_LEN, now), ALFA_OK);
    now += ALFA_STORE_QUIET_MS;
    int rc;
    int calls = 0;
    do {
        rc = alfa_store_process(&r.st, now);
        calls++;
    } while (rc == 1 && calls < 100);
    /* Block 1 fails, block 2 still works: the store ends on block 2. */
    assert_int_equal(rc, 0);
    r.sim.bad_blocks = 0u;
    rig_boot(&r);
    assert_holds(&r, 2u);
    /* Now make every block but the newest's fail: with 3 blocks that is 2 candidates. */
    alfa_flash_sim_free(&r.sim);

    alfa_flash_geom_t two = {256u, 2u, 1u, 0xFFu};
    rig_new(&r, &two);
    now = 0u;
    save_and_commit(&r, 1u, &now);
    r.sim.bad_blocks = 1u << 1;
    assert_int_equal(alfa_store_save(&r.st, 1u, b, BLOB_LEN, now), ALFA_OK);
    now += ALFA_STORE_QUIET_MS;
    calls = 0;
    do {
        rc = alfa_store_process(&r.st, now);
        calls++;
    } while (rc == 1 && calls < 100);
    assert_int_equal(rc, ALFA_E_IO);
    assert_true(alfa_store_busy(&r.st)); /* still pending */
    uint64_t ops = r.sim.ops;
    for (int i = 0; i < 50; i++) {
        now += 60000u;
        assert_int_equal(alfa_store_process(&r.st, now), 0); /* no retry storm */
    }
    assert_int_equal(r.sim.ops, ops);
    /* The old record survived and the flash works again after repair; a flush retries. */
    r.sim.bad_blocks = 0u;
    assert_int_equal(alfa_store_flush(&r.st), ALFA_OK);
    drain(&r, now);
    rig_boot(&r);
    assert_holds(&r, 2u);
    alfa_flash_sim_free(&r.sim);
}

static void test_retry_after_failures_never_erases_the_newest(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_tiny); /* 3 blocks, one record per block */
    uint32_t now = 0u;
    save_and_commit(&r, 1u, &now); /* the newest record sits in block 0 */
    r.sim.bad_blocks = (1u << 1) | (1u << 2);
    uint8_t b[BLOB_LEN];
    fill(b, BLOB_LEN, 2u);
    assert_int_equal(alfa_store_save(&r.st, 1u, b, BLOB_LEN, now), ALFA_OK);
    now += ALFA_STORE_QUIET_MS;
    int rc;
    while ((rc = alfa_store_process(&r.st, now)) == 1) {
    }
    assert_int_equal(rc, ALFA_E_IO);
    /* The retry must start on a block other than block 0 even though the round robin's next
     * block after the last failed one is block 0: power dies during that first erase. */
    r.sim.bad_blocks = 0u;
    alfa_flash_sim_cut_at(&r.sim, 1u, ALFA_FLASH_CUT_GARBAGE, 0u, 77u);
    assert_int_equal(alfa_store_flush(&r.st), ALFA_OK);
    while (alfa_store_process(&r.st, now) == 1) {
    }
    alfa_flash_sim_power_on(&r.sim);
    rig_boot(&r);
    assert_holds(&r, 1u);
    alfa_flash_sim_free(&r.sim);
}

/* An independent bitwise CRC-32 (IEEE) to build records exactly as docs/store.md describes. */
static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
    }
    return c ^ 0xFFFFFFFFu;
}

/* Write a record by hand at `addr` following the documented layout (prog unit 16, erased 0xFF). */
static void craft_record(rig_t *r, uint32_t addr, uint32_t seq, const uint8_t *blob, uint16_t len)
{
    uint8_t rec[16 + ALFA_STORE_BLOB_MAX];
    rec[0] = 'S';
    rec[1] = 'R';
    rec[2] = 1u;
    rec[3] = 0u;
    rec[4] = 1u; /* format 1, little-endian */
    rec[5] = 0u;
    rec[6] = (uint8_t)len;
    rec[7] = (uint8_t)(len >> 8);
    for (int i = 0; i < 4; i++) {
        rec[8 + i] = (uint8_t)(seq >> (8 * i));
    }
    memcpy(&rec[16], blob, len);
    uint8_t crcbuf[12 + ALFA_STORE_BLOB_MAX];
    memcpy(crcbuf, rec, 12);
    memcpy(&crcbuf[12], blob, len);
    uint32_t crc = ref_crc32(crcbuf, 12u + len);
    for (int i = 0; i < 4; i++) {
        rec[12 + i] = (uint8_t)(crc >> (8 * i));
    }
    memcpy(&r->sim.mem[addr], rec, 16u + len);
    uint32_t body = ((16u + len + 15u) / 16u) * 16u;
    uint8_t commit[8] = {'C', 'M', 'I', 'T', (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
                         (uint8_t)(crc >> 24)};
    memcpy(&r->sim.mem[addr + body], commit, 8);
    alfa_flash_sim_load(&r->sim, r->sim.mem, (size_t)r->sim.geom.block_size * r->sim.geom.block_count);
}

static void test_documented_format_and_renumbering(void **state)
{
    (void)state;
    rig_t r;
    rig_new(&r, &geom_esp32);
    uint8_t a[BLOB_LEN], b[BLOB_LEN];
    fill(a, BLOB_LEN, 11u);
    fill(b, BLOB_LEN, 12u);
    /* Two hand-made records: the higher sequence number wins wherever it sits. */
    craft_record(&r, 4096u * 2u, 41u, a, BLOB_LEN);
    craft_record(&r, 0u, 42u, b, BLOB_LEN);
    rig_boot(&r);
    assert_holds(&r, 12u);
    /* A record whose commit marker is missing is not trusted. */
    craft_record(&r, 4096u * 3u, 43u, a, BLOB_LEN);
    uint32_t body = ((16u + BLOB_LEN + 15u) / 16u) * 16u;
    memset(&r.sim.mem[4096u * 3u + body], 0xFF, 16);
    alfa_flash_sim_load(&r.sim, r.sim.mem, 4096u * 4u);
    rig_boot(&r);
    assert_holds(&r, 12u);

    /* Sequence number exhausted: the store renumbers and still ends with the new blob only. */
    alfa_flash_sim_free(&r.sim);
    rig_new(&r, &geom_esp32);
    craft_record(&r, 4096u, 0xFFFFFFFFu, a, BLOB_LEN);
    rig_boot(&r);
    assert_holds(&r, 11u);
    uint32_t now = 0u;
    save_and_commit(&r, 13u, &now);
    assert_int_equal(r.sim.rule_breaks, 0u);
    rig_boot(&r);
    assert_holds(&r, 13u);
    for (uint32_t i = 0; i < 4096u; i++) {
        assert_int_equal(r.sim.mem[4096u + i], 0xFFu); /* the old record's block is erased */
    }
    save_and_commit(&r, 14u, &now);
    rig_boot(&r);
    assert_holds(&r, 14u);
    alfa_flash_sim_free(&r.sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blank_boots_blank_then_keeps_a_save),
        cmocka_unit_test(test_burst_is_coalesced_into_one_write),
        cmocka_unit_test(test_same_value_again_costs_nothing),
        cmocka_unit_test(test_endless_changes_still_written_after_max_delay),
        cmocka_unit_test(test_log_wraps_round_robin_and_newest_wins),
        cmocka_unit_test(test_corrupt_newest_falls_back_to_previous),
        cmocka_unit_test(test_garbage_flash_is_corrupt_and_recovers),
        cmocka_unit_test(test_factory_reset),
        cmocka_unit_test(test_bad_arguments_and_geometries_refused),
        cmocka_unit_test(test_failing_block_is_avoided),
        cmocka_unit_test(test_dead_flash_gives_error_without_hammering),
        cmocka_unit_test(test_retry_after_failures_never_erases_the_newest),
        cmocka_unit_test(test_documented_format_and_renumbering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
