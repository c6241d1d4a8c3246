/* The gateway's history: 5-minute aggregates per pack and site in SQLite, batched writes, bounded MQTT answers. */
#include "alfa/gw_history.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/gw_json.h"

#define MAX_DELTA_WH 100000u /* more than this between two records is not energy, it is a glitch */
#define SITE_POWER_FRESH_S 30 /* a pack's pool/heater figure counts in the site's for this long */

static const char *const series_names[GW_HIST_SERIES] = {
    "soc_pct", "p_solar_w", "p_home_w", "p_grid_w", "p_batt_w", "p_pool_w", "p_heater_w",
    "e_grid_import_wh", "e_solar_wh", "e_batt_charge_wh", "e_batt_discharge_wh",
};

const char *gw_hist_series_name(unsigned k) { return k < GW_HIST_SERIES ? series_names[k] : NULL; }

/* One bucket: counts and sums, as stored. */
typedef struct row {
    uint64_t pack;
    int64_t t;                      /* bucket start, unix s, multiple of 300 */
    int64_t n;
    int64_t sum[GW_HIST_AVG_COUNT];
    int64_t e_wh[GW_HIST_ENERGIES];
} row_t;

typedef struct track {
    int used;
    uint64_t pack;
    int open;
    row_t bucket;                   /* the open bucket */
    int have_prev;
    uint32_t prev_e[GW_HIST_ENERGIES];
    int64_t last_ts;                /* pool/heater of the pack for the site's row */
    int32_t pool_w, heater_w;
} track_t;

struct gw_hist {
    gw_hist_cfg_t cfg;
    sqlite3 *db;
    sqlite3_stmt *ins, *sel, *del;
    track_t tracks[GW_HIST_MAX_PACKS + 1u];
    row_t *pending;
    uint32_t n_pending;
    uint32_t last_flush_ms;
    int64_t newest_t;
    int64_t site_e_wh[GW_HIST_ENERGIES]; /* packs' energy not yet given to a site bucket */
    gw_hist_stats_t stats;
    char errmsg[160];
};

void gw_hist_cfg_defaults(gw_hist_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->flush_s = 900;
    cfg->keep_days = 400;
    cfg->pending_max = 4096;
}

static void db_error(gw_hist_t *h, const char *what)
{
    snprintf(h->errmsg, sizeof h->errmsg, "%s: %s", what, sqlite3_errmsg(h->db));
}

const char *gw_hist_errmsg(const gw_hist_t *h) { return h->errmsg; }

/* Make a statement ready to bind and step again. sqlite3_reset returns the result of the last
 * step once more (handled where it was stepped), not an error of its own: nothing to check. */
static void stmt_rewind(sqlite3_stmt *st) { (void)sqlite3_reset(st); }

/* Free a statement (NULL is fine). sqlite3_finalize frees it whatever it returns; the code only
 * repeats the last step's result, handled where it was stepped. */
static void stmt_free(sqlite3_stmt *st) { (void)sqlite3_finalize(st); }

