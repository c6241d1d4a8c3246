/* Tests of the energy modes and relay arbitration (SPEC.md §6.1, §6.3): each mode's relay sequence over a scripted day. */
#include "harness.h"

/* Demands of the loads; the CTs see a load only while its relay is closed (the plant). */
static uint32_t want_home_w, want_pool_w, want_heater_w;

static void loads_follow_relays(pack_t *p)
{
    alfa_test_port_set_ct_w(&p->tp, ALFA_CT_INVERTER, closed(p, ALFA_RELAY_INVERTER) ? want_home_w : 0);
    alfa_test_port_set_ct_w(&p->tp, ALFA_CT_POOL, closed(p, ALFA_RELAY_POOL) ? want_pool_w : 0);
    alfa_test_port_set_ct_w(&p->tp, ALFA_CT_HEATER, closed(p, ALFA_RELAY_HEATER) ? want_heater_w : 0);
}

static int teardown(void **state)
{
    (void)state;
    harness_plant = NULL;
    return 0;
}

static void boot_state_until_first_bms_reading(void **state)
{
    (void)state;
    pack_t p;
    alfa_settings_t s;
    alfa_settings_defaults(&s);
    s.mode = ALFA_MODE_SELF_CONSUMPTION;
    pack_start_with(&p, &s);
    /* at once: every relay closed, pushed to the port */
    assert_int_equal(p.tp.relays_calls, 1);
    for (uint32_t r = 0; r < ALFA_RELAY_COUNT; r++) {
        assert_true(closed(&p, r));
        assert_int_equal(alfa_core_relay_why(&p.core, r), ALFA_WHY_BOOT);
    }
    run(&p, 20000); /* no BMS: the mode does not act */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    p.soc_pct = 60;
    bms_poll(&p); /* first reading: SOC 60 >= 50 opens the grid at once, no dwell */
    assert_false(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_GRID), ALFA_WHY_MODE);
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_POOL), ALFA_WHY_DEFAULT);
    assert_int_equal(alfa_core_relay_why(&p.core, 7), ALFA_WHY_DEFAULT);
}

static void self_consumption_day(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_SELF_CONSUMPTION);
    /* SOC through a day: the grid closes at <= 10 %, opens at >= 50 %, holds between */
    static const struct { uint8_t soc; int grid_closed; } day[] = {
        {60, 0}, {45, 0}, {30, 0}, {11, 0}, {10, 1}, {8, 1}, {25, 1}, {49, 1}, {50, 0}, {35, 0}, {80, 0},
    };
    for (size_t h = 0; h < sizeof day / sizeof day[0]; h++) {
        soc_settle(&p, day[h].soc);
        run(&p, 600000u);
        assert_int_equal(closed(&p, ALFA_RELAY_GRID), day[h].grid_closed);
        assert_true(closed(&p, ALFA_RELAY_INVERTER) && closed(&p, ALFA_RELAY_POOL) &&
                    closed(&p, ALFA_RELAY_HEATER));
    }
    /* thresholds are settings */
    set(&p, ALFA_SET_SC_HIGH_PCT, 90);
    set(&p, ALFA_SET_SC_LOW_PCT, 40);
    soc_settle(&p, 39);
    run(&p, 40000);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    soc_settle(&p, 85);
    run(&p, 40000);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    soc_settle(&p, 90);
    run(&p, 40000);
    assert_false(closed(&p, ALFA_RELAY_GRID));
}

