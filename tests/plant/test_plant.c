/* Tests of the plant model: energy balance, battery curve, solar shape, inverter policy, relays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alfa/plant.h"
#include "alfa/sim_rng.h"

#define H(h) ((uint32_t)(h) * 3600000u)
#define COILS_ALL 0x0Fu
#define GRID 0x01u
#define INV 0x02u

static alfa_plant_t plant;

static void setup_one(alfa_plant_cfg_t *cfg)
{
    alfa_plant_defaults(cfg, 1);
}

/* Core formula applied to what the CTs and BMS report must give back the PV power used. */
static void assert_balance(const alfa_plant_pack_out_t *o, uint32_t mains_mv)
{
    int64_t p_grid = (int64_t)o->ct_ma[0] * mains_mv / 1000000;
    int64_t p_home = (int64_t)o->ct_ma[1] * mains_mv / 1000000;
    int64_t p_batt = (int64_t)o->v_pack_mv * o->i_batt_ma / 1000000;
    int64_t solar = p_home + p_batt - p_grid;
    if (solar < 0) {
        solar = 0;
    }
    assert_true(solar >= o->p_pv_used_w - 3 && solar <= o->p_pv_used_w + 3);
    assert_int_equal(o->p_pv_used_w, o->p_home_w + o->p_batt_w - o->p_grid_w);
}

static void test_ocv_curve_end_points(void **state)
{
    (void)state;
    assert_int_equal(alfa_plant_ocv_mv(16, 0), 46400);
    assert_int_equal(alfa_plant_ocv_mv(16, 1000), 62400);
    assert_int_equal(alfa_plant_ocv_mv(16, 500), 54400);
    assert_int_equal(alfa_plant_ocv_mv(16, 2000), 62400); /* clamped */
    assert_int_equal(alfa_plant_ocv_mv(15, 1000), 58500);
}

static void test_solar_shape(void **state)
{
    (void)state;
    alfa_plant_cfg_t cfg;
    setup_one(&cfg);
    assert_int_equal(alfa_plant_init(&plant, &cfg), 0);
    assert_int_equal(alfa_plant_solar_w(&plant, 0, 1, H(5)), 0);
    assert_int_equal(alfa_plant_solar_w(&plant, 0, 1, H(6)), 0);
    assert_int_equal(alfa_plant_solar_w(&plant, 0, 1, H(21)), 0);
    int32_t noon = alfa_plant_solar_w(&plant, 0, 1, H(13)); /* mid of 06:00-20:00 */
    assert_true(noon >= 4990 && noon <= 5000);
    int32_t nine = alfa_plant_solar_w(&plant, 0, 1, H(9));
    int32_t five_pm = alfa_plant_solar_w(&plant, 0, 1, H(17));
    assert_int_equal(nine, five_pm); /* symmetric about the middle of the day */
    assert_true(nine > 3000 && nine < 4000); /* sin(3/14 pi) = 0.78 */
}

static void test_clouds_deterministic_and_bounded(void **state)
{
    (void)state;
    alfa_plant_cfg_t cfg;
    setup_one(&cfg);
    cfg.packs[0].solar.cloud_pct = 60;
    cfg.seed = 7;
    assert_int_equal(alfa_plant_init(&plant, &cfg), 0);
    int32_t clear_noon = 5000;
    int differs = 0;
    int32_t first[50];
    for (unsigned m = 0; m < 50; m++) {
        first[m] = alfa_plant_solar_w(&plant, 0, 1, H(12) + m * 60000u);
        assert_true(first[m] <= clear_noon && first[m] >= clear_noon * 40 / 100 - 10);
    }
    alfa_plant_t again;
    assert_int_equal(alfa_plant_init(&again, &cfg), 0);
    for (unsigned m = 0; m < 50; m++) {
        assert_int_equal(alfa_plant_solar_w(&again, 0, 1, H(12) + m * 60000u), first[m]);
    }
    cfg.seed = 8;
    assert_int_equal(alfa_plant_init(&again, &cfg), 0);
    for (unsigned m = 0; m < 50; m++) {
        differs |= alfa_plant_solar_w(&again, 0, 1, H(12) + m * 60000u) != first[m];
    }
    assert_true(differs);
}

static void test_grid_closed_serves_house_and_charges(void **state)
{
    (void)state;
    alfa_plant_cfg_t cfg;
    setup_one(&cfg);
    assert_int_equal(alfa_plant_init(&plant, &cfg), 0);
    alfa_plant_set_coils(&plant, 0, COILS_ALL);
    alfa_plant_step(&plant, 1, H(2), 1000); /* night: no sun */
    const alfa_plant_pack_out_t *o = &plant.packs[0].out;
    assert_int_equal(o->p_home_w, 400);
    assert_int_equal(o->p_batt_w, 2000);
    assert_int_equal(o->p_grid_w, 2400);
    assert_int_equal(o->ct_ma[0], 10909); /* 2400 W / 220 V */
    assert_true(o->i_batt_ma > 0);
    assert_true(o->v_pack_mv > alfa_plant_ocv_mv(16, 500)); /* charging lifts the terminal */
    assert_balance(o, cfg.mains_mv);
    assert_int_equal(o->ct_ma[2], 0); /* pool off at night by schedule */
}