/* Bind parameter `i` unless an earlier bind failed: `*rc` keeps the first failure. */
static void bind_i64(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK) *rc = sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}
const gw_hist_stats_t *gw_hist_stats(const gw_hist_t *h) { return &h->stats; }

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS agg5 ("
    " pack INTEGER NOT NULL, t INTEGER NOT NULL, n INTEGER NOT NULL,"
    " s_soc INTEGER NOT NULL, s_solar INTEGER NOT NULL, s_home INTEGER NOT NULL, s_grid INTEGER NOT NULL,"
    " s_batt INTEGER NOT NULL, s_pool INTEGER NOT NULL, s_heater INTEGER NOT NULL,"
    " e_grid INTEGER NOT NULL, e_solar INTEGER NOT NULL, e_charge INTEGER NOT NULL, e_discharge INTEGER NOT NULL,"
    " PRIMARY KEY (pack, t)) WITHOUT ROWID;";

/* A bucket written in two parts (a restart inside it) adds up: every column is a sum. */
static const char insert_sql[] =
    "INSERT INTO agg5 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(pack, t) DO UPDATE SET"
    " n = n + excluded.n, s_soc = s_soc + excluded.s_soc, s_solar = s_solar + excluded.s_solar,"
    " s_home = s_home + excluded.s_home, s_grid = s_grid + excluded.s_grid, s_batt = s_batt + excluded.s_batt,"
    " s_pool = s_pool + excluded.s_pool, s_heater = s_heater + excluded.s_heater,"
    " e_grid = e_grid + excluded.e_grid, e_solar = e_solar + excluded.e_solar,"
    " e_charge = e_charge + excluded.e_charge, e_discharge = e_discharge + excluded.e_discharge;";

static const char select_sql[] = "SELECT t, n, s_soc, s_solar, s_home, s_grid, s_batt, s_pool, s_heater,"
                                 " e_grid, e_solar, e_charge, e_discharge FROM agg5"
                                 " WHERE pack = ? AND t >= ? AND t < ? ORDER BY t;";

static const char delete_sql[] = "DELETE FROM agg5 WHERE t < ?;";

int gw_hist_open(gw_hist_t **out, const gw_hist_cfg_t *cfg, uint32_t now_ms, char *err, size_t cap)
{
    if (out == NULL) return GW_HIST_E_INVAL;
    *out = NULL;
    if (cfg == NULL || cfg->path == NULL || cfg->path[0] == '\0' || cfg->flush_s == 0u || cfg->keep_days == 0u ||
        cfg->pending_max == 0u) {
        if (err && cap) snprintf(err, cap, "history: no database path, or a zero period, age or queue");
        return GW_HIST_E_INVAL;
    }
    gw_hist_t *h = calloc(1, sizeof *h);
    if (h == NULL) return GW_HIST_E_NOMEM;
    h->cfg = *cfg;
    h->pending = calloc(cfg->pending_max, sizeof *h->pending);
    if (h->pending == NULL) {
        free(h);
        return GW_HIST_E_NOMEM;
    }
    h->last_flush_ms = now_ms;
    int rc = sqlite3_open_v2(cfg->path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(h->db, 2000);
    /* WAL: readers never block the batch, and a cut during the batch leaves the last commit;
     * FULL: the commit is on the card before we call it written (one fsync per 15 minutes) */
    if (rc == SQLITE_OK) rc = sqlite3_exec(h->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(h->db, schema_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(h->db, insert_sql, -1, &h->ins, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(h->db, select_sql, -1, &h->sel, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(h->db, delete_sql, -1, &h->del, NULL);
    if (rc != SQLITE_OK) {
        if (err && cap) snprintf(err, cap, "history: %s: %s", cfg->path, h->db ? sqlite3_errmsg(h->db) : "cannot open");
        stmt_free(h->ins);
        stmt_free(h->sel);
        stmt_free(h->del);
        /* Every statement is finalized, so close frees the handle; the failure that matters is
         * the one being reported. */
        (void)sqlite3_close(h->db);
        free(h->pending);
        free(h);
        return GW_HIST_E_DB;
    }
    h->cfg.path = NULL; /* the caller's string is not kept */
    *out = h;
    return GW_HIST_OK;
}

int gw_hist_close(gw_hist_t *h)
{
    if (h == NULL) return GW_HIST_E_INVAL;
    int rc = gw_hist_flush(h, 1, h->last_flush_ms);
    stmt_free(h->ins);
    stmt_free(h->sel);
    stmt_free(h->del);
    /* closing the last connection checkpoints the WAL into the database file */
    if (sqlite3_close(h->db) != SQLITE_OK && rc == GW_HIST_OK) rc = GW_HIST_E_DB;
    free(h->pending);
    free(h);
    return rc;
}

static int64_t bucket_of(int64_t ts)
{
    int64_t b = ts / GW_HIST_BUCKET_S;
    if (ts < 0 && ts % GW_HIST_BUCKET_S != 0) b--;
    return b * GW_HIST_BUCKET_S;
}

static track_t *track_of(gw_hist_t *h, uint64_t pack)
{
    track_t *free_slot = NULL;
    for (unsigned k = 0; k <= GW_HIST_MAX_PACKS; k++) {
        track_t *t = &h->tracks[k];
        if (t->used && t->pack == pack) return t;
        if (!t->used && free_slot == NULL) free_slot = t;
    }
    if (free_slot) {
        memset(free_slot, 0, sizeof *free_slot);
        free_slot->used = 1;
        free_slot->pack = pack;
    }
    return free_slot;
}

/* A finished bucket joins the pending rows; a full queue is written first. */
static int push_row(gw_hist_t *h, const row_t *r)
{
    if (h->n_pending >= h->cfg.pending_max) {
        int rc = gw_hist_flush(h, 0, h->last_flush_ms);
        if (rc < 0 || h->n_pending >= h->cfg.pending_max) {
            h->stats.rows_dropped++;
            return rc < 0 ? rc : GW_HIST_E_FULL;
        }
    }
    h->pending[h->n_pending++] = *r;
    if (r->t > h->newest_t) h->newest_t = r->t;
    return GW_HIST_OK;
}

int gw_hist_add(gw_hist_t *h, uint64_t pack, const gw_hist_sample_t *s)
{
    if (h == NULL || s == NULL) return GW_HIST_E_INVAL;
    track_t *tr = track_of(h, pack);
    if (tr == NULL) return GW_HIST_E_FULL;
    h->stats.samples++;
    gw_hist_sample_t v = *s;
    if (pack == 0u) { /* the site: its packs' pool and heater, and the energy they reported since */
        v.avg[GW_HIST_P_POOL] = 0;
        v.avg[GW_HIST_P_HEATER] = 0;
        for (unsigned k = 0; k <= GW_HIST_MAX_PACKS; k++) {
            const track_t *p = &h->tracks[k];
            if (!p->used || p->pack == 0u || p->last_ts < v.ts_s - SITE_POWER_FRESH_S) continue;
            v.avg[GW_HIST_P_POOL] += p->pool_w;
            v.avg[GW_HIST_P_HEATER] += p->heater_w;
        }
    }
    int64_t b = bucket_of(v.ts_s);
    int rc = GW_HIST_OK;
    if (tr->open && tr->bucket.t != b) {
        rc = push_row(h, &tr->bucket);
        tr->open = 0;
    }
    if (!tr->open) {
        memset(&tr->bucket, 0, sizeof tr->bucket);
        tr->bucket.pack = pack;
        tr->bucket.t = b;
        tr->open = 1;
    }
    row_t *r = &tr->bucket;
    r->n++;
    for (unsigned k = 0; k < GW_HIST_AVG_COUNT; k++) r->sum[k] += v.avg[k];
    if (pack == 0u) {
        for (unsigned k = 0; k < GW_HIST_ENERGIES; k++) {
            r->e_wh[k] += h->site_e_wh[k];
            h->site_e_wh[k] = 0;
        }
    } else {
        if (v.have_energy) {
            for (unsigned k = 0; k < GW_HIST_ENERGIES; k++) {
                uint32_t d = 0;
                if (tr->have_prev) d = v.e_today_wh[k] >= tr->prev_e[k] ? v.e_today_wh[k] - tr->prev_e[k] : v.e_today_wh[k];
                if (d > MAX_DELTA_WH) d = 0;
                r->e_wh[k] += d;
                h->site_e_wh[k] += d;
                tr->prev_e[k] = v.e_today_wh[k];
            }
            tr->have_prev = 1;
        }
        tr->last_ts = v.ts_s;
        tr->pool_w = v.avg[GW_HIST_P_POOL];
        tr->heater_w = v.avg[GW_HIST_P_HEATER];
    }
    return rc;
}

static int write_row(gw_hist_t *h, const row_t *r)
{
    sqlite3_stmt *st = h->ins;
    int i = 1, rc = SQLITE_OK;
    stmt_rewind(st);
    bind_i64(st, i++, (int64_t)r->pack, &rc);
    bind_i64(st, i++, r->t, &rc);
    bind_i64(st, i++, r->n, &rc);
    for (unsigned k = 0; k < GW_HIST_AVG_COUNT; k++) bind_i64(st, i++, r->sum[k], &rc);
    for (unsigned k = 0; k < GW_HIST_ENERGIES; k++) bind_i64(st, i++, r->e_wh[k], &rc);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    stmt_rewind(st);
    return rc == SQLITE_DONE ? GW_HIST_OK : GW_HIST_E_DB;
}

int gw_hist_flush(gw_hist_t *h, int with_open, uint32_t now_ms)
{
    if (h == NULL) return GW_HIST_E_INVAL;
    if (with_open) {
        for (unsigned k = 0; k <= GW_HIST_MAX_PACKS; k++) {
            track_t *t = &h->tracks[k];
            if (!t->used || !t->open) continue;
            if (h->n_pending >= h->cfg.pending_max) break; /* the rest stays open: written next time */
            h->pending[h->n_pending++] = t->bucket;
            if (t->bucket.t > h->newest_t) h->newest_t = t->bucket.t;
            t->open = 0;
        }
    }
    h->last_flush_ms = now_ms;
    if (h->n_pending == 0u) return GW_HIST_OK;
    int rc = sqlite3_exec(h->db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) == SQLITE_OK ? GW_HIST_OK : GW_HIST_E_DB;
    for (uint32_t k = 0; rc == GW_HIST_OK && k < h->n_pending; k++) rc = write_row(h, &h->pending[k]);
    if (rc == GW_HIST_OK) {
        int src = SQLITE_OK;
        stmt_rewind(h->del);
        bind_i64(h->del, 1, h->newest_t - (int64_t)h->cfg.keep_days * 86400, &src);
        if (src != SQLITE_OK || sqlite3_step(h->del) != SQLITE_DONE) rc = GW_HIST_E_DB;
        stmt_rewind(h->del);
    }
    if (rc == GW_HIST_OK && sqlite3_exec(h->db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK) rc = GW_HIST_E_DB;
    if (rc != GW_HIST_OK) {
        db_error(h, "history write");
        /* nothing of this batch is in the file: the rows stay pending for the next try. A failed
         * rollback is counted; the transaction it leaves open makes the next BEGIN fail, and that
         * failure rolls back again. */
        if (!sqlite3_get_autocommit(h->db) && sqlite3_exec(h->db, "ROLLBACK;", NULL, NULL, NULL) != SQLITE_OK) {
            h->stats.rollback_errors++;
        }
        h->stats.flush_errors++;
        return rc;
    }
    h->stats.flushes++;
    h->stats.rows_written += h->n_pending;
    h->n_pending = 0;
    return GW_HIST_OK;
}

int gw_hist_process(gw_hist_t *h, uint32_t now_ms)
{
    if (h == NULL) return GW_HIST_E_INVAL;
    if ((uint32_t)(now_ms - h->last_flush_ms) < h->cfg.flush_s * 1000u) return 0;
    if (h->n_pending == 0u) {
        h->last_flush_ms = now_ms;
        return 0;
    }
    int rc = gw_hist_flush(h, 0, now_ms);
    return rc < 0 ? rc : 1;
}

/* ---------------------------------------------------------------- queries */

typedef struct slot {
    int64_t n;
    int64_t sum[GW_HIST_AVG_COUNT];
    int64_t e_wh[GW_HIST_ENERGIES];
    int has;
} slot_t;

typedef struct query {
    uint64_t pack;
    int64_t from_s, to_s, res_s, first_b, off_s;
    uint32_t points;
    unsigned series[GW_HIST_SERIES];
    unsigned n_series;
    slot_t *slots;
} query_t;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0))) q--;
    return q;
}

/* Start (UTC) of the answer bucket holding `t`: buckets of a day or more start at local midnight. */
static int64_t answer_bucket(const query_t *q, int64_t t)
{
    return floor_div(t + q->off_s, q->res_s) * q->res_s - q->off_s;
}

static void add_row(query_t *q, const row_t *r)
{
    if (r->pack != q->pack || r->t < q->from_s || r->t >= q->to_s) return;
    int64_t idx = (answer_bucket(q, r->t) - q->first_b) / q->res_s;
    if (idx < 0 || idx >= (int64_t)q->points) return;
    slot_t *s = &q->slots[idx];
    s->has = 1;
    s->n += r->n;
    for (unsigned k = 0; k < GW_HIST_AVG_COUNT; k++) s->sum[k] += r->sum[k];
    for (unsigned k = 0; k < GW_HIST_ENERGIES; k++) s->e_wh[k] += r->e_wh[k];
}

static int parse_series(query_t *q, const gw_json_member_t *m, char *why, size_t cap)
{
    q->n_series = 0;
    if (m == NULL) {
        for (unsigned k = 0; k < GW_HIST_SERIES; k++) q->series[q->n_series++] = k;
        return 0;
    }
    const char *p, *end;
    if (m->type == GW_JSON_STRING) { /* "soc_pct,p_solar_w" */
        p = m->s;
        end = m->s + m->s_len;
    } else if (m->type == GW_JSON_NESTED && m->raw_len >= 2u && m->raw[0] == '[') { /* ["soc_pct","p_solar_w"] */
        p = m->raw + 1;
        end = m->raw + m->raw_len - 1;
    } else {
        snprintf(why, cap, "\"series\" must be an array of series names");
        return -1;
    }
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ',' || *p == '"' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        const char *s = p;
        while (p < end && *p != ',' && *p != '"' && *p != ' ') p++;
        size_t n = (size_t)(p - s);
        if (n == 0) continue;
        unsigned k;
        for (k = 0; k < GW_HIST_SERIES; k++) {
            if (strlen(series_names[k]) == n && memcmp(series_names[k], s, n) == 0) break;
        }
        if (k == GW_HIST_SERIES) {
            snprintf(why, cap, "unknown series \"%.*s\"", (int)(n > 40u ? 40u : n), s);
            return -1;
        }
        int dup = 0;
        for (unsigned j = 0; j < q->n_series; j++) dup |= q->series[j] == k;
        if (!dup) q->series[q->n_series++] = k;
    }
    if (q->n_series == 0u) {
        snprintf(why, cap, "\"series\" is empty");
        return -1;
    }
    return 0;
}

static int get_i64(const gw_json_doc_t *doc, const char *key, int64_t *out, int required, char *why, size_t cap)
{
    const gw_json_member_t *m = gw_json_get(doc, key);
    if (m == NULL) {
        if (required) snprintf(why, cap, "missing \"%s\"", key);
        return required ? -1 : 0;
    }
    if (m->type != GW_JSON_INT) {
        snprintf(why, cap, "\"%s\" must be an integer", key);
        return -1;
    }
    *out = m->i;
    return 0;
}

static int answer_refusal(const char *id_json, const char *why, char *out, size_t cap)
{
    gw_jw_t w;
    gw_jw_init(&w, out, cap);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "id"); gw_jw_raw(&w, id_json, strlen(id_json));
    gw_jw_key(&w, "result"); gw_jw_str(&w, "bad_request");
    gw_jw_key(&w, "detail"); gw_jw_str(&w, why);
    gw_jw_obj_end(&w);
    int n = gw_jw_finish(&w);
    return n < 0 ? GW_HIST_E_SPACE : n;
}

int gw_hist_query(gw_hist_t *h, const char *req, size_t len, int16_t utc_offset_min, char *out, size_t cap)
{
    if (h == NULL || req == NULL || out == NULL) return GW_HIST_E_INVAL;
    h->stats.queries++;
    char why[GW_JSON_MAX_TEXT / 8u], id_json[GW_JSON_MAX_TEXT / 8u];
    snprintf(id_json, sizeof id_json, "null");
    gw_json_doc_t doc;
    memset(&doc, 0, sizeof doc); /* the parser writes it whole; cleared so no reader can see stack garbage */
    if (gw_json_parse(&doc, req, len) < 0) {
        snprintf(why, sizeof why, "invalid JSON: %s at byte %zu", doc.error, doc.error_at);
        return answer_refusal(id_json, why, out, cap);
    }
    const gw_json_member_t *id = gw_json_get(&doc, "id");
    if (id != NULL) {
        if ((id->type != GW_JSON_STRING && id->type != GW_JSON_INT) || id->raw_len > 64u) {
            return answer_refusal(id_json, "\"id\" must be a string or an integer (at most 64 characters)", out, cap);
        }
        gw_jw_t w;
        gw_jw_init(&w, id_json, sizeof id_json);
        if (id->type == GW_JSON_STRING) gw_jw_strn(&w, id->s, id->s_len);
        else gw_jw_int(&w, id->i);
        if (gw_jw_finish(&w) < 0) snprintf(id_json, sizeof id_json, "null");
    }
    query_t q;
    memset(&q, 0, sizeof q);
    int64_t off_min = utc_offset_min;
    char pack_hex[24] = "site";
    const gw_json_member_t *pm = gw_json_get(&doc, "pack");
    if (pm != NULL) {
        if (pm->type != GW_JSON_STRING) return answer_refusal(id_json, "\"pack\" must be \"site\" or a serial", out, cap);
        if (strcmp(pm->s, "site") != 0) {
            uint64_t v = 0;
            int ok = pm->s_len == 12u;
            for (size_t k = 0; ok && k < pm->s_len; k++) {
                char c = pm->s[k];
                int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
                if (d < 0) ok = 0;
                else v = (v << 4) | (uint64_t)d;
            }
            if (!ok || v == 0u) return answer_refusal(id_json, "\"pack\" must be \"site\" or a 12-hex-digit serial", out, cap);
            q.pack = v;
            snprintf(pack_hex, sizeof pack_hex, "%012llx", (unsigned long long)v);
        }
    }
    q.res_s = GW_HIST_BUCKET_S;
    if (get_i64(&doc, "from_s", &q.from_s, 1, why, sizeof why) < 0 || get_i64(&doc, "to_s", &q.to_s, 1, why, sizeof why) < 0 ||
        get_i64(&doc, "res_s", &q.res_s, 0, why, sizeof why) < 0 ||
        get_i64(&doc, "utc_offset_min", &off_min, 0, why, sizeof why) < 0) {
        return answer_refusal(id_json, why, out, cap);
    }
    if (q.res_s < GW_HIST_BUCKET_S || q.res_s % GW_HIST_BUCKET_S != 0 || q.res_s > 366 * 86400) {
        return answer_refusal(id_json, "\"res_s\" must be a multiple of 300 s, at most a year", out, cap);
    }
    if (off_min < -720 || off_min > 840) return answer_refusal(id_json, "\"utc_offset_min\" must be -720..840", out, cap);
    if (q.from_s < 0 || q.to_s <= q.from_s || q.to_s - q.from_s > 4000LL * 86400) {
        return answer_refusal(id_json, "need 0 <= from_s < to_s, at most 4000 days apart", out, cap);
    }
    /* buckets shorter than a day are aligned on UTC (a multiple of 300 s is a whole number of
     * 5-minute rows anyway); a day or more starts at the site's local midnight */
    q.off_s = q.res_s >= 86400 ? off_min * 60 : 0;
    if (parse_series(&q, gw_json_get(&doc, "series"), why, sizeof why) < 0) return answer_refusal(id_json, why, out, cap);
    for (uint32_t k = 0; k < doc.count; k++) {
        static const char *const known[] = {"id", "pack", "from_s", "to_s", "res_s", "utc_offset_min", "series"};
        int ok = 0;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++) ok |= strcmp(doc.m[k].key, known[j]) == 0;
        if (!ok) {
            snprintf(why, sizeof why, "unknown member \"%.40s\"", doc.m[k].key);
            return answer_refusal(id_json, why, out, cap);
        }
    }
    q.first_b = answer_bucket(&q, q.from_s);
    int64_t points = (answer_bucket(&q, q.to_s - 1) - q.first_b) / q.res_s + 1;
    if (points > (int64_t)GW_HIST_MAX_POINTS) {
        snprintf(why, sizeof why, "too many points (%lld): at most %u per answer, choose a coarser res_s", (long long)points,
                 GW_HIST_MAX_POINTS);
        return answer_refusal(id_json, why, out, cap);
    }
    q.points = (uint32_t)points;
    q.slots = calloc(q.points, sizeof *q.slots);
    if (q.slots == NULL) return GW_HIST_E_NOMEM;

    /* the file, then what is still in memory */
    sqlite3_stmt *st = h->sel;
    int rc = SQLITE_OK;
    stmt_rewind(st);
    bind_i64(st, 1, (int64_t)q.pack, &rc);
    bind_i64(st, 2, q.from_s, &rc);
    bind_i64(st, 3, q.to_s, &rc);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) break;
        row_t r;
        r.pack = q.pack;
        r.t = sqlite3_column_int64(st, 0);
        r.n = sqlite3_column_int64(st, 1);
        for (unsigned k = 0; k < GW_HIST_AVG_COUNT; k++) r.sum[k] = sqlite3_column_int64(st, 2 + (int)k);
        for (unsigned k = 0; k < GW_HIST_ENERGIES; k++) r.e_wh[k] = sqlite3_column_int64(st, 2 + (int)GW_HIST_AVG_COUNT + (int)k);
        add_row(&q, &r);
    }
    stmt_rewind(st);
    if (rc != SQLITE_DONE) {
        db_error(h, "history read");
        free(q.slots);
        return GW_HIST_E_DB;
    }
    for (uint32_t k = 0; k < h->n_pending; k++) add_row(&q, &h->pending[k]);
    for (unsigned k = 0; k <= GW_HIST_MAX_PACKS; k++) {
        if (h->tracks[k].used && h->tracks[k].open) add_row(&q, &h->tracks[k].bucket);
    }

    gw_jw_t w;
    gw_jw_init(&w, out, cap);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "id"); gw_jw_raw(&w, id_json, strlen(id_json));
    gw_jw_key(&w, "result"); gw_jw_str(&w, "ok");
    gw_jw_key(&w, "pack"); gw_jw_str(&w, pack_hex);
    gw_jw_key(&w, "from_s"); gw_jw_int(&w, q.from_s);
    gw_jw_key(&w, "to_s"); gw_jw_int(&w, q.to_s);
    gw_jw_key(&w, "res_s"); gw_jw_int(&w, q.res_s);
    gw_jw_key(&w, "utc_offset_min"); gw_jw_int(&w, off_min);
    gw_jw_key(&w, "t");
    gw_jw_arr_begin(&w);
    for (uint32_t i = 0; i < q.points; i++) {
        if (q.slots[i].has) gw_jw_int(&w, q.first_b + (int64_t)i * q.res_s);
    }
    gw_jw_arr_end(&w);
    for (unsigned j = 0; j < q.n_series; j++) {
        unsigned k = q.series[j];
        gw_jw_key(&w, series_names[k]);
        gw_jw_arr_begin(&w);
        for (uint32_t i = 0; i < q.points; i++) {
            const slot_t *s = &q.slots[i];
            if (!s->has) continue;
            if (k < GW_HIST_AVG_COUNT) {
                int64_t sum = s->sum[k];
                /* rounded to the nearest, halves away from zero */
                gw_jw_int(&w, s->n ? (sum >= 0 ? (sum + s->n / 2) / s->n : (sum - s->n / 2) / s->n) : 0);
            } else {
                gw_jw_int(&w, s->e_wh[k - GW_HIST_AVG_COUNT]);
            }
        }
        gw_jw_arr_end(&w);
    }
    gw_jw_obj_end(&w);
    free(q.slots);
    int n = gw_jw_finish(&w);
    return n < 0 ? GW_HIST_E_SPACE : n;
}
