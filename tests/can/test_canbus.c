/* Tests of the timed CAN bus model: wire time, stuffing, arbitration, errors, cut-offs, bus-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "alfa/canbus.h"

static alfa_can_frame_t ext_frame(uint32_t id, uint8_t len, uint8_t fill)
{
    alfa_can_frame_t f;
    memset(&f, 0, sizeof(f));
    f.id = id;
    f.len = len;
    f.flags = ALFA_CAN_FLAG_EXT;
    memset(f.data, fill, len);
    return f;
}

typedef struct seen {
    uint32_t n;
    uint32_t id[64];
    uint64_t end_us[64];
} seen_t;

static void observe(void *ctx, const alfa_can_frame_t *f, uint8_t sender, uint64_t start, uint64_t end)
{
    (void)sender;
    (void)start;
    seen_t *s = ctx;
    if (s->n < 64) {
        s->id[s->n] = f->id;
        s->end_us[s->n] = end;
        s->n++;
    }
}

static void test_frame_lengths(void **state)
{
    (void)state;
    /* Unstuffed and worst-case lengths of the classic table (intermission included). */
    alfa_can_frame_t e8 = ext_frame(0x1ABCDEF0u, 8, 0xA5);
    alfa_can_frame_t s8 = e8;
    s8.flags = 0;
    s8.id = 0x555;
    assert_int_equal(alfa_canbus_frame_bits(&e8, 1), 160);
    assert_int_equal(alfa_canbus_frame_bits(&s8, 1), 135);
    alfa_can_frame_t e0 = ext_frame(0x1ABCDEF0u, 0, 0);
    assert_int_equal(alfa_canbus_frame_bits(&e0, 1), 80);
    /* Exact stuffing lies between the unstuffed length and the worst case, and long runs of
     * equal bits cost more than alternating ones. */
    for (uint32_t seed = 1; seed < 200; seed++) {
        alfa_can_frame_t f = ext_frame((seed * 2654435761u) & 0x1FFFFFFFu, (uint8_t)(seed % 9), 0);
        for (uint8_t i = 0; i < f.len; i++) {
            f.data[i] = (uint8_t)(seed * 31u + i * 7u);
        }
        uint32_t exact = alfa_canbus_frame_bits(&f, 0);
        uint32_t unstuffed = 67u + 8u * f.len; /* 1+11+1+1+18+1+2+4 + data + 15 + 13 */
        assert_true(exact >= unstuffed);
        assert_true(exact <= alfa_canbus_frame_bits(&f, 1));
    }
    alfa_can_frame_t zeros = ext_frame(0, 8, 0x00);
    alfa_can_frame_t alt = ext_frame(0x0AAAAAAAu, 8, 0x55);
    assert_true(alfa_canbus_frame_bits(&zeros, 0) > alfa_canbus_frame_bits(&alt, 0));
    /* 64 zero data bits alone need 64/4 = 16 stuff bits (one after each run of five, the
     * stuff bit starting the next run). */
    assert_true(alfa_canbus_frame_bits(&zeros, 0) >= 131u + 16u);
}

static void test_wire_time_and_delivery(void **state)
{
    (void)state;
    alfa_canbus_t *bus = calloc(1, sizeof(*bus));
    assert_non_null(bus);
    alfa_canbus_init(bus, 1);
    alfa_canbus_node_t *a = alfa_canbus_attach(bus);
    alfa_canbus_node_t *b = alfa_canbus_attach(bus);
    alfa_canbus_node_t *c = alfa_canbus_attach(bus);
    alfa_can_frame_t f = ext_frame(0x04000001u, 8, 0x3C);
    uint64_t wire_us = 2u * alfa_canbus_frame_bits(&f, 0);
    alfa_canbus_run_until(bus, 1000);
    assert_int_equal(alfa_canbus_send(a, &f), 0);
    alfa_can_frame_t got;
    alfa_canbus_run_until(bus, 1000 + wire_us - 1);
    assert_int_equal(alfa_canbus_recv(b, &got), 0); /* still on the wire */
    alfa_canbus_run_until(bus, 1000 + wire_us);
    assert_int_equal(alfa_canbus_recv(b, &got), 1);
    assert_memory_equal(&got, &f, sizeof(f));
    assert_int_equal(alfa_canbus_recv(c, &got), 1);
    assert_int_equal(alfa_canbus_recv(a, &got), 0); /* never its own frame */
    assert_true(bus->busy_us_total == wire_us);
    free(bus);
}

