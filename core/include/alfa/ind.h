/* Indicators (SPEC.md §7) computed as data: LED-bar pixels, TM1637 segment bytes and status LEDs. */
#ifndef ALFA_IND_H
#define ALFA_IND_H

#include <stdbool.h>
#include <stdint.h>
#include "alfa/port.h"

#define ALFA_IND_SWEEP_STEP_MS 100u  /* blue charging pixel: one step per 100 ms */
#define ALFA_IND_BLINK_MS 500u       /* 1 Hz blink: 500 ms on, 500 ms off */
#define ALFA_IND_IDENTIFY_MS 250u    /* identify: fast blink, hard to miss */
#define ALFA_IND_RED_MAX_PCT 20u     /* LED bar solid red at SOC <= 20 % */
#define ALFA_IND_SEG_BLINK_BELOW 15u /* display blinks below 15 % */
#define ALFA_IND_CHARGING_MIN_W 50   /* "charging" = P_batt above this (SPEC.md §7) */

/* Colours of the bar (moderate brightness: the bar sits in a living space). */
#define ALFA_IND_GREEN_RGB {0u, 96u, 0u}
#define ALFA_IND_RED_RGB {96u, 0u, 0u}
#define ALFA_IND_BLUE_RGB {0u, 0u, 160u}
#define ALFA_IND_WHITE_RGB {96u, 96u, 96u}

/* TM1637 segment bytes: bit0 = a ... bit6 = g. */
#define ALFA_SEG_BLANK 0x00u
#define ALFA_SEG_DASH 0x40u

typedef struct alfa_ind_input {
    uint32_t t_ms;         /* ms since the core started (blink and sweep phase) */
    bool soc_valid;        /* false before the first BMS reading: display shows "---", bar dark */
    uint8_t soc_pct;
    bool charging;
    uint8_t pixel_count;   /* 1..ALFA_PIXELS_MAX */
    bool is_master;
    bool warning;          /* any warning: yellow blinks */
    bool critical;         /* any critical fault: red solid */
    bool fw_update;        /* firmware update in progress: red blinks (unless critical) */
    bool identify;         /* identify: every LED and the bar blink white together */
} alfa_ind_input_t;

typedef struct alfa_ind_frame {
    alfa_rgb_t px[ALFA_PIXELS_MAX];
    uint8_t px_count;
    uint8_t seg[ALFA_SEG_DIGITS];
    uint8_t leds;          /* ALFA_LED_* bits lit */
} alfa_ind_frame_t;

/* Compute the frame for `in`. Pure: the same input gives the same frame. */
void alfa_ind_compute(const alfa_ind_input_t *in, alfa_ind_frame_t *out);

/* Segment byte of digit 0..9 (ALFA_SEG_BLANK for anything else). */
uint8_t alfa_ind_digit(uint32_t d);

#endif
