/* Tests of the ESP32 port's CAN logic: TWAI <-> frame translation, the acceptance filter against every protocol class, the ISR/task rings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alfa/esp32/canq.h"
#include "alfa/esp32/twai.h"
#include "alfa/port.h"
#include "alfa/proto.h"

static void frames_round_trip(void **state)
{
    (void)state;
    alfa_heartbeat_t hb = {.node_id = 5, .device_type = ALFA_DEV_PACK, .serial = 0x240AC4123456ull,
                           .fw_major = 2, .fw_minor = 5, .fw_patch = 0};
    alfa_can_frame_t f, back;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), ALFA_PROTO_OK);
    alfa_esp32_twai_hdr_t h;
    uint8_t data[8];
    assert_int_equal(alfa_esp32_twai_from_frame(&f, &h, data), ALFA_PORT_OK);
    assert_int_equal(h.id, f.id);
    assert_int_equal(h.ide, 1);
    assert_int_equal(h.rtr, 0);
    assert_int_equal(h.dlc, 8);
    assert_int_equal(alfa_esp32_twai_to_frame(&h, data, sizeof data, &back), ALFA_PORT_OK);
    assert_int_equal(back.id, f.id);
    assert_int_equal(back.len, f.len);
    assert_int_equal(back.flags, ALFA_CAN_FLAG_EXT);
    assert_memory_equal(back.data, f.data, f.len);
    /* what comes back decodes as what was sent */
    alfa_heartbeat_t hb2;
    assert_int_equal(alfa_proto_heartbeat_decode(&back, &hb2), ALFA_PROTO_OK);
    assert_true(hb2.serial == hb.serial);

    /* a standard, short frame; an RTR frame carries no data whatever its DLC */
    alfa_can_frame_t s = {.id = 0x123, .len = 2, .data = {0xAA, 0x55}};
    assert_int_equal(alfa_esp32_twai_from_frame(&s, &h, data), ALFA_PORT_OK);
    assert_int_equal(h.ide, 0);
    assert_int_equal(data[2], 0); /* unused bytes zeroed, never stale */
    alfa_esp32_twai_hdr_t r = {.id = 0x1ABCDEF0u, .dlc = 4, .ide = 1, .rtr = 1};
    assert_int_equal(alfa_esp32_twai_to_frame(&r, NULL, 0, &back), ALFA_PORT_OK);
    assert_int_equal(back.len, 0);
    assert_int_equal(back.flags, ALFA_CAN_FLAG_EXT | ALFA_CAN_FLAG_RTR);
    /* a classic DLC of 9..15 means 8 bytes */
    alfa_esp32_twai_hdr_t big = {.id = 1, .dlc = 15, .ide = 1};
    assert_int_equal(alfa_esp32_twai_to_frame(&big, data, 8, &back), ALFA_PORT_OK);
    assert_int_equal(back.len, 8);
}

static void bad_frames_are_refused(void **state)
{
    (void)state;
    alfa_esp32_twai_hdr_t h = {.id = 77};
    uint8_t data[8] = {0};
    alfa_can_frame_t f = {.id = 0x800, .len = 1};              /* 12 bits in a standard frame */
    assert_int_equal(alfa_esp32_twai_from_frame(&f, &h, data), ALFA_PORT_E_RANGE);
    f = (alfa_can_frame_t){.id = 0x20000000u, .flags = ALFA_CAN_FLAG_EXT};
    assert_int_equal(alfa_esp32_twai_from_frame(&f, &h, data), ALFA_PORT_E_RANGE);
    f = (alfa_can_frame_t){.id = 1, .len = 9, .flags = ALFA_CAN_FLAG_EXT};
    assert_int_equal(alfa_esp32_twai_from_frame(&f, &h, data), ALFA_PORT_E_RANGE);
    f = (alfa_can_frame_t){.id = 1, .flags = ALFA_CAN_FLAG_EXT | ALFA_CAN_FLAG_ERR};
    assert_int_equal(alfa_esp32_twai_from_frame(&f, &h, data), ALFA_PORT_E_RANGE);
    assert_int_equal(h.id, 77); /* untouched */
    alfa_can_frame_t out = {.id = 99};
    alfa_esp32_twai_hdr_t fd = {.id = 1, .dlc = 8, .ide = 1, .fdf = 1};
    assert_int_equal(alfa_esp32_twai_to_frame(&fd, data, 8, &out), ALFA_PORT_E_RANGE);
    alfa_esp32_twai_hdr_t short_data = {.id = 1, .dlc = 8, .ide = 1};
    assert_int_equal(alfa_esp32_twai_to_frame(&short_data, data, 7, &out), ALFA_PORT_E_RANGE);
    assert_int_equal(out.id, 99);
}