static void test_arbitration_lowest_id_first(void **state)
{
    (void)state;
    alfa_canbus_t *bus = calloc(1, sizeof(*bus));
    alfa_canbus_init(bus, 2);
    seen_t seen;
    memset(&seen, 0, sizeof(seen));
    bus->observer = observe;
    bus->observer_ctx = &seen;
    alfa_canbus_node_t *n[4];
    for (int i = 0; i < 4; i++) {
        n[i] = alfa_canbus_attach(bus);
    }
    /* Three nodes queue at the same instant; the lowest identifier goes first. */
    alfa_can_frame_t hi = ext_frame(0x0C000003u, 8, 1);
    alfa_can_frame_t mid = ext_frame(0x08000002u, 8, 2);
    alfa_can_frame_t lo = ext_frame(0x00400001u, 8, 3);
    assert_int_equal(alfa_canbus_send(n[0], &hi), 0);
    assert_int_equal(alfa_canbus_send(n[1], &mid), 0);
    assert_int_equal(alfa_canbus_send(n[2], &lo), 0);
    alfa_canbus_run_until(bus, 10000);
    assert_int_equal(seen.n, 3);
    assert_int_equal(seen.id[0], lo.id);
    assert_int_equal(seen.id[1], mid.id);
    assert_int_equal(seen.id[2], hi.id);
    /* Back to back: each starts when the previous one ends. */
    assert_true(seen.end_us[1] == seen.end_us[0] + 2u * alfa_canbus_frame_bits(&mid, 0));
    alfa_can_frame_t got;
    assert_int_equal(alfa_canbus_recv(n[3], &got), 1);
    assert_int_equal(got.id, lo.id);
    /* A frame queued while another is on the wire waits even if its identifier is lower. */
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(alfa_canbus_send(n[0], &hi), 0);
    alfa_canbus_run_until(bus, 10100);
    assert_int_equal(alfa_canbus_send(n[2], &lo), 0);
    alfa_canbus_run_until(bus, 20000);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.id[0], hi.id);
    free(bus);
}

static void test_cut_off_and_rejoin(void **state)
{
    (void)state;
    alfa_canbus_t *bus = calloc(1, sizeof(*bus));
    alfa_canbus_init(bus, 3);
    alfa_canbus_node_t *a = alfa_canbus_attach(bus);
    alfa_canbus_node_t *b = alfa_canbus_attach(bus);
    alfa_canbus_node_t *c = alfa_canbus_attach(bus);
    alfa_canbus_set_connected(c, 0);
    alfa_can_frame_t f = ext_frame(0x04000005u, 4, 9);
    alfa_can_frame_t got;
    assert_int_equal(alfa_canbus_send(a, &f), 0);
    alfa_canbus_run_until(bus, 1000);
    assert_int_equal(alfa_canbus_recv(b, &got), 1);
    assert_int_equal(alfa_canbus_recv(c, &got), 0);
    /* The cut-off node's frames reach nobody; unacknowledged, it goes error-passive. */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(alfa_canbus_send(c, &f), 0);
        alfa_canbus_run_until(bus, bus->now_us + 1000);
    }
    assert_int_equal(alfa_canbus_recv(a, &got), 0);
    assert_int_equal(alfa_canbus_recv(b, &got), 0);
    assert_int_equal(alfa_canbus_state(c), ALFA_CAN_ERROR_PASSIVE);
    assert_int_equal(alfa_canbus_state(a), ALFA_CAN_ERROR_ACTIVE);
    /* Rejoined: it hears and is heard again. */
    alfa_canbus_set_connected(c, 1);
    alfa_can_frame_t fc = ext_frame(0x04000006u, 4, 9);
    assert_int_equal(alfa_canbus_send(a, &f), 0);
    assert_int_equal(alfa_canbus_send(c, &fc), 0);
    alfa_canbus_run_until(bus, bus->now_us + 2000);
    assert_int_equal(alfa_canbus_recv(c, &got), 1);
    assert_int_equal(alfa_canbus_recv(b, &got), 1);
    free(bus);
}

static void test_injected_error_is_retransmitted(void **state)
{
    (void)state;
    alfa_canbus_t *bus = calloc(1, sizeof(*bus));
    alfa_canbus_init(bus, 4);
    alfa_canbus_node_t *a = alfa_canbus_attach(bus);
    alfa_canbus_node_t *b = alfa_canbus_attach(bus);
    alfa_can_frame_t f = ext_frame(0x04000005u, 8, 0x77);
    uint64_t wire_us = 2u * alfa_canbus_frame_bits(&f, 0);
    alfa_canbus_inject_errors(bus, 1);
    assert_int_equal(alfa_canbus_send(a, &f), 0);
    alfa_canbus_run_until(bus, wire_us);
    alfa_can_frame_t got;
    assert_int_equal(alfa_canbus_recv(b, &got), 0); /* destroyed, retry under way */
    alfa_canbus_run_until(bus, 3 * wire_us);
    assert_int_equal(alfa_canbus_recv(b, &got), 1);
    assert_int_equal(alfa_canbus_recv(b, &got), 0); /* delivered exactly once */
    assert_true(bus->n_error_frames == 1);
    assert_int_equal(a->tec, 7); /* +8 for the error, -1 for the success */
    free(bus);
}