static void eco_sheds_heater_then_pump_warns_and_restores_without_chatter(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    harness_plant = loads_follow_relays;
    set(&p, ALFA_SET_MODE, ALFA_MODE_ECO);
    set(&p, ALFA_SET_ECO_LIMIT_W, 3000);
    /* the day: home demand per step, with pool 800 W and heater 1200 W wanted all day */
    want_home_w = 0;
    want_pool_w = 800;
    want_heater_w = 1200;
    soc_settle(&p, 70);
    static const struct {
        uint32_t home_w;
        int pool, heater, warn;
    } day[] = {
        {500, 1, 1, 0},   /* 2500 W: all on */
        {1500, 1, 0, 0},  /* 3500 W: heater shed first -> 2300 W */
        {2500, 0, 0, 0},  /* 3300 W: pump shed too -> 2500 W */
        {3200, 0, 0, 1},  /* 3200 W with nothing left to shed: "loads limit" */
        {2600, 0, 0, 0},  /* 2600 W: under the limit, but 2600 + 800 > 90 %: pump stays off */
        {1500, 1, 0, 0},  /* 1500 + 800 = 2300 < 2700: pump back; 2300 + 1200 > 2700: heater off */
        {1000, 1, 0, 0},  /* 1800 + 1200 = 3000: still not under 90 % */
        {600, 1, 1, 0},   /* 1400 + 1200 = 2600 < 2700: heater back */
    };
    uint32_t toggles_heater = 0, toggles_pool = 0;
    int last_heater = 1, last_pool = 1;
    for (size_t h = 0; h < sizeof day / sizeof day[0]; h++) {
        want_home_w = day[h].home_w;
        for (int k = 0; k < 60; k++) { /* 30 min in 30-s looks */
            run(&p, 30000);
            int ht = closed(&p, ALFA_RELAY_HEATER), pl = closed(&p, ALFA_RELAY_POOL);
            toggles_heater += (uint32_t)(ht != last_heater);
            toggles_pool += (uint32_t)(pl != last_pool);
            last_heater = ht;
            last_pool = pl;
        }
        assert_int_equal(closed(&p, ALFA_RELAY_POOL), day[h].pool);
        assert_int_equal(closed(&p, ALFA_RELAY_HEATER), day[h].heater);
        assert_true(closed(&p, ALFA_RELAY_INVERTER)); /* never shed by default */
        assert_true(closed(&p, ALFA_RELAY_GRID));
        int warn = (alfa_core_warnings(&p.core) >> ALFA_WARN_LOADS_LIMIT) & 1;
        assert_int_equal(warn, day[h].warn);
    }
    assert_int_equal(toggles_heater, 2); /* off once, on once: no chatter */
    assert_int_equal(toggles_pool, 2);
}

static void eco_min_off_time_and_inverter_option(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    harness_plant = loads_follow_relays;
    set(&p, ALFA_SET_MODE, ALFA_MODE_ECO);
    set(&p, ALFA_SET_ECO_LIMIT_W, 2000);
    set(&p, ALFA_SET_ECO_MIN_OFF_S, 300);
    set(&p, ALFA_SET_ECO_SHED_INVERTER, 1);
    set(&p, ALFA_SET_DWELL_S, 0);
    want_home_w = 0;
    want_pool_w = 500;
    want_heater_w = 500;
    soc_settle(&p, 70);
    want_home_w = 2500;
    run(&p, 10000);
    /* heater, pump, then the inverter output itself */
    assert_false(closed(&p, ALFA_RELAY_HEATER));
    assert_false(closed(&p, ALFA_RELAY_POOL));
    assert_false(closed(&p, ALFA_RELAY_INVERTER));
    want_home_w = 1000;
    run(&p, 200000); /* the load fell long ago, but 300 s have not passed */
    assert_false(closed(&p, ALFA_RELAY_INVERTER));
    run(&p, 110000); /* the inverter's load cannot be measured while it is off: back after 300 s */
    assert_true(closed(&p, ALFA_RELAY_INVERTER));
    run(&p, 700000); /* 1000 + 500 < 1800: pump back; 1500 + 500 > 1800: heater stays off */
    assert_true(closed(&p, ALFA_RELAY_INVERTER) && closed(&p, ALFA_RELAY_POOL));
    assert_false(closed(&p, ALFA_RELAY_HEATER));
    want_home_w = 500; /* 1000 + 500 < 1800 */
    run(&p, 10000);
    assert_true(closed(&p, ALFA_RELAY_HEATER));
    /* leaving Eco gives every load back */
    want_home_w = 2500;
    run(&p, 10000);
    assert_false(closed(&p, ALFA_RELAY_HEATER));
    set(&p, ALFA_SET_ECO_SHED_INVERTER, 0);
    set(&p, ALFA_SET_MODE, ALFA_MODE_NONE);
    assert_true(closed(&p, ALFA_RELAY_HEATER));
    assert_int_equal(alfa_core_warnings(&p.core) & (1u << ALFA_WARN_LOADS_LIMIT), 0);
}

