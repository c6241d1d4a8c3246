/* Unit tests of the Modbus RTU master and BMS profiles: CRC vectors, every frame defect, timing, retries, comm lost. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "alfa/err.h"
#include "link.h"

static void cfg_for(alfa_bms_config_t *bc, uint8_t retries)
{
    alfa_bms_config_default(bc);
    bc->modbus.retries = retries;
}

static const alfa_bmsm_values_t vals = {
    .v_pack_mv = 53100, .i_batt_ma = -12340, .soc_pct = 61, .alarms = 0x0041, .warnings = 0x0004,
    .temp_max_dc = -55, .cell_min_mv = 3301, .cell_max_mv = 3342,
};

/* --- CRC ---------------------------------------------------------------------------------- */

static uint16_t crc_bitwise(const uint8_t *d, size_t n)
{
    uint16_t c = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        c ^= d[i];
        for (int b = 0; b < 8; b++) {
            c = (c & 1) ? (uint16_t)((c >> 1) ^ 0xA001) : (uint16_t)(c >> 1);
        }
    }
    return c;
}

static void crc_standard_vectors(void **state)
{
    (void)state;
    /* The CRC-16/MODBUS catalogue check value. */
    assert_int_equal(alfa_mb_crc16((const uint8_t *)"123456789", 9), 0x4B37);
    /* The classic "read 2 holding registers from 0 of slave 1" request, sent as C4 0B. */
    const uint8_t req2[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x02};
    assert_int_equal(alfa_mb_crc16(req2, 6), 0x0BC4);
    /* Modbus over Serial Line spec example: 02 07 -> CRC 0x1241 (sent 41 12). */
    const uint8_t ex[] = {0x02, 0x07};
    assert_int_equal(alfa_mb_crc16(ex, 2), 0x1241);
    assert_int_equal(alfa_mb_crc16(NULL, 0), 0xFFFF);
    /* Table routine equals the bitwise definition on varied data. */
    uint8_t buf[256];
    uint32_t x = 12345;
    for (size_t n = 0; n < sizeof(buf); n++) {
        x = x * 1103515245u + 12345u;
        buf[n] = (uint8_t)(x >> 16);
        assert_int_equal(alfa_mb_crc16(buf, (uint16_t)(n + 1)), crc_bitwise(buf, n + 1));
    }
}

/* The request on the wire: 01 03 00 00 00 08, CRC low byte first (44 0C). */
static void request_bytes_crc_low_first(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 0);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bms_result_t r;
    assert_int_equal(link_run_poll(&l, &bms, &r, 1000), 1);
    const uint8_t expect[8] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x08, 0x44, 0x0C};
    assert_int_equal(l.write_len[0], 8);
    assert_memory_equal(l.written[0], expect, 8);
}

/* --- good answers -------------------------------------------------------------------------- */

static void good_poll_decodes_every_field(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 3);
    bc.profile = alfa_bms_profile_find("default-soc");
    assert_non_null(bc.profile);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bms_result_t r;
    assert_int_equal(link_run_poll(&l, &bms, &r, 1000), 1);
    assert_int_equal(r.err, ALFA_OK);
    assert_int_equal(r.status, ALFA_MB_OK);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.reading.v_pack_mv, 53100);
    assert_int_equal(r.reading.i_batt_ma, -12340);
    assert_int_equal(r.reading.soc_pct, 61);
    assert_int_equal(r.reading.alarms, 0x0041);
    assert_int_equal(r.reading.warnings, 0x0004);
    assert_int_equal(r.reading.temp_max_dc, -55);
    assert_int_equal(r.reading.cell_min_mv, 3301);
    assert_int_equal(r.reading.cell_max_mv, 3342);
    assert_int_equal(r.reading.present, ALFA_BMS_HAS_SOC | ALFA_BMS_HAS_TEMP | ALFA_BMS_HAS_CELLS);
    assert_int_equal(r.comm_lost, 0);
    assert_string_equal(alfa_bms_bit_name(0), "cell_ov");
    assert_string_equal(alfa_bms_bit_name(6), "short_circuit");
    assert_null(alfa_bms_bit_name(8));
}

static void default_profile_ignores_soc_register(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 0);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bms_result_t r;
    assert_int_equal(link_run_poll(&l, &bms, &r, 1000), 1);
    assert_int_equal(r.err, ALFA_OK);
    assert_int_equal(r.reading.present & ALFA_BMS_HAS_SOC, 0);
    assert_int_equal(r.reading.soc_pct, 0);
}

