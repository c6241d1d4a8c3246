/* The test port: scripted clock, captured outputs and synthetic CT blocks for driving the core in tests. */
#include "alfa/test_port.h"
#include <math.h>
#include <string.h>

static alfa_test_port_t *self(void *user) { return (alfa_test_port_t *)user; }

static uint32_t tp_now(void *user) { return self(user)->now_ms; }

static void tp_relays(void *user, uint8_t mask)
{
    self(user)->relays_energised = mask;
    self(user)->relays_calls++;
}

static void tp_pixels(void *user, const alfa_rgb_t *px, uint8_t count)
{
    alfa_test_port_t *tp = self(user);
    uint8_t n = count > ALFA_PIXELS_MAX ? (uint8_t)ALFA_PIXELS_MAX : count;
    memcpy(tp->pixels, px, n * sizeof *px);
    tp->pixel_count = n;
    tp->pixels_calls++;
}

static void tp_segments(void *user, const uint8_t seg[ALFA_SEG_DIGITS])
{
    memcpy(self(user)->segments, seg, ALFA_SEG_DIGITS);
    self(user)->segments_calls++;
}

static void tp_leds(void *user, uint8_t mask)
{
    self(user)->leds = mask;
    self(user)->leds_calls++;
}

static void tp_watchdog(void *user) { self(user)->watchdog_feeds++; }

static void tp_reboot(void *user) { self(user)->reboots++; }

/* xorshift32: deterministic noise, the same every run. */
static uint32_t next_rand(alfa_test_port_t *tp)
{
    uint32_t x = tp->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    tp->rng = x;
    return x;
}

static void generate(alfa_test_port_t *tp, alfa_test_ct_t *ct)
{
    const double two_pi = 6.283185307179586;
    double amp = sqrt(2.0) * (double)ct->i_rms_ma * 1000.0 / (double)ALFA_CT_GAIN_DEFAULT_UA;
    for (uint32_t k = 0; k < tp->adc_count; k++) {
        double v = (double)ct->bias +
                   amp * sin(two_pi * (double)tp->mains_hz * (double)k / ALFA_TEST_ADC_RATE_HZ);
        if (ct->noise > 0u) {
            v += (double)(int32_t)(next_rand(tp) % (2u * ct->noise + 1u)) - (double)ct->noise;
        }
        v = v < 0.0 ? 0.0 : (v > 4095.0 ? 4095.0 : v);
        ct->samples[k] = (uint16_t)lround(v);
    }
    ct->dirty = 0;
}

static const uint16_t *tp_adc(void *user, uint8_t ch, uint16_t *count, uint16_t *rate_hz)
{
    alfa_test_port_t *tp = self(user);
    if (ch >= ALFA_CT_COUNT || tp->ct[ch].absent) {
        return NULL;
    }
    if (tp->ct[ch].dirty) {
        generate(tp, &tp->ct[ch]);
    }
    *count = tp->adc_count;
    *rate_hz = ALFA_TEST_ADC_RATE_HZ;
    return tp->ct[ch].samples;
}

void alfa_test_port_init(alfa_test_port_t *tp, uint32_t start_ms)
{
    memset(tp, 0, sizeof *tp);
    tp->now_ms = start_ms;
    tp->mains_hz = 50;
    tp->adc_count = ALFA_TEST_ADC_SAMPLES;
    tp->rng = 0x2545F491u;
    for (uint32_t ch = 0; ch < ALFA_CT_COUNT; ch++) {
        tp->ct[ch].bias = 2048;
        tp->ct[ch].dirty = 1;
    }
    tp->port.user = tp;
    tp->port.now_ms = tp_now;
    tp->port.relays_set = tp_relays;
    tp->port.pixels_set = tp_pixels;
    tp->port.segments_set = tp_segments;
    tp->port.status_leds_set = tp_leds;
    tp->port.adc_block = tp_adc;
    tp->port.watchdog_feed = tp_watchdog;
    tp->port.reboot = tp_reboot;
}

void alfa_test_port_advance(alfa_test_port_t *tp, uint32_t ms) { tp->now_ms += ms; }

void alfa_test_port_set_ct(alfa_test_port_t *tp, uint8_t ch, uint32_t i_rms_ma, uint16_t bias,
                           uint16_t noise)
{
    if (ch >= ALFA_CT_COUNT) {
        return;
    }
    tp->ct[ch].i_rms_ma = i_rms_ma;
    tp->ct[ch].bias = bias;
    tp->ct[ch].noise = noise;
    tp->ct[ch].dirty = 1;
}

void alfa_test_port_set_ct_w(alfa_test_port_t *tp, uint8_t ch, uint32_t p_w)
{
    if (ch >= ALFA_CT_COUNT) {
        return;
    }
    uint32_t i_ma = (uint32_t)(((uint64_t)p_w * 1000u + 110u) / 220u);
    alfa_test_port_set_ct(tp, ch, i_ma, tp->ct[ch].bias, tp->ct[ch].noise);
}

void alfa_test_port_set_mains(alfa_test_port_t *tp, uint8_t hz)
{
    tp->mains_hz = hz;
    for (uint32_t ch = 0; ch < ALFA_CT_COUNT; ch++) {
        tp->ct[ch].dirty = 1;
    }
}

void alfa_test_port_run(alfa_test_port_t *tp, alfa_core_t *core, uint32_t ms, uint32_t step_ms)
{
    if (step_ms == 0u) {
        step_ms = 1u;
    }
    for (uint32_t t = 0; t < ms; t += step_ms) {
        uint32_t d = ms - t < step_ms ? ms - t : step_ms;
        tp->now_ms += d;
        alfa_core_process(core);
    }
}

bool alfa_test_port_relay_closed(const alfa_test_port_t *tp, uint32_t r, uint8_t polarity)
{
    return (((tp->relays_energised ^ polarity) >> r) & 1u) != 0u;
}
