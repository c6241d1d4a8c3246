/* libFuzzer target: any bytes as a history request (MQTT history/get) against a small in-memory history; every answer must be JSON-shaped and bounded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/gw_history.h"

static gw_hist_t *g_hist;
static char g_out[GW_HIST_ANSWER_MAX];

static void setup(void)
{
    gw_hist_cfg_t cfg;
    gw_hist_cfg_defaults(&cfg);
    cfg.path = ":memory:";
    if (gw_hist_open(&g_hist, &cfg, 0, NULL, 0) < 0) abort();
    for (int k = 0; k < 600; k++) { /* two days of one pack and the site, some of it still in memory */
        gw_hist_sample_t s;
        memset(&s, 0, sizeof s);
        s.ts_s = 1780000200LL + (int64_t)k * 300;
        s.avg[GW_HIST_SOC] = k % 101;
        s.have_energy = 1;
        s.e_today_wh[1] = (uint32_t)(k * 10);
        if (gw_hist_add(g_hist, 0xa4cf12000001ull, &s) < 0 || gw_hist_add(g_hist, 0, &s) < 0) abort();
        if (k == 400 && gw_hist_flush(g_hist, 0, 0) < 0) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_hist == NULL) setup();
    int n = gw_hist_query(g_hist, (const char *)data, size, 60, g_out, sizeof g_out);
    /* every request is answered (a refusal included), within the bound, as one JSON object */
    if (n < 2 || (size_t)n >= sizeof g_out || g_out[0] != '{' || g_out[n - 1] != '}' || strlen(g_out) != (size_t)n) abort();
    return 0;
}