static void filter_takes_every_defined_class_and_nothing_else(void **state)
{
    (void)state;
    alfa_esp32_twai_filter_t flt;
    alfa_esp32_twai_filter(&flt);
    /* Every class, every sender/destination/aux pattern that matters (the filter only sees bits 28..13). */
    for (uint32_t cls = 0; cls < 128u; cls++) {
        for (uint32_t rest = 0; rest < (1u << 22); rest += 0x1357u) {
            uint32_t id = (cls << 22) | rest;
            alfa_can_frame_t f = {.id = id, .len = 8, .flags = ALFA_CAN_FLAG_EXT};
            assert_int_equal(alfa_esp32_twai_accepts(&flt, id, true), cls <= 0x4Fu);
            if (alfa_proto_classify(&f) >= 0) {
                assert_true(alfa_esp32_twai_accepts(&flt, id, true)); /* nothing the protocol knows is lost */
            }
        }
        assert_false(alfa_esp32_twai_accepts(&flt, cls, false)); /* standard frames never */
    }
    /* the real frames of the protocol, by their encoders */
    alfa_can_frame_t f;
    alfa_time_msg_t tm = {.src = ALFA_NODE_LINUX_GATEWAY, .unix_s = 1750532400u, .utc_offset_min = 120};
    assert_int_equal(alfa_proto_time_encode(&tm, &f), ALFA_PROTO_OK);
    assert_true(alfa_esp32_twai_accepts(&flt, f.id, true));
    alfa_cmd_t c = {.code = ALFA_CMD_REBOOT, .seq = 1, .src = 126, .dst = 127};
    assert_int_equal(alfa_proto_cmd_encode(&c, &f), ALFA_PROTO_OK);
    assert_true(alfa_esp32_twai_accepts(&flt, f.id, true));
    assert_true(alfa_esp32_twai_accepts(&flt, ALFA_PROTO_ID(ALFA_CLS_FW_LAST, 127, 0, 126), true));
    assert_false(alfa_esp32_twai_accepts(&flt, ALFA_PROTO_ID(0x50, 127, 0, 126), true));
}

static void rx_ring_keeps_order_counts_drops_and_wraps(void **state)
{
    (void)state;
    static alfa_esp32_can_rx_t q;
    alfa_esp32_can_rx_init(&q);
    q.head = q.tail = 0xFFFFFFF0u; /* the counters wrap inside this test */
    alfa_can_frame_t f = {.len = 1, .flags = ALFA_CAN_FLAG_EXT}, g;
    for (uint32_t round = 0; round < 3u; round++) {
        for (uint32_t i = 0; i < ALFA_ESP32_CAN_RXQ + 3u; i++) {
            f.id = round * 1000u + i;
            assert_int_equal(alfa_esp32_can_rx_push(&q, &f), i < ALFA_ESP32_CAN_RXQ);
        }
        for (uint32_t i = 0; i < ALFA_ESP32_CAN_RXQ; i++) {
            assert_int_equal(alfa_esp32_can_rx_pop(&q, &g), 1);
            assert_int_equal(g.id, round * 1000u + i);
        }
        assert_int_equal(alfa_esp32_can_rx_pop(&q, &g), 0);
    }
    assert_int_equal(q.drops, 9);
}

