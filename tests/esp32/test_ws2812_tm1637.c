/* Tests of the ESP32 port's display logic: WS2812B bit symbols and byte stream against the datasheet, TM1637 steps through a simulated chip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alfa/esp32/tm1637.h"
#include "alfa/esp32/ws2812.h"

/* ---- WS2812B ---- */

static uint32_t ns_of(uint32_t ticks, uint32_t hz) { return (uint32_t)((uint64_t)ticks * 1000000000u / hz); }

static void check_phase(uint32_t ticks, uint32_t hz, uint32_t want_ns)
{
    uint32_t ns = ns_of(ticks, hz);
    assert_true(ns + ALFA_WS2812_TOL_NS >= want_ns);
    assert_true(ns <= want_ns + ALFA_WS2812_TOL_NS);
}

static void ws2812_symbols_meet_the_datasheet(void **state)
{
    (void)state;
    const uint32_t rates[] = {ALFA_WS2812_RMT_HZ, 20000000u, 40000000u, 80000000u};
    for (uint32_t i = 0; i < 4u; i++) {
        alfa_ws2812_symbols_t s;
        assert_int_equal(alfa_ws2812_symbols(rates[i], &s), ALFA_PORT_OK);
        /* high first (level0 = 1), then low (level1 = 0) */
        assert_int_equal((s.bit0 >> 15) & 1u, 1u);
        assert_int_equal(s.bit0 >> 31, 0u);
        assert_int_equal((s.bit1 >> 15) & 1u, 1u);
        assert_int_equal(s.bit1 >> 31, 0u);
        check_phase(s.bit0 & 0x7FFFu, rates[i], ALFA_WS2812_T0H_NS);
        check_phase((s.bit0 >> 16) & 0x7FFFu, rates[i], ALFA_WS2812_T0L_NS);
        check_phase(s.bit1 & 0x7FFFu, rates[i], ALFA_WS2812_T1H_NS);
        check_phase((s.bit1 >> 16) & 0x7FFFu, rates[i], ALFA_WS2812_T1L_NS);
    }
    /* At 10 MHz exactly: 0.4/0.9 (0.85 rounds up) and 0.8/0.5 (0.45 rounds up) us. */
    alfa_ws2812_symbols_t s;
    assert_int_equal(alfa_ws2812_symbols(ALFA_WS2812_RMT_HZ, &s), ALFA_PORT_OK);
    assert_int_equal(s.bit0, alfa_ws2812_word(4u, 9u));
    assert_int_equal(s.bit1, alfa_ws2812_word(8u, 5u));
}

static void ws2812_refuses_a_clock_too_coarse(void **state)
{
    (void)state;
    alfa_ws2812_symbols_t s = {0xAAu, 0xBBu};
    assert_int_equal(alfa_ws2812_symbols(1000000u, &s), ALFA_PORT_E_RANGE); /* 1 us ticks */
    assert_int_equal(alfa_ws2812_symbols(0u, &s), ALFA_PORT_E_RANGE);
    assert_int_equal(s.bit0, 0xAAu);
    assert_int_equal(alfa_ws2812_symbols(ALFA_WS2812_RMT_HZ, NULL), ALFA_PORT_E_RANGE);
}

/* What the RMT bytes encoder puts on the wire, decoded back into colours as a WS2812B chain does. */
static void ws2812_wire_decodes_to_the_pixels(void **state)
{
    (void)state;
    alfa_rgb_t px[10];
    for (uint8_t i = 0; i < 10u; i++) {
        px[i] = (alfa_rgb_t){.r = (uint8_t)(i * 25u), .g = (uint8_t)(255u - i), .b = (uint8_t)(i == 3u ? 160u : 0u)};
    }
    uint8_t bytes[3u * ALFA_PIXELS_MAX];
    assert_int_equal(alfa_ws2812_grb(px, 10u, bytes, sizeof bytes), 30u);
    alfa_ws2812_symbols_t s;
    assert_int_equal(alfa_ws2812_symbols(ALFA_WS2812_RMT_HZ, &s), ALFA_PORT_OK);
    uint32_t wire[240];
    for (uint32_t b = 0; b < 30u; b++) {
        for (uint32_t bit = 0; bit < 8u; bit++) {
            wire[b * 8u + bit] = (bytes[b] >> (7u - bit)) & 1u ? s.bit1 : s.bit0; /* MSB first */
        }
    }
    /* A chip reads a bit as 1 when the high phase is longer than ~0.6 us; 24 bits per pixel, G R B. */
    for (uint32_t p = 0; p < 10u; p++) {
        uint32_t v = 0;
        for (uint32_t k = 0; k < 24u; k++) {
            uint32_t high_ns = ns_of(wire[p * 24u + k] & 0x7FFFu, ALFA_WS2812_RMT_HZ);
            v = (v << 1) | (high_ns > 600u ? 1u : 0u);
        }
        assert_int_equal((v >> 16) & 0xFFu, px[p].g);
        assert_int_equal((v >> 8) & 0xFFu, px[p].r);
        assert_int_equal(v & 0xFFu, px[p].b);
    }
    assert_int_equal(alfa_ws2812_grb(px, 10u, bytes, 29u), 0u);
    assert_int_equal(alfa_ws2812_grb(px, ALFA_PIXELS_MAX + 1u, bytes, 1000u), 0u);
}

