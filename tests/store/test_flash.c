/* Tests of the two flash ports: the simulator's rules and power cuts, and the file-backed flash. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "alfa/flash_file.h"
#include "alfa/flash_sim.h"
#include "alfa/store.h"

static void test_sim_enforces_rules(void **state)
{
    (void)state;
    const uint8_t erased[] = {0xFFu, 0x00u};
    for (size_t e = 0; e < 2; e++) {
        alfa_flash_geom_t g = {512u, 2u, 16u, erased[e]};
        alfa_flash_sim_t sim;
        assert_int_equal(alfa_flash_sim_init(&sim, &g), 0);
        uint8_t buf[64], rd[64];
        memset(buf, 0x5A, sizeof(buf));
        assert_int_equal(alfa_flash_sim_read(&sim, 0u, rd, 64u), ALFA_PORT_OK);
        for (int i = 0; i < 64; i++) {
            assert_int_equal(rd[i], erased[e]);
        }
        assert_int_equal(alfa_flash_sim_prog(&sim, 8u, buf, 16u), ALFA_PORT_E_RANGE);   /* misaligned */
        assert_int_equal(alfa_flash_sim_prog(&sim, 16u, buf, 20u), ALFA_PORT_E_RANGE);  /* partial unit */
        assert_int_equal(alfa_flash_sim_prog(&sim, 1016u, buf, 16u), ALFA_PORT_E_RANGE); /* past the end */
        assert_int_equal(alfa_flash_sim_read(&sim, 1020u, rd, 8u), ALFA_PORT_E_RANGE);
        assert_int_equal(alfa_flash_sim_erase(&sim, 2u), ALFA_PORT_E_RANGE);
        assert_int_equal(alfa_flash_sim_prog(&sim, 32u, buf, 32u), ALFA_PORT_OK);
        /* Programming again, even with the erased value, needs an erase first. */
        uint8_t blank[16];
        memset(blank, erased[e], sizeof(blank));
        assert_int_equal(alfa_flash_sim_prog(&sim, 48u, blank, 16u), ALFA_PORT_E_REPROG);
        assert_int_equal(alfa_flash_sim_prog(&sim, 16u, buf, 32u), ALFA_PORT_E_REPROG); /* overlaps */
        assert_int_equal(alfa_flash_sim_read(&sim, 16u, rd, 16u), ALFA_PORT_OK);
        assert_int_equal(rd[0], erased[e]); /* the refused program changed nothing */
        assert_int_equal(alfa_flash_sim_erase(&sim, 0u), ALFA_PORT_OK);
        assert_int_equal(alfa_flash_sim_prog(&sim, 48u, buf, 16u), ALFA_PORT_OK);
        assert_int_equal(sim.wear[0], 1u);
        assert_int_equal(sim.rule_breaks, 7u);
        alfa_flash_sim_free(&sim);
    }
}

static void test_sim_power_cuts(void **state)
{
    (void)state;
    alfa_flash_geom_t g = {256u, 2u, 4u, 0xFFu};
    alfa_flash_sim_t sim;
    assert_int_equal(alfa_flash_sim_init(&sim, &g), 0);
    uint8_t buf[32], rd[32];
    for (int i = 0; i < 32; i++) {
        buf[i] = (uint8_t)(i + 1);
    }
    /* Torn: 3 of 8 units land, the rest stay erased, and the chip is dead afterwards. */
    alfa_flash_sim_cut_at(&sim, 1u, ALFA_FLASH_CUT_TORN, 3u, 1u);
    assert_int_equal(alfa_flash_sim_prog(&sim, 0u, buf, 32u), ALFA_PORT_E_IO);
    assert_int_equal(alfa_flash_sim_read(&sim, 0u, rd, 32u), ALFA_PORT_E_IO);
    alfa_flash_sim_power_on(&sim);
    assert_int_equal(alfa_flash_sim_read(&sim, 0u, rd, 32u), ALFA_PORT_OK);
    assert_memory_equal(rd, buf, 12u);
    for (int i = 12; i < 32; i++) {
        assert_int_equal(rd[i], 0xFFu);
    }
    /* Garbage: 1 unit lands, the next holds something else. */
    alfa_flash_sim_cut_at(&sim, 2u, ALFA_FLASH_CUT_GARBAGE, 1u, 99u);
    assert_int_equal(alfa_flash_sim_prog(&sim, 64u, buf, 4u), ALFA_PORT_OK); /* op 1: not cut */
    assert_int_equal(alfa_flash_sim_prog(&sim, 128u, buf, 16u), ALFA_PORT_E_IO);
    alfa_flash_sim_power_on(&sim);
    assert_int_equal(alfa_flash_sim_read(&sim, 128u, rd, 16u), ALFA_PORT_OK);
    assert_memory_equal(rd, buf, 4u);
    assert_memory_not_equal(&rd[4], &buf[4], 4u);
    assert_int_equal(rd[8], 0xFFu);
    assert_int_equal(alfa_flash_sim_prog(&sim, 132u, buf, 4u), ALFA_PORT_E_REPROG); /* garbage unit is programmed */
    /* Interrupted erase: the first 10 units erased, the rest keep their contents. */
    alfa_flash_sim_cut_at(&sim, 1u, ALFA_FLASH_CUT_TORN, 10u, 5u);
    assert_int_equal(alfa_flash_sim_erase(&sim, 0u), ALFA_PORT_E_IO);
    alfa_flash_sim_power_on(&sim);
    assert_int_equal(alfa_flash_sim_read(&sim, 0u, rd, 4u), ALFA_PORT_OK);
    assert_int_equal(rd[0], 0xFFu);
    assert_int_equal(alfa_flash_sim_read(&sim, 64u, rd, 4u), ALFA_PORT_OK);
    assert_memory_equal(rd, buf, 4u);
    /* Before: nothing happens at all. */
    alfa_flash_sim_cut_at(&sim, 1u, ALFA_FLASH_CUT_BEFORE, 0u, 5u);
    assert_int_equal(alfa_flash_sim_erase(&sim, 0u), ALFA_PORT_E_IO);
    alfa_flash_sim_power_on(&sim);
    assert_int_equal(alfa_flash_sim_read(&sim, 64u, rd, 4u), ALFA_PORT_OK);
    assert_memory_equal(rd, buf, 4u);
    alfa_flash_sim_free(&sim);
}

