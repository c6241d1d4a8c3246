/* CAN benchmarks on the timed bus model: bus load with 8 and 32 packs, broadcast-ack time, failover. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/cansite.h"

static uint64_t serial_of(uint32_t k) { return 0x24A1B2000000ull + (uint64_t)k * 7919u; }

static alfa_cansite_t *site_of(uint32_t n, uint64_t seed)
{
    alfa_cansite_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        fprintf(stderr, "canbench: out of memory\n");
        exit(1);
    }
    alfa_cansite_init(s, seed);
    for (uint32_t k = 0; k < n; k++) {
        if (alfa_cansite_add_pack(s, serial_of(k), 0) == NULL) {
            fprintf(stderr, "canbench: cannot add pack %u\n", k);
            exit(1);
        }
    }
    /* Settle: listen, claim, elect. */
    alfa_cansite_run_ms(s, 15000);
    if (alfa_cansite_masters(s) != 1) {
        fprintf(stderr, "canbench: %u masters after settling\n", alfa_cansite_masters(s));
        exit(1);
    }
    return s;
}

/* Share of bus time used by heartbeats, telemetry and site totals over 60 s (exact stuffing). */
static double bus_load_pct(uint32_t n)
{
    alfa_cansite_t *s = site_of(n, 100u + n);
    uint64_t busy0 = alfa_canbus_busy_us(&s->bus), t0 = alfa_canbus_now_us(&s->bus);
    alfa_cansite_run_ms(s, 60000);
    double pct = 100.0 * (double)(alfa_canbus_busy_us(&s->bus) - busy0) / (double)(alfa_canbus_now_us(&s->bus) - t0);
    free(s);
    return pct;
}

typedef struct ack_watch {
    uint8_t seq;
    uint64_t cmd_end_us;
    uint64_t last_ack_us;
    uint32_t acks;
} ack_watch_t;

static void watch(void *ctx, const alfa_can_frame_t *f, uint8_t sender, uint64_t start, uint64_t end)
{
    (void)sender;
    (void)start;
    ack_watch_t *w = ctx;
    int cls = alfa_proto_classify(f);
    if (cls == ALFA_CLS_CMD && f->len > 0 && f->data[0] == w->seq) {
        w->cmd_end_us = end;
    } else if (cls == ALFA_CLS_ACK) {
        alfa_ack_t a;
        if (alfa_proto_ack_decode(f, &a) == 0 && a.seq == w->seq && a.result == ALFA_ACK_OK) {
            w->acks++;
            w->last_ack_us = end;
        }
    }
}

/* Bus time from the broadcast command on the wire to the last of 32 acknowledgements. */
static double all_acks_ms(void)
{
    alfa_cansite_t *s = site_of(32, 7);
    ack_watch_t w;
    memset(&w, 0, sizeof(w));
    alfa_canbus_set_observer(&s->bus, watch, &w);
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_SET_MODE;
    c.dst = ALFA_NODE_BROADCAST;
    c.u.set_mode.mode = ALFA_MODE_SELF_CONSUMPTION;
    c.u.set_mode.on = 1;
    int seq = alfa_cansite_command(s, &c);
    if (seq < 0) {
        fprintf(stderr, "canbench: command not encoded\n");
        exit(1);
    }
    w.seq = (uint8_t)seq;
    alfa_cansite_run_ms(s, 200);
    if (w.acks != 32) {
        fprintf(stderr, "canbench: %u acks of 32\n", w.acks);
        exit(1);
    }
    double ms = (double)(w.last_ack_us - w.cmd_end_us) / 1000.0;
    free(s);
    return ms;
}

/* Master cut off -> the next pack is master, in ms of bus time (worst of several phases). */
static double failover_ms(void)
{
    double worst = 0;
    for (uint32_t phase = 0; phase < 5; phase++) {
        alfa_cansite_t *s = site_of(32, 40u + phase);
        alfa_cansite_run_ms(s, phase * 211u); /* cut at different points of the heartbeat period */
        uint32_t old = 0;
        for (uint32_t i = 0; i < s->n_packs; i++) {
            if (alfa_node_is_master(alfa_pack_node(&s->packs[i].pack))) {
                old = i;
            }
        }
        alfa_canbus_set_connected(s->packs[old].can, 0);
        uint64_t t0 = alfa_canbus_now_us(&s->bus);
        uint64_t t_new = 0;
        for (uint32_t ms = 0; ms < 10000 && t_new == 0; ms++) {
            alfa_cansite_run_ms(s, 1);
            for (uint32_t i = 0; i < s->n_packs; i++) {
                if (i != old && alfa_node_is_master(alfa_pack_node(&s->packs[i].pack))) {
                    t_new = alfa_canbus_now_us(&s->bus);
                }
            }
        }
        if (t_new == 0) {
            fprintf(stderr, "canbench: no new master\n");
            exit(1);
        }
        double ms = (double)(t_new - t0) / 1000.0;
        worst = ms > worst ? ms : worst;
        free(s);
    }
    return worst;
}

int main(void)
{
    printf("bench can_bus_load_8 %.2f %%\n", bus_load_pct(8));
    printf("bench can_bus_load_32 %.2f %%\n", bus_load_pct(32));
    printf("bench can_cmd_all_acks_32 %.2f ms\n", all_acks_ms());
    printf("bench can_failover %.0f ms\n", failover_ms());
    return 0;
}
