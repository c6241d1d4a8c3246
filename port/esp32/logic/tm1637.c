/* TM1637 transactions as pin steps: START, LSB-first bytes with ACK clocks, STOP (no ESP-IDF headers: host-tested). */
#include "alfa/esp32/tm1637.h"

typedef struct seq {
    alfa_tm1637_step_t *s;
    uint32_t n, cap;
} seq_t;

static void step(seq_t *q, uint8_t line, uint8_t level, uint8_t ack)
{
    if (q->n < q->cap) {
        q->s[q->n] = (alfa_tm1637_step_t){.line = line, .level = level, .ack = ack, .hold_us = ALFA_TM1637_HALF_US};
    }
    q->n++;
}

static void start(seq_t *q)
{
    step(q, ALFA_TM1637_LINE_DIO, 0, 0); /* CLK is high: a falling DIO is START */
    step(q, ALFA_TM1637_LINE_CLK, 0, 0);
}

static void byte(seq_t *q, uint8_t b)
{
    for (uint32_t i = 0; i < 8u; i++) {
        step(q, ALFA_TM1637_LINE_DIO, (uint8_t)((b >> i) & 1u), 0); /* LSB first, CLK low */
        step(q, ALFA_TM1637_LINE_CLK, 1, 0);
        step(q, ALFA_TM1637_LINE_CLK, 0, 0);
    }
    step(q, ALFA_TM1637_LINE_DIO, 1, 0); /* release DIO for the ACK */
    step(q, ALFA_TM1637_LINE_CLK, 1, 1); /* ninth clock: the chip holds DIO low */
    step(q, ALFA_TM1637_LINE_CLK, 0, 0);
}

static void stop(seq_t *q)
{
    step(q, ALFA_TM1637_LINE_DIO, 0, 0);
    step(q, ALFA_TM1637_LINE_CLK, 1, 0);
    step(q, ALFA_TM1637_LINE_DIO, 1, 0); /* CLK is high: a rising DIO is STOP */
}

uint32_t alfa_tm1637_build(const uint8_t seg[ALFA_SEG_DIGITS], uint8_t brightness, alfa_tm1637_step_t *steps,
                           uint32_t cap)
{
    if (seg == 0 || steps == 0 || brightness > 7u || cap < ALFA_TM1637_STEPS_MAX) {
        return 0u;
    }
    seq_t q = {.s = steps, .n = 0, .cap = cap};
    start(&q);
    byte(&q, ALFA_TM1637_CMD_DATA);
    stop(&q);
    start(&q);
    byte(&q, ALFA_TM1637_CMD_ADDR);
    for (uint32_t i = 0; i < ALFA_SEG_DIGITS; i++) {
        byte(&q, seg[i]);
    }
    stop(&q);
    start(&q);
    byte(&q, (uint8_t)(ALFA_TM1637_CMD_DISPLAY | brightness));
    stop(&q);
    return q.n;
}