static void temp_path(char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/alfa-flash-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path); /* alfa_flash_file_open creates it */
}

static void test_file_flash_rules_and_persistence(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof(path));
    alfa_flash_geom_t g = {1024u, 3u, 16u, 0x00u};
    alfa_flash_file_t ff;
    assert_int_equal(alfa_flash_file_open(&ff, path, &g), ALFA_PORT_OK);
    uint8_t buf[32], rd[32];
    memset(buf, 0xA7, sizeof(buf));
    assert_int_equal(alfa_flash_file_read(&ff, 1000u, rd, 32u), ALFA_PORT_OK);
    assert_int_equal(rd[31], 0x00u);
    assert_int_equal(alfa_flash_file_prog(&ff, 4u, buf, 16u), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_flash_file_prog(&ff, 3072u, buf, 16u), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_flash_file_prog(&ff, 16u, buf, 32u), ALFA_PORT_OK);
    assert_int_equal(alfa_flash_file_prog(&ff, 32u, buf, 16u), ALFA_PORT_E_REPROG);
    assert_int_equal(alfa_flash_file_erase(&ff, 3u), ALFA_PORT_E_RANGE);
    alfa_flash_file_close(&ff);
    /* Another geometry on the same file is refused, and the file is untouched. */
    alfa_flash_geom_t other = {4096u, 2u, 16u, 0x00u};
    assert_int_equal(alfa_flash_file_open(&ff, path, &other), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_flash_file_open(&ff, path, &g), ALFA_PORT_OK);
    assert_int_equal(alfa_flash_file_read(&ff, 16u, rd, 32u), ALFA_PORT_OK);
    assert_memory_equal(rd, buf, 32u);
    assert_int_equal(alfa_flash_file_erase(&ff, 0u), ALFA_PORT_OK);
    assert_int_equal(alfa_flash_file_read(&ff, 16u, rd, 32u), ALFA_PORT_OK);
    assert_int_equal(rd[0], 0x00u);
    alfa_flash_file_close(&ff);
    unlink(path);
}

static void test_store_on_file_survives_restart(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof(path));
    alfa_flash_geom_t g = {4096u, 2u, 16u, 0xFFu};
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    uint32_t len;
    uint16_t fmt;
    alfa_store_found_t found;
    uint32_t now = 0u;
    for (uint32_t run = 0; run < 30u; run++) {
        alfa_flash_file_t ff;
        alfa_port_t port;
        memset(&port, 0, sizeof(port));
        assert_int_equal(alfa_flash_file_open(&ff, path, &g), ALFA_PORT_OK);
        alfa_flash_file_port(&ff, &port);
        alfa_store_t *st = malloc(sizeof(*st));
        assert_non_null(st);
        assert_int_equal(alfa_store_init(st, &port, blob, sizeof(blob), &len, &fmt, &found), ALFA_OK);
        if (run == 0u) {
            assert_int_equal(found, ALFA_STORE_FOUND_BLANK);
        } else {
            /* Each daemon run finds what the previous one saved. */
            assert_int_equal(found, ALFA_STORE_FOUND_RECORD);
            assert_int_equal(len, 100u);
            for (uint32_t i = 0; i < len; i++) {
                assert_int_equal(blob[i], (uint8_t)(run - 1u + i));
            }
        }
        for (uint32_t i = 0; i < 100u; i++) {
            blob[i] = (uint8_t)(run + i);
        }
        assert_int_equal(alfa_store_save(st, 1u, blob, 100u, now), ALFA_OK);
        now += ALFA_STORE_QUIET_MS;
        int rc;
        while ((rc = alfa_store_process(st, now)) == 1) {
        }
        assert_int_equal(rc, 0);
        free(st);
        alfa_flash_file_close(&ff);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_enforces_rules),
        cmocka_unit_test(test_sim_power_cuts),
        cmocka_unit_test(test_file_flash_rules_and_persistence),
        cmocka_unit_test(test_store_on_file_survives_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
