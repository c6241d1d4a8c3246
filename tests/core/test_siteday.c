/* Tests of the site day (siteday.h) and of the core's "today" around it: 05:00, clock corrections both ways, the master's day. */
#include "harness.h"
#include "alfa/siteday.h"

#define D0 ((uint16_t)(T_DAY0 / 86400)) /* the site day from T_DAY0 05:00 (local = UTC here) */

static void rules_of_the_day(void **state)
{
    (void)state;
    alfa_siteday_t d;
    alfa_siteday_init(&d, 1000);
    assert_int_equal(alfa_siteday_day(&d), ALFA_DAY_NONE);
    /* 04:59:59 belongs to the day before, 05:00:00 starts the next */
    assert_int_equal(alfa_siteday_of(T_DAY0 + 5 * 3600 - 1), D0 - 1);
    assert_int_equal(alfa_siteday_of(T_DAY0 + 5 * 3600), D0);
    /* the first time known sets the day without a reset */
    assert_false(alfa_siteday_tick(&d, true, T_DAY0 + 10 * 3600, 2000));
    assert_int_equal(alfa_siteday_day(&d), D0);
    /* a backward correction (6 h back, even over 05:00) changes nothing */
    assert_false(alfa_siteday_tick(&d, true, T_DAY0 + 4 * 3600, 3000));
    assert_false(alfa_siteday_tick(&d, true, T_DAY0 + 5 * 3600, 4000)); /* 05:00 again: not a later one */
    assert_int_equal(alfa_siteday_day(&d), D0);
    /* the next 05:00 resets, once */
    assert_true(alfa_siteday_tick(&d, true, T_DAY0 + 86400 + 5 * 3600, 5000));
    assert_false(alfa_siteday_tick(&d, true, T_DAY0 + 86400 + 5 * 3600 + 2, 5002));
    assert_int_equal(alfa_siteday_day(&d), D0 + 1);
    /* the master's day: forward only */
    assert_false(alfa_siteday_follow(&d, D0, 6000));
    assert_false(alfa_siteday_follow(&d, ALFA_DAY_NONE, 6000));
    assert_true(alfa_siteday_follow(&d, D0 + 2, 7000));
    assert_int_equal(alfa_siteday_day(&d), D0 + 2);
    /* without time: 24 h after the last reset, and a known day moves on with it */
    assert_false(alfa_siteday_tick(&d, false, 0, 7000 + ALFA_SITEDAY_FALLBACK_MS - 1u));
    assert_true(alfa_siteday_tick(&d, false, 0, 7000 + ALFA_SITEDAY_FALLBACK_MS));
    assert_int_equal(alfa_siteday_day(&d), D0 + 3);
    /* a pack that never had time adopts the master's day without a reset */
    alfa_siteday_init(&d, 0);
    assert_false(alfa_siteday_follow(&d, D0, 10));
    assert_int_equal(alfa_siteday_day(&d), D0);
}

/* A reached limit and today's counters survive a clock set 6 h back (issue 10, item 3): the old
 * core started a new day at any change of the day key, backwards too, and gave the grid back. */
static void backward_correction_keeps_the_limit_and_the_counters(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_BACKUP);
    set(&p, ALFA_SET_GRID_LIMIT_ON, 1);
    set(&p, ALFA_SET_GRID_LIMIT_KWH, 2);
    soc_settle(&p, 30);
    clock_at(&p, 0, 9, 0);
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 2200);
    run(&p, 3600000u);
    assert_false(closed(&p, ALFA_RELAY_GRID)); /* reached */
    uint32_t wh = alfa_core_grid_import_today_wh(&p.core);
    assert_true(wh >= 2000u);
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 0);
    clock_at(&p, 0, 4, 0); /* 10:00 -> 04:00 */
    run(&p, 2 * 3600000u);  /* past 05:00 again on the corrected clock */
    assert_false(closed(&p, ALFA_RELAY_GRID));
    assert_true(alfa_core_warnings(&p.core) & (1u << ALFA_WARN_GRID_LIMIT_REACHED));
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), wh);
    assert_int_equal(alfa_core_day(&p.core), D0);
    /* a forward correction over 05:00 is the next day */
    clock_at(&p, 1, 6, 0);
    run(&p, 2000);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), 0);
    assert_int_equal(alfa_core_day(&p.core), D0 + 1);
}

/* The master's word belongs to its day: an old day's "reached" never latches a pack that has
 * turned its day (issue 10, item 1), and the master's later day is followed at once. */
static void the_masters_day(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_BACKUP);
    set(&p, ALFA_SET_GRID_LIMIT_ON, 1);
    set(&p, ALFA_SET_GRID_LIMIT_KWH, 10);
    soc_settle(&p, 30);
    clock_at(&p, 1, 5, 0); /* this pack passed 05:00 first */
    run(&p, 2000);
    assert_int_equal(alfa_core_day(&p.core), D0 + 1);
    alfa_core_site_grid_limit(&p.core, 0, true, D0); /* the master, still on yesterday */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    alfa_core_site_grid_limit(&p.core, 0, true, D0 + 1);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    /* the master turns the next day first: this pack follows at once, the limit with it */
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 1000);
    run(&p, 60000);
    assert_true(alfa_core_grid_import_today_wh(&p.core) > 0);
    alfa_core_follow_day(&p.core, D0 + 2);
    assert_int_equal(alfa_core_day(&p.core), D0 + 2);
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), 0);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_int_equal(t.day, D0 + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_of_the_day),
        cmocka_unit_test(backward_correction_keeps_the_limit_and_the_counters),
        cmocka_unit_test(the_masters_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
