/* The four CTs from the ESP32's continuous ADC into the core's sample blocks: DMA parsing, decimation, calibration, block sets (port/esp32/logic/adc.c). */
#ifndef ALFA_ESP32_ADC_H
#define ALFA_ESP32_ADC_H

/*
 * The ADC converts the four CT channels in turn at ALFA_ESP32_ADC_CONV_HZ (20 kHz, the ESP32's
 * lowest DMA rate), 5 kHz each. Every ALFA_ESP32_ADC_DECIM conversions of a channel are averaged
 * into one sample: 1,250 Hz, 25 samples per 50-Hz cycle (the 4-point average attenuates 50 Hz by
 * 0.22 % and 60 Hz by 0.32 %, well inside a CT's class; the calibration gain absorbs it), and
 * noise drops by half. A block is ALFA_ESP32_CT_SAMPLES (125 = 100 ms: 5 whole cycles at 50 Hz,
 * 6 at 60 Hz) per channel, as the core wants (port.h adc_block).
 *
 * Calibration: the chip's own characteristics (ESP-IDF adc_cali, from eFuse) are sampled once at
 * 17 raw codes (0, 256, ..., 3840, 4095) in mV; each averaged sample is interpolated between them
 * and expressed in counts of an ideal 12-bit converter over 3.3 V, the scale the core's default CT
 * gain assumes (ALFA_CT_GAIN_DEFAULT_UA). A group with a conversion at a rail (0 or 4095) stays at
 * that rail, so the core still sees a clipped waveform as "CT out of range".
 *
 * Block sets: two sets of four blocks, one being filled and the newest complete one. The core reads
 * a block within the call that asked for it and keeps no pointer (port.h adc_block), and the sets
 * are fed by the pack task between its calls of alfa_pack_process, never during one: the set handed
 * out is refilled only by a later alfa_esp32_adc_feed, once the core is done with it. The whole
 * context is plain data, fed from the pack task (never from an interrupt).
 */

#include <stdint.h>
#include "alfa/port.h"

#define ALFA_ESP32_ADC_CONV_HZ 20000u
#define ALFA_ESP32_ADC_CHANNELS 4u
#define ALFA_ESP32_ADC_DECIM 4u
#define ALFA_ESP32_CT_RATE_HZ (ALFA_ESP32_ADC_CONV_HZ / ALFA_ESP32_ADC_CHANNELS / ALFA_ESP32_ADC_DECIM)
#define ALFA_ESP32_CT_SAMPLES 125u
#define ALFA_ESP32_ADC_SETS 2u
#define ALFA_ESP32_ADC_KNOTS 17u            /* calibration points, every 256 raw codes */
#define ALFA_ESP32_ADC_FULL_MV 3300u        /* the ideal converter the core's gain assumes */
#define ALFA_ESP32_ADC_NONE 0xFFu

/* DMA result formats (ESP-IDF adc_digi_output_format_t). */
typedef enum alfa_esp32_adc_format {
    ALFA_ESP32_ADC_TYPE1 = 1, /* ESP32: 2 bytes, data bits 0..11, channel bits 12..15 */
    ALFA_ESP32_ADC_TYPE2 = 2, /* ESP32-C3: 4 bytes, data bits 0..11, channel bits 13..15, unit bit 16 */
} alfa_esp32_adc_format_t;

typedef struct alfa_esp32_adc {
    uint8_t format;
    uint8_t ct_of_hw[16];                       /* hardware channel -> CT index, or NONE */
    uint16_t code_at_knot[ALFA_ESP32_ADC_KNOTS];/* ideal code (0..4096) at raw 0, 256, ..., 4096 */
    uint16_t acc[ALFA_ESP32_ADC_CHANNELS];      /* decimation: raw sum so far */
    uint8_t acc_n[ALFA_ESP32_ADC_CHANNELS];
    uint8_t acc_rail[ALFA_ESP32_ADC_CHANNELS];  /* bit0: a conversion at 0, bit1: at 4095 */
    uint8_t filling;                            /* set being filled, or NONE (all busy) */
    uint8_t ready;                              /* newest complete set, or NONE */
    uint16_t fill_n[ALFA_ESP32_ADC_CHANNELS];
    uint32_t sets_done;
    uint32_t dropped;                           /* samples dropped while no set was free */
    uint32_t foreign;                           /* DMA entries of unknown channels or units */
    uint16_t block[ALFA_ESP32_ADC_SETS][ALFA_ESP32_ADC_CHANNELS][ALFA_ESP32_CT_SAMPLES];
} alfa_esp32_adc_t;

/* Start with `format`; hw_channel[ct] is the ADC1 channel of CT `ct` (ALFA_CT_* order). Calibration
 * starts as the ideal converter. ALFA_PORT_E_RANGE for an unknown format or a channel above 15 or
 * used twice (nothing usable then). */
int32_t alfa_esp32_adc_init(alfa_esp32_adc_t *a, alfa_esp32_adc_format_t format,
                            const uint8_t hw_channel[ALFA_ESP32_ADC_CHANNELS]);

/* Use the chip's calibration: mv[k] is the voltage of raw code 256 k (k = 16: raw 4095).
 * ALFA_PORT_E_RANGE (the previous calibration stays) unless the points never decrease and stay
 * within 0..3300 mV. */
int32_t alfa_esp32_adc_set_cal(alfa_esp32_adc_t *a, const uint16_t mv[ALFA_ESP32_ADC_KNOTS]);

/* One averaged sample from the raw sum of ALFA_ESP32_ADC_DECIM conversions and their rail flags:
 * the calibrated ideal code, 1..4094, or exactly 0 / 4095 when a conversion sat at that rail. */
uint16_t alfa_esp32_adc_sample(const alfa_esp32_adc_t *a, uint32_t raw_sum, uint8_t rail);

/* Feed `len` bytes of DMA results (whole entries; a trailing partial entry is ignored). */
void alfa_esp32_adc_feed(alfa_esp32_adc_t *a, const uint8_t *dma, uint32_t len);

/* The port's adc_block: the newest complete block of `ct`, or NULL before the first set. */
const uint16_t *alfa_esp32_adc_block(alfa_esp32_adc_t *a, uint8_t ct, uint16_t *count, uint16_t *rate_hz);

#endif