/* --- each injected defect, one attempt, reported with its reason, nothing decoded ---------- */

static void one_fault(alfa_bmsm_fault_t fault, uint8_t want_status, uint8_t want_exc)
{
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 0);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bmsm_force(&l.model, fault, 1);
    alfa_bms_result_t r;
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, want_status);
    assert_int_equal(r.exception_code, want_exc);
    alfa_bms_reading_t zero;
    memset(&zero, 0, sizeof(zero));
    if (want_status != ALFA_MB_OK) {
        assert_true(r.err < 0);
        assert_memory_equal(&r.reading, &zero, sizeof(zero));
        assert_int_equal(r.failures_in_row, 1);
    } else {
        assert_int_equal(r.reading.v_pack_mv, 53100);
    }
    /* the next, clean poll is good again */
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_OK);
    assert_int_equal(r.reading.i_batt_ma, -12340);
}

static void defect_crc(void **s) { (void)s; for (int i = 0; i < 50; i++) one_fault(ALFA_BMSM_CRC, ALFA_MB_CRC, 0); }
static void defect_truncated(void **s) { (void)s; for (int i = 0; i < 20; i++) one_fault(ALFA_BMSM_TRUNCATED, ALFA_MB_TRUNCATED, 0); }
static void defect_wrong_address(void **s) { (void)s; one_fault(ALFA_BMSM_WRONG_ADDRESS, ALFA_MB_BAD_ADDRESS, 0); }
static void defect_exception(void **s) { (void)s; one_fault(ALFA_BMSM_EXCEPTION, ALFA_MB_EXCEPTION, 4); }
static void defect_no_answer(void **s) { (void)s; one_fault(ALFA_BMSM_NO_ANSWER, ALFA_MB_TIMEOUT, 0); }
static void defect_late(void **s) { (void)s; one_fault(ALFA_BMSM_LATE, ALFA_MB_TIMEOUT, 0); }
/* stray bytes before a good answer are skipped, not mistaken for it */
static void stray_bytes_then_answer(void **s) { (void)s; for (int i = 0; i < 30; i++) one_fault(ALFA_BMSM_NOISE, ALFA_MB_OK, 0); }

/* --- hand-made answers: the checks the model cannot provoke -------------------------------- */

static void with_crc(uint8_t *f, size_t len)
{
    uint16_t c = alfa_mb_crc16(f, (uint16_t)len);
    f[len] = (uint8_t)c;
    f[len + 1] = (uint8_t)(c >> 8);
}

static size_t good_frame(uint8_t *f)
{
    uint16_t regs[8];
    alfa_bmsm_encode(&vals, regs);
    f[0] = 1;
    f[1] = 3;
    f[2] = 16;
    for (int i = 0; i < 8; i++) {
        f[3 + 2 * i] = (uint8_t)(regs[i] >> 8);
        f[4 + 2 * i] = (uint8_t)regs[i];
    }
    with_crc(f, 19);
    return 21;
}

static alfa_bms_result_t raw_poll(const uint8_t *reply, size_t len, int echo, uint8_t retries)
{
    link_t l;
    link_init(&l, NULL, &vals);
    l.raw = 1;
    l.raw_echo = echo;
    l.raw_delay_ms = 15;
    memcpy(l.raw_reply, reply, len);
    l.raw_len = len;
    alfa_bms_config_t bc;
    cfg_for(&bc, retries);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bms_result_t r;
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    return r;
}

static void bad_function_rejected(void **state)
{
    (void)state;
    uint8_t f[32];
    size_t n = good_frame(f);
    f[1] = 0x04; /* input registers instead of holding */
    with_crc(f, n - 2);
    alfa_bms_result_t r = raw_poll(f, n, 0, 0);
    assert_int_equal(r.status, ALFA_MB_BAD_FUNCTION);
    assert_int_equal(r.err, ALFA_E_PROTO);
    assert_int_equal(r.reading.v_pack_mv, 0);
}

static void bad_byte_count_rejected(void **state)
{
    (void)state;
    uint8_t f[32];
    good_frame(f);
    f[2] = 14; /* 7 registers, well-formed */
    with_crc(f, 17);
    alfa_bms_result_t r = raw_poll(f, 19, 0, 0);
    assert_int_equal(r.status, ALFA_MB_BAD_BYTE_COUNT);
    assert_int_equal(r.reading.v_pack_mv, 0);
    /* byte count claims 16 but the CRC covers a shorter frame: never accepted */
    good_frame(f);
    f[2] = 18;
    with_crc(f, 19);
    r = raw_poll(f, 21, 0, 0);
    assert_int_not_equal(r.status, ALFA_MB_OK);
}

