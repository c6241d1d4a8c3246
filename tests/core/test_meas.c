/* Tests of the measurements (SPEC.md §5.2-5.5): CT RMS, calibration, powers, solar balance, SOC, energy counters. */
#include <math.h>
#include <stdlib.h>
#include "harness.h"

static uint16_t blk[4000];

/* A sine of `i_ma` RMS at `hz` sampled at 4 kHz around `bias`, with the default gain. */
static uint16_t make_sine(uint32_t i_ma, uint16_t bias, uint32_t hz, uint16_t n, uint32_t phase_deg)
{
    double amp = 1.4142135623730951 * i_ma * 1000.0 / ALFA_CT_GAIN_DEFAULT_UA;
    for (uint32_t k = 0; k < n; k++) {
        double v = bias + amp * sin(6.283185307179586 * ((double)hz * k / 4000.0 + phase_deg / 360.0));
        blk[k] = (uint16_t)lround(v < 0 ? 0 : (v > 4095 ? 4095 : v));
    }
    return n;
}

static void ct_rms_removes_bias_whatever_it_is(void **state)
{
    (void)state;
    bool bad = true;
    for (uint32_t bias = 1700; bias <= 2400; bias += 350) {
        uint16_t n = make_sine(10000, (uint16_t)bias, 50, 800, 17);
        int32_t i = alfa_meas_ct_rms_ma(blk, n, 4000, 50, ALFA_CT_GAIN_DEFAULT_UA, 0, &bad);
        assert_true(i > 9900 && i < 10100); /* 10 A within 1 % (ADC quantisation) */
        assert_false(bad);
    }
}

static void ct_rms_uses_whole_cycles_at_50_and_60_hz(void **state)
{
    (void)state;
    /* 730 samples = 9.125 cycles at 50 Hz: only the 9 whole ones count. */
    uint16_t n = make_sine(20000, 2048, 50, 730, 90);
    int32_t i50 = alfa_meas_ct_rms_ma(blk, n, 4000, 50, ALFA_CT_GAIN_DEFAULT_UA, 0, NULL);
    assert_true(i50 > 19850 && i50 < 20150);
    n = make_sine(20000, 2048, 60, 800, 90);
    int32_t i60 = alfa_meas_ct_rms_ma(blk, n, 4000, 60, ALFA_CT_GAIN_DEFAULT_UA, 0, NULL);
    assert_true(i60 > 19850 && i60 < 20150);
    /* a 60 Hz waveform read as 50 Hz over a partial cycle is visibly off: the setting matters */
    n = make_sine(20000, 2048, 60, 730, 90);
    int32_t wrong = alfa_meas_ct_rms_ma(blk, n, 4000, 50, ALFA_CT_GAIN_DEFAULT_UA, 0, NULL);
    int32_t right = alfa_meas_ct_rms_ma(blk, n, 4000, 60, ALFA_CT_GAIN_DEFAULT_UA, 0, NULL);
    assert_true(labs((long)right - 20000) < labs((long)wrong - 20000));
    /* less than one cycle, or bad parameters: refused */
    assert_int_equal(alfa_meas_ct_rms_ma(blk, 60, 4000, 50, ALFA_CT_GAIN_DEFAULT_UA, 0, NULL), ALFA_E_INVAL);
    assert_int_equal(alfa_meas_ct_rms_ma(NULL, 800, 4000, 50, 1000, 0, NULL), ALFA_E_INVAL);
    assert_int_equal(alfa_meas_ct_rms_ma(blk, 800, 0, 50, 1000, 0, NULL), ALFA_E_INVAL);
    assert_int_equal(alfa_meas_ct_rms_ma(blk, 800, 4000, 55, 1000, 0, NULL), ALFA_E_INVAL);
    assert_int_equal(alfa_meas_ct_rms_ma(blk, 800, 4000, 50, 0, 0, NULL), ALFA_E_INVAL);
    assert_int_equal(alfa_meas_ct_rms_ma(blk, 800, 4000, 50, ALFA_CT_GAIN_MAX_UA + 1, 0, NULL), ALFA_E_INVAL);
}

