/* Tests of the gateway's history (gw_history.h) and of the packs' clock it is stamped with (gw_clock.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alfa/gw_clock.h"
#include "alfa/gw_core.h"
#include "alfa/gw_history.h"

#define T0 1780000200LL /* a bucket start (multiple of 300) */
#define SERIAL_A 0xa4cf12000001ull
#define SERIAL_B 0xa4cf12000002ull

static char g_path[256];
static char g_answer[GW_HIST_ANSWER_MAX];

static int setup(void **state)
{
    (void)state;
    snprintf(g_path, sizeof g_path, "/tmp/alfa-hist-test-%d.db", (int)getpid());
    unlink(g_path);
    char p[300];
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
    return 0;
}

static int teardown(void **state) { return setup(state); }

static gw_hist_t *open_hist(uint32_t flush_s, uint32_t pending_max)
{
    gw_hist_cfg_t cfg;
    gw_hist_cfg_defaults(&cfg);
    cfg.path = g_path;
    cfg.flush_s = flush_s;
    cfg.pending_max = pending_max;
    gw_hist_t *h = NULL;
    char err[256];
    assert_int_equal(gw_hist_open(&h, &cfg, 0, err, sizeof err), GW_HIST_OK);
    assert_non_null(h);
    return h;
}

/* Rows in the file, as another process would see them. */
static long file_rows(const char *where)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM agg5 %s;", where ? where : "");
    sqlite3_stmt *st;
    long n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = (long)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st); /* repeats the step's result, checked above through n */
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return n;
}

static gw_hist_sample_t pack_sample(int64_t ts, int32_t soc, int32_t solar, uint32_t e_solar)
{
    gw_hist_sample_t s;
    memset(&s, 0, sizeof s);
    s.ts_s = ts;
    s.avg[GW_HIST_SOC] = soc;
    s.avg[GW_HIST_P_SOLAR] = solar;
    s.avg[GW_HIST_P_HOME] = 500;
    s.avg[GW_HIST_P_POOL] = 1200;
    s.avg[GW_HIST_P_HEATER] = 0;
    s.have_energy = 1;
    s.e_today_wh[1] = e_solar;
    return s;
}

static const char *query(gw_hist_t *h, const char *req)
{
    int n = gw_hist_query(h, req, strlen(req), 0, g_answer, sizeof g_answer);
    assert_true(n > 0);
    return g_answer;
}

static void expect_in(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL) fail_msg("expected %s in %s", needle, hay);
}

/* Averages and energy deltas per 5-minute bucket, for a pack and for the site. */
static void test_buckets_and_energy(void **state)
{
    (void)state;
    gw_hist_t *h = open_hist(900, 4096);
    /* bucket 0: two samples (soc 50, 60; solar 1000, 2000); solar counter 100 -> 150 */
    gw_hist_sample_t s = pack_sample(T0 + 10, 50, 1000, 100);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    s = pack_sample(T0 + 200, 60, 2000, 150);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    /* the site's sample takes the pack's pool power and its energy so far */
    gw_hist_sample_t site;
    memset(&site, 0, sizeof site);
    site.ts_s = T0 + 201;
    site.avg[GW_HIST_SOC] = 55;
    site.avg[GW_HIST_P_SOLAR] = 2000;
    assert_int_equal(gw_hist_add(h, 0, &site), 0);
    /* bucket 1: counter 150 -> 170 */
    s = pack_sample(T0 + 300, 70, 3000, 170);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);

    const char *a = query(h, "{\"id\":\"q1\",\"pack\":\"a4cf12000001\",\"from_s\":1780000200,\"to_s\":1780000800,"
                             "\"series\":[\"soc_pct\",\"p_solar_w\",\"e_solar_wh\"]}");
    expect_in(a, "\"id\":\"q1\"");
    expect_in(a, "\"result\":\"ok\"");
    expect_in(a, "\"t\":[1780000200,1780000500]");
    expect_in(a, "\"soc_pct\":[55,70]");
    expect_in(a, "\"p_solar_w\":[1500,3000]");
    expect_in(a, "\"e_solar_wh\":[50,20]"); /* the first record only sets the reference */
    a = query(h, "{\"pack\":\"site\",\"from_s\":1780000200,\"to_s\":1780000500,\"series\":\"p_pool_w,e_solar_wh,soc_pct\"}");
    expect_in(a, "\"p_pool_w\":[1200]");
    expect_in(a, "\"e_solar_wh\":[50]");
    expect_in(a, "\"soc_pct\":[55]");
    assert_int_equal(gw_hist_close(h), 0);
}

