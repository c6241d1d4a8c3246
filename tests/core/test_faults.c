/* Tests of the fault table (SPEC.md §5.7), the safe states of §6.3 rank 2, telemetry and the watchdog contract (§12). */
#include "harness.h"
#include "alfa/names.h"

static void table_has_a_row_per_fault(void **state)
{
    (void)state;
    for (uint32_t b = 0; b < ALFA_FAULT_COUNT; b++) {
        const alfa_fault_row_t *r = alfa_fault_row(b);
        assert_non_null(r);
        assert_int_equal(r->bit, b);
        assert_non_null(alfa_fault_name(b)); /* every row has its published name */
    }
    assert_null(alfa_fault_row(ALFA_FAULT_COUNT));
    assert_int_equal(alfa_fault_row(ALFA_FAULT_CELL_UV)->action, ALFA_FACT_GRID_CLOSED);
    assert_int_equal(alfa_fault_row(ALFA_FAULT_CELL_OV)->action, ALFA_FACT_GRID_OPEN);
    assert_int_equal(alfa_fault_row(ALFA_FAULT_OVER_TEMP)->action, ALFA_FACT_GRID_OPEN);
    assert_int_equal(alfa_fault_row(ALFA_FAULT_TIME_NOT_SET)->severity, ALFA_SEV_WARNING);
    /* debounce: a condition must hold set_ms; a bounce restarts the clock */
    alfa_faults_t f;
    alfa_fault_init(&f);
    alfa_fault_input(&f, ALFA_FAULT_CT_RANGE, true, 0);
    assert_false(alfa_fault_process(&f, 5999));
    alfa_fault_input(&f, ALFA_FAULT_CT_RANGE, false, 5999);
    alfa_fault_input(&f, ALFA_FAULT_CT_RANGE, true, 6000);
    assert_false(alfa_fault_process(&f, 11999));
    assert_true(alfa_fault_process(&f, 12000));
    assert_true(alfa_fault_warning(&f));
    assert_false(alfa_fault_critical(&f));
    alfa_fault_input(&f, 99, true, 0); /* not a fault: ignored */
    assert_int_equal(f.raw, 1u << ALFA_FAULT_CT_RANGE);
}

static void bms_alarms_put_the_grid_in_its_safe_state(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_SELF_CONSUMPTION);
    soc_settle(&p, 70); /* mode: grid open */
    set(&p, ALFA_SET_OVR_GRID, ALFA_OVR_OPEN);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    /* under-voltage: grid closed so the inverter can charge, over mode and manual, at once */
    p.alarms = 1u << 1;
    bms_poll(&p);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_GRID), ALFA_WHY_FAULT);
    assert_true(p.tp.leds & ALFA_LED_RED);
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.faults & (1u << ALFA_FAULT_CELL_UV));
    /* over-voltage as well: open wins */
    p.alarms = (1u << 1) | (1u << 0);
    bms_poll(&p);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    /* alarms gone: cleared after 4 s of good readings, then back to the manual "open" */
    p.alarms = 0;
    run(&p, 2000);
    assert_true(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_CELL_OV));
    run(&p, 4000);
    assert_false(alfa_core_faults(&p.core) & ((1u << ALFA_FAULT_CELL_OV) | (1u << ALFA_FAULT_CELL_UV)));
    assert_false(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_GRID), ALFA_WHY_OVERRIDE);
    assert_false(p.tp.leds & ALFA_LED_RED);
    /* over-temperature against Backup */
    set(&p, ALFA_SET_MODE, ALFA_MODE_BACKUP); /* also overrides back to auto */
    run(&p, 31000);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    p.alarms = 1u << 2;
    bms_poll(&p);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    /* every alarm bit maps to its own fault */
    for (uint32_t b = 0; b < 8; b++) {
        p.alarms = (uint16_t)(1u << b);
        bms_poll(&p);
        assert_true(alfa_core_faults(&p.core) & (1u << (ALFA_FAULT_CELL_OV + b)));
    }
}

static void bms_comm_lost_and_degraded(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_SELF_CONSUMPTION);
    soc_settle(&p, 70);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    p.bms_on = 0;
    alfa_core_bms_in_t lost = {.flags = ALFA_CORE_BMS_COMM_LOST};
    assert_int_equal(alfa_core_bms_input(&p.core, &lost), ALFA_OK);
    assert_true(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_BMS_COMM_LOST));
    assert_true(closed(&p, ALFA_RELAY_GRID)); /* battery state unknown: the home on the grid */
    assert_true(p.tp.leds & ALFA_LED_RED);
    /* it comes back, with warning bits: comm fault cleared, "BMS degraded" warning */
    alfa_bms_reading_t r = {.v_pack_mv = soc_to_mv(70), .warnings = 0x0004};
    assert_int_equal(alfa_core_bms_reading(&p.core, &r), ALFA_OK);
    assert_false(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_BMS_COMM_LOST));
    assert_true(alfa_core_warnings(&p.core) & (1u << ALFA_WARN_BMS_DEGRADED));
    assert_false(closed(&p, ALFA_RELAY_GRID));
}

static void outside_reports(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    alfa_core_can_bus_off(&p.core, true);
    assert_true(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_CAN_BUS_OFF));
    alfa_core_can_bus_off(&p.core, false);
    assert_false(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_CAN_BUS_OFF));
    alfa_core_settings_corrupt(&p.core, true);
    assert_true(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_SETTINGS_CORRUPT));
    alfa_core_settings_corrupt(&p.core, false);
    assert_false(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_SETTINGS_CORRUPT));
    alfa_core_node_id_conflict(&p.core, true);
    assert_true(alfa_core_warnings(&p.core) & (1u << ALFA_WARN_NODE_ID_CONFLICT));
    alfa_core_node_id_conflict(&p.core, false);
    /* Only the information bit of a fresh boot is left: nobody answered with today's import. */
    assert_int_equal(alfa_core_warnings(&p.core), 1u << ALFA_WARN_IMPORT_RECOVERING);
}

static void watchdog_fed_only_by_completed_cycles(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    assert_int_equal(p.tp.watchdog_feeds, 0);
    /* called every 10 ms for 10 s: 5 cycles (t = 0, 2, 4, 6, 8 s) feed 5 times, not 1000 */
    alfa_test_port_run(&p.tp, &p.core, 9990, 10);
    assert_int_equal(p.tp.watchdog_feeds, 5);
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_int_equal(t.cycle, 5);
    /* a main loop that stops calling the core stops feeding: the watchdog would bite */
    alfa_test_port_advance(&p.tp, 20000);
    assert_int_equal(p.tp.watchdog_feeds, 5);
    /* when it resumes late it runs one cycle, not a burst of ten */
    alfa_core_process(&p.core);
    alfa_core_process(&p.core);
    assert_int_equal(p.tp.watchdog_feeds, 6);
    /* the monotonic clock wrapping at 2^32 ms does not stop the cycle */
    pack_t q;
    alfa_test_port_init(&q.tp, 0xFFFFF000u);
    alfa_core_config_t cfg = {.serial = 5};
    assert_int_equal(alfa_core_init(&q.core, &q.tp.port, &cfg), ALFA_OK);
    alfa_test_port_run(&q.tp, &q.core, 19900, 100);
    assert_int_equal(q.tp.watchdog_feeds, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_has_a_row_per_fault),
        cmocka_unit_test(bms_alarms_put_the_grid_in_its_safe_state),
        cmocka_unit_test(bms_comm_lost_and_degraded),
        cmocka_unit_test(outside_reports),
        cmocka_unit_test(watchdog_fed_only_by_completed_cycles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