static void echo_of_request_then_answer_accepted(void **state)
{
    (void)state;
    uint8_t f[32];
    size_t n = good_frame(f);
    alfa_bms_result_t r = raw_poll(f, n, 1, 0);
    assert_int_equal(r.status, ALFA_MB_OK);
    assert_int_equal(r.reading.v_pack_mv, 53100);
}

static void exception_not_retried_busy_retried(void **state)
{
    (void)state;
    uint8_t f[8] = {0x01, 0x83, 0x02};
    with_crc(f, 3);
    alfa_bms_result_t r = raw_poll(f, 5, 0, 3);
    assert_int_equal(r.status, ALFA_MB_EXCEPTION);
    assert_int_equal(r.exception_code, 2);
    assert_int_equal(r.err, ALFA_E_EXCEPTION);
    assert_int_equal(r.attempts, 1);
    f[2] = 0x06; /* slave busy: worth another try */
    with_crc(f, 3);
    r = raw_poll(f, 5, 0, 3);
    assert_int_equal(r.status, ALFA_MB_EXCEPTION);
    assert_int_equal(r.exception_code, 6);
    assert_int_equal(r.attempts, 4);
}

static void corrupt_exception_is_crc(void **state)
{
    (void)state;
    uint8_t f[8] = {0x01, 0x83, 0x02};
    with_crc(f, 3);
    f[4] ^= 0x10;
    alfa_bms_result_t r = raw_poll(f, 5, 0, 0);
    assert_int_equal(r.status, ALFA_MB_CRC);
}

static void classify_and_find_pure(void **state)
{
    (void)state;
    uint8_t f[64];
    size_t n = good_frame(f);
    uint16_t regs[8];
    uint16_t end = 0;
    uint8_t exc = 0;
    assert_int_equal(alfa_mb_find_response(f, (uint16_t)n, 1, 3, 8, regs, &exc, &end), ALFA_MB_OK);
    assert_int_equal(end, 21);
    assert_int_equal(regs[0], 531);
    /* every strict prefix is incomplete, and classified as truncated */
    for (size_t k = 1; k < n; k++) {
        assert_int_equal(alfa_mb_find_response(f, (uint16_t)k, 1, 3, 8, regs, &exc, &end), ALFA_MB_TIMEOUT);
        assert_int_equal(alfa_mb_classify(f, (uint16_t)k, 1, 3, 8), ALFA_MB_TRUNCATED);
    }
    /* every single-bit flip anywhere is refused and called crc (or, when the flip hits the
     * address or function bytes, still never ok) */
    for (size_t bit = 0; bit < n * 8; bit++) {
        uint8_t g[64];
        memcpy(g, f, n);
        g[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(alfa_mb_find_response(g, (uint16_t)n, 1, 3, 8, regs, &exc, &end), ALFA_MB_TIMEOUT);
        alfa_mb_status_t st = alfa_mb_classify(g, (uint16_t)n, 1, 3, 8);
        assert_true(st == ALFA_MB_CRC || st == ALFA_MB_TRUNCATED);
    }
    assert_int_equal(alfa_mb_classify(f, 0, 1, 3, 8), ALFA_MB_TIMEOUT);
    assert_string_equal(alfa_mb_status_name(ALFA_MB_BAD_ADDRESS), "bad_address");
    assert_string_equal(alfa_mb_status_name(99), "unknown");
}

/* --- timing -------------------------------------------------------------------------------- */

/* Silent slave, 3 retries: requests at 0, then each timeout (request wire time 9 ms + 100 ms)
 * plus back-off 100, 200, 400 ms. */
static void retries_with_backoff_100_200_400(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 3);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bmsm_force(&l.model, ALFA_BMSM_NO_ANSWER, 4);
    alfa_bms_result_t r;
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_TIMEOUT);
    assert_int_equal(r.attempts, 4);
    assert_int_equal(l.writes, 4);
    assert_int_equal(l.write_ms[1] - l.write_ms[0], 9 + 100 + 100);
    assert_int_equal(l.write_ms[2] - l.write_ms[1], 9 + 100 + 200);
    assert_int_equal(l.write_ms[3] - l.write_ms[2], 9 + 100 + 400);
    /* the poll ended at the last timeout */
    assert_int_equal(link_now_ms(&l) - l.write_ms[3], 9 + 100);
}

