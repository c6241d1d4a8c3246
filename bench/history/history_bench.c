/* alfaspark-history-bench: the time of one history query for a month of 5-minute site data (the month view of the app). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alfa/gw_history.h"

#define DAYS 30
#define T0 1780000200LL
#define RUNS 21

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    char path[128], p2[160];
    snprintf(path, sizeof path, "/tmp/alfa-hist-bench-%d.db", (int)getpid());
    gw_hist_cfg_t cfg;
    gw_hist_cfg_defaults(&cfg);
    cfg.path = path;
    gw_hist_t *h = NULL;
    char err[256];
    if (gw_hist_open(&h, &cfg, 0, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* a month of the site and of 3 packs, one record every 2 s would take long: one per 5 minutes
     * gives the same rows (the benchmark is the query, not the insert) */
    uint32_t e = 0;
    for (int64_t t = T0; t < T0 + DAYS * 86400LL; t += 300) {
        for (uint64_t pack = 0; pack <= 3u; pack++) {
            gw_hist_sample_t s;
            memset(&s, 0, sizeof s);
            s.ts_s = t + 1;
            for (unsigned k = 0; k < GW_HIST_AVG_COUNT; k++) s.avg[k] = (int32_t)((t / 300 + k) % 5000);
            s.have_energy = pack != 0u;
            for (unsigned k = 0; k < GW_HIST_ENERGIES; k++) s.e_today_wh[k] = e;
            if (gw_hist_add(h, pack ? 0xa4cf12000000ull + pack : 0u, &s) < 0) return 1;
        }
        e += 25;
    }
    if (gw_hist_close(h) < 0) return 1;
    if (gw_hist_open(&h, &cfg, 0, err, sizeof err) < 0) return 1; /* from the file only, as after a restart */
    static char out[GW_HIST_ANSWER_MAX];
    char req[256];
    snprintf(req, sizeof req, "{\"id\":\"b\",\"pack\":\"site\",\"from_s\":%lld,\"to_s\":%lld,\"res_s\":3600}", (long long)T0,
             (long long)(T0 + DAYS * 86400LL));
    double ms[RUNS];
    int n = 0;
    for (int k = 0; k < RUNS; k++) {
        double a = now_ms();
        n = gw_hist_query(h, req, strlen(req), 0, out, sizeof out);
        ms[k] = now_ms() - a;
        if (n < 0 || strstr(out, "\"result\":\"ok\"") == NULL) {
            fprintf(stderr, "query failed: %.200s\n", out);
            return 1;
        }
    }
    qsort(ms, RUNS, sizeof ms[0], cmp);
    printf("bench history_query_ms %.1f ms\n", ms[RUNS / 2]);
    fprintf(stderr, "history: %d days x 288 rows (site + 3 packs), month at 1 h: %d-byte answer, median of %d, min %.1f ms, max %.1f ms\n",
            DAYS, n, RUNS, ms[0], ms[RUNS - 1]);
    if (gw_hist_close(h) < 0) return 1;
    unlink(path);
    snprintf(p2, sizeof p2, "%s-wal", path);
    unlink(p2);
    snprintf(p2, sizeof p2, "%s-shm", path);
    unlink(p2);
    return 0;
}