static void eco_waits_for_the_dwell_and_follows_the_order_setting(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    harness_plant = loads_follow_relays;
    set(&p, ALFA_SET_MODE, ALFA_MODE_ECO);
    set(&p, ALFA_SET_ECO_LIMIT_W, 2000);
    set(&p, ALFA_SET_ECO_MIN_OFF_S, 0);
    want_home_w = 0;
    want_pool_w = 300;
    want_heater_w = 300;
    soc_settle(&p, 70);
    want_home_w = 1900; /* 2500 W: the heater goes */
    run(&p, 3000);
    assert_false(closed(&p, ALFA_RELAY_HEATER));
    assert_true(closed(&p, ALFA_RELAY_POOL));
    want_home_w = 1000; /* 1300 + 300 < 1800 at once, but the heater only just opened */
    run(&p, 20000);
    assert_false(closed(&p, ALFA_RELAY_HEATER));
    run(&p, 12000); /* 30 s dwell over */
    assert_true(closed(&p, ALFA_RELAY_HEATER));
    /* over again at once: the heater's shed waits out its dwell, and Eco does not jump ahead to
     * the pump meanwhile */
    want_home_w = 1500; /* 2100 W; without the heater 1800 W */
    run(&p, 20000);
    assert_true(closed(&p, ALFA_RELAY_HEATER));
    assert_true(closed(&p, ALFA_RELAY_POOL));
    run(&p, 15000);
    assert_false(closed(&p, ALFA_RELAY_HEATER));
    assert_true(closed(&p, ALFA_RELAY_POOL));
    /* with the inverter in the order, then taken out of it while shed: it comes back */
    set(&p, ALFA_SET_ECO_SHED_INVERTER, 1);
    set(&p, ALFA_SET_DWELL_S, 0);
    set(&p, ALFA_SET_ECO_MIN_OFF_S, 60);
    want_home_w = 3000;
    run(&p, 10000);
    assert_false(closed(&p, ALFA_RELAY_INVERTER));
    set(&p, ALFA_SET_ECO_SHED_INVERTER, 0);
    run(&p, 3000);
    assert_true(closed(&p, ALFA_RELAY_INVERTER));
}

/* The minimum off time counts from the moment the relay opened, not from the decision to shed:
 * a dwell that holds the relay closed for a while must not shorten the off time (issue 10,
 * item 7: with eco_min_off_s = 60 and a 30-s dwell the heater came back 32 s after opening). */
static void eco_min_off_time_counts_from_the_opening(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    harness_plant = loads_follow_relays;
    set(&p, ALFA_SET_MODE, ALFA_MODE_ECO);
    set(&p, ALFA_SET_ECO_LIMIT_W, 2000);
    set(&p, ALFA_SET_ECO_MIN_OFF_S, 60);
    set(&p, ALFA_SET_DWELL_S, 30);
    want_home_w = 1000;
    want_pool_w = 0;
    want_heater_w = 0;
    soc_settle(&p, 70);
    /* The heater is switched on by hand and back to auto: it closed just now, so the dwell will
     * hold it closed for 30 s after Eco decides to shed it. */
    set(&p, ALFA_SET_OVR_HEATER, ALFA_OVR_OPEN);
    run(&p, 31000);
    set(&p, ALFA_SET_OVR_HEATER, ALFA_OVR_CLOSED);
    set(&p, ALFA_SET_OVR_HEATER, ALFA_OVR_AUTO);
    assert_true(closed(&p, ALFA_RELAY_HEATER));
    want_heater_w = 1500; /* 2500 W: shed the heater, but it only closed just now */
    uint32_t opened_at = 0;
    for (uint32_t t = 0; t < 40000u; t += 500u) {
        run(&p, 500);
        if (!closed(&p, ALFA_RELAY_HEATER)) {
            opened_at = p.tp.now_ms;
            break;
        }
    }
    assert_true(opened_at != 0);
    want_home_w = 200; /* 200 + 1500 < 1800: it would fit at once */
    uint32_t back_at = 0;
    for (uint32_t t = 0; t < 120000u; t += 500u) {
        run(&p, 500);
        if (closed(&p, ALFA_RELAY_HEATER)) {
            back_at = p.tp.now_ms;
            break;
        }
    }
    assert_true(back_at != 0);
    assert_true(back_at - opened_at >= 60000u);
    assert_true(back_at - opened_at <= 63000u);
}

