/* The update's wire and image formats: SHA-256 and CRC-32 vectors, the header parser's refusals, every frame codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alfa/fwimg.h"
#include "alfa/fwu_proto.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        static const char h[] = "0123456789abcdef";
        out[2 * i] = h[d[i] >> 4];
        out[2 * i + 1] = h[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* FIPS 180-4 examples, and a long message fed in odd pieces. */
static void test_sha256_vectors(void **state)
{
    (void)state;
    uint8_t d[32];
    char s[65];
    alfa_sha256("abc", 3, d);
    hex(d, 32, s);
    assert_string_equal(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    alfa_sha256("", 0, d);
    hex(d, 32, s);
    assert_string_equal(s, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    alfa_sha256(m, strlen(m), d);
    hex(d, 32, s);
    assert_string_equal(s, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    alfa_sha256_t h;
    alfa_sha256_init(&h);
    uint8_t a[997];
    memset(a, 'a', sizeof(a));
    size_t left = 1000000;
    for (size_t k = 1; left > 0; k = k % 997 + 1) {
        size_t n = k < left ? k : left;
        alfa_sha256_update(&h, a, n);
        left -= n;
    }
    alfa_sha256_final(&h, d);
    hex(d, 32, s);
    assert_string_equal(s, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(alfa_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(alfa_crc32(alfa_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void make_header(uint8_t m[128])
{
    alfa_fwimg_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.device_type = 1;
    h.hw_class = 1;
    h.major = 2;
    h.minor = 6;
    h.patch = 3;
    h.security_counter = 7;
    h.image_size = 1000;
    memset(m, 0, 128);
    assert_int_equal(alfa_fwimg_write(&h, m), 0);
}

static void test_header_roundtrip_and_refusals(void **state)
{
    (void)state;
    uint8_t m[128], b[128];
    alfa_fwimg_hdr_t h;
    make_header(m);
    assert_int_equal(alfa_fwimg_parse(m, &h), 0);
    assert_int_equal(h.major, 2);
    assert_int_equal(h.minor, 6);
    assert_int_equal(h.patch, 3);
    assert_int_equal(h.security_counter, 7);
    assert_int_equal(h.image_size, 1000);
    assert_int_not_equal(alfa_fwimg_session_id(m), 0);
    static const struct { unsigned off; uint8_t val; int rc; } bad[] = {
        {0, 'X', ALFA_PROTO_E_FORMAT},   /* magic */
        {4, 2, ALFA_PROTO_E_FORMAT},     /* format */
        {5, 2, ALFA_PROTO_E_FORMAT},     /* signature algorithm */
        {6, 0, ALFA_PROTO_E_RANGE},      /* device type 0 */
        {8, 32, ALFA_PROTO_E_RANGE},     /* major beyond 5 bits */
        {9, 64, ALFA_PROTO_E_RANGE},     /* minor beyond 6 bits */
        {10, 32, ALFA_PROTO_E_RANGE},    /* patch beyond 5 bits */
        {11, 1, ALFA_PROTO_E_RANGE},     /* reserved */
        {24, 1, ALFA_PROTO_E_RANGE},     /* flags */
        {18, 0x21, ALFA_PROTO_E_RANGE},  /* size > 2 MiB */
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        memcpy(b, m, 128);
        b[bad[k].off] = bad[k].val;
        memset(&h, 0x5A, sizeof(h));
        assert_int_equal(alfa_fwimg_parse(b, &h), bad[k].rc);
        assert_int_equal(h.major, 0x5A); /* untouched */
    }
    memcpy(b, m, 128);
    memset(b + 16, 0, 4); /* size 0 */
    assert_int_equal(alfa_fwimg_parse(b, &h), ALFA_PROTO_E_RANGE);
}

static void test_ctrl_codec(void **state)
{
    (void)state;
    alfa_fwu_ctrl_t c = {.src = 126, .dst = 5, .op = ALFA_FWU_OP_POLL, .session = 0xDEADBEEFu, .first_block = 3,
                         .last_block = 511, .want_status = 1};
    alfa_can_frame_t f;
    assert_int_equal(alfa_fwu_ctrl_encode(&c, &f), 0);
    assert_int_equal(f.id, (0x40u << 22) | (5u << 15) | (2u << 7) | 126u);
    assert_int_equal(f.len, 8);
    alfa_fwu_ctrl_t d;
    assert_int_equal(alfa_fwu_ctrl_decode(&f, &d), 0);
    assert_int_equal(d.session, 0xDEADBEEFu);
    assert_int_equal(d.first_block, 3);
    assert_int_equal(d.last_block, 511);
    assert_int_equal(d.want_status, 1);
    alfa_can_frame_t g = f;
    g.data[7] |= 0x10; /* reserved bits of last_block */
    assert_int_equal(alfa_fwu_ctrl_decode(&g, &d), ALFA_PROTO_E_RANGE);
    g = f;
    g.len = 7;
    assert_int_equal(alfa_fwu_ctrl_decode(&g, &d), ALFA_PROTO_E_LEN);
    c.first_block = 9;
    c.last_block = 8; /* reversed */
    assert_int_equal(alfa_fwu_ctrl_encode(&c, &f), ALFA_PROTO_E_RANGE);
    c = (alfa_fwu_ctrl_t){.src = 126, .dst = 127, .op = ALFA_FWU_OP_BEGIN, .session = 1, .flags = 0x04};
    assert_int_equal(alfa_fwu_ctrl_encode(&c, &f), ALFA_PROTO_E_RANGE); /* unknown flag */
    c.flags = ALFA_FWU_BEGIN_FORCE | ALFA_FWU_BEGIN_FEC;
    assert_int_equal(alfa_fwu_ctrl_encode(&c, &f), 0);
    assert_int_equal(f.len, 6);
    c.op = 9;
    assert_int_equal(alfa_fwu_ctrl_encode(&c, &f), ALFA_PROTO_E_CMD);
    c = (alfa_fwu_ctrl_t){.src = 126, .dst = 0, .op = ALFA_FWU_OP_QUERY};
    assert_int_equal(alfa_fwu_ctrl_encode(&c, &f), ALFA_PROTO_E_INVAL); /* destination 0 */
}

static void test_reply_codec(void **state)
{
    (void)state;
    alfa_fwu_reply_t r = {.src = 9, .dst = 126, .op = ALFA_FWU_REP_STATUS, .session = 77, .state = ALFA_FWU_ST_READY,
                          .result = ALFA_FWU_R_OK, .missing = 0};
    alfa_can_frame_t f;
    alfa_fwu_reply_t d;
    assert_int_equal(alfa_fwu_reply_encode(&r, &f), 0);
    assert_int_equal(alfa_fwu_reply_decode(&f, &d), 0);
    assert_int_equal(d.state, ALFA_FWU_ST_READY);
    f.data[4] = ALFA_FWU_ST_COUNT;
    assert_int_equal(alfa_fwu_reply_decode(&f, &d), ALFA_PROTO_E_RANGE);
    r = (alfa_fwu_reply_t){.src = 9, .dst = 126, .op = ALFA_FWU_REP_NACK_RANGE, .first = 1000, .count = 5000};
    assert_int_equal(alfa_fwu_reply_encode(&r, &f), 0);
    assert_int_equal(alfa_fwu_reply_decode(&f, &d), 0);
    assert_int_equal(d.first, 1000);
    assert_int_equal(d.count, 5000);
    r.count = ALFA_FWU_CHUNKS_MAX; /* past the end */
    assert_int_equal(alfa_fwu_reply_encode(&r, &f), ALFA_PROTO_E_RANGE);
    r = (alfa_fwu_reply_t){.src = 9, .dst = 126, .op = ALFA_FWU_REP_NACK, .first = 262143, .map = {1, 0, 0, 0, 0x80}};
    assert_int_equal(alfa_fwu_reply_encode(&r, &f), 0);
    assert_int_equal(alfa_fwu_reply_decode(&f, &d), 0);
    assert_memory_equal(d.map, r.map, 5);
    f.id = (f.id & ~(0xFFu << 7)) | (7u << 7); /* unknown reply op */
    assert_int_equal(alfa_fwu_reply_decode(&f, &d), ALFA_PROTO_E_CMD);
}

static void test_data_parity_manifest_codecs(void **state)
{
    (void)state;
    uint8_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    alfa_can_frame_t f;
    uint8_t src, dst, part;
    uint32_t idx;
    for (uint32_t i = 0; i < ALFA_FWU_CHUNKS_MAX; i += 4099u) {
        assert_int_equal(alfa_fwu_data_encode(126, i, x, &f), 0);
        assert_int_equal(alfa_fwu_data_decode(&f, &src, &idx), 0);
        assert_int_equal(idx, i);
        assert_int_equal(src, 126);
        assert_true(ALFA_PROTO_ID_CLASS(f.id) >= 0x48 && ALFA_PROTO_ID_CLASS(f.id) <= 0x4F);
        assert_memory_equal(f.data, x, 8);
    }
    assert_int_equal(alfa_fwu_data_encode(126, ALFA_FWU_CHUNKS_MAX, x, &f), ALFA_PROTO_E_RANGE);
    assert_int_equal(alfa_fwu_data_encode(126, ALFA_FWU_CHUNKS_MAX - 1u, x, &f), 0);
    assert_int_equal(f.id, (0x4Fu << 22) | (0x7FFFu << 7) | 126u);
    f.len = 7;
    assert_int_equal(alfa_fwu_data_decode(&f, &src, &idx), ALFA_PROTO_E_LEN);
    assert_int_equal(alfa_fwu_parity_encode(126, 16383, x, &f), 0);
    assert_int_equal(alfa_fwu_parity_decode(&f, &src, &idx), 0);
    assert_int_equal(idx, 16383);
    assert_int_equal(alfa_fwu_parity_encode(126, 16384, x, &f), ALFA_PROTO_E_RANGE);
    assert_int_equal(alfa_fwu_manifest_encode(126, 127, 15, x, &f), 0);
    assert_int_equal(alfa_fwu_manifest_decode(&f, &src, &dst, &part), 0);
    assert_int_equal(part, 15);
    assert_int_equal(alfa_fwu_manifest_encode(126, 127, 16, x, &f), ALFA_PROTO_E_RANGE);
    /* A data frame is not a manifest part and the other way round. */
    assert_int_equal(alfa_fwu_data_encode(126, 5, x, &f), 0);
    assert_int_equal(alfa_fwu_manifest_decode(&f, &src, &dst, &part), ALFA_PROTO_E_ID);
    assert_string_equal(alfa_fwu_state_name(ALFA_FWU_ST_ROLLED_BACK), "rolled_back");
    assert_string_equal(alfa_fwu_result_name(ALFA_FWU_R_BAD_SIGNATURE), "bad_signature");
    assert_string_equal(alfa_fwu_result_name(200), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_header_roundtrip_and_refusals),
        cmocka_unit_test(test_ctrl_codec),
        cmocka_unit_test(test_reply_codec),
        cmocka_unit_test(test_data_parity_manifest_codecs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