static void retry_recovers_and_counts_as_good(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 3);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bmsm_force(&l.model, ALFA_BMSM_CRC, 3);
    alfa_bms_result_t r;
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_OK);
    assert_int_equal(r.attempts, 4);
    assert_int_equal(r.failures_in_row, 0);
    assert_int_equal(r.reading.cell_max_mv, 3342);
    const alfa_mb_stats_t *st = alfa_mb_stats(alfa_bms_link(&bms));
    assert_int_equal(st->attempts[ALFA_MB_CRC], 3);
    assert_int_equal(st->attempts[ALFA_MB_OK], 1);
}

/* A slow BMS: answers 150 ms late once. The timeout rises to cover it (1.5 x latency, capped),
 * later answers are taken without retries, and it comes back to 100 ms on a quick BMS. */
static void adaptive_timeout_up_and_down(void **state)
{
    (void)state;
    alfa_bmsm_config_t mc;
    alfa_bmsm_config_default(&mc);
    mc.late_us = 150000;
    link_t l;
    link_init(&l, &mc, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 3);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bmsm_force(&l.model, ALFA_BMSM_LATE, 1);
    alfa_bms_result_t r;
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_OK);
    assert_int_equal(r.attempts, 2); /* the late answer came during back-off: discarded */
    assert_true(r.timeout_ms >= 200);
    assert_true(r.timeout_ms <= 500);
    /* now every answer is 150 ms late: accepted at the first attempt */
    alfa_bmsm_force(&l.model, ALFA_BMSM_LATE, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
        assert_int_equal(r.status, ALFA_MB_OK);
        assert_int_equal(r.attempts, 1);
        assert_true(r.latency_ms >= 150);
    }
    uint16_t high = r.timeout_ms;
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_true(r.timeout_ms < high); /* coming down */
    for (int i = 0; i < 40; i++) {
        assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    }
    assert_int_equal(r.timeout_ms, 100);
}

static void adaptive_timeout_capped_and_silence_does_not_raise(void **state)
{
    (void)state;
    alfa_bmsm_config_t mc;
    alfa_bmsm_config_default(&mc);
    mc.late_us = 900000; /* beyond the 500 ms cap */
    link_t l;
    link_init(&l, &mc, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 0);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bms_result_t r;
    alfa_bmsm_force(&l.model, ALFA_BMSM_NO_ANSWER, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
        assert_int_equal(r.status, ALFA_MB_TIMEOUT);
        assert_int_equal(r.timeout_ms, 100); /* a silent line is not a slow BMS */
    }
    alfa_bmsm_force(&l.model, ALFA_BMSM_LATE, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
        assert_int_equal(r.status, ALFA_MB_TIMEOUT);
    }
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_OK);
    assert_int_equal(r.timeout_ms <= 500, 1);
    assert_true(r.timeout_ms >= 400); /* it did rise, to the cap */
}

/* Polls every 2 s on a fixed grid. */
static void poll_period_two_seconds(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 3);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bms_result_t r;
    uint32_t prev = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
        if (i > 0) {
            assert_int_equal(r.started_ms - prev, 2000);
        }
        prev = r.started_ms;
    }
}

/* --- comm lost ----------------------------------------------------------------------------- */

/* Comm lost 10 s (five 2-s polls) after the last good reading — the poller's start counts as
 * one — whatever the polls' own length; the first good poll clears it. */