/* A ring full of update frames still takes a command: the last slots are kept for control traffic. */
static void update_frames_leave_room_for_commands(void **state)
{
    (void)state;
    static alfa_esp32_can_rx_t q;
    alfa_esp32_can_rx_init(&q);
    alfa_can_frame_t data = {.id = ALFA_PROTO_ID(ALFA_CLS_FW_LAST, 0x12, 0x34, 126), .len = 8, .flags = ALFA_CAN_FLAG_EXT};
    alfa_can_frame_t cmd = {.id = ALFA_PROTO_ID(ALFA_CLS_CMD, 127, 1, 126), .len = 8, .flags = ALFA_CAN_FLAG_EXT}, g;
    uint32_t taken = 0;
    for (uint32_t i = 0; i < ALFA_ESP32_CAN_RXQ; i++) {
        taken += alfa_esp32_can_rx_push(&q, &data) ? 1u : 0u;
    }
    assert_int_equal(taken, ALFA_ESP32_CAN_RXQ - ALFA_ESP32_CAN_RX_CONTROL);
    assert_int_equal(q.update_drops, ALFA_ESP32_CAN_RX_CONTROL);
    for (uint32_t i = 0; i < ALFA_ESP32_CAN_RX_CONTROL; i++) {
        assert_true(alfa_esp32_can_rx_push(&q, &cmd));
    }
    assert_false(alfa_esp32_can_rx_push(&q, &cmd)); /* full is full */
    assert_int_equal(q.drops, ALFA_ESP32_CAN_RX_CONTROL + 1u);
    assert_int_equal(q.update_drops, ALFA_ESP32_CAN_RX_CONTROL);
    /* a standard frame whose bits happen to read as an update class is not one */
    alfa_esp32_can_rx_init(&q);
    alfa_can_frame_t std = {.id = data.id, .len = 8, .flags = 0};
    for (uint32_t i = 0; i < ALFA_ESP32_CAN_RXQ; i++) {
        assert_true(alfa_esp32_can_rx_push(&q, &std));
    }
    assert_int_equal(alfa_esp32_can_rx_pop(&q, &g), 1);
    assert_true(alfa_esp32_can_rx_push(&q, &cmd));
}

static void tx_slots_are_freed_in_order(void **state)
{
    (void)state;
    alfa_esp32_can_tx_t q;
    alfa_esp32_can_tx_init(&q);
    int32_t idx[ALFA_ESP32_CAN_TXQ];
    for (uint32_t i = 0; i < ALFA_ESP32_CAN_TXQ; i++) {
        idx[i] = alfa_esp32_can_tx_get(&q);
        assert_int_equal(idx[i], (int32_t)i);
    }
    assert_int_equal(alfa_esp32_can_tx_get(&q), -1); /* all in flight: can_send says E_FULL */
    alfa_esp32_can_tx_done(&q, 0);
    assert_int_equal(alfa_esp32_can_tx_busy(&q), ALFA_ESP32_CAN_TXQ - 1u);
    alfa_esp32_can_tx_done(&q, 3); /* 1 and 2 were lost to bus-off: freed with 3 */
    assert_int_equal(alfa_esp32_can_tx_busy(&q), ALFA_ESP32_CAN_TXQ - 4u);
    alfa_esp32_can_tx_done(&q, 2); /* not in flight any more: nothing changes */
    assert_int_equal(alfa_esp32_can_tx_busy(&q), ALFA_ESP32_CAN_TXQ - 4u);
    assert_int_equal(alfa_esp32_can_tx_get(&q), 0); /* slots come round again */
    alfa_esp32_can_tx_unget(&q);                    /* the driver refused it */
    assert_int_equal(alfa_esp32_can_tx_busy(&q), ALFA_ESP32_CAN_TXQ - 4u);
    alfa_esp32_can_tx_done(&q, ALFA_ESP32_CAN_TXQ - 1u);
    assert_int_equal(alfa_esp32_can_tx_busy(&q), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frames_round_trip),
        cmocka_unit_test(bad_frames_are_refused),
        cmocka_unit_test(filter_takes_every_defined_class_and_nothing_else),
        cmocka_unit_test(rx_ring_keeps_order_counts_drops_and_wraps),
        cmocka_unit_test(update_frames_leave_room_for_commands),
        cmocka_unit_test(tx_slots_are_freed_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