static void tou_windows_cross_midnight_and_hold_without_time(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_TOU);
    set(&p, ALFA_SET_TOU0_ENABLED, 1);
    set(&p, ALFA_SET_TOU0_START_MIN, 22 * 60);
    set(&p, ALFA_SET_TOU0_END_MIN, 6 * 60);
    set(&p, ALFA_SET_TOU1_ENABLED, 1);
    set(&p, ALFA_SET_TOU1_START_MIN, 12 * 60);
    set(&p, ALFA_SET_TOU1_END_MIN, 13 * 60);
    set(&p, ALFA_SET_TOU2_START_MIN, 7 * 60); /* window 2 is not enabled: ignored */
    set(&p, ALFA_SET_TOU2_END_MIN, 9 * 60);
    soc_settle(&p, 50);
    /* no time yet: the relay holds (closed since boot) and "time not set" is raised */
    assert_true(closed(&p, ALFA_RELAY_INVERTER));
    assert_true(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_TIME_NOT_SET));
    assert_false(alfa_core_time_valid(&p.core));
    run(&p, 1000);
    assert_true(p.tp.leds & ALFA_LED_YELLOW || (run(&p, 500), p.tp.leds & ALFA_LED_YELLOW));
    /* moving TOU to another relay without time: that relay holds its own state */
    set(&p, ALFA_SET_OVR_POOL, ALFA_OVR_OPEN);
    run(&p, 31000);
    set(&p, ALFA_SET_TOU_RELAY, ALFA_RELAY_POOL);
    set(&p, ALFA_SET_OVR_POOL, ALFA_OVR_AUTO);
    assert_false(closed(&p, ALFA_RELAY_POOL));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_POOL), ALFA_WHY_MODE);
    set(&p, ALFA_SET_TOU_RELAY, ALFA_RELAY_INVERTER);
    assert_true(closed(&p, ALFA_RELAY_INVERTER));
    clock_at(&p, 0, 7, 30);
    assert_false(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_TIME_NOT_SET));
    assert_false(closed(&p, ALFA_RELAY_INVERTER)); /* 07:30: outside, acts at once */
    /* hour by hour, 08:00 today .. 07:00 tomorrow */
    static const int inside[24] = {
        /* 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23 00 01 02 03 04 05 06 07 */
        0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    run(&p, 30 * 60000u + 30000u); /* 08:00:30 */
    for (int h = 0; h < 24; h++) {
        assert_int_equal(closed(&p, ALFA_RELAY_INVERTER), inside[h]);
        assert_true(closed(&p, ALFA_RELAY_GRID)); /* TOU drives only its relay */
        run(&p, 3600000u);
    }
    /* the driven relay is a setting */
    set(&p, ALFA_SET_TOU_RELAY, ALFA_RELAY_GRID);
    assert_false(closed(&p, ALFA_RELAY_GRID)); /* 08:00: outside */
    run(&p, 31000);
    clock_at(&p, 1, 12, 30);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    clock_at(&p, 1, 14, 0); /* the grid relay changed just now: the dwell holds it */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_GRID), ALFA_WHY_DWELL);
    run(&p, 31000);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    /* empty window (start == end) is never inside */
    alfa_tou_window_t w = {1, 600, 600};
    assert_false(alfa_ctrl_tou_inside(&w, 600));
}