static void comm_lost_after_ten_seconds_without_a_good_reading(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 3);
    alfa_bms_t bms;
    uint32_t t0 = link_now_ms(&l);
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, t0), ALFA_OK);
    alfa_bms_result_t r;
    alfa_bmsm_force(&l.model, ALFA_BMSM_NO_ANSWER, 100);
    uint32_t failed = 0;
    for (;;) {
        assert_int_equal(link_run_event(&l, &bms, &r, 5000, 1), 1);
        if (r.finished) {
            assert_int_equal(r.status, ALFA_MB_TIMEOUT);
            failed++;
            assert_int_equal(r.failures_in_row, failed);
        }
        if (r.comm_lost) {
            break;
        }
        assert_true(link_now_ms(&l) - t0 < 10000u);
    }
    assert_int_equal(link_now_ms(&l) - t0, 10000u);
    assert_int_equal(r.finished, 0); /* by the clock, while the sixth poll still ran */
    assert_int_equal(failed, 5u);
    /* still lost while failing; cleared by the first good poll */
    alfa_bmsm_force(&l.model, ALFA_BMSM_CRC, 4);
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.comm_lost, 1);
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_OK);
    assert_int_equal(r.comm_lost, 0);
    assert_int_equal(r.failures_in_row, 0);
    /* four failed polls then a good one: never lost */
    alfa_bmsm_force(&l.model, ALFA_BMSM_WRONG_ADDRESS, 4 * 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
        assert_int_equal(r.status, ALFA_MB_BAD_ADDRESS);
        assert_int_equal(r.comm_lost, 0);
    }
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.comm_lost, 0);
    assert_int_equal(r.status, ALFA_MB_OK);
}

static void io_error_is_a_failed_poll(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 1);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    l.fail_reads = 1;
    alfa_bms_result_t r;
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_IO);
    assert_int_equal(r.err, ALFA_E_IO);
    assert_int_equal(r.reading.v_pack_mv, 0);
    /* The reads that only discard stale bytes before each attempt failed too: counted. */
    assert_true(alfa_mb_stats(alfa_bms_link(&bms))->drain_errors >= 2);
}

/* --- values out of range --------------------------------------------------------------------- */

static void out_of_range_values_refused(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_bms_config_t bc;
    cfg_for(&bc, 0);
    bc.profile = alfa_bms_profile_find("default-soc");
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    alfa_bms_result_t r;
    assert_int_equal(alfa_bmsm_set_reg(&l.model, 2, 101), 0); /* SOC 101 % */
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_RANGE);
    assert_int_equal(r.err, ALFA_E_RANGE);
    assert_int_equal(r.reading.v_pack_mv, 0);
    assert_int_equal(r.failures_in_row, 1);
    assert_int_equal(alfa_bmsm_set_reg(&l.model, 2, 50), 0);
    assert_int_equal(alfa_bmsm_set_reg(&l.model, 6, 3400), 0); /* min cell above max cell */
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_RANGE);
    assert_int_equal(alfa_bmsm_set_reg(&l.model, 6, 3300), 0);
    assert_int_equal(alfa_bmsm_set_reg(&l.model, 5, (uint16_t)-700), 0); /* -70 degC */
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_RANGE);
    assert_int_equal(alfa_bmsm_set_reg(&l.model, 5, 300), 0);
    assert_int_equal(link_run_poll(&l, &bms, &r, 5000), 1);
    assert_int_equal(r.status, ALFA_MB_OK);
    assert_int_equal(r.reading.soc_pct, 50);
}

/* A BMS of another make is a table: input registers from 0x1000, 32-bit current in mA, alarm
 * bits in other places. */
static const alfa_bms_profile_t other_bms = {
    .name = "test-other",
    .description = "test",
    .function = ALFA_MB_FC_READ_INPUT,
    .start_reg = 0x1000,
    .reg_count = 4,
    .fields = {
        [ALFA_BMS_F_V_PACK] = {ALFA_BMS_U16, 0, 10, 1, 0, 65535}, /* 10 mV units */
        [ALFA_BMS_F_I_BATT] = {ALFA_BMS_S32, 1, 1, 1, -500000, 500000},
        [ALFA_BMS_F_ALARMS] = {ALFA_BMS_U16, 3, 1, 1, 0, 65535},
    },
    .alarm_map = {ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, 2, 6,
                  ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE,
                  ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE,
                  ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE},
    .warning_map = {0},
};

static void another_bms_is_a_table(void **state)
{
    (void)state;
    const uint16_t regs[4] = {5210, 0xFFFE, 0x7960, 0x0030}; /* 52.10 V, -100000 mA, bits 4,5 */
    alfa_bms_reading_t out;
    assert_int_equal(alfa_bms_decode(&other_bms, regs, 4, &out), ALFA_OK);
    assert_int_equal(out.v_pack_mv, 52100);
    assert_int_equal(out.i_batt_ma, -100000);
    assert_int_equal(out.alarms, (1u << 2) | (1u << 6));
    assert_int_equal(out.present, 0);
    const uint16_t bad[4] = {5210, 0x0010, 0, 0}; /* +1048576 mA: beyond the profile's range */
    assert_int_equal(alfa_bms_decode(&other_bms, bad, 4, &out), ALFA_E_RANGE);
    assert_int_equal(out.v_pack_mv, 0);
    assert_int_equal(alfa_bms_decode(&other_bms, regs, 3, &out), ALFA_E_INVAL);
}