static void ct_noise_floor_reads_zero(void **state)
{
    (void)state;
    /* idle CT: bias plus +-3 counts of noise (about 40 mA RMS of equivalent current) */
    alfa_test_port_t tp;
    alfa_test_port_init(&tp, 0);
    alfa_test_port_set_ct(&tp, 0, 0, 2050, 3);
    uint16_t n = 0, rate = 0;
    const uint16_t *b = tp.port.adc_block(tp.port.user, 0, &n, &rate);
    assert_int_equal(n, 800);
    assert_int_equal(rate, 4000);
    assert_int_equal(alfa_meas_ct_rms_ma(b, n, rate, 50, ALFA_CT_GAIN_DEFAULT_UA, 0, NULL), 0);
    /* a small real load just above the floor is seen, noise and all */
    alfa_test_port_set_ct(&tp, 0, 1000, 2050, 3);
    b = tp.port.adc_block(tp.port.user, 0, &n, &rate);
    int32_t i = alfa_meas_ct_rms_ma(b, n, rate, 50, ALFA_CT_GAIN_DEFAULT_UA, 0, NULL);
    assert_true(i > 900 && i < 1150);
    /* 150 mA: below the 200 mA floor */
    make_sine(150, 2048, 50, 800, 0);
    assert_int_equal(alfa_meas_ct_rms_ma(blk, 800, 4000, 50, ALFA_CT_GAIN_DEFAULT_UA, 0, NULL), 0);
    assert_null(tp.port.adc_block(tp.port.user, 9, &n, &rate));
}

static void ct_calibration_gain_and_offset(void **state)
{
    (void)state;
    uint16_t n = make_sine(10000, 2048, 50, 800, 0);
    /* A CT that reads 5 % low is corrected by 5 % more gain. */
    int32_t base = alfa_meas_ct_rms_ma(blk, n, 4000, 50, ALFA_CT_GAIN_DEFAULT_UA, 0, NULL);
    int32_t up = alfa_meas_ct_rms_ma(blk, n, 4000, 50, ALFA_CT_GAIN_DEFAULT_UA * 105 / 100, 0, NULL);
    assert_true(labs((long)up - (long)base * 105 / 100) <= 10);
    int32_t off = alfa_meas_ct_rms_ma(blk, n, 4000, 50, ALFA_CT_GAIN_DEFAULT_UA, -300, NULL);
    assert_int_equal(off, base - 300);
    /* a negative offset never gives a negative current */
    assert_int_equal(alfa_meas_ct_rms_ma(blk, n, 4000, 50, 1000, -5000, NULL), 0);

    /* through the core: the calibration setting changes the reported power */
    pack_t p;
    pack_start(&p);
    loads_w(&p, 0, 2200, 0, 0);
    run(&p, 2000);
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.p_home_w > 2170 && t.p_home_w < 2230);
    set(&p, ALFA_SET_CT_INVERTER_GAIN_UA, ALFA_CT_GAIN_DEFAULT_UA * 2);
    run(&p, 2000);
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.p_home_w > 4340 && t.p_home_w < 4460);
    set(&p, ALFA_SET_NOMINAL_V, 230);
    run(&p, 2000);
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.p_home_w > 4540 && t.p_home_w < 4660);
}

static void ct_out_of_range_is_a_debounced_warning(void **state)
{
    (void)state;
    uint16_t n = make_sine(60000, 2048, 50, 800, 0); /* 60 A on a 50 A CT: clipped */
    bool bad = false;
    (void)alfa_meas_ct_rms_ma(blk, n, 4000, 50, ALFA_CT_GAIN_DEFAULT_UA, 0, &bad); /* a value: the flag is the point */
    assert_true(bad);

    pack_t p;
    pack_start(&p);
    alfa_test_port_set_ct(&p.tp, ALFA_CT_POOL, 60000, 2048, 0);
    run(&p, 4000);
    assert_false(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_CT_RANGE)); /* not yet: debounce */
    run(&p, 6000);
    assert_true(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_CT_RANGE));
    alfa_test_port_set_ct(&p.tp, ALFA_CT_POOL, 5000, 2048, 0);
    run(&p, 12000);
    assert_false(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_CT_RANGE));
    /* a channel whose blocks are too short to hold one mains cycle is out of range too */
    p.tp.adc_count = 40;
    alfa_test_port_set_mains(&p.tp, 50);
    run(&p, 10000);
    assert_true(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_CT_RANGE));
}