static void backup_and_none(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_SELF_CONSUMPTION);
    soc_settle(&p, 100);
    assert_false(closed(&p, ALFA_RELAY_GRID));
    run(&p, 30000);
    set(&p, ALFA_SET_MODE, ALFA_MODE_BACKUP); /* grid always closed, whatever the SOC */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    soc_settle(&p, 100);
    run(&p, 3600000u);
    assert_true(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_GRID), ALFA_WHY_MODE);
    set(&p, ALFA_SET_MODE, ALFA_MODE_NONE);
    for (uint32_t r = 0; r < ALFA_RELAY_COUNT; r++) {
        assert_true(closed(&p, r));
        assert_int_equal(alfa_core_relay_why(&p.core, r), ALFA_WHY_DEFAULT);
    }
}

static void overrides_rank_above_modes_and_respect_dwell(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_MODE, ALFA_MODE_SELF_CONSUMPTION);
    soc_settle(&p, 70); /* mode: grid open (changed at t ~ 2 s) */
    assert_false(closed(&p, ALFA_RELAY_GRID));
    run(&p, 60000);
    set(&p, ALFA_SET_OVR_GRID, ALFA_OVR_CLOSED); /* acts at once */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_GRID), ALFA_WHY_OVERRIDE);
    run(&p, 10000);
    set(&p, ALFA_SET_OVR_GRID, ALFA_OVR_AUTO); /* back to the mode, but only 10 s after a change */
    assert_true(closed(&p, ALFA_RELAY_GRID));
    assert_int_equal(alfa_core_relay_why(&p.core, ALFA_RELAY_GRID), ALFA_WHY_DWELL);
    run(&p, 18000);
    assert_true(closed(&p, ALFA_RELAY_GRID)); /* 28 s */
    run(&p, 4000);
    assert_false(closed(&p, ALFA_RELAY_GRID)); /* >= 30 s: the mode's open */
    /* an override on a load relay, then a mode change puts it back to auto */
    set(&p, ALFA_SET_OVR_HEATER, ALFA_OVR_OPEN);
    assert_false(closed(&p, ALFA_RELAY_HEATER));
    run(&p, 31000);
    set(&p, ALFA_SET_MODE, ALFA_MODE_BACKUP);
    assert_true(closed(&p, ALFA_RELAY_HEATER));
    assert_true(closed(&p, ALFA_RELAY_GRID));
    /* a zero dwell lets every change through at once */
    set(&p, ALFA_SET_DWELL_S, 0);
    set(&p, ALFA_SET_OVR_POOL, ALFA_OVR_OPEN);
    set(&p, ALFA_SET_OVR_POOL, ALFA_OVR_CLOSED);
    assert_true(closed(&p, ALFA_RELAY_POOL));
}

static void relay_polarity_inverts_the_coil_not_the_meaning(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    assert_int_equal(p.tp.relays_energised, 0x0F); /* normally open contacts: closed = energised */
    set(&p, ALFA_SET_RELAY_POLARITY, 0x05);        /* grid and pool wired through NC contacts */
    assert_int_equal(p.tp.relays_energised, 0x0A);
    set(&p, ALFA_SET_OVR_POOL, ALFA_OVR_OPEN);
    assert_int_equal(p.tp.relays_energised, 0x0E);
    assert_false(closed(&p, ALFA_RELAY_POOL));
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_int_equal(t.relays_closed, 0x0B);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(boot_state_until_first_bms_reading, teardown),
        cmocka_unit_test_teardown(self_consumption_day, teardown),
        cmocka_unit_test_teardown(eco_sheds_heater_then_pump_warns_and_restores_without_chatter, teardown),
        cmocka_unit_test_teardown(eco_min_off_time_and_inverter_option, teardown),
        cmocka_unit_test_teardown(eco_waits_for_the_dwell_and_follows_the_order_setting, teardown),
        cmocka_unit_test_teardown(eco_min_off_time_counts_from_the_opening, teardown),
        cmocka_unit_test_teardown(tou_windows_cross_midnight_and_hold_without_time, teardown),
        cmocka_unit_test_teardown(backup_and_none, teardown),
        cmocka_unit_test_teardown(overrides_rank_above_modes_and_respect_dwell, teardown),
        cmocka_unit_test_teardown(relay_polarity_inverts_the_coil_not_the_meaning, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
