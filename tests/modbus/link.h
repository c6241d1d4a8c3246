/* Test harness: a simulated RS-485 line joining the firmware's Modbus master to the BMS model (or to hand-made replies) under a simulated clock. */
#ifndef ALFA_TEST_MB_LINK_H
#define ALFA_TEST_MB_LINK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/bms.h"
#include "alfa/bmsmodel.h"
#include "alfa/port.h"

#define LINK_QUEUE 8192u
#define LINK_WRITES 64u

typedef struct link {
    alfa_port_t port;
    alfa_bmsm_t model;
    uint64_t now_us;
    uint8_t q[LINK_QUEUE]; /* bytes delivered to the master, not yet read */
    size_t q_len;
    /* raw mode: instead of the model, answer every request with raw[] after raw_delay_ms */
    int raw;
    uint8_t raw_reply[300];
    size_t raw_len;
    uint32_t raw_delay_ms;
    uint64_t raw_at_us;
    size_t raw_off;
    int raw_pending;
    int raw_echo; /* the adapter echoes our own request back first */
    /* what the master wrote, and when */
    uint32_t write_ms[LINK_WRITES];
    uint8_t written[LINK_WRITES][16];
    size_t write_len[LINK_WRITES];
    size_t writes;
    int fail_reads; /* serial_read returns an error */
} link_t;

static uint32_t link_now_ms(void *user) { return (uint32_t)(((link_t *)user)->now_us / 1000u); }

static int32_t link_write(void *user, const uint8_t *data, uint16_t len)
{
    link_t *l = user;
    if (l->writes < LINK_WRITES) {
        l->write_ms[l->writes] = (uint32_t)(l->now_us / 1000u);
        size_t n = len < 16 ? len : 16;
        memcpy(l->written[l->writes], data, n);
        l->write_len[l->writes] = n;
    }
    l->writes++;
    if (l->raw) {
        if (l->raw_echo && l->q_len + len <= LINK_QUEUE) {
            memcpy(l->q + l->q_len, data, len);
            l->q_len += len;
        }
        l->raw_pending = 1;
        l->raw_off = 0;
        l->raw_at_us = l->now_us + (uint64_t)l->raw_delay_ms * 1000u;
    } else {
        alfa_bmsm_rx(&l->model, data, len, l->now_us);
    }
    return len;
}

/* Move everything due by now onto the line. */
static void link_pump(link_t *l)
{
    if (l->raw) {
        while (l->raw_pending && l->raw_off < l->raw_len &&
               l->raw_at_us + (l->raw_off + 1) * 1042u <= l->now_us && l->q_len < LINK_QUEUE) {
            l->q[l->q_len++] = l->raw_reply[l->raw_off++];
        }
        if (l->raw_off >= l->raw_len) {
            l->raw_pending = 0;
        }
        return;
    }
    l->q_len += alfa_bmsm_tx(&l->model, l->now_us, l->q + l->q_len, LINK_QUEUE - l->q_len);
}

static int32_t link_read(void *user, uint8_t *data, uint16_t cap)
{
    link_t *l = user;
    if (l->fail_reads) {
        return ALFA_PORT_E_IO;
    }
    link_pump(l);
    size_t n = l->q_len < cap ? l->q_len : cap;
    memcpy(data, l->q, n);
    memmove(l->q, l->q + n, l->q_len - n);
    l->q_len -= n;
    return (int32_t)n;
}

static void link_init(link_t *l, const alfa_bmsm_config_t *mc, const alfa_bmsm_values_t *v)
{
    memset(l, 0, sizeof(*l));
    l->port.user = l;
    l->port.now_ms = link_now_ms;
    l->port.serial_write = link_write;
    l->port.serial_read = link_read;
    l->now_us = 1000000u; /* not zero: time origin is arbitrary */
    alfa_bmsm_config_t c;
    if (mc == NULL) {
        alfa_bmsm_config_default(&c);
        mc = &c;
    }
    if (alfa_bmsm_init(&l->model, mc, v) != 0) {
        abort(); /* a test's model values out of range: the test itself is wrong */
    }
}

/* Run the BMS poller 1 ms at a time until one poll finishes; jumps idle time to the next poll.
 * Returns 1 with *out filled, 0 if nothing finished within `limit_ms`. */
/* Run the clock until the poller reports something: a finished poll, or (when `any`) also the
 * clock's comm-lost verdict while a poll still runs. 1 when it did within `limit_ms`. */
static inline int link_run_event(link_t *l, alfa_bms_t *bms, alfa_bms_result_t *out, uint32_t limit_ms, int any)
{
    for (uint32_t i = 0; i < limit_ms; i++) {
        if (alfa_bms_process(bms, (uint32_t)(l->now_us / 1000u), out) == 1 && (any || out->finished)) {
            return 1;
        }
        if (!alfa_bms_busy(bms) && l->q_len == 0 && alfa_bmsm_next_us(&l->model) == UINT64_MAX &&
            !l->raw_pending) {
            /* the 32-bit ms clock: compare in its own arithmetic */
            int32_t ahead = (int32_t)(alfa_bms_next_poll_ms(bms) - (uint32_t)(l->now_us / 1000u));
            if (ahead > 1) {
                l->now_us = (l->now_us / 1000u + (uint64_t)ahead) * 1000u;
                continue;
            }
        }
        l->now_us += 1000u;
    }
    return 0;
}

/* Run until the next poll finished (the clock's comm-lost verdicts in between are passed over). */
static inline int link_run_poll(link_t *l, alfa_bms_t *bms, alfa_bms_result_t *out, uint32_t limit_ms)
{
    return link_run_event(l, bms, out, limit_ms, 0);
}

#endif
