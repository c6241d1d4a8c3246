/* The gateway's history: per-pack and site 5-minute aggregates in SQLite, written in batches, answered over MQTT. */
#ifndef ALFA_GW_HISTORY_H
#define ALFA_GW_HISTORY_H

/*
 * What is kept. For every pack (by serial) and for the site (pack 0), one row per 5-minute
 * bucket of the PACKS' time (the ts_s of their records, gw_clock.h — in the simulator that time
 * runs 60-1000x faster than the wall): the number of samples, the sums of SOC and of the seven
 * powers (so averages merge exactly), and the energy that flowed in the bucket (grid import,
 * solar, battery charge, battery discharge), from the differences of the packs' "today" counters
 * (a counter that goes down is a new day: its new value is the energy since the reset). The
 * site row has the master's totals (SOC average, battery, solar, home, grid power), the sum of
 * the packs' latest pool-pump and water-heater power, and the sum of the packs' energies.
 *
 * How it is written. Samples are added to one open bucket per pack in memory; a bucket that ends
 * (a sample of a later bucket arrives) joins the pending rows. Pending rows are written in ONE
 * transaction at most every `flush_s` seconds of the gateway's monotonic clock (900 s: an SD card
 * is the disk), or earlier when `pending_max` rows are waiting (only when the packs' clock runs
 * faster than the wall, i.e. a simulator), and at close (the open buckets too). WAL journal with
 * synchronous=FULL: a power cut or a kill -9 at any moment leaves every committed batch and no
 * corruption; what was pending in memory (at most flush_s of history) is lost. A bucket written
 * in two parts (a restart inside it) is merged (sums and counts add up). Rows older than
 * `keep_days` before the newest bucket are deleted at each flush.
 *
 * How it is read. gw_hist_query() takes the JSON request of the MQTT topic
 * alfaspark/<site>/history/get and writes the JSON answer for history/result (docs/protocol.md,
 * "History"): a pack or the site, a range [from_s, to_s), a resolution (a multiple of 300 s;
 * buckets of a day or more start at local midnight), and the series wanted. Answers are bounded:
 * at most GW_HIST_MAX_POINTS buckets. Rows still in memory are included, so an answer never
 * lags the batches.
 *
 * Errors: negative gw_hist_err_t; a failed flush keeps its rows for the next try. Not thread-safe;
 * one gw_hist_t per database file.
 */

#include <stddef.h>
#include <stdint.h>

#define GW_HIST_BUCKET_S 300
#define GW_HIST_MAX_POINTS 1000u
#define GW_HIST_MAX_PACKS 64u
#define GW_HIST_ANSWER_MAX (200u * 1024u) /* a buffer this large holds every possible answer */

typedef enum gw_hist_err {
    GW_HIST_OK = 0,
    GW_HIST_E_INVAL = -1, /* bad argument */
    GW_HIST_E_DB = -2,    /* SQLite refused (message in the log / err) */
    GW_HIST_E_NOMEM = -3,
    GW_HIST_E_FULL = -4,  /* no room for the row: pending full and the flush failed, or pack table full */
    GW_HIST_E_SPACE = -5, /* the answer does not fit the caller's buffer */
} gw_hist_err_t;

typedef struct gw_hist_cfg {
    const char *path;     /* the SQLite file (created with its table when missing) */
    uint32_t flush_s;     /* at most one write transaction per this many seconds (900) */
    uint32_t keep_days;   /* days of history kept (400) */
    uint32_t pending_max; /* rows waiting in memory before a write is forced (4096) */
} gw_hist_cfg_t;

/* Defaults of every field (path NULL). */
void gw_hist_cfg_defaults(gw_hist_cfg_t *cfg);

/* Series, in the order of the arrays below. */
enum {
    GW_HIST_SOC = 0, GW_HIST_P_SOLAR, GW_HIST_P_HOME, GW_HIST_P_GRID, GW_HIST_P_BATT, GW_HIST_P_POOL, GW_HIST_P_HEATER,
    GW_HIST_AVG_COUNT, /* averaged values above, energies below */
    GW_HIST_E_GRID = GW_HIST_AVG_COUNT, GW_HIST_E_SOLAR, GW_HIST_E_CHARGE, GW_HIST_E_DISCHARGE,
    GW_HIST_SERIES
};
#define GW_HIST_ENERGIES 4u

/* The JSON name of a series ("soc_pct", "p_solar_w", ..., "e_grid_import_wh"), NULL past the end. */
const char *gw_hist_series_name(unsigned k);

typedef struct gw_hist_sample {
    int64_t ts_s;                      /* the packs' time of the record */
    int32_t avg[GW_HIST_AVG_COUNT];    /* SOC % and powers W (site: pool/heater are filled in here) */
    int have_energy;                   /* e_today_wh valid (packs; the site's come from its packs) */
    uint32_t e_today_wh[GW_HIST_ENERGIES]; /* today's counters: grid import, solar, charge, discharge */
} gw_hist_sample_t;

typedef struct gw_hist_stats {
    uint32_t samples, rows_written, flushes, flush_errors, rows_dropped, queries;
    uint32_t rollback_errors;       /* a failed batch could not even be rolled back */
} gw_hist_stats_t;

typedef struct gw_hist gw_hist_t;

/* Open (create) the database at cfg->path. `now_ms`: the gateway's monotonic ms (starts the
 * flush period). On failure *out is NULL and `err` (cap bytes) says why. */
int gw_hist_open(gw_hist_t **out, const gw_hist_cfg_t *cfg, uint32_t now_ms, char *err, size_t cap);

/* Write everything (open buckets too) and close. Returns the flush's result; h is freed anyway. */
int gw_hist_close(gw_hist_t *h);

/* One record: `pack` is the serial, 0 for the site. */
int gw_hist_add(gw_hist_t *h, uint64_t pack, const gw_hist_sample_t *s);

/* Write the pending rows when the period is over. Returns 1 when it wrote, 0, or an error. */
int gw_hist_process(gw_hist_t *h, uint32_t now_ms);

/* Write the pending rows now (and the open buckets when `with_open`). */
int gw_hist_flush(gw_hist_t *h, int with_open, uint32_t now_ms);

/* Answer one request (JSON text of `len` bytes) into `out`. Every request gets an answer
 * (refusals as {"result":"bad_request",...}); returns its length, or GW_HIST_E_SPACE /
 * GW_HIST_E_DB. `utc_offset_min`: the site's offset, used when the request gives none. */
int gw_hist_query(gw_hist_t *h, const char *req, size_t len, int16_t utc_offset_min, char *out, size_t cap);

/* Counters since open. */
const gw_hist_stats_t *gw_hist_stats(const gw_hist_t *h);

/* The last SQLite error message ("" when none). */
const char *gw_hist_errmsg(const gw_hist_t *h);

#endif