/* A counter that goes down is a new day: the energy is its new value. */
static void test_counter_reset(void **state)
{
    (void)state;
    gw_hist_t *h = open_hist(900, 4096);
    gw_hist_sample_t s = pack_sample(T0, 50, 0, 9000);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    s = pack_sample(T0 + 2, 50, 0, 9010);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    s = pack_sample(T0 + 4, 50, 0, 3); /* 05:00 reset, 3 Wh since */
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    const char *a = query(h, "{\"pack\":\"a4cf12000001\",\"from_s\":1780000200,\"to_s\":1780000500,\"series\":[\"e_solar_wh\"]}");
    expect_in(a, "\"e_solar_wh\":[13]");
    assert_int_equal(gw_hist_close(h), 0);
}

/* At most one write per flush period; answers include what is still in memory. */
static void test_batches(void **state)
{
    (void)state;
    gw_hist_t *h = open_hist(900, 4096);
    for (int k = 0; k < 12; k++) { /* 12 buckets, 11 of them closed */
        gw_hist_sample_t s = pack_sample(T0 + k * 300, 40 + k, 100 * k, (uint32_t)(10 * k));
        assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    }
    assert_int_equal(gw_hist_process(h, 899999), 0); /* 15 min not over: nothing written */
    assert_int_equal(file_rows(NULL), 0);
    const char *a = query(h, "{\"pack\":\"a4cf12000001\",\"from_s\":1780000200,\"to_s\":1780003800,\"series\":[\"soc_pct\"]}");
    expect_in(a, "\"soc_pct\":[40,41,42,43,44,45,46,47,48,49,50,51]");
    assert_int_equal(gw_hist_process(h, 900000), 1); /* one transaction with the 11 closed buckets */
    assert_int_equal(file_rows(NULL), 11);
    assert_int_equal(gw_hist_stats(h)->flushes, 1);
    assert_int_equal(gw_hist_process(h, 900500), 0);
    assert_int_equal(gw_hist_stats(h)->flushes, 1);
    assert_int_equal(gw_hist_close(h), 0); /* the open bucket too */
    assert_int_equal(file_rows(NULL), 12);
}

/* A full queue (packs' time faster than the wall) forces an early write, nothing is lost. */
static void test_pending_full(void **state)
{
    (void)state;
    gw_hist_t *h = open_hist(900, 8);
    for (int k = 0; k < 30; k++) {
        gw_hist_sample_t s = pack_sample(T0 + k * 300, 50, 0, 0);
        assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    }
    assert_true(file_rows(NULL) >= 24);
    assert_int_equal(gw_hist_stats(h)->rows_dropped, 0);
    assert_int_equal(gw_hist_close(h), 0);
    assert_int_equal(file_rows(NULL), 30);
}

/* A restart inside a bucket: both parts add up. */
static void test_restart_merges(void **state)
{
    (void)state;
    gw_hist_t *h = open_hist(900, 4096);
    gw_hist_sample_t s = pack_sample(T0 + 10, 40, 1000, 0);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    assert_int_equal(gw_hist_close(h), 0);
    h = open_hist(900, 4096);
    s = pack_sample(T0 + 20, 60, 3000, 0);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    assert_int_equal(gw_hist_close(h), 0);
    assert_int_equal(file_rows(NULL), 1);
    h = open_hist(900, 4096);
    const char *a = query(h, "{\"pack\":\"a4cf12000001\",\"from_s\":1780000200,\"to_s\":1780000500,\"series\":[\"soc_pct\",\"p_solar_w\"]}");
    expect_in(a, "\"soc_pct\":[50]");
    expect_in(a, "\"p_solar_w\":[2000]");
    assert_int_equal(gw_hist_close(h), 0);
}

