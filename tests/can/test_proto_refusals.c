/* What every small-frame codec of the protocol library refuses: missing arguments, invalid addresses, out-of-range fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alfa/proto.h"

static alfa_can_frame_t untouched(void)
{
    alfa_can_frame_t f;
    memset(&f, 0xA5, sizeof f);
    return f;
}

/* An encoder that refuses writes nothing: the frame keeps its old bytes. */
#define ASSERT_REFUSED(call, frame, code)                                                       \
    do {                                                                                        \
        alfa_can_frame_t before_ = (frame);                                                     \
        assert_int_equal((call), (code));                                                       \
        assert_memory_equal(&before_, &(frame), sizeof before_);                                \
    } while (0)

static void test_id_in_use(void **state)
{
    (void)state;
    alfa_can_frame_t f = untouched();
    alfa_id_in_use_t m = {.src = 5, .dst = 9, .owner_serial = 0x123456789ABCull};
    assert_int_equal(alfa_proto_id_in_use_encode(NULL, &f), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_proto_id_in_use_encode(&m, NULL), ALFA_PROTO_E_INVAL);
    m.src = 0;
    ASSERT_REFUSED(alfa_proto_id_in_use_encode(&m, &f), f, ALFA_PROTO_E_INVAL);
    m.src = 5;
    m.dst = ALFA_NODE_BROADCAST;
    ASSERT_REFUSED(alfa_proto_id_in_use_encode(&m, &f), f, ALFA_PROTO_E_INVAL);
    m.dst = 9;
    m.owner_serial = 1ull << 48;
    ASSERT_REFUSED(alfa_proto_id_in_use_encode(&m, &f), f, ALFA_PROTO_E_RANGE);
    m.owner_serial = 0x123456789ABCull;
    assert_int_equal(alfa_proto_id_in_use_encode(&m, &f), ALFA_PROTO_OK);
    alfa_id_in_use_t back;
    assert_int_equal(alfa_proto_id_in_use_decode(&f, NULL), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_proto_id_in_use_decode(&f, &back), ALFA_PROTO_OK);
    assert_int_equal(back.owner_serial, m.owner_serial);
    assert_int_equal(back.dst, 9);
}

static void test_time(void **state)
{
    (void)state;
    alfa_can_frame_t f = untouched();
    alfa_time_msg_t t = {.src = ALFA_NODE_LINUX_GATEWAY, .unix_s = 1790000000u, .utc_offset_min = 60};
    assert_int_equal(alfa_proto_time_encode(NULL, &f), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_proto_time_encode(&t, NULL), ALFA_PROTO_E_INVAL);
    t.src = 0;
    ASSERT_REFUSED(alfa_proto_time_encode(&t, &f), f, ALFA_PROTO_E_INVAL);
    t.src = ALFA_NODE_LINUX_GATEWAY;
    t.utc_offset_min = ALFA_PROTO_UTC_OFFSET_MAX + 1;
    ASSERT_REFUSED(alfa_proto_time_encode(&t, &f), f, ALFA_PROTO_E_RANGE);
    t.utc_offset_min = ALFA_PROTO_UTC_OFFSET_MIN - 1;
    ASSERT_REFUSED(alfa_proto_time_encode(&t, &f), f, ALFA_PROTO_E_RANGE);
    t.utc_offset_min = -300;
    assert_int_equal(alfa_proto_time_encode(&t, &f), ALFA_PROTO_OK);
    alfa_time_msg_t back;
    assert_int_equal(alfa_proto_time_decode(&f, NULL), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_proto_time_decode(&f, &back), ALFA_PROTO_OK);
    assert_int_equal(back.unix_s, 1790000000u);
    assert_int_equal(back.utc_offset_min, -300);
}

static void test_import(void **state)
{
    (void)state;
    alfa_can_frame_t f = untouched();
    assert_int_equal(alfa_proto_import_req_encode(7, 20000, NULL), ALFA_PROTO_E_INVAL);
    ASSERT_REFUSED(alfa_proto_import_req_encode(0, 20000, &f), f, ALFA_PROTO_E_INVAL);
    alfa_import_msg_t m = {.src = 3, .dst = 7, .grid_import_today_wh = 12345};
    assert_int_equal(alfa_proto_import_resp_encode(NULL, &f), ALFA_PROTO_E_INVAL);
    m.dst = 0;
    ASSERT_REFUSED(alfa_proto_import_resp_encode(&m, &f), f, ALFA_PROTO_E_INVAL);
    m.dst = 7;
    assert_int_equal(alfa_proto_import_resp_encode(&m, &f), ALFA_PROTO_OK);
    alfa_import_msg_t back;
    assert_int_equal(alfa_proto_import_decode(&f, NULL), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_proto_import_decode(&f, &back), ALFA_CLS_IMPORT_RESP);
    assert_int_equal(back.grid_import_today_wh, 12345u);
}

