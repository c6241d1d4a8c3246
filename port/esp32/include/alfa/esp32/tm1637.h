/* The TM1637 two-wire protocol as a list of single-line pin steps, computed by a pure function (port/esp32/logic/tm1637.c). */
#ifndef ALFA_ESP32_TM1637_H
#define ALFA_ESP32_TM1637_H

/*
 * One display update is three transactions (TM1637 datasheet): the data command 0x40 (write,
 * auto-increment), the address command 0xC0 followed by the digit bytes, and the display
 * control 0x88 | brightness. A transaction is START (DIO falls while CLK is high), bytes LSB first
 * (DIO changes only while CLK is low, sampled on CLK's rising edge), a ninth clock per byte with DIO
 * released for the chip's ACK, and STOP (DIO rises while CLK is high).
 *
 * Each step changes ONE line and then holds for `hold_us`, so the executor (the ESP-IDF file, on
 * open-drain GPIOs with the module's pull-ups) never has to order two changes. DIO level 1 means
 * "released" (pulled up), which is also how the ACK slot is left to the chip.
 * The core's segment bytes (bit0 = a .. bit6 = g, bit7 = colon/dp) are the TM1637's own bit order.
 */

#include <stdint.h>
#include "alfa/port.h"

#define ALFA_TM1637_HALF_US 5u      /* half a clock period: 100 kHz, safe with 10 k pull-ups and a cable */
#define ALFA_TM1637_BRIGHTNESS 4u   /* 0..7: moderate, the display is in a living space */
#define ALFA_TM1637_CMD_DATA 0x40u
#define ALFA_TM1637_CMD_ADDR 0xC0u
#define ALFA_TM1637_CMD_DISPLAY 0x88u
/* 3 transactions: START 2 steps, 27 per byte (8 bits x 3 + ACK 3), STOP 3. */
#define ALFA_TM1637_STEPS_MAX (3u * 5u + 27u * (3u + ALFA_SEG_DIGITS))

#define ALFA_TM1637_LINE_CLK 0u
#define ALFA_TM1637_LINE_DIO 1u

typedef struct alfa_tm1637_step {
    uint8_t line;     /* ALFA_TM1637_LINE_* */
    uint8_t level;    /* 0 = driven low, 1 = high / released */
    uint8_t ack;      /* 1: after this step the chip drives DIO; read it (0 = acknowledged) */
    uint8_t hold_us;
} alfa_tm1637_step_t;

/* The steps that show `seg` (ALFA_SEG_DIGITS bytes, leftmost first) at `brightness` (0..7), starting
 * and ending with both lines high. Returns the number of steps, or 0 when `cap` is too small or an
 * argument is invalid (nothing written). */
uint32_t alfa_tm1637_build(const uint8_t seg[ALFA_SEG_DIGITS], uint8_t brightness, alfa_tm1637_step_t *steps,
                           uint32_t cap);

#endif
