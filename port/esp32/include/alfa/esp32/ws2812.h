/* WS2812B on the ESP32's RMT: the two bit symbols and the GRB byte stream, as pure functions (port/esp32/logic/ws2812.c). */
#ifndef ALFA_ESP32_WS2812_H
#define ALFA_ESP32_WS2812_H

/*
 * The RMT's bytes encoder turns each byte, MSB first, into the `bit0` or `bit1` symbol computed here;
 * the pixels go out as G, R, B bytes (the WS2812B's order). A symbol is the RMT's 32-bit word:
 * duration0 (bits 0..14, ticks), level0 (bit 15), duration1 (bits 16..30), level1 (bit 31).
 * Datasheet timing (WS2812B): 0 = 0.40 us high + 0.85 us low, 1 = 0.80 us high + 0.45 us low,
 * each +-150 ns; a frame ends with the line low for >= 50 us (280 us on the V5 parts): the port never
 * sends two frames closer than ALFA_WS2812_RESET_US.
 */

#include <stdint.h>
#include "alfa/port.h"

#define ALFA_WS2812_RMT_HZ 10000000u  /* RMT tick: 100 ns */
#define ALFA_WS2812_T0H_NS 400u
#define ALFA_WS2812_T0L_NS 850u
#define ALFA_WS2812_T1H_NS 800u
#define ALFA_WS2812_T1L_NS 450u
#define ALFA_WS2812_TOL_NS 150u
#define ALFA_WS2812_RESET_US 300u

typedef struct alfa_ws2812_symbols {
    uint32_t bit0, bit1;   /* RMT symbol words */
} alfa_ws2812_symbols_t;

/* The RMT word of a high phase of `high` ticks then a low phase of `low` ticks. */
static inline uint32_t alfa_ws2812_word(uint32_t high, uint32_t low)
{
    return (high & 0x7FFFu) | (1u << 15) | ((low & 0x7FFFu) << 16);
}

/* Symbols for an RMT clocked at `resolution_hz`, each phase rounded to the nearest tick.
 * ALFA_PORT_E_RANGE (nothing written) when a phase would miss the datasheet by more than
 * ALFA_WS2812_TOL_NS or not fit the 15-bit duration field. */
int32_t alfa_ws2812_symbols(uint32_t resolution_hz, alfa_ws2812_symbols_t *out);

/* The core's pixels as the G, R, B byte stream; returns bytes written (3 x count), or 0 when `cap`
 * is too small or count exceeds ALFA_PIXELS_MAX (nothing written). */
uint32_t alfa_ws2812_grb(const alfa_rgb_t *px, uint8_t count, uint8_t *out, uint32_t cap);

#endif