static void test_ack(void **state)
{
    (void)state;
    alfa_can_frame_t f = untouched();
    alfa_ack_t a = {.src = 4, .dst = ALFA_NODE_LINUX_GATEWAY, .code = ALFA_CMD_SET_MODE, .seq = 9, .result = ALFA_ACK_OK};
    assert_int_equal(alfa_proto_ack_encode(NULL, &f), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_proto_ack_encode(&a, NULL), ALFA_PROTO_E_INVAL);
    a.src = ALFA_NODE_BROADCAST;
    ASSERT_REFUSED(alfa_proto_ack_encode(&a, &f), f, ALFA_PROTO_E_INVAL);
    a.src = 4;
    a.result = ALFA_ACK_RESULT_COUNT;
    ASSERT_REFUSED(alfa_proto_ack_encode(&a, &f), f, ALFA_PROTO_E_RANGE);
    a.result = ALFA_ACK_OUT_OF_RANGE;
    assert_int_equal(alfa_proto_ack_encode(&a, &f), ALFA_PROTO_OK);
    alfa_ack_t back;
    assert_int_equal(alfa_proto_ack_decode(&f, NULL), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_proto_ack_decode(&f, &back), ALFA_PROTO_OK);
    assert_int_equal(back.result, ALFA_ACK_OUT_OF_RANGE);
    assert_string_equal(alfa_ack_result_name(back.result), "out_of_range");
    assert_string_equal(alfa_ack_result_name(200), "?");
}

static void test_setting(void **state)
{
    (void)state;
    alfa_can_frame_t f = untouched();
    alfa_setting_msg_t m = {.src = 4, .dst = ALFA_NODE_LINUX_GATEWAY, .seq = 3, .last = 1, .id = 7, .value = -42};
    assert_int_equal(alfa_proto_setting_encode(NULL, &f), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_proto_setting_encode(&m, NULL), ALFA_PROTO_E_INVAL);
    m.dst = 0;
    ASSERT_REFUSED(alfa_proto_setting_encode(&m, &f), f, ALFA_PROTO_E_INVAL);
    m.dst = ALFA_NODE_LINUX_GATEWAY;
    m.last = 2;
    ASSERT_REFUSED(alfa_proto_setting_encode(&m, &f), f, ALFA_PROTO_E_RANGE);
    m.last = 1;
    assert_int_equal(alfa_proto_setting_encode(&m, &f), ALFA_PROTO_OK);
    alfa_setting_msg_t back;
    assert_int_equal(alfa_proto_setting_decode(&f, NULL), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_proto_setting_decode(&f, &back), ALFA_PROTO_OK);
    assert_int_equal(back.value, -42);
    assert_int_equal(back.id, 7);
    f.data[1] = 2; /* a flags byte with an undefined bit: the frame is refused whole */
    memset(&back, 0x5A, sizeof back);
    alfa_setting_msg_t before = back;
    assert_int_equal(alfa_proto_setting_decode(&f, &back), ALFA_PROTO_E_RANGE);
    assert_memory_equal(&before, &back, sizeof back);
}

static void test_classify_and_names(void **state)
{
    (void)state;
    assert_int_equal(alfa_proto_classify(NULL), ALFA_PROTO_E_INVAL);
    alfa_can_frame_t f = {.id = 0x123, .len = 2, .flags = 0}; /* an 11-bit frame: not ours */
    assert_int_equal(alfa_proto_classify(&f), ALFA_PROTO_E_ID);
    f.flags = ALFA_CAN_FLAG_EXT | ALFA_CAN_FLAG_RTR;
    assert_int_equal(alfa_proto_classify(&f), ALFA_PROTO_E_ID);
    const char *seen[8] = {0};
    for (int e = ALFA_PROTO_OK; e >= ALFA_PROTO_E_MISMATCH; e--) {
        const char *n = alfa_proto_err_name(e);
        assert_string_not_equal(n, "?");
        for (int k = 0; k < -e; k++) {
            assert_string_not_equal(seen[k], n);
        }
        seen[-e] = n;
    }
    assert_string_equal(alfa_proto_err_name(-99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_in_use), cmocka_unit_test(test_time),    cmocka_unit_test(test_import),
        cmocka_unit_test(test_ack),       cmocka_unit_test(test_setting), cmocka_unit_test(test_classify_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