static void missing_ct_blocks_keep_the_last_value(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    loads_w(&p, 1100, 2200, 0, 0);
    run(&p, 2000);
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.p_home_w > 2150);
    /* the channel stops delivering blocks: the last value stands, no fault */
    p.tp.ct[ALFA_CT_INVERTER].absent = 1;
    alfa_test_port_set_ct_w(&p.tp, ALFA_CT_INVERTER, 0);
    run(&p, 4000);
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.p_home_w > 2150);
    assert_false(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_CT_RANGE));
    /* a port without ADC at all (a build with no CTs): powers stay as they were, cycles run */
    p.tp.port.adc_block = NULL;
    uint32_t feeds = p.tp.watchdog_feeds;
    run(&p, 4000);
    assert_int_equal(p.tp.watchdog_feeds - feeds, 2);
    assert_int_equal(alfa_core_relays_closed(&p.core), 0x0F);
}

static void powers_and_solar_never_negative(void **state)
{
    (void)state;
    assert_int_equal(alfa_meas_power_w(10000, 220), 2200);
    assert_int_equal(alfa_meas_batt_power_w(52000, 20000), 1040);   /* charging */
    assert_int_equal(alfa_meas_batt_power_w(52000, -20000), -1040); /* discharging */
    assert_int_equal(alfa_meas_solar_w(2000, 1000, 500), 2500);
    assert_int_equal(alfa_meas_solar_w(2000, -1500, 500), 0);       /* battery + grid cover it */
    assert_int_equal(alfa_meas_solar_w(500, -1000, 3000), 0);       /* would be -3500: clamped */

    pack_t p;
    pack_start(&p);
    p.soc_pct = 50;
    p.i_batt_ma = -40000; /* discharging 2 kW */
    p.bms_on = 1;
    loads_w(&p, 3000, 1000, 0, 0);
    run(&p, 4000);
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.p_batt_w < -2000);
    assert_int_equal(t.p_solar_w, 0);
    p.i_batt_ma = 20000;
    loads_w(&p, 0, 1000, 0, 0);
    run(&p, 4000);
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.p_solar_w > 1950 && t.p_solar_w < 2100); /* home 1000 + batt ~1050 */
}

static void soc_table_end_points_and_clamps(void **state)
{
    (void)state;
    assert_int_equal(alfa_meas_soc_pct(46400, 16), 0);
    assert_int_equal(alfa_meas_soc_pct(62400, 16), 100);
    assert_int_equal(alfa_meas_soc_pct(46560, 16), 1);  /* 0.16 V per % */
    assert_int_equal(alfa_meas_soc_pct(54400, 16), 50);
    assert_int_equal(alfa_meas_soc_pct(40000, 16), 0);  /* below: clamped */
    assert_int_equal(alfa_meas_soc_pct(0, 16), 0);
    assert_int_equal(alfa_meas_soc_pct(70000, 16), 100); /* above: clamped */
    assert_int_equal(alfa_meas_soc_pct(46800, 12), 100); /* cell count scales the curve */
    assert_int_equal(alfa_meas_soc_pct(34800, 12), 0);
    assert_int_equal(alfa_meas_soc_pct(34800, 0), 0);
}

static uint8_t soc_of(const pack_t *p)
{
    alfa_telemetry_t t;
    alfa_core_telemetry(&p->core, &t);
    return t.soc_pct;
}