static void test_grid_open_battery_discharges_then_unserved(void **state)
{
    (void)state;
    alfa_plant_cfg_t cfg;
    setup_one(&cfg);
    cfg.packs[0].battery.capacity_wh = 1;
    cfg.packs[0].battery.soc_init_pct = 100;
    cfg.base_load_w = 3600;
    assert_int_equal(alfa_plant_init(&plant, &cfg), 0);
    alfa_plant_set_coils(&plant, 0, INV);
    alfa_plant_step(&plant, 1, H(2), 500);
    const alfa_plant_pack_out_t *o = &plant.packs[0].out;
    assert_int_equal(o->p_batt_w, -3600);
    assert_int_equal(o->p_grid_w, 0);
    assert_int_equal(o->p_unserved_w, 0);
    assert_true(o->i_batt_ma < 0);
    assert_true(o->v_pack_mv < 62400);
    assert_balance(o, cfg.mains_mv);
    uint8_t soc_before = alfa_plant_soc_pct(&plant, 0);
    assert_true(soc_before < 100);
    /* 1 Wh at 3.6 kW lasts one second: then the house is not served and the BMS cries UV. */
    for (int i = 0; i < 4; i++) {
        alfa_plant_step(&plant, 1, H(2) + 500u * (unsigned)i, 500);
    }
    assert_int_equal(alfa_plant_soc_pct(&plant, 0), 0);
    alfa_plant_step(&plant, 1, H(2) + 3000u, 500);
    assert_int_equal(o->p_unserved_w, 3600);
    assert_int_equal(o->p_home_w, 0);
    assert_true(o->bms_alarms & 0x0002u);
}

static void test_sun_surplus_charges_and_curtails(void **state)
{
    (void)state;
    alfa_plant_cfg_t cfg;
    setup_one(&cfg);
    cfg.packs[0].battery.max_charge_w = 1000;
    assert_int_equal(alfa_plant_init(&plant, &cfg), 0);
    alfa_plant_set_coils(&plant, 0, INV);
    alfa_plant_step(&plant, 1, H(13), 1000);
    const alfa_plant_pack_out_t *o = &plant.packs[0].out;
    assert_int_equal(o->p_home_w, 400);
    assert_int_equal(o->p_batt_w, 1000);
    assert_int_equal(o->p_pv_used_w, 1400);
    assert_true(o->p_pv_avail_w > 4900);
    assert_balance(o, cfg.mains_mv);
}

static void test_full_battery_takes_no_charge(void **state)
{
    (void)state;
    alfa_plant_cfg_t cfg;
    setup_one(&cfg);
    cfg.packs[0].battery.soc_init_pct = 100;
    assert_int_equal(alfa_plant_init(&plant, &cfg), 0);
    alfa_plant_set_coils(&plant, 0, COILS_ALL);
    alfa_plant_step(&plant, 1, H(13), 1000);
    const alfa_plant_pack_out_t *o = &plant.packs[0].out;
    assert_int_equal(o->p_batt_w, 0);
    assert_int_equal(o->p_grid_w, 0);
    assert_int_equal(o->p_pv_used_w, 400);
    assert_int_equal(o->v_pack_mv, 62400);
    assert_int_equal(o->ct_ma[2], 5455); /* pool pump 1200 W inside 10:00-16:00 */
    assert_int_equal(o->ct_ma[3], 9091); /* heater 2000 W inside 13:00-15:00 */
}

static void test_house_shared_between_inverters_and_polarity(void **state)
{
    (void)state;
    alfa_plant_cfg_t cfg;
    alfa_plant_defaults(&cfg, 3);
    cfg.base_load_w = 1000;
    cfg.relays_nc = 1;
    assert_int_equal(alfa_plant_init(&plant, &cfg), 0);
    /* NC contacts: nothing energised means every contact closed. */
    assert_int_equal(plant.packs[0].relays_closed, 0x0F);
    alfa_plant_set_coils(&plant, 2, INV); /* pack 3: inverter output opened */
    assert_int_equal(plant.packs[2].relays_closed, 0x0D);
    alfa_plant_step(&plant, 1, H(2), 1000);
    assert_int_equal(plant.packs[0].out.p_home_w, 500);
    assert_int_equal(plant.packs[1].out.p_home_w, 500);
    assert_int_equal(plant.packs[2].out.p_home_w, 0);
    alfa_plant_set_controller(&plant, 0, 0);
    alfa_plant_set_coils(&plant, 0, 0x0F); /* ignored: controller off */
    assert_int_equal(plant.packs[0].relays_closed, 0x0F);
    alfa_plant_set_coils(&plant, 1, INV);
    alfa_plant_step(&plant, 1, H(2), 1000);
    assert_int_equal(plant.packs[0].out.p_home_w, 1000);
    assert_int_equal(plant.p_unserved_w, 0);
    alfa_plant_set_controller(&plant, 0, 1);
    alfa_plant_set_coils(&plant, 0, INV);
    alfa_plant_step(&plant, 1, H(2), 1000);
    assert_int_equal(plant.p_unserved_w, 1000); /* every inverter output open */
}