/* --- argument checks ------------------------------------------------------------------------ */

static void bad_arguments_refused(void **state)
{
    (void)state;
    link_t l;
    link_init(&l, NULL, &vals);
    alfa_mb_config_t mc;
    alfa_mb_config_default(&mc);
    alfa_mb_t mb;
    alfa_mb_config_t bad = mc;
    bad.bits_per_char = 9;
    assert_int_equal(alfa_mb_init(&mb, &l.port, &bad), ALFA_E_INVAL);
    bad = mc;
    bad.timeout_cap_ms = 50;
    assert_int_equal(alfa_mb_init(&mb, &l.port, &bad), ALFA_E_INVAL);
    bad = mc;
    bad.retries = 4;
    assert_int_equal(alfa_mb_init(&mb, &l.port, &bad), ALFA_E_INVAL);
    assert_int_equal(alfa_mb_init(NULL, &l.port, &mc), ALFA_E_INVAL);
    assert_int_equal(alfa_mb_init(&mb, &l.port, &mc), ALFA_OK);
    assert_int_equal(alfa_mb_read_start(&mb, 0, 3, 0, 8, 0), ALFA_E_INVAL);
    assert_int_equal(alfa_mb_read_start(&mb, 248, 3, 0, 8, 0), ALFA_E_INVAL);
    assert_int_equal(alfa_mb_read_start(&mb, 1, 6, 0, 8, 0), ALFA_E_INVAL);
    assert_int_equal(alfa_mb_read_start(&mb, 1, 3, 0, 0, 0), ALFA_E_INVAL);
    assert_int_equal(alfa_mb_read_start(&mb, 1, 3, 0, 126, 0), ALFA_E_INVAL);
    assert_int_equal(alfa_mb_read_start(&mb, 1, 3, 0xFFFF, 2, 0), ALFA_E_INVAL);
    assert_int_equal(alfa_mb_read_start(&mb, 1, 3, 0, 8, 0), ALFA_OK);
    assert_int_equal(alfa_mb_read_start(&mb, 1, 3, 0, 8, 0), ALFA_E_BUSY);
    alfa_bms_config_t bc;
    alfa_bms_config_default(&bc);
    alfa_bms_t bms;
    bc.address = 0;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, 0), ALFA_E_INVAL);
    alfa_bms_config_default(&bc);
    bc.period_ms = 0;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, 0), ALFA_E_INVAL);
    assert_null(alfa_bms_profile_find("no-such-bms"));
    assert_non_null(alfa_bms_profile_find("default"));
    assert_ptr_equal(alfa_bms_profile_at(0), alfa_bms_profile_find("default"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_standard_vectors),
        cmocka_unit_test(request_bytes_crc_low_first),
        cmocka_unit_test(good_poll_decodes_every_field),
        cmocka_unit_test(default_profile_ignores_soc_register),
        cmocka_unit_test(defect_crc),
        cmocka_unit_test(defect_truncated),
        cmocka_unit_test(defect_wrong_address),
        cmocka_unit_test(defect_exception),
        cmocka_unit_test(defect_no_answer),
        cmocka_unit_test(defect_late),
        cmocka_unit_test(stray_bytes_then_answer),
        cmocka_unit_test(bad_function_rejected),
        cmocka_unit_test(bad_byte_count_rejected),
        cmocka_unit_test(echo_of_request_then_answer_accepted),
        cmocka_unit_test(exception_not_retried_busy_retried),
        cmocka_unit_test(corrupt_exception_is_crc),
        cmocka_unit_test(classify_and_find_pure),
        cmocka_unit_test(retries_with_backoff_100_200_400),
        cmocka_unit_test(retry_recovers_and_counts_as_good),
        cmocka_unit_test(adaptive_timeout_up_and_down),
        cmocka_unit_test(adaptive_timeout_capped_and_silence_does_not_raise),
        cmocka_unit_test(poll_period_two_seconds),
        cmocka_unit_test(comm_lost_after_ten_seconds_without_a_good_reading),
        cmocka_unit_test(io_error_is_a_failed_poll),
        cmocka_unit_test(out_of_range_values_refused),
        cmocka_unit_test(another_bms_is_a_table),
        cmocka_unit_test(bad_arguments_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