static void soc_first_reading_at_once_then_filtered(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    p.soc_pct = 80;
    bms_poll(&p);
    assert_int_equal(soc_of(&p), 80); /* at once, nothing stored */
    /* a load step drops the voltage to the 20 % point for one reading: SOC barely moves */
    p.soc_pct = 20;
    run(&p, 2000);
    bms_poll(&p);
    assert_true(soc_of(&p) >= 75);
    /* held for 30 s the filter follows */
    soc_settle(&p, 20);
    /* a BMS-provided SOC is used when the profile says so */
    alfa_bms_reading_t r = {.v_pack_mv = soc_to_mv(20), .present = ALFA_BMS_HAS_SOC, .soc_pct = 77};
    assert_int_equal(alfa_core_bms_reading(&p.core, &r), ALFA_OK);
    assert_int_equal(soc_of(&p), 77);
    /* a zero voltage is no reading: refused, changes nothing */
    r.v_pack_mv = 0;
    assert_int_equal(alfa_core_bms_reading(&p.core, &r), ALFA_E_RANGE);
    r.v_pack_mv = ALFA_V_PACK_MAX_MV + 1;
    r.present = 0;
    alfa_core_bms_in_t in = {.flags = ALFA_CORE_BMS_VALUES | ALFA_CORE_BMS_COMM_LOST, .reading = r};
    assert_int_equal(alfa_core_bms_input(&p.core, &in), ALFA_E_RANGE);
    assert_int_equal(soc_of(&p), 77);
    assert_false(alfa_core_faults(&p.core) & (1u << ALFA_FAULT_BMS_COMM_LOST));
}

static void energy_counters_integrate_in_ram(void **state)
{
    (void)state;
    alfa_energy_t e = {0};
    for (int k = 0; k < 1800; k++) { /* 1 h of 2-s steps at 1000 W */
        alfa_energy_add(&e, 1000, 2000);
    }
    assert_int_equal(e.wh, 1000);
    assert_int_equal(e.rem_wms, 0);
    alfa_energy_add(&e, -500, 2000);
    assert_int_equal(e.wh, 1000);

    pack_t p;
    pack_start(&p);
    p.soc_pct = 50;
    p.i_batt_ma = 19231; /* ~1000 W at 52 V */
    p.bms_on = 1;
    loads_w(&p, 2200, 1100, 0, 0);
    run(&p, 3600000u);
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.grid_import_today_wh > 2150 && t.grid_import_today_wh < 2250);
    assert_true(t.batt_charge_today_wh > 950 && t.batt_charge_today_wh < 1060);
    assert_int_equal(t.batt_discharge_today_wh, 0);
    assert_int_equal(t.solar_today_wh, 0); /* 1100 + 1000 - 2200 < 0 */
    p.i_batt_ma = -19231;
    loads_w(&p, 0, 2200, 0, 0);
    run(&p, 1800000u);
    alfa_core_telemetry(&p.core, &t);
    assert_true(t.batt_discharge_today_wh > 470 && t.batt_discharge_today_wh < 530);
    assert_true(t.solar_today_wh > 570 && t.solar_today_wh < 640); /* 2200 - 1000 = 1200 W x 0.5 h */
    assert_true(t.cycle > 2600);
    /* a caller stalled for a minute does not invent a minute of energy */
    uint32_t before = alfa_core_grid_import_today_wh(&p.core);
    loads_w(&p, 11000, 0, 0, 0);
    alfa_test_port_advance(&p.tp, 60000);
    alfa_core_process(&p.core);
    assert_true(alfa_core_grid_import_today_wh(&p.core) - before <= 31); /* <= 10 s x 11 kW */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ct_rms_removes_bias_whatever_it_is),
        cmocka_unit_test(ct_rms_uses_whole_cycles_at_50_and_60_hz),
        cmocka_unit_test(ct_noise_floor_reads_zero),
        cmocka_unit_test(ct_calibration_gain_and_offset),
        cmocka_unit_test(ct_out_of_range_is_a_debounced_warning),
        cmocka_unit_test(missing_ct_blocks_keep_the_last_value),
        cmocka_unit_test(powers_and_solar_never_negative),
        cmocka_unit_test(soc_table_end_points_and_clamps),
        cmocka_unit_test(soc_first_reading_at_once_then_filtered),
        cmocka_unit_test(energy_counters_integrate_in_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
