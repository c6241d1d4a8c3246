/* Tests of the daily grid-import limit (SPEC.md §6.2, §6.3 rank 1): reached at 14:00, held against everything until 05:00. */
#include "harness.h"

static void limit_at_14h_holds_against_backup_manual_and_uv_until_5h(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_BACKUP);
    set(&p, ALFA_SET_GRID_LIMIT_ON, 1);
    set(&p, ALFA_SET_GRID_LIMIT_KWH, 9);
    soc_settle(&p, 30);
    clock_at(&p, 0, 5, 0);
    run(&p, 2000);                           /* the day starts at 05:00 */
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 1000); /* 1 kW from the grid: 9 kWh at 14:00 */
    run(&p, 8 * 3600000u + 50 * 60000u);     /* 13:50 */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_warnings(&p.core) & (1u << ALFA_WARN_GRID_LIMIT_REACHED), 0);
    run(&p, 20 * 60000u);                    /* 14:10 */
    assert_false(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_GRID), ALFA_WHY_GRID_LIMIT);
    assert_true(alfa_core_warnings(&p.core) & (1u << ALFA_WARN_GRID_LIMIT_REACHED));
    uint32_t wh = alfa_core_grid_import_today_wh(&p.core);
    assert_true(wh >= 9000 && wh < 9200);
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 0); /* open relay: no import */

    /* Backup wants it closed: still open */
    run(&p, 3600000u);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    /* manual "closed": still open */
    set(&p, ALFA_SET_OVR_GRID, ALFA_OVR_CLOSED);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    /* BMS under-voltage alarm (safe state: grid closed): still open */
    p.alarms = 1u << 1;
    bms_poll(&p);
    assert_true(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_CELL_UV));
    assert_false(closed(&p, ALFA_RELAY_GRID));
    /* through the evening and night, to 04:59 */
    run(&p, 13 * 3600000u + 48 * 60000u);    /* 04:58:xx next day */
    assert_false(closed(&p, ALFA_RELAY_GRID));
    run(&p, 120000u);                        /* 05:00:xx: the daily reset */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_GRID), ALFA_WHY_FAULT);
    assert_true(alfa_core_grid_import_today_wh(&p.core) < 10);
    assert_int_equal(alfa_core_warnings(&p.core) & (1u << ALFA_WARN_GRID_LIMIT_REACHED), 0);
}

static void switching_the_limit_off_releases_at_once(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_BACKUP);
    set(&p, ALFA_SET_GRID_LIMIT_ON, 1);
    set(&p, ALFA_SET_GRID_LIMIT_KWH, 2);
    soc_settle(&p, 30);
    clock_at(&p, 0, 9, 0);
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 4400);
    run(&p, 30 * 60000u); /* 2.2 kWh */
    assert_false(closed(&p, ALFA_RELAY_GRID));
    set(&p, ALFA_SET_GRID_LIMIT_ON, 0); /* in the same call, dwell or not */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    /* on again with today's import already over: open again at once */
    set(&p, ALFA_SET_GRID_LIMIT_ON, 1);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    /* raising the limit is judged afresh */
    set(&p, ALFA_SET_GRID_LIMIT_KWH, 5);
    assert_true(closed(&p, ALFA_RELAY_GRID));
}

static void without_time_the_reset_comes_24h_after_the_last(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_BACKUP);
    set(&p, ALFA_SET_GRID_LIMIT_ON, 1);
    set(&p, ALFA_SET_GRID_LIMIT_KWH, 2);
    soc_settle(&p, 30);
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 2200);
    run(&p, 3600000u); /* 2.2 kWh by ~55 min */
    assert_false(closed(&p, ALFA_RELAY_GRID));
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 0);
    run(&p, 22 * 3600000u + 58 * 60000u); /* 23:58:32 since boot */
    assert_false(closed(&p, ALFA_RELAY_GRID));
    run(&p, 120000u); /* 24 h since boot (the last reset) */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), 0);
    assert_false(alfa_core_time_valid(&p.core));
}

static void site_master_and_recovered_import(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_BACKUP);
    soc_settle(&p, 30);
    clock_at(&p, 0, 10, 0);
    uint16_t day = alfa_core_day(&p.core);
    assert_true(day != ALFA_DAY_NONE);
    /* the master's word is ignored while the limit is off */
    alfa_core_site_grid_limit(&p.core, 0, true, day);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    set(&p, ALFA_SET_GRID_LIMIT_ON, 1);
    set(&p, ALFA_SET_GRID_LIMIT_KWH, 10);
    alfa_core_site_grid_limit(&p.core, 0, true, (uint16_t)(day - 1u)); /* yesterday's word: not ours */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    alfa_core_site_grid_limit(&p.core, 0, true, day); /* the site reached it, this pack did not */
    assert_false(closed(&p, ALFA_RELAY_GRID));
    alfa_core_site_grid_limit(&p.core, 0, false, day); /* never releases by itself */
    run(&p, 60000);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    clock_at(&p, 1, 5, 0); /* a jump over 05:00: the reset */
    run(&p, 2000);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    day = alfa_core_day(&p.core);
    /* a rebooted pack recovers today's import: larger only, and only its own day's */
    alfa_core_restore_grid_import(&p.core, 9000, (uint16_t)(day - 1u));
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), 0);
    alfa_core_restore_grid_import(&p.core, 4000, day);
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), 4000);
    alfa_core_restore_grid_import(&p.core, 100, day);
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), 4000);
    alfa_core_restore_grid_import(&p.core, 10000, day);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_int_equal(t.grid_import_today_wh, 10000);
}