/* ---- TM1637 ---- */

typedef struct chip {
    uint8_t clk, dio;
    uint8_t in_frame, bits, nbytes, frames;
    uint8_t cur;
    uint8_t bytes[3][8];
    uint8_t counts[3];
    uint32_t acks_asked;
    uint32_t us;
    uint32_t bad;
} chip_t;

/* A TM1637 as the datasheet describes it: START/STOP by DIO moving while CLK is high, bits sampled
 * on CLK rising edges LSB first, the ninth clock of a byte its ACK slot. */
static void chip_step(chip_t *c, const alfa_tm1637_step_t *s)
{
    c->us += s->hold_us;
    if (s->hold_us < ALFA_TM1637_HALF_US) {
        c->bad++;
    }
    if (s->line == ALFA_TM1637_LINE_DIO) {
        if (s->level == c->dio) {
            return;
        }
        c->dio = s->level;
        if (c->clk) {
            if (!c->dio) { /* START */
                c->in_frame = 1;
                c->bits = 0;
                c->nbytes = 0;
            } else if (c->in_frame) { /* STOP */
                assert_true(c->frames < 3u);
                c->counts[c->frames++] = c->nbytes;
                c->in_frame = 0;
            }
        }
        return;
    }
    uint8_t rising = !c->clk && s->level;
    c->clk = s->level;
    if (!rising || !c->in_frame) {
        return;
    }
    if (c->bits < 8u) {
        c->cur = (uint8_t)(c->cur | (c->dio << c->bits));
        c->bits++;
        return;
    }
    /* ninth clock: the master must have released DIO and must be sampling it */
    assert_int_equal(c->dio, 1);
    assert_int_equal(s->ack, 1);
    c->acks_asked++;
    if (c->frames < 3u && c->nbytes < 8u) {
        c->bytes[c->frames][c->nbytes++] = c->cur;
    }
    c->cur = 0;
    c->bits = 0;
}

static void tm1637_update_is_three_transactions(void **state)
{
    (void)state;
    const uint8_t seg[ALFA_SEG_DIGITS] = {0x06u, 0x3Fu, 0x3Fu}; /* "100" */
    alfa_tm1637_step_t steps[ALFA_TM1637_STEPS_MAX];
    uint32_t n = alfa_tm1637_build(seg, ALFA_TM1637_BRIGHTNESS, steps, ALFA_TM1637_STEPS_MAX);
    assert_int_equal(n, ALFA_TM1637_STEPS_MAX);
    chip_t c = {.clk = 1, .dio = 1};
    for (uint32_t i = 0; i < n; i++) {
        chip_step(&c, &steps[i]);
        /* DIO may move while CLK is high only as START or STOP, which chip_step decodes; a data bit
         * moving there would show as a spurious frame and fail the counts below. */
    }
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.frames, 3);
    assert_int_equal(c.counts[0], 1);
    assert_int_equal(c.counts[1], 4);
    assert_int_equal(c.counts[2], 1);
    assert_int_equal(c.bytes[0][0], ALFA_TM1637_CMD_DATA);
    assert_int_equal(c.bytes[1][0], ALFA_TM1637_CMD_ADDR);
    assert_memory_equal(&c.bytes[1][1], seg, ALFA_SEG_DIGITS);
    assert_int_equal(c.bytes[2][0], ALFA_TM1637_CMD_DISPLAY | ALFA_TM1637_BRIGHTNESS);
    assert_int_equal(c.acks_asked, 6);
    /* both lines end released (idle), and the whole update takes under a millisecond */
    assert_int_equal(c.clk, 1);
    assert_int_equal(c.dio, 1);
    assert_true(c.us <= 1000u);
    assert_int_equal(c.us, n * ALFA_TM1637_HALF_US);
}

static void tm1637_refuses_bad_arguments(void **state)
{
    (void)state;
    const uint8_t seg[ALFA_SEG_DIGITS] = {0};
    alfa_tm1637_step_t steps[ALFA_TM1637_STEPS_MAX];
    memset(steps, 0xA5, sizeof steps);
    assert_int_equal(alfa_tm1637_build(seg, 8u, steps, ALFA_TM1637_STEPS_MAX), 0u);
    assert_int_equal(alfa_tm1637_build(seg, 1u, steps, ALFA_TM1637_STEPS_MAX - 1u), 0u);
    assert_int_equal(alfa_tm1637_build(NULL, 1u, steps, ALFA_TM1637_STEPS_MAX), 0u);
    assert_int_equal(steps[0].hold_us, 0xA5u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ws2812_symbols_meet_the_datasheet),
        cmocka_unit_test(ws2812_refuses_a_clock_too_coarse),
        cmocka_unit_test(ws2812_wire_decodes_to_the_pixels),
        cmocka_unit_test(tm1637_update_is_three_transactions),
        cmocka_unit_test(tm1637_refuses_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
