/* Tests of the indicators (SPEC.md §7): LED-bar frames, TM1637 bytes with the low-SOC blink, status LEDs. */
#include "harness.h"

static const alfa_rgb_t OFF = {0, 0, 0}, GREEN = ALFA_IND_GREEN_RGB, RED = ALFA_IND_RED_RGB,
                        BLUE = ALFA_IND_BLUE_RGB, WHITE = ALFA_IND_WHITE_RGB;

static int same(alfa_rgb_t a, alfa_rgb_t b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static alfa_ind_frame_t frame(uint8_t soc, bool charging, uint32_t t_ms)
{
    alfa_ind_input_t in = {.t_ms = t_ms, .soc_valid = true, .soc_pct = soc, .charging = charging,
                           .pixel_count = 10};
    alfa_ind_frame_t f;
    alfa_ind_compute(&in, &f);
    return f;
}

static int lit(const alfa_ind_frame_t *f, alfa_rgb_t colour)
{
    int n = 0;
    for (int i = 0; i < f->px_count; i++) {
        n += same(f->px[i], colour);
    }
    return n;
}

static void bar_at_soc_0_14_15_20_21_100_not_charging(void **state)
{
    (void)state;
    static const struct { uint8_t soc; int red, green; } rows[] = {
        {0, 0, 0}, {14, 2, 0}, {15, 2, 0}, {20, 2, 0}, {21, 0, 3}, {100, 0, 10}, {1, 1, 0}, {91, 0, 10},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        alfa_ind_frame_t f = frame(rows[k].soc, false, 0);
        assert_int_equal(f.px_count, 10);
        assert_int_equal(lit(&f, RED), rows[k].red);
        assert_int_equal(lit(&f, GREEN), rows[k].green);
        assert_int_equal(lit(&f, OFF), 10 - rows[k].red - rows[k].green);
        /* lit pixels start at the bar's start */
        for (int i = 0; i < rows[k].red + rows[k].green; i++) {
            assert_false(same(f.px[i], OFF));
        }
    }
}

static void bar_while_charging_sweeps_blue_every_100ms(void **state)
{
    (void)state;
    /* SOC 50: 5 pixels; the blue one walks 0,1,2,3,4,0,... one step per 100 ms */
    for (uint32_t step = 0; step < 12; step++) {
        alfa_ind_frame_t f = frame(50, true, step * 100u + 37u);
        assert_int_equal(lit(&f, BLUE), 1);
        assert_true(same(f.px[step % 5u], BLUE));
        assert_int_equal(lit(&f, GREEN), 4);
        assert_int_equal(lit(&f, OFF), 5);
    }
    /* red bar while charging at 14 % and 20 %; at 0 % the sweep stays on the first pixel */
    alfa_ind_frame_t f = frame(14, true, 100);
    assert_true(same(f.px[1], BLUE));
    assert_true(same(f.px[0], RED));
    f = frame(20, true, 0);
    assert_true(same(f.px[0], BLUE) && same(f.px[1], RED));
    f = frame(21, true, 200);
    assert_true(same(f.px[2], BLUE) && lit(&f, GREEN) == 2);
    f = frame(0, true, 700);
    assert_true(same(f.px[0], BLUE) && lit(&f, OFF) == 9);
    f = frame(100, true, 1500);
    assert_true(same(f.px[5], BLUE) && lit(&f, GREEN) == 9);
}

static void display_digits_and_blink_below_15(void **state)
{
    (void)state;
    const uint8_t B = ALFA_SEG_BLANK;
    alfa_ind_frame_t f = frame(100, false, 0);
    assert_int_equal(f.seg[0], alfa_ind_digit(1));
    assert_int_equal(f.seg[1], alfa_ind_digit(0));
    assert_int_equal(f.seg[2], alfa_ind_digit(0));
    assert_int_equal(alfa_ind_digit(8), 0x7F);
    assert_int_equal(alfa_ind_digit(10), B);
    f = frame(21, false, 700); /* no blink at >= 15 % */
    assert_int_equal(f.seg[0], B);
    assert_int_equal(f.seg[1], alfa_ind_digit(2));
    assert_int_equal(f.seg[2], alfa_ind_digit(1));
    f = frame(15, false, 700);
    assert_int_equal(f.seg[2], alfa_ind_digit(5));
    /* 14 % and 0 %: on for 500 ms, off for 500 ms */
    f = frame(14, false, 0);
    assert_int_equal(f.seg[1], alfa_ind_digit(1));
    assert_int_equal(f.seg[2], alfa_ind_digit(4));
    f = frame(14, false, 499);
    assert_int_equal(f.seg[2], alfa_ind_digit(4));
    f = frame(14, false, 500);
    assert_true(f.seg[0] == B && f.seg[1] == B && f.seg[2] == B);
    f = frame(14, false, 1000);
    assert_int_equal(f.seg[2], alfa_ind_digit(4));
    f = frame(0, false, 0);
    assert_true(f.seg[0] == B && f.seg[1] == B && f.seg[2] == alfa_ind_digit(0));
    f = frame(0, false, 1500);
    assert_int_equal(f.seg[2], B);
    /* before the first reading: "---" and a dark bar */
    alfa_ind_input_t in = {.soc_valid = false, .pixel_count = 10};
    alfa_ind_compute(&in, &f);
    assert_true(f.seg[0] == ALFA_SEG_DASH && f.seg[1] == ALFA_SEG_DASH && f.seg[2] == ALFA_SEG_DASH);
    assert_int_equal(lit(&f, OFF), 10);
}

static void status_leds(void **state)
{
    (void)state;
    alfa_ind_input_t in = {.soc_valid = true, .soc_pct = 50, .pixel_count = 10};
    alfa_ind_frame_t f;
    alfa_ind_compute(&in, &f);
    assert_int_equal(f.leds, ALFA_LED_GREEN); /* running */
    in.is_master = true;
    in.t_ms = 600;
    alfa_ind_compute(&in, &f);
    assert_int_equal(f.leds, 0); /* master: green blinks */
    in.t_ms = 1100;
    in.warning = true;
    alfa_ind_compute(&in, &f);
    assert_int_equal(f.leds, ALFA_LED_GREEN | ALFA_LED_YELLOW);
    in.fw_update = true;
    alfa_ind_compute(&in, &f);
    assert_true(f.leds & ALFA_LED_RED);
    in.t_ms = 1600;
    alfa_ind_compute(&in, &f);
    assert_int_equal(f.leds, 0); /* red blinks for an update */
    in.critical = true;
    alfa_ind_compute(&in, &f);
    assert_int_equal(f.leds, ALFA_LED_RED); /* critical: solid */
    in.identify = true;
    in.t_ms = 0;
    alfa_ind_compute(&in, &f);
    assert_int_equal(f.leds, ALFA_LED_GREEN | ALFA_LED_YELLOW | ALFA_LED_RED);
    assert_int_equal(lit(&f, WHITE), 10);
    in.t_ms = 250;
    alfa_ind_compute(&in, &f);
    assert_int_equal(f.leds, 0);
    assert_int_equal(lit(&f, OFF), 10);
    in.pixel_count = 200; /* never past the frame */
    alfa_ind_compute(&in, &f);
    assert_int_equal(f.px_count, ALFA_PIXELS_MAX);
}

static void core_pushes_frames_to_the_port_as_time_comes(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    assert_int_equal(p.tp.segments[0], ALFA_SEG_DASH);
    assert_int_equal(p.tp.leds, ALFA_LED_GREEN | ALFA_LED_YELLOW); /* yellow: time not set */
    p.soc_pct = 12;
    p.i_batt_ma = 10000; /* charging ~ 480 W */
    bms_poll(&p);
    assert_int_equal(p.tp.segments[2], alfa_ind_digit(2));
    assert_int_equal(p.tp.pixel_count, 10);
    /* over 1 s of 100-ms process calls: the display blinks once, the sweep keeps moving */
    uint32_t seg_calls = p.tp.segments_calls, px_calls = p.tp.pixels_calls;
    int dark = 0;
    for (int k = 0; k < 10; k++) {
        alfa_test_port_run(&p.tp, &p.core, 100, 100);
        dark += p.tp.segments[2] == ALFA_SEG_BLANK;
    }
    assert_int_equal(dark, 5);
    assert_true(p.tp.segments_calls - seg_calls == 2);
    assert_true(p.tp.pixels_calls - px_calls == 10 || p.tp.pixels_calls - px_calls == 9);
    /* not charging: a static bar is not pushed again and again */
    p.i_batt_ma = 0;
    bms_poll(&p);
    px_calls = p.tp.pixels_calls;
    alfa_test_port_run(&p.tp, &p.core, 3000, 100);
    assert_int_equal(p.tp.pixels_calls, px_calls);
    /* master, identify (expires), firmware update */
    alfa_core_set_master(&p.core, true);
    alfa_telemetry_t t;
    alfa_core_telemetry(&p.core, &t);
    assert_int_equal(t.is_master, 1);
    alfa_core_identify(&p.core, 2);
    assert_int_equal(alfa_core_indicators(&p.core)->leds,
                     p.tp.leds); /* what the port shows is the core's frame */
    int white = 0;
    for (int k = 0; k < 30; k++) {
        alfa_test_port_run(&p.tp, &p.core, 100, 100);
        white += same(p.tp.pixels[9], WHITE);
    }
    assert_true(white >= 8 && white <= 12); /* 2 s of 250-ms blink, then over */
    assert_false(same(p.tp.pixels[9], WHITE));
    alfa_core_identify(&p.core, 0);
    alfa_core_set_fw_update(&p.core, true);
    int red = 0;
    for (int k = 0; k < 10; k++) {
        alfa_test_port_run(&p.tp, &p.core, 100, 100);
        red += (p.tp.leds & ALFA_LED_RED) != 0;
    }
    assert_int_equal(red, 5);
    alfa_core_set_fw_update(&p.core, false);
    alfa_core_set_master(&p.core, false);
    alfa_test_port_run(&p.tp, &p.core, 100, 100);
    assert_int_equal(p.tp.leds & (ALFA_LED_GREEN | ALFA_LED_RED), ALFA_LED_GREEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bar_at_soc_0_14_15_20_21_100_not_charging),
        cmocka_unit_test(bar_while_charging_sweeps_blue_every_100ms),
        cmocka_unit_test(display_digits_and_blink_below_15),
        cmocka_unit_test(status_leds),
        cmocka_unit_test(core_pushes_frames_to_the_port_as_time_comes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