/* Day buckets start at the site's local midnight; hours at UTC multiples. */
static void test_day_buckets(void **state)
{
    (void)state;
    gw_hist_t *h = open_hist(900, 4096);
    const int64_t midnight_utc = 1780012800LL; /* a UTC midnight (multiple of 86400) */
    /* local = UTC+2: local midnight is 22:00 UTC the day before */
    int64_t ts[] = {midnight_utc - 7200 - 300, midnight_utc - 7200, midnight_utc + 3600};
    for (unsigned k = 0; k < 3; k++) {
        gw_hist_sample_t s = pack_sample(ts[k], 10 * (int32_t)(k + 1), 0, 0);
        assert_int_equal(gw_hist_add(h, SERIAL_B, &s), 0);
    }
    char req[256];
    snprintf(req, sizeof req, "{\"pack\":\"a4cf12000002\",\"from_s\":%lld,\"to_s\":%lld,\"res_s\":86400,\"utc_offset_min\":120,\"series\":[\"soc_pct\"]}",
             (long long)(midnight_utc - 86400 - 7200), (long long)(midnight_utc + 86400 - 7200));
    const char *a = query(h, req);
    char want[128];
    snprintf(want, sizeof want, "\"t\":[%lld,%lld]", (long long)(midnight_utc - 86400 - 7200), (long long)(midnight_utc - 7200));
    expect_in(a, want);
    expect_in(a, "\"soc_pct\":[10,25]");
    assert_int_equal(gw_hist_close(h), 0);
}

/* Rows older than keep_days before the newest are deleted at the write. */
static void test_retention(void **state)
{
    (void)state;
    gw_hist_t *h = open_hist(900, 4096);
    gw_hist_sample_t s = pack_sample(T0, 50, 0, 0);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    s = pack_sample(T0 + 399LL * 86400, 50, 0, 0);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    s = pack_sample(T0 + 401LL * 86400, 50, 0, 0);
    assert_int_equal(gw_hist_add(h, SERIAL_A, &s), 0);
    assert_int_equal(gw_hist_close(h), 0);
    /* the 400-day-old bucket went, 399 and 401 days stay... the first was 401 days before */
    assert_int_equal(file_rows(NULL), 2);
    assert_int_equal(file_rows("WHERE t = 1780000200"), 0);
}

/* Bad requests get a clear refusal and never a partial answer. */
static void test_refusals(void **state)
{
    (void)state;
    gw_hist_t *h = open_hist(900, 4096);
    expect_in(query(h, "{not json"), "\"result\":\"bad_request\"");
    expect_in(query(h, "{\"id\":7,\"from_s\":0}"), "\"id\":7");
    expect_in(query(h, "{\"id\":7,\"from_s\":0}"), "missing \\\"to_s\\\"");
    expect_in(query(h, "{\"from_s\":0,\"to_s\":2592000}"), "too many points");
    expect_in(query(h, "{\"from_s\":0,\"to_s\":2592000,\"res_s\":3600,\"series\":[\"volts\"]}"), "unknown series");
    expect_in(query(h, "{\"from_s\":0,\"to_s\":600,\"pack\":\"12\"}"), "12-hex-digit serial");
    expect_in(query(h, "{\"from_s\":0,\"to_s\":600,\"res_s\":200}"), "multiple of 300");
    expect_in(query(h, "{\"from_s\":600,\"to_s\":600}"), "from_s < to_s");
    expect_in(query(h, "{\"from_s\":0,\"to_s\":600,\"colour\":1}"), "unknown member");
    /* a month at 1-hour resolution is within bounds */
    expect_in(query(h, "{\"from_s\":0,\"to_s\":2592000,\"res_s\":3600}"), "\"result\":\"ok\"");
    assert_int_equal(gw_hist_close(h), 0);
}

/* --------------------------------------------------------------- the packs' clock */

static void test_clock_own_when_nothing_heard(void **state)
{
    (void)state;
    gw_clock_t c;
    gw_clock_init(&c, 180000);
    int16_t off = 0;
    assert_int_equal(gw_clock_now(&c, 1000, 1700000000, 60, &off), 1700000000);
    assert_int_equal(off, 60);
}