static void test_scheduled_loads_and_windows(void **state)
{
    (void)state;
    alfa_plant_window_t night = {22 * 60, 6 * 60};
    assert_true(alfa_plant_window_on(night, 23 * 60));
    assert_true(alfa_plant_window_on(night, 0));
    assert_false(alfa_plant_window_on(night, 6 * 60));
    alfa_plant_cfg_t cfg;
    setup_one(&cfg);
    cfg.load_count = 1;
    cfg.loads[0] = (alfa_plant_load_t){.p_w = 3000, .when = {23 * 60, 1 * 60}, .day = 1};
    assert_int_equal(alfa_plant_init(&plant, &cfg), 0);
    alfa_plant_set_coils(&plant, 0, COILS_ALL);
    alfa_plant_step(&plant, 1, H(23) + 60000u, 1000);
    assert_int_equal(plant.p_house_w, 3400);
    alfa_plant_step(&plant, 2, H(0) + 60000u, 1000); /* day 1's window, after midnight */
    assert_int_equal(plant.p_house_w, 3400);
    alfa_plant_step(&plant, 2, H(23) + 60000u, 1000); /* day 2: not scheduled */
    assert_int_equal(plant.p_house_w, 400);
}

static void test_bad_config_refused(void **state)
{
    (void)state;
    alfa_plant_cfg_t cfg;
    setup_one(&cfg);
    cfg.packs[0].battery.capacity_wh = 0;
    assert_int_equal(alfa_plant_init(&plant, &cfg), -1);
    setup_one(&cfg);
    cfg.packs[0].solar.sunset_min = 300; /* before sunrise */
    assert_int_equal(alfa_plant_init(&plant, &cfg), -1);
    setup_one(&cfg);
    cfg.pack_count = 0;
    assert_int_equal(alfa_plant_init(&plant, &cfg), -1);
    setup_one(&cfg);
    cfg.packs[0].pool.windows[0].to_min = 1440;
    assert_int_equal(alfa_plant_init(&plant, &cfg), -1);
}

static void test_energy_conserved_over_a_day(void **state)
{
    (void)state;
    alfa_plant_cfg_t cfg;
    setup_one(&cfg);
    cfg.packs[0].battery.r_int_mohm = 0; /* no heat: the cells store exactly the terminal energy */
    assert_int_equal(alfa_plant_init(&plant, &cfg), 0);
    alfa_plant_set_coils(&plant, 0, INV);
    int64_t batt_mj = 0;
    int64_t e0 = plant.packs[0].energy_nj;
    for (uint32_t t = 0; t < H(24); t += 1000) {
        alfa_plant_step(&plant, 1, t, 1000);
        batt_mj += (int64_t)plant.packs[0].out.p_batt_w * 1000;
        assert_balance(&plant.packs[0].out, cfg.mains_mv);
    }
    int64_t de_mj = (plant.packs[0].energy_nj - e0) / 1000000;
    int64_t diff = de_mj - batt_mj;
    if (diff < 0) {
        diff = -diff;
    }
    assert_true(diff * 1000 <= (batt_mj < 0 ? -batt_mj : batt_mj) + 3600000); /* within 0.1 % */
}

static void test_rng_repeatable(void **state)
{
    (void)state;
    alfa_rng_t a, b, c;
    alfa_rng_seed(&a, 42);
    alfa_rng_seed(&b, 42);
    alfa_rng_seed(&c, 43);
    int same_c = 1;
    for (int i = 0; i < 100; i++) {
        uint64_t va = alfa_rng_next(&a);
        assert_true(va == alfa_rng_next(&b));
        same_c &= va == alfa_rng_next(&c);
    }
    assert_false(same_c);
    unsigned hits = 0;
    for (int i = 0; i < 100000; i++) {
        assert_true(alfa_rng_below(&a, 10) < 10);
        hits += (unsigned)alfa_rng_chance_ppm(&a, 100000);
    }
    assert_true(hits > 9000 && hits < 11000); /* 10 % within 10 % */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ocv_curve_end_points),
        cmocka_unit_test(test_solar_shape),
        cmocka_unit_test(test_clouds_deterministic_and_bounded),
        cmocka_unit_test(test_grid_closed_serves_house_and_charges),
        cmocka_unit_test(test_grid_open_battery_discharges_then_unserved),
        cmocka_unit_test(test_sun_surplus_charges_and_curtails),
        cmocka_unit_test(test_full_battery_takes_no_charge),
        cmocka_unit_test(test_house_shared_between_inverters_and_polarity),
        cmocka_unit_test(test_scheduled_loads_and_windows),
        cmocka_unit_test(test_bad_config_refused),
        cmocka_unit_test(test_energy_conserved_over_a_day),
        cmocka_unit_test(test_rng_repeatable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
