/* Workload for the instruction-count benchmark: N complete BMS polls, alfa_bms_process called every simulated ms, answer bytes paced at 9600 baud. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/bms.h"

typedef struct line {
    uint32_t now_ms;
    uint32_t answer_at_ms; /* 0 = no answer pending */
    uint8_t answer[21];
    size_t given;
} line_t;

static uint32_t l_now(void *u) { return ((line_t *)u)->now_ms; }

static int32_t l_write(void *u, const uint8_t *d, uint16_t n)
{
    line_t *l = u;
    (void)d;
    l->answer_at_ms = l->now_ms + 14; /* request wire time + t3.5 + turnaround, as bms-sim */
    l->given = 0;
    return n;
}

/* One byte per 1.04 ms once the answer has started. */
static int32_t l_read(void *u, uint8_t *d, uint16_t cap)
{
    line_t *l = u;
    if (l->answer_at_ms == 0 || l->now_ms < l->answer_at_ms || cap == 0) {
        return 0;
    }
    size_t due = (size_t)((l->now_ms - l->answer_at_ms) * 96u / 100u) + 1u;
    if (due > sizeof(l->answer)) {
        due = sizeof(l->answer);
    }
    size_t n = due - l->given;
    if (n > cap) {
        n = cap;
    }
    memcpy(d, l->answer + l->given, n);
    l->given += n;
    if (l->given == sizeof(l->answer)) {
        l->answer_at_ms = 0;
    }
    return (int32_t)n;
}

int main(int argc, char **argv)
{
    long polls = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
    line_t l;
    memset(&l, 0, sizeof(l));
    l.now_ms = 1000;
    const uint16_t regs[8] = {520, (uint16_t)-150, 35, 0, 0, 250, 3245, 3255};
    l.answer[0] = 1;
    l.answer[1] = 3;
    l.answer[2] = 16;
    for (int i = 0; i < 8; i++) {
        l.answer[3 + 2 * i] = (uint8_t)(regs[i] >> 8);
        l.answer[4 + 2 * i] = (uint8_t)regs[i];
    }
    uint16_t c = alfa_mb_crc16(l.answer, 19);
    l.answer[19] = (uint8_t)c;
    l.answer[20] = (uint8_t)(c >> 8);

    alfa_port_t port;
    memset(&port, 0, sizeof(port));
    port.user = &l;
    port.now_ms = l_now;
    port.serial_write = l_write;
    port.serial_read = l_read;
    alfa_bms_config_t bc;
    alfa_bms_config_default(&bc);
    alfa_bms_t bms;
    if (alfa_bms_init(&bms, &port, &bc, l.now_ms) != 0) {
        return 1;
    }
    long ok = 0, calls = 0;
    for (long p = 0; p < polls; p++) {
        alfa_bms_result_t r;
        for (;;) {
            calls++;
            if (alfa_bms_process(&bms, l.now_ms, &r) == 1) {
                ok += r.err == 0;
                break;
            }
            l.now_ms++;
        }
        l.now_ms = alfa_bms_next_poll_ms(&bms);
    }
    printf("polls=%ld ok=%ld process_calls=%ld\n", polls, ok, calls);
    return ok == polls ? 0 : 1;
}
