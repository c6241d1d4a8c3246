/* The test port: a scripted clock, captured relay/pixel/segment/LED outputs, synthetic CT sample blocks and a watchdog counter. */
#ifndef ALFA_TEST_PORT_H
#define ALFA_TEST_PORT_H

/*
 * A test owns one alfa_test_port_t per pack (no globals), calls alfa_test_port_init, hands
 * `&tp.port` to alfa_core_init and moves time only with alfa_test_port_advance or
 * alfa_test_port_run: nothing here sleeps or reads a real clock.
 *
 * CT blocks: each channel returns a 200 ms block at 4 kHz (800 samples) of
 *   bias + sqrt(2) * I_rms / gain * sin(2 pi f t) + uniform noise in [-noise, +noise],
 * clamped to the 12-bit ADC range, where gain is the factory CT gain (uA per count). Blocks are
 * regenerated only when a channel's parameters change, so a benchmark measures the core alone.
 * Serial, CAN and flash callbacks are NULL here (the flash simulator is flash_sim.h).
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/port.h"
#include "alfa/core.h"

#define ALFA_TEST_ADC_RATE_HZ 4000u
#define ALFA_TEST_ADC_SAMPLES 800u /* 200 ms */

typedef struct alfa_test_ct {
    uint32_t i_rms_ma;   /* current the synthetic waveform carries */
    uint16_t bias;       /* DC bias in ADC counts (mid-scale 2048 on the board) */
    uint16_t noise;      /* uniform noise amplitude in counts */
    uint8_t absent;      /* adc_block returns NULL for this channel */
    uint8_t dirty;
    uint16_t samples[ALFA_TEST_ADC_SAMPLES];
} alfa_test_ct_t;

typedef struct alfa_test_port {
    alfa_port_t port;         /* give &port to the core; port.user points back here */
    uint32_t now_ms;          /* the scripted clock */
    uint8_t mains_hz;         /* waveform frequency (50 or 60) */
    uint16_t adc_count;       /* samples per block (default ALFA_TEST_ADC_SAMPLES) */
    uint32_t rng;             /* noise generator state (deterministic) */
    alfa_test_ct_t ct[ALFA_CT_COUNT];

    /* captured outputs */
    uint8_t relays_energised;
    uint32_t relays_calls;
    alfa_rgb_t pixels[ALFA_PIXELS_MAX];
    uint8_t pixel_count;
    uint32_t pixels_calls;
    uint8_t segments[ALFA_SEG_DIGITS];
    uint32_t segments_calls;
    uint8_t leds;
    uint32_t leds_calls;
    uint32_t watchdog_feeds;
    uint32_t reboots;
} alfa_test_port_t;

/* Fill the table (time, relays, pixels, segments, LEDs, ADC, watchdog, reboot), clock at
 * `start_ms`, 50 Hz, every CT at 0 A with bias 2048 and no noise. */
void alfa_test_port_init(alfa_test_port_t *tp, uint32_t start_ms);

/* Move the clock forward (wraps like a real 32-bit millisecond counter). */
void alfa_test_port_advance(alfa_test_port_t *tp, uint32_t ms);

/* Set CT channel `ch`'s synthetic current, bias and noise. */
void alfa_test_port_set_ct(alfa_test_port_t *tp, uint8_t ch, uint32_t i_rms_ma, uint16_t bias,
                           uint16_t noise);
/* Set the current of channel `ch` from a power at 220 V (keeps bias and noise). */
void alfa_test_port_set_ct_w(alfa_test_port_t *tp, uint8_t ch, uint32_t p_w);
/* Mains frequency of the waveforms (50 or 60). */
void alfa_test_port_set_mains(alfa_test_port_t *tp, uint8_t hz);

/* Advance `ms` in steps of `step_ms`, calling alfa_core_process after each step. */
void alfa_test_port_run(alfa_test_port_t *tp, alfa_core_t *core, uint32_t ms, uint32_t step_ms);

/* Relay `r` closed as the port sees it, given the board polarity mask. */
bool alfa_test_port_relay_closed(const alfa_test_port_t *tp, uint32_t r, uint8_t polarity);

#endif
