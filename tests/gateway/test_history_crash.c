/* The history survives kill -9 at any moment of its batches: no corruption, every committed batch whole, nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alfa/gw_history.h"

#define T0 1780000200LL
#define BATCH 1500u   /* rows per transaction (the queue size: every write is a full queue) */
#define ROUNDS 25
#define PACK 0xa4cf12000001ull

static char g_path[256];

static void rm_db(void)
{
    char p[300];
    unlink(g_path);
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
}

/* The value every row must hold: a function of its bucket only. */
static int64_t soc_of(int64_t t) { return ((t - T0) / 300) % 101; }

/* The writer: continues after the last committed row, forever, in batches of BATCH rows. */
static void writer(long start)
{
    gw_hist_cfg_t cfg;
    gw_hist_cfg_defaults(&cfg);
    cfg.path = g_path;
    cfg.flush_s = 86400;
    cfg.pending_max = BATCH;
    cfg.keep_days = 3650; /* 25 rounds write more than 400 days of 5-minute rows */
    gw_hist_t *h = NULL;
    char err[256];
    if (gw_hist_open(&h, &cfg, 0, err, sizeof err) < 0) _exit(3);
    for (long k = start;; k++) {
        gw_hist_sample_t s;
        memset(&s, 0, sizeof s);
        s.ts_s = T0 + k * 300;
        s.avg[GW_HIST_SOC] = (int32_t)soc_of(s.ts_s);
        if (gw_hist_add(h, PACK, &s) < 0) _exit(4);
    }
}

/* integrity_check, then the rows: a whole number of batches, contiguous, each with its value. */
static long check_db(void)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check;", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "SELECT t, n, s_soc FROM agg5 WHERE pack = ? ORDER BY t;", -1, &st, NULL) != SQLITE_OK) {
        /* killed before the table's creation was committed: an empty, sound file */
        assert_non_null(strstr(sqlite3_errmsg(db), "no such table"));
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
        return 0;
    }
    assert_int_equal(sqlite3_bind_int64(st, 1, (sqlite3_int64)PACK), SQLITE_OK);
    long rows = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(st, 0);
        if (t != T0 + rows * 300) print_message("row %ld: t = T0 + %lld x 300\n", rows, (long long)((t - T0) / 300));
        assert_int_equal(t, T0 + rows * 300);
        assert_int_equal(sqlite3_column_int64(st, 1), 1);
        assert_int_equal(sqlite3_column_int64(st, 2), soc_of(t));
        rows++;
    }
    assert_int_equal(rc, SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(rows % (long)BATCH, 0);
    return rows;
}

static void test_kill_during_batches(void **state)
{
    (void)state;
    snprintf(g_path, sizeof g_path, "/tmp/alfa-hist-crash-%d.db", (int)getpid());
    rm_db();
    srand((unsigned)getpid());
    long rows = 0;
    int grew = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) writer(rows);
        /* kill at a random moment: many batches take a few ms, so most kills land inside one */
        struct timespec ts = {0, (long)(1 + rand() % 40) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        assert_true(WIFSIGNALED(st)); /* it was still writing: the writer never stops by itself */
        long now_rows = check_db();
        if (getenv("ALFA_VERBOSE")) print_message("round %d: %ld rows\n", round, now_rows);
        assert_true(now_rows >= rows); /* a committed batch is never lost */
        grew += now_rows > rows;
        rows = now_rows;
    }
    print_message("history kill -9: %d rounds, %ld rows in %ld batches survived, %d rounds committed something\n", ROUNDS,
                  rows, rows / (long)BATCH, grew);
    assert_true(grew > 0);
    rm_db();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill_during_batches)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