static void test_same_id_different_data_goes_bus_off_and_recovers(void **state)
{
    (void)state;
    alfa_canbus_t *bus = calloc(1, sizeof(*bus));
    alfa_canbus_init(bus, 5);
    alfa_canbus_node_t *a = alfa_canbus_attach(bus);
    alfa_canbus_node_t *b = alfa_canbus_attach(bus);
    alfa_canbus_node_t *c = alfa_canbus_attach(bus);
    alfa_can_frame_t fa = ext_frame(0x04000005u, 2, 1);
    alfa_can_frame_t fb = ext_frame(0x04000005u, 2, 2);
    assert_int_equal(alfa_canbus_send(a, &fa), 0);
    assert_int_equal(alfa_canbus_send(b, &fb), 0);
    alfa_canbus_run_until(bus, 100000);
    alfa_can_frame_t got;
    assert_int_equal(alfa_canbus_recv(c, &got), 0);
    assert_int_equal(alfa_canbus_state(a), ALFA_CAN_BUS_OFF);
    assert_int_equal(alfa_canbus_state(b), ALFA_CAN_BUS_OFF);
    assert_true(bus->n_error_frames == 32); /* 32 x 8 = 256 */
    assert_int_equal(alfa_canbus_send(a, &fa), ALFA_PORT_E_BUSOFF);
    alfa_canbus_recover(a);
    alfa_canbus_run_until(bus, bus->now_us + 2815);
    assert_int_equal(alfa_canbus_state(a), ALFA_CAN_BUS_OFF);
    alfa_canbus_run_until(bus, bus->now_us + 2);
    assert_int_equal(alfa_canbus_state(a), ALFA_CAN_ERROR_ACTIVE);
    assert_int_equal(alfa_canbus_send(a, &fa), 0);
    alfa_canbus_run_until(bus, bus->now_us + 1000);
    assert_int_equal(alfa_canbus_recv(c, &got), 1);
    assert_int_equal(got.data[0], 1);
    /* Identical frames from two nodes merge into one without error. */
    alfa_canbus_recover(b);
    alfa_canbus_run_until(bus, bus->now_us + 3000);
    uint64_t errs = bus->n_error_frames;
    assert_int_equal(alfa_canbus_send(a, &fa), 0);
    assert_int_equal(alfa_canbus_send(b, &fa), 0);
    alfa_canbus_run_until(bus, bus->now_us + 1000);
    assert_true(bus->n_error_frames == errs);
    assert_int_equal(alfa_canbus_recv(c, &got), 1);
    assert_int_equal(alfa_canbus_recv(c, &got), 0);
    free(bus);
}

static void test_alone_on_the_bus_is_unacknowledged(void **state)
{
    (void)state;
    alfa_canbus_t *bus = calloc(1, sizeof(*bus));
    alfa_canbus_init(bus, 6);
    alfa_canbus_node_t *a = alfa_canbus_attach(bus);
    alfa_can_frame_t f = ext_frame(0x04000005u, 8, 1);
    for (int i = 0; i < 15; i++) {
        assert_int_equal(alfa_canbus_send(a, &f), 0);
        alfa_canbus_run_until(bus, bus->now_us + 1000);
    }
    assert_int_equal(alfa_canbus_state(a), ALFA_CAN_ERROR_ACTIVE);
    assert_int_equal(alfa_canbus_send(a, &f), 0);
    alfa_canbus_run_until(bus, bus->now_us + 1000);
    assert_int_equal(alfa_canbus_state(a), ALFA_CAN_ERROR_PASSIVE);
    /* ACK errors never push an error-passive node to bus-off. */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(alfa_canbus_send(a, &f), 0);
        alfa_canbus_run_until(bus, bus->now_us + 1000);
    }
    assert_int_equal(alfa_canbus_state(a), ALFA_CAN_ERROR_PASSIVE);
    assert_true(bus->n_frames == 0);
    free(bus);
}

static void test_tx_fifo_full(void **state)
{
    (void)state;
    alfa_canbus_t *bus = calloc(1, sizeof(*bus));
    alfa_canbus_init(bus, 7);
    alfa_canbus_node_t *a = alfa_canbus_attach(bus);
    assert_non_null(alfa_canbus_attach(bus)); /* a receiver to acknowledge */
    alfa_can_frame_t f = ext_frame(0x04000005u, 8, 1);
    for (unsigned i = 0; i < ALFA_CANBUS_TXQ; i++) {
        assert_int_equal(alfa_canbus_send(a, &f), 0);
    }
    assert_int_equal(alfa_canbus_send(a, &f), ALFA_PORT_E_FULL);
    f.len = 9;
    assert_int_equal(alfa_canbus_send(a, &f), ALFA_PORT_E_RANGE);
    free(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_lengths),
        cmocka_unit_test(test_wire_time_and_delivery),
        cmocka_unit_test(test_arbitration_lowest_id_first),
        cmocka_unit_test(test_cut_off_and_rejoin),
        cmocka_unit_test(test_injected_error_is_retransmitted),
        cmocka_unit_test(test_same_id_different_data_goes_bus_off_and_recovers),
        cmocka_unit_test(test_alone_on_the_bus_is_unacknowledged),
        cmocka_unit_test(test_tx_fifo_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