/* After a boot the counter is "since boot" (information bit import_recovering, no LED, no
 * heartbeat WARNING): the first answers add what the pack had before (the largest of one round
 * wins), the next cycle ends the round and later answers only raise it; a day turn ends it too. */
static void import_after_boot_adds_what_came_before(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    uint16_t recovering = 1u << ALFA_WARN_IMPORT_RECOVERING;
    clock_at(&p, 0, 10, 0);
    uint16_t day = alfa_core_day(&p.core);
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 1000);
    run(&p, 3600000u);                   /* 1 kWh since boot */
    uint32_t since_boot = alfa_core_grid_import_today_wh(&p.core);
    assert_true(since_boot >= 990 && since_boot <= 1010);
    assert_int_equal(alfa_core_warnings(&p.core) & recovering, recovering);
    assert_false(alfa_core_warning_any(&p.core));
    alfa_core_restore_grid_import(&p.core, 700, (uint16_t)(day - 1u)); /* another day: nothing */
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), since_boot);
    assert_int_equal(alfa_core_warnings(&p.core) & recovering, recovering);
    /* The round: the gateway says 700 before the boot, the master 800, a late one 750. */
    alfa_core_restore_grid_import(&p.core, 700, day);
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), since_boot + 700);
    assert_int_equal(alfa_core_warnings(&p.core) & recovering, 0);
    alfa_core_restore_grid_import(&p.core, 800, day);
    alfa_core_restore_grid_import(&p.core, 750, day);
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), since_boot + 800);
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_int_equal(t.grid_import_today_wh, since_boot + 800);
    assert_int_equal(t.warnings & recovering, 0);
    /* After the next cycle an answer is a whole figure: only a larger one counts. */
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_GRID, 0);
    run(&p, 2000);
    alfa_core_restore_grid_import(&p.core, 900, day);
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), since_boot + 800);
    alfa_core_restore_grid_import(&p.core, since_boot + 900, day);
    assert_int_equal(alfa_core_grid_import_today_wh(&p.core), since_boot + 900);

    /* A pack that nobody answers keeps the bit until the day turns: then its count is whole. */
    pack_t q;
    pack_start(&q);
    clock_at(&q, 0, 10, 0);
    run(&q, 3600000u);
    assert_int_equal(alfa_core_warnings(&q.core) & recovering, recovering);
    clock_at(&q, 1, 5, 0);
    run(&q, 2000);
    assert_int_equal(alfa_core_warnings(&q.core) & recovering, 0);
    alfa_core_restore_grid_import(&q.core, 300, alfa_core_day(&q.core));
    assert_int_equal(alfa_core_grid_import_today_wh(&q.core), 300);
}

static void time_rules(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    assert_int_equal(alfa_core_set_time(&p.core, 1000, 0), ALFA_E_RANGE);
    assert_int_equal(alfa_core_set_time(&p.core, T_DAY0, 841), ALFA_E_RANGE);
    assert_int_equal(alfa_core_set_time(&p.core, T_DAY0, -721), ALFA_E_RANGE);
    assert_int_equal(alfa_core_set_time(&p.core, ALFA_TIME_MAX_UNIX + 1, 0), ALFA_E_RANGE);
    assert_false(alfa_core_time_valid(&p.core));
    /* local time is UTC + offset: 03:30 UTC at +02:00 is 05:30 local, minute 330 */
    assert_int_equal(alfa_core_set_time(&p.core, T_DAY0 + 3 * 3600 + 1800, 120), ALFA_OK);
    int64_t unix_s = 0;
    int16_t off_min = 0;
    assert_true(alfa_core_wall_time(&p.core, &unix_s, &off_min));
    int64_t local = unix_s + (int64_t)off_min * 60;
    assert_int_equal(alfa_time_minute_of_day(local), 330);
    assert_int_equal(alfa_time_minute_of_day(-60), 1439);
    /* the site day runs 05:00 .. 05:00 */
    assert_int_equal(alfa_siteday_of(T_DAY0 + 5 * 3600), alfa_siteday_of(T_DAY0 + 86400 + 4 * 3600));
    assert_true(alfa_siteday_of(T_DAY0 + 4 * 3600) < alfa_siteday_of(T_DAY0 + 5 * 3600));
    assert_int_equal(alfa_siteday_of(0), ALFA_DAY_NONE);
    /* time keeps running across the 32-bit millisecond wrap */
    alfa_clock_t c;
    alfa_time_init(&c);
    assert_int_equal(alfa_time_set(&c, T_DAY0, 0, 0xFFFFF000u), ALFA_OK);
    alfa_time_tick(&c, 0x00001000u + 500u);
    assert_int_equal(alfa_time_local_s(&c, 0x00002000u), T_DAY0 + 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limit_at_14h_holds_against_backup_manual_and_uv_until_5h),
        cmocka_unit_test(switching_the_limit_off_releases_at_once),
        cmocka_unit_test(without_time_the_reset_comes_24h_after_the_last),
        cmocka_unit_test(site_master_and_recovered_import),
        cmocka_unit_test(import_after_boot_adds_what_came_before),
        cmocka_unit_test(time_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
