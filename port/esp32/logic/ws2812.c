/* WS2812B bit symbols for the RMT and the pixels' GRB byte stream (no ESP-IDF headers: host-tested). */
#include "alfa/esp32/ws2812.h"

static uint32_t ticks(uint32_t ns, uint32_t hz)
{
    return (uint32_t)(((uint64_t)ns * hz + 500000000u) / 1000000000u);
}

static int phase_ok(uint32_t t, uint32_t hz, uint32_t want_ns)
{
    uint64_t ns = (uint64_t)t * 1000000000u / hz;
    uint64_t lo = want_ns - ALFA_WS2812_TOL_NS, hi = want_ns + ALFA_WS2812_TOL_NS;
    return t >= 1u && t <= 0x7FFFu && ns >= lo && ns <= hi;
}

int32_t alfa_ws2812_symbols(uint32_t resolution_hz, alfa_ws2812_symbols_t *out)
{
    if (out == 0 || resolution_hz == 0u) {
        return ALFA_PORT_E_RANGE;
    }
    uint32_t t0h = ticks(ALFA_WS2812_T0H_NS, resolution_hz), t0l = ticks(ALFA_WS2812_T0L_NS, resolution_hz);
    uint32_t t1h = ticks(ALFA_WS2812_T1H_NS, resolution_hz), t1l = ticks(ALFA_WS2812_T1L_NS, resolution_hz);
    if (!phase_ok(t0h, resolution_hz, ALFA_WS2812_T0H_NS) || !phase_ok(t0l, resolution_hz, ALFA_WS2812_T0L_NS) ||
        !phase_ok(t1h, resolution_hz, ALFA_WS2812_T1H_NS) || !phase_ok(t1l, resolution_hz, ALFA_WS2812_T1L_NS)) {
        return ALFA_PORT_E_RANGE;
    }
    out->bit0 = alfa_ws2812_word(t0h, t0l);
    out->bit1 = alfa_ws2812_word(t1h, t1l);
    return ALFA_PORT_OK;
}

uint32_t alfa_ws2812_grb(const alfa_rgb_t *px, uint8_t count, uint8_t *out, uint32_t cap)
{
    if (px == 0 || out == 0 || count > ALFA_PIXELS_MAX || cap < 3u * count) {
        return 0u;
    }
    for (uint32_t i = 0; i < count; i++) {
        out[3u * i] = px[i].g;
        out[3u * i + 1u] = px[i].r;
        out[3u * i + 2u] = px[i].b;
    }
    return 3u * count;
}