/* Frames of a simulator at 60x: the clock runs at 60x between them, and falls back when silent. */
static void test_clock_follows_fast_site(void **state)
{
    (void)state;
    gw_clock_t c;
    gw_clock_init(&c, 180000);
    uint32_t ms = 5000;
    int64_t t = 1780000000;
    for (int k = 0; k < 10; k++) { /* a frame every 60 s of site time = every 1000 ms of ours */
        gw_clock_heard(&c, t, 120, ms);
        t += 60;
        ms += 1000;
    }
    /* half-way to the next frame: ~30 s of site time after the last one */
    int16_t off = 0;
    int64_t now = gw_clock_now(&c, ms - 1000 + 500, 1700000000, 0, &off);
    assert_int_equal(off, 120);
    assert_true(now >= t - 60 + 28 && now <= t - 60 + 32);
    /* never more than GW_CLOCK_MAX_EXTRAP_S past the last frame */
    assert_true(gw_clock_now(&c, ms + 60000, 1700000000, 0, NULL) <= t - 60 + GW_CLOCK_MAX_EXTRAP_S);
    /* silent for longer than stale_ms: our own clock again */
    assert_int_equal(gw_clock_now(&c, ms + 200000, 1700000000, 0, NULL), 1700000000);
}

/* A small step back (a late frame) does not move answers back; a real correction does. */
static void test_clock_no_small_backstep(void **state)
{
    (void)state;
    gw_clock_t c;
    gw_clock_init(&c, 180000);
    gw_clock_heard(&c, 1780000000, 0, 1000);
    assert_int_equal(gw_clock_now(&c, 11000, 0, 0, NULL), 1780000010);
    gw_clock_heard(&c, 1780000005, 0, 11000);
    assert_int_equal(gw_clock_now(&c, 11000, 0, 0, NULL), 1780000010);
    gw_clock_heard(&c, 1779990000, 0, 12000);
    assert_int_equal(gw_clock_now(&c, 12000, 0, 0, NULL), 1779990000);
}

/* Through the gateway core: a time frame from the bus stamps the published state and the record. */
static int64_t g_rec_ts;
static int g_rec_n;
static char g_state[1024];

static int cap_publish(void *user, const char *topic, const char *payload, size_t len, int retain)
{
    (void)user;
    (void)retain;
    if (strstr(topic, "/state") && strstr(topic, "/pack/") && len < sizeof g_state) {
        memcpy(g_state, payload, len);
        g_state[len] = '\0';
    }
    return 0;
}

static int32_t cap_send(void *user, const alfa_can_frame_t *f)
{
    (void)user;
    (void)f;
    return 0;
}

static void on_record(void *user, const struct gw_pack *pack, const alfa_telemetry_t *t, const alfa_site_totals_t *s,
                      int64_t ts)
{
    (void)user;
    (void)s;
    if (pack && t) {
        g_rec_ts = ts;
        g_rec_n++;
    }
}

static void test_core_stamps_packs_time(void **state)
{
    (void)state;
    static gw_core_t gw;
    gw_cfg_t cfg;
    gw_cfg_defaults(&cfg);
    gw_io_t io = {NULL, cap_publish, cap_send, NULL};
    gw_now_t now = {1000, 1700000000, 0, 1};
    gw_core_init(&gw, &cfg, &io, &now);
    gw_core_set_record(&gw, on_record, NULL);
    gw_core_on_connect(&gw, &now);
    alfa_can_frame_t f;
    alfa_heartbeat_t hb = {5, ALFA_DEV_PACK, 0, SERIAL_A, 2, 5, 0};
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), 0);
    gw_core_on_can(&gw, &f, &now);
    /* the site's time, sent by someone else as node 126 (the simulator) */
    alfa_time_msg_t tm = {ALFA_NODE_LINUX_GATEWAY, 1780000000u, 120};
    assert_int_equal(alfa_proto_time_encode(&tm, &f), 0);
    gw_core_on_can(&gw, &f, &now);
    alfa_telemetry_t t;
    memset(&t, 0, sizeof t);
    t.cycle = 9;
    t.soc_pct = 42;
    alfa_can_frame_t parts[ALFA_TELEM_PARTS];
    assert_int_equal(alfa_proto_telem_encode(&t, 5, parts), 0);
    for (unsigned k = 0; k < ALFA_TELEM_PARTS; k++) gw_core_on_can(&gw, &parts[k], &now);
    assert_int_equal(g_rec_n, 1);
    assert_int_equal(g_rec_ts, 1780000000);
    expect_in(g_state, "\"ts_s\":1780000000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_buckets_and_energy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_day_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test(test_clock_own_when_nothing_heard),
        cmocka_unit_test(test_clock_follows_fast_site),
        cmocka_unit_test(test_clock_no_small_backstep),
        cmocka_unit_test(test_core_stamps_packs_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
