/* Real settings through the store: encode, persist, cut power mid-write, reboot, decode old or new exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alfa/flash_sim.h"
#include "alfa/settings.h"
#include "alfa/store.h"

static const alfa_flash_geom_t plan = {4096u, 2u, 16u, 0xFFu};

/* Boot from flash and decode; returns the alfa_store_found_t and fills `out` for a record. */
static alfa_store_found_t boot(alfa_flash_sim_t *sim, alfa_store_t *st, alfa_settings_t *out)
{
    alfa_port_t port;
    memset(&port, 0, sizeof(port));
    alfa_flash_sim_port(sim, &port);
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    uint32_t len;
    uint16_t format;
    alfa_store_found_t found;
    static alfa_port_t keep; /* the store keeps a pointer to its port */
    keep = port;
    assert_int_equal(alfa_store_init(st, &keep, blob, sizeof(blob), &len, &format, &found), ALFA_OK);
    if (found == ALFA_STORE_FOUND_RECORD) {
        assert_int_equal(format, ALFA_SETTINGS_BLOB_VERSION);
        assert_int_equal(alfa_settings_decode(out, blob, len, NULL), 0);
    }
    return found;
}

static void save(alfa_store_t *st, const alfa_settings_t *s, uint32_t now)
{
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    int n = alfa_settings_encode(s, blob, sizeof(blob));
    assert_true(n > 0);
    assert_int_equal(alfa_store_save(st, (uint16_t)ALFA_SETTINGS_BLOB_VERSION, blob, (uint32_t)n, now), ALFA_OK);
}

static void test_settings_survive_a_cut_at_every_operation(void **state)
{
    (void)state;
    alfa_settings_t old_s, new_s;
    alfa_settings_defaults(&old_s);
    assert_int_equal(alfa_settings_set(&old_s, ALFA_SET_ECO_LIMIT_W, 2500, NULL), 0);
    assert_int_equal(alfa_settings_set(&old_s, ALFA_SET_TOU0_ENABLED, 1, NULL), 0);
    new_s = old_s;
    /* The burst an app sends: five settings in a second. */
    assert_int_equal(alfa_settings_set(&new_s, ALFA_SET_ECO_LIMIT_W, 3100, NULL), 0);
    assert_int_equal(alfa_settings_set(&new_s, ALFA_SET_TOU0_START_MIN, 23 * 60, NULL), 0);
    assert_int_equal(alfa_settings_set(&new_s, ALFA_SET_TOU0_END_MIN, 6 * 60, NULL), 0);
    assert_int_equal(alfa_settings_set(&new_s, ALFA_SET_GRID_LIMIT_ON, 1, NULL), 0);
    assert_int_equal(alfa_settings_set(&new_s, ALFA_SET_GRID_LIMIT_KWH, 12, NULL), 0);
    assert_true(memcmp(&old_s, &new_s, sizeof(old_s)) != 0);

    int saw_old = 0, saw_new = 0;
    /* Enough iterations to cover the erase of a fresh block as well as appends. */
    for (uint32_t cut = 1; cut <= 40u; cut++) {
        for (int mode = 0; mode < 4; mode++) {
            alfa_flash_sim_t sim;
            assert_int_equal(alfa_flash_sim_init(&sim, &plan), 0);
            alfa_store_t st;
            alfa_settings_t got;
            assert_int_equal(boot(&sim, &st, &got), ALFA_STORE_FOUND_BLANK);
            uint32_t now = 0u;
            /* Fill part of the log first so cuts land on appends and on block changes. */
            for (uint32_t k = 0; k < cut % 23u; k++) {
                alfa_settings_t filler = old_s;
                assert_int_equal(alfa_settings_set(&filler, ALFA_SET_ECO_LIMIT_W, 1000 + (int32_t)k * 10, NULL), 0);
                save(&st, &filler, now);
                now += ALFA_STORE_QUIET_MS;
                while (alfa_store_process(&st, now) == 1) {
                }
            }
            save(&st, &old_s, now);
            now += ALFA_STORE_QUIET_MS;
            while (alfa_store_process(&st, now) == 1) {
            }
            assert_false(alfa_store_busy(&st));
            /* The burst, then power fails at the n-th flash operation of its write. */
            alfa_flash_sim_cut_at(&sim, 1u + cut % 3u, (alfa_flash_cut_mode_t)mode, cut * 7u % 12u, cut);
            for (uint32_t id = 0; id < 5u; id++) {
                save(&st, &new_s, now + id * 200u);
            }
            now += 1000u + ALFA_STORE_QUIET_MS;
            while (alfa_store_process(&st, now) == 1) {
            }
            alfa_flash_sim_power_on(&sim);
            assert_int_equal(boot(&sim, &st, &got), ALFA_STORE_FOUND_RECORD);
            if (memcmp(&got, &old_s, sizeof(got)) == 0) {
                saw_old = 1;
            } else {
                assert_memory_equal(&got, &new_s, sizeof(got));
                saw_new = 1;
            }
            alfa_flash_sim_free(&sim);
        }
    }
    /* The cuts fell both before and after the commit point. */
    assert_true(saw_old);
    assert_true(saw_new);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_survive_a_cut_at_every_operation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
