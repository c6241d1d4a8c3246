/* The scenario parser: plain-text lines to a site, a plant, timed actions and expectations. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/scenario.h"
#include "scn_internal.h"

#define MAX_TOK 48u

typedef struct tok_line {
    const char *name;
    unsigned line;
    char *buf;           /* writable copy of the line (tokens point into it) */
    const char *raw;     /* the line as written, comments stripped */
    unsigned n;
    char *t[MAX_TOK];
    const char *rest[MAX_TOK]; /* rest of the raw line from token i (for JSON payloads) */
} tok_line_t;

typedef struct pending_serial {
    size_t index;        /* action or expectation index */
    uint8_t is_expect;
    uint64_t serial;
    unsigned line;
} pending_serial_t;

typedef struct parser {
    const char *name;
    alfa_scn_t *s;
    char *err;
    size_t errlen;
    int64_t cursor_ms;   /* time of the previous timed line, for "+90s" */
    uint8_t packs_declared;
    uint8_t packs_override;
    alfa_plant_pack_cfg_t tmpl;   /* site-wide pack values */
    /* pack lines are applied after the site-wide ones, whatever their order in the file */
    size_t pack_line_count;
    tok_line_t *pack_lines;
    size_t pend_count, pend_cap;
    pending_serial_t *pend;
    size_t act_cap, exp_cap;
    uint8_t have_start;
} parser_t;

static int fail(parser_t *p, unsigned line, const char *fmt, ...)
{
    int n = snprintf(p->err, p->errlen, "%s:%u: ", p->name, line);
    if (n < 0 || (size_t)n >= p->errlen) {
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------------ numbers, times */

static int parse_i64(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    char *end = NULL;
    long long v;
    if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ||
        (s[0] == '-' && s[1] == '0' && (s[2] == 'x' || s[2] == 'X'))) {
        v = strtoll(s, &end, 16);
    } else {
        v = strtoll(s, &end, 10);
    }
    if (errno != 0 || end == s || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-') {
        return -1;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_range(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v;
    if (parse_i64(s, &v) < 0 || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

/* "HH:MM", "HH:MM:SS" or "HH:MM:SS.mmm" (1 to 3 decimals) -> ms of day. */
static int parse_tod(const char *s, uint32_t *ms)
{
    unsigned h, m, sec = 0, frac = 0;
    int used = 0;
    if (sscanf(s, "%2u:%2u%n", &h, &m, &used) != 2) {
        return -1;
    }
    if (s[used] == ':') {
        int used2 = 0;
        if (sscanf(s + used + 1, "%2u%n", &sec, &used2) != 1) {
            return -1;
        }
        used += 1 + used2;
        if (s[used] == '.') {
            unsigned digits = 0;
            used++;
            while (isdigit((unsigned char)s[used]) && digits < 3u) {
                frac = frac * 10u + (unsigned)(s[used] - '0');
                digits++;
                used++;
            }
            if (digits == 0u) {
                return -1;
            }
            for (; digits < 3u; digits++) {
                frac *= 10u;
            }
        }
    }
    if (s[used] != '\0' || h > 23 || m > 59 || sec > 59 || !isdigit((unsigned char)s[0])) {
        return -1;
    }
    *ms = ((h * 60u + m) * 60u + sec) * 1000u + frac;
    return 0;
}

/* Minute of day from "HH:MM". */
static int parse_hhmm(const char *s, uint16_t *min)
{
    uint32_t ms;
    if (parse_tod(s, &ms) < 0 || ms % 60000u != 0) {
        return -1;
    }
    *min = (uint16_t)(ms / 60000u);
    return 0;
}

/* "90s", "1h30m", "500ms", "2d" -> ms; > 0. */
static int parse_dur(const char *s, int64_t *out)
{
    int64_t total = 0;
    const char *c = s;
    if (*c == '\0') {
        return -1;
    }
    while (*c) {
        if (!isdigit((unsigned char)*c)) {
            return -1;
        }
        int64_t v = 0;
        while (isdigit((unsigned char)*c)) {
            v = v * 10 + (*c - '0');
            if (v > 1000000000ll) {
                return -1;
            }
            c++;
        }
        int64_t unit;
        if (c[0] == 'm' && c[1] == 's') {
            unit = 1;
            c += 2;
        } else if (*c == 's') {
            unit = 1000;
            c++;
        } else if (*c == 'm') {
            unit = 60000;
            c++;
        } else if (*c == 'h') {
            unit = 3600000;
            c++;
        } else if (*c == 'd') {
            unit = ALFA_SCN_DAY_MS;
            c++;
        } else {
            return -1;
        }
        total += v * unit;
    }
    if (total <= 0) {
        return -1;
    }
    *out = total;
    return 0;
}

/* Percent with up to 4 decimals ("2%", "0.05%") -> ppm. */
static int parse_pct_ppm(const char *s, int64_t *ppm)
{
    int64_t whole = 0, frac = 0;
    unsigned fd = 0;
    const char *c = s;
    if (!isdigit((unsigned char)*c)) {
        return -1;
    }
    while (isdigit((unsigned char)*c)) {
        whole = whole * 10 + (*c++ - '0');
        if (whole > 100) {
            return -1;
        }
    }
    if (*c == '.') {
        c++;
        while (isdigit((unsigned char)*c)) {
            if (fd == 4) {
                return -1;
            }
            frac = frac * 10 + (*c++ - '0');
            fd++;
        }
    }
    if (c[0] != '%' || c[1] != '\0') {
        return -1;
    }
    while (fd < 4) {
        frac *= 10;
        fd++;
    }
    int64_t v = whole * 10000 + frac;
    if (v > 1000000) {
        return -1;
    }
    *ppm = v;
    return 0;
}

static int parse_onoff(const char *s, int64_t *out)
{
    if (s == NULL) {
        return -1;
    }
    if (!strcmp(s, "on") || !strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(s, "off") || !strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no")) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic, valid for years >= 1). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_date(const char *s, int64_t *days)
{
    unsigned y, m, d;
    int used = 0;
    if (sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &used) != 3 || s[used] != '\0' || y < 1970 ||
        y > 2100 || m < 1 || m > 12 || d < 1) {
        return -1;
    }
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap)) {
        return -1;
    }
    *days = days_from_civil((int64_t)y, m, d);
    return 0;
}

/* "+02:00", "-05:30", "0", "UTC" -> minutes. */
static int parse_tz(const char *s, int16_t *min)
{
    if (!strcmp(s, "0") || !strcmp(s, "UTC") || !strcmp(s, "utc")) {
        *min = 0;
        return 0;
    }
    if (s[0] != '+' && s[0] != '-') {
        return -1;
    }
    uint32_t ms;
    if (parse_tod(s + 1, &ms) < 0 || ms % 60000u != 0) {
        return -1;
    }
    int v = (int)(ms / 60000u);
    if (s[0] == '-') {
        v = -v;
    }
    if (v < -720 || v > 840) {
        return -1;
    }
    *min = (int16_t)v;
    return 0;
}

/* A time spec starting at token *i: "HH:MM[:SS]", "dayN HH:MM[:SS]", "+DUR", or (allow_end)
 * "end". Advances *i past it. */
static int parse_when(parser_t *p, tok_line_t *l, unsigned *i, int allow_end, int64_t base_ms,
                      int64_t *out)
{
    if (*i >= l->n) {
        return fail(p, l->line, "a time is missing (HH:MM, dayN HH:MM or +DURATION)");
    }
    const char *t = l->t[*i];
    if (allow_end && !strcmp(t, "end")) {
        (*i)++;
        *out = INT64_MAX;
        return 0;
    }
    if (t[0] == '+') {
        int64_t d;
        if (parse_dur(t + 1, &d) < 0) {
            return fail(p, l->line, "bad relative time '%s' (e.g. +90s, +1h30m, +500ms)", t);
        }
        (*i)++;
        *out = base_ms + d;
        return 0;
    }
    int64_t day = 1;
    if (!strncmp(t, "day", 3)) {
        if (parse_range(t + 3, 1, 366, &day) < 0) {
            return fail(p, l->line, "bad day '%s' (day1 is the start date)", t);
        }
        (*i)++;
        if (*i >= l->n) {
            return fail(p, l->line, "a time of day must follow '%s'", t);
        }
        t = l->t[*i];
    }
    uint32_t tod;
    if (parse_tod(t, &tod) < 0) {
        return fail(p, l->line, "bad time '%s' (HH:MM, HH:MM:SS or HH:MM:SS.mmm, 00:00-23:59)", t);
    }
    (*i)++;
    int64_t ms = (day - 1) * ALFA_SCN_DAY_MS + (int64_t)tod - (int64_t)p->s->start_tod_ms;
    if (ms < 0) {
        return fail(p, l->line, "time '%s' is before the start of the scenario", t);
    }
    *out = ms;
    return 0;
}

/* ------------------------------------------------------------------ JSON syntax check */

static const char *json_ws(const char *c)
{
    while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r') {
        c++;
    }
    return c;
}

static const char *json_value(const char *c, int depth);

static const char *json_string(const char *c)
{
    if (*c != '"') {
        return NULL;
    }
    c++;
    while (*c && *c != '"') {
        if ((unsigned char)*c < 0x20) {
            return NULL;
        }
        if (*c == '\\') {
            c++;
            if (*c == 'u') {
                for (int k = 1; k <= 4; k++) {
                    if (!isxdigit((unsigned char)c[k])) {
                        return NULL;
                    }
                }
                c += 4;
            } else if (!strchr("\"\\/bfnrt", *c) || *c == '\0') {
                return NULL;
            }
        }
        c++;
    }
    return *c == '"' ? c + 1 : NULL;
}

static const char *json_number(const char *c)
{
    const char *s = c;
    if (*c == '-') {
        c++;
    }
    if (!isdigit((unsigned char)*c)) {
        return NULL;
    }
    if (*c == '0') {
        c++;
    } else {
        while (isdigit((unsigned char)*c)) {
            c++;
        }
    }
    if (*c == '.') {
        c++;
        if (!isdigit((unsigned char)*c)) {
            return NULL;
        }
        while (isdigit((unsigned char)*c)) {
            c++;
        }
    }
    if (*c == 'e' || *c == 'E') {
        c++;
        if (*c == '+' || *c == '-') {
            c++;
        }
        if (!isdigit((unsigned char)*c)) {
            return NULL;
        }
        while (isdigit((unsigned char)*c)) {
            c++;
        }
    }
    return c > s ? c : NULL;
}

static const char *json_value(const char *c, int depth)
{
    if (depth > 16) {
        return NULL;
    }
    c = json_ws(c);
    if (*c == '{' || *c == '[') {
        char close = *c == '{' ? '}' : ']';
        int obj = *c == '{';
        c = json_ws(c + 1);
        if (*c == close) {
            return c + 1;
        }
        for (;;) {
            if (obj) {
                c = json_string(json_ws(c));
                if (c == NULL) {
                    return NULL;
                }
                c = json_ws(c);
                if (*c != ':') {
                    return NULL;
                }
                c++;
            }
            c = json_value(c, depth + 1);
            if (c == NULL) {
                return NULL;
            }
            c = json_ws(c);
            if (*c == ',') {
                c++;
                continue;
            }
            return *c == close ? c + 1 : NULL;
        }
    }
    if (*c == '"') {
        return json_string(c);
    }
    if (!strncmp(c, "true", 4)) {
        return c + 4;
    }
    if (!strncmp(c, "false", 5)) {
        return c + 5;
    }
    if (!strncmp(c, "null", 4)) {
        return c + 4;
    }
    return json_number(c);
}

int alfa_scn_json_object_ok(const char *text)
{
    const char *c = json_ws(text);
    if (*c != '{') {
        return 0;
    }
    c = json_value(c, 0);
    return c != NULL && *json_ws(c) == '\0';
}

/* ------------------------------------------------------------------ tokenizer */

static int tokenize(tok_line_t *l, const char *name, unsigned line, const char *text, size_t len)
{
    memset(l, 0, sizeof(*l));
    l->name = name;
    l->line = line;
    /* One allocation: the raw line (comment stripped) followed by the token buffer. */
    char *mem = malloc(2 * len + 2);
    if (mem == NULL) {
        return -1;
    }
    memcpy(mem, text, len);
    mem[len] = '\0';
    /* A '#' starts a comment, except inside a JSON string. */
    int in_str = 0;
    for (size_t k = 0; k < len; k++) {
        if (mem[k] == '"' && (k == 0 || mem[k - 1] != '\\')) {
            in_str = !in_str;
        } else if (mem[k] == '#' && !in_str) {
            mem[k] = '\0';
            break;
        }
    }
    size_t rl = strlen(mem);
    while (rl > 0 && isspace((unsigned char)mem[rl - 1])) {
        mem[--rl] = '\0';
    }
    char *buf = mem + len + 1;
    memcpy(buf, mem, rl + 1);
    l->raw = mem;
    l->buf = mem;
    char *c = buf;
    while (*c) {
        while (*c && isspace((unsigned char)*c)) {
            c++;
        }
        if (!*c) {
            break;
        }
        if (l->n == MAX_TOK) {
            return -2;
        }
        l->rest[l->n] = l->raw + (c - buf);
        l->t[l->n++] = c;
        while (*c && !isspace((unsigned char)*c)) {
            c++;
        }
        if (*c) {
            *c++ = '\0';
        }
    }
    return 0;
}

static void tok_free(tok_line_t *l)
{
    free(l->buf);
    l->buf = NULL;
}

/* ------------------------------------------------------------------ site and plant lines */

static int parse_windows(parser_t *p, tok_line_t *l, unsigned *i, alfa_plant_switched_t *sw)
{
    sw->window_count = 0;
    while (*i < l->n && !strcmp(l->t[*i], "from")) {
        if (sw->window_count == ALFA_PLANT_MAX_WINDOWS) {
            return fail(p, l->line, "at most %u schedule windows", ALFA_PLANT_MAX_WINDOWS);
        }
        alfa_plant_window_t *w = &sw->windows[sw->window_count];
        if (*i + 3 >= l->n || strcmp(l->t[*i + 2], "to") || parse_hhmm(l->t[*i + 1], &w->from_min) < 0 ||
            parse_hhmm(l->t[*i + 3], &w->to_min) < 0) {
            return fail(p, l->line, "a schedule window is 'from HH:MM to HH:MM'");
        }
        sw->window_count++;
        *i += 4;
    }
    return 0;
}

/* Key/value pairs that describe one pack's plant ("soc 80 capacity 10000 peak 5000 ..."). */
static int parse_pack_kv(parser_t *p, tok_line_t *l, unsigned i, alfa_plant_pack_cfg_t *pc,
                         uint64_t *serial)
{
    for (; i < l->n; i += 2) {
        const char *k = l->t[i];
        const char *v = i + 1 < l->n ? l->t[i + 1] : NULL;
        int64_t x;
        if (v == NULL) {
            return fail(p, l->line, "'%s' needs a value", k);
        }
        if (!strcmp(k, "serial") && serial != NULL) {
            uint64_t sv;
            if (parse_u64(v, &sv) < 0 || sv == 0 || sv > 0xFFFFFFFFFFFFull) {
                return fail(p, l->line, "serial '%s' must be 1..0xFFFFFFFFFFFF (48 bits)", v);
            }
            *serial = sv;
        } else if (!strcmp(k, "soc")) {
            if (parse_range(v, 0, 100, &x) < 0) {
                return fail(p, l->line, "soc '%s' must be 0..100 (%%)", v);
            }
            pc->battery.soc_init_pct = (uint8_t)x;
        } else if (!strcmp(k, "capacity")) {
            if (parse_range(v, 1, 1000000, &x) < 0) {
                return fail(p, l->line, "capacity '%s' must be 1..1000000 (Wh)", v);
            }
            pc->battery.capacity_wh = (uint32_t)x;
        } else if (!strcmp(k, "resistance")) {
            if (parse_range(v, 0, 1000, &x) < 0) {
                return fail(p, l->line, "resistance '%s' must be 0..1000 (mOhm)", v);
            }
            pc->battery.r_int_mohm = (uint16_t)x;
        } else if (!strcmp(k, "max_charge") || !strcmp(k, "max_discharge") ||
                   !strcmp(k, "grid_charge") || !strcmp(k, "peak")) {
            if (parse_range(v, 0, 100000, &x) < 0) {
                return fail(p, l->line, "%s '%s' must be 0..100000 (W)", k, v);
            }
            if (!strcmp(k, "max_charge")) {
                pc->battery.max_charge_w = (int32_t)x;
            } else if (!strcmp(k, "max_discharge")) {
                pc->battery.max_discharge_w = (int32_t)x;
            } else if (!strcmp(k, "grid_charge")) {
                pc->battery.grid_charge_w = (int32_t)x;
            } else {
                pc->solar.peak_w = (int32_t)x;
            }
        } else if (!strcmp(k, "cells")) {
            if (parse_range(v, 1, 32, &x) < 0) {
                return fail(p, l->line, "cells '%s' must be 1..32", v);
            }
            pc->battery.cells = (uint8_t)x;
        } else if (!strcmp(k, "auto_alarms")) {
            if (parse_onoff(v, &x) < 0) {
                return fail(p, l->line, "auto_alarms takes on or off");
            }
            pc->battery.auto_alarms = (uint8_t)x;
        } else if (!strcmp(k, "pool") || !strcmp(k, "heater")) {
            if (parse_range(v, 0, 100000, &x) < 0) {
                return fail(p, l->line, "%s '%s' must be 0..100000 (W)", k, v);
            }
            (!strcmp(k, "pool") ? &pc->pool : &pc->heater)->p_w = (int32_t)x;
        } else {
            return fail(p, l->line, "unknown pack property '%s'", k);
        }
    }
    return 0;
}

static int parse_solar(parser_t *p, tok_line_t *l)
{
    alfa_plant_solar_t *s = &p->tmpl.solar;
    for (unsigned i = 1; i < l->n; i += 2) {
        const char *k = l->t[i];
        const char *v = i + 1 < l->n ? l->t[i + 1] : NULL;
        int64_t x;
        if (v == NULL) {
            return fail(p, l->line, "'%s' needs a value", k);
        }
        if (!strcmp(k, "peak")) {
            if (parse_range(v, 0, 100000, &x) < 0) {
                return fail(p, l->line, "solar peak '%s' must be 0..100000 (W)", v);
            }
            s->peak_w = (int32_t)x;
        } else if (!strcmp(k, "sunrise") || !strcmp(k, "sunset")) {
            uint16_t m;
            if (parse_hhmm(v, &m) < 0) {
                return fail(p, l->line, "%s '%s' must be HH:MM", k, v);
            }
            if (!strcmp(k, "sunrise")) {
                s->sunrise_min = m;
            } else {
                s->sunset_min = m;
            }
        } else if (!strcmp(k, "clouds")) {
            if (parse_range(v, 0, 100, &x) < 0) {
                return fail(p, l->line, "clouds '%s' must be 0..100 (%% of dimming at most)", v);
            }
            s->cloud_pct = (uint8_t)x;
        } else {
            return fail(p, l->line, "unknown solar property '%s' (peak, sunrise, sunset, clouds)", k);
        }
    }
    if (s->sunset_min <= s->sunrise_min) {
        return fail(p, l->line, "sunset must be after sunrise");
    }
    return 0;
}

static int parse_house(parser_t *p, tok_line_t *l)
{
    alfa_plant_cfg_t *pc = &p->s->plant;
    int64_t x;
    if (l->n == 3 && !strcmp(l->t[1], "base")) {
        if (parse_range(l->t[2], 0, 1000000, &x) < 0) {
            return fail(p, l->line, "house base '%s' must be 0..1000000 (W)", l->t[2]);
        }
        pc->base_load_w = (int32_t)x;
        return 0;
    }
    if (l->n >= 7 && !strcmp(l->t[1], "load")) {
        if (pc->load_count == ALFA_PLANT_MAX_LOADS) {
            return fail(p, l->line, "at most %u scheduled house loads", ALFA_PLANT_MAX_LOADS);
        }
        alfa_plant_load_t *ld = &pc->loads[pc->load_count];
        memset(ld, 0, sizeof(*ld));
        if (parse_range(l->t[2], 0, 1000000, &x) < 0) {
            return fail(p, l->line, "house load '%s' must be 0..1000000 (W)", l->t[2]);
        }
        ld->p_w = (int32_t)x;
        if (strcmp(l->t[3], "from") || strcmp(l->t[5], "to") ||
            parse_hhmm(l->t[4], &ld->when.from_min) < 0 || parse_hhmm(l->t[6], &ld->when.to_min) < 0) {
            return fail(p, l->line, "a house load is 'house load W from HH:MM to HH:MM [day N]'");
        }
        unsigned i = 7;
        if (i < l->n) {
            if (i + 2 != l->n || strcmp(l->t[i], "day") || parse_range(l->t[i + 1], 1, 366, &x) < 0) {
                return fail(p, l->line, "after the window only 'day N' (N = 1..366) may follow");
            }
            ld->day = (uint16_t)x;
        }
        pc->load_count++;
        return 0;
    }
    return fail(p, l->line, "house takes 'base W' or 'load W from HH:MM to HH:MM [day N]'");
}

static int parse_switched(parser_t *p, tok_line_t *l, alfa_plant_switched_t *sw)
{
    int64_t x;
    if (l->n < 2 || parse_range(l->t[1], 0, 100000, &x) < 0) {
        return fail(p, l->line, "%s needs a power 0..100000 (W), then 'from HH:MM to HH:MM' windows",
                    l->t[0]);
    }
    sw->p_w = (int32_t)x;
    unsigned i = 2;
    if (parse_windows(p, l, &i, sw) < 0) {
        return -1;
    }
    if (i != l->n) {
        return fail(p, l->line, "unexpected '%s' (windows are 'from HH:MM to HH:MM')", l->t[i]);
    }
    return 0;
}

/* ------------------------------------------------------------------ targets, actions, expectations */

static int remember_serial(parser_t *p, size_t index, int is_expect, uint64_t serial, unsigned line)
{
    if (p->pend_count == p->pend_cap) {
        size_t cap = p->pend_cap ? p->pend_cap * 2 : 8;
        pending_serial_t *n = realloc(p->pend, cap * sizeof(*n));
        if (n == NULL) {
            return -1;
        }
        p->pend = n;
        p->pend_cap = cap;
    }
    p->pend[p->pend_count++] = (pending_serial_t){index, (uint8_t)is_expect, serial, line};
    return 0;
}

/* "all", "pack N" (1-based), "serial 0x..." or (allow_site) "site". */
static int parse_target(parser_t *p, tok_line_t *l, unsigned *i, int allow_site,
                        alfa_scn_target_t *t, uint64_t *serial)
{
    *serial = 0;
    if (*i >= l->n) {
        return fail(p, l->line, "a target is missing (all, pack N, serial 0x...%s)",
                    allow_site ? ", site" : "");
    }
    const char *w = l->t[*i];
    if (!strcmp(w, "all")) {
        t->kind = ALFA_SCN_TGT_ALL;
        (*i)++;
        return 0;
    }
    if (allow_site && !strcmp(w, "site")) {
        t->kind = ALFA_SCN_TGT_SITE;
        (*i)++;
        return 0;
    }
    if (!strcmp(w, "pack") || !strcmp(w, "serial")) {
        if (*i + 1 >= l->n) {
            return fail(p, l->line, "'%s' needs a %s", w, !strcmp(w, "pack") ? "number" : "serial");
        }
        const char *v = l->t[*i + 1];
        t->kind = ALFA_SCN_TGT_PACK;
        if (!strcmp(w, "pack")) {
            int64_t n;
            if (parse_range(v, 1, ALFA_SCN_MAX_PACKS, &n) < 0) {
                return fail(p, l->line, "pack '%s' must be a pack number 1..%u", v, ALFA_SCN_MAX_PACKS);
            }
            t->pack = (uint8_t)(n - 1);
        } else {
            if (parse_u64(v, serial) < 0 || *serial == 0 || *serial > 0xFFFFFFFFFFFFull) {
                return fail(p, l->line, "serial '%s' must be 1..0xFFFFFFFFFFFF", v);
            }
        }
        *i += 2;
        return 0;
    }
    return fail(p, l->line, "unknown target '%s' (all, pack N, serial 0x...%s)", w,
                allow_site ? ", site" : "");
}

static alfa_scn_action_t *new_action(parser_t *p, tok_line_t *l, int64_t at)
{
    alfa_scn_t *s = p->s;
    if (s->action_count == p->act_cap) {
        size_t cap = p->act_cap ? p->act_cap * 2 : 16;
        alfa_scn_action_t *n = realloc(s->actions, cap * sizeof(*n));
        if (n == NULL) {
            return NULL;
        }
        s->actions = n;
        p->act_cap = cap;
    }
    alfa_scn_action_t *a = &s->actions[s->action_count++];
    memset(a, 0, sizeof(*a));
    a->at_ms = at;
    a->line = l->line;
    snprintf(a->text, sizeof(a->text), "%s", l->raw);
    return a;
}

static alfa_scn_expect_t *new_expect(parser_t *p, tok_line_t *l)
{
    alfa_scn_t *s = p->s;
    if (s->expect_count == p->exp_cap) {
        size_t cap = p->exp_cap ? p->exp_cap * 2 : 16;
        alfa_scn_expect_t *n = realloc(s->expects, cap * sizeof(*n));
        if (n == NULL) {
            return NULL;
        }
        s->expects = n;
        p->exp_cap = cap;
    }
    alfa_scn_expect_t *e = &s->expects[s->expect_count++];
    memset(e, 0, sizeof(*e));
    e->line = l->line;
    snprintf(e->text, sizeof(e->text), "%s", l->raw);
    return e;
}

static int parse_ota_image(parser_t *p, tok_line_t *l);
static int parse_ota_action(parser_t *p, tok_line_t *l, unsigned i, int64_t at);

static int parse_action(parser_t *p, tok_line_t *l, unsigned i, int64_t at)
{
    const char *verb = l->t[i++];
    alfa_scn_target_t tgt = {ALFA_SCN_TGT_ALL, 0};
    uint64_t serial = 0;
    int64_t value = 0;
    uint8_t kind;
    const char *cmd = NULL, *json = "{}";

    if (!strncmp(verb, "ota_", 4)) {
        return parse_ota_action(p, l, i - 1u, at);
    }
    if (!strcmp(verb, "command")) {
        if (parse_target(p, l, &i, 0, &tgt, &serial) < 0) {
            return -1;
        }
        if (i >= l->n) {
            return fail(p, l->line, "command needs a name (set_mode, set_grid_limit, ...)");
        }
        cmd = l->t[i++];
        if (!alfa_scn_command_known(cmd)) {
            return fail(p, l->line, "unknown command '%s'", cmd);
        }
        if (i < l->n) {
            json = l->rest[i];
            if (!alfa_scn_json_object_ok(json)) {
                return fail(p, l->line, "payload of '%s' is not a valid JSON object: %s", cmd, json);
            }
            if (strlen(json) >= ALFA_SCN_JSON_MAX) {
                return fail(p, l->line, "payload longer than %u bytes", ALFA_SCN_JSON_MAX - 1u);
            }
        }
        i = l->n;
        kind = ALFA_SCN_ACT_COMMAND;
    } else if (!strcmp(verb, "bms_silent") || !strcmp(verb, "power") || !strcmp(verb, "can") ||
               !strcmp(verb, "bms_alarm") || !strcmp(verb, "modbus_noise")) {
        if (parse_target(p, l, &i, 0, &tgt, &serial) < 0) {
            return -1;
        }
        const char *v = i < l->n ? l->t[i] : NULL;
        if (!strcmp(verb, "bms_alarm")) {
            if (v == NULL || parse_range(v, 0, 0xFFFF, &value) < 0) {
                return fail(p, l->line, "bms_alarm needs alarm bits 0..0xFFFF (0 clears)");
            }
            kind = ALFA_SCN_ACT_BMS_ALARM;
        } else if (!strcmp(verb, "modbus_noise")) {
            if (v == NULL || parse_pct_ppm(v, &value) < 0) {
                return fail(p, l->line, "modbus_noise needs a byte error rate 0%%..100%% (e.g. 0.5%%)");
            }
            kind = ALFA_SCN_ACT_MODBUS_NOISE;
        } else {
            if (parse_onoff(v, &value) < 0) {
                return fail(p, l->line, "%s needs on or off", verb);
            }
            kind = !strcmp(verb, "power") ? ALFA_SCN_ACT_POWER
                   : !strcmp(verb, "can") ? ALFA_SCN_ACT_CAN_LINK
                                          : ALFA_SCN_ACT_BMS_SILENT;
        }
        i++;
    } else if (!strcmp(verb, "can_errors")) {
        if (i >= l->n || parse_range(l->t[i], 1, 10000, &value) < 0) {
            return fail(p, l->line, "can_errors needs a count 1..10000");
        }
        i++;
        kind = ALFA_SCN_ACT_CAN_ERRORS;
    } else if (!strcmp(verb, "bms_voltage")) {
        if (parse_target(p, l, &i, 0, &tgt, &serial) < 0) {
            return -1;
        }
        const char *v = i < l->n ? l->t[i] : "";
        if (!strcmp(v, "true")) {
            value = -1;
        } else if (parse_range(v, 0, 0xFFFF * 10, &value) < 0) {
            return fail(p, l->line, "bms_voltage needs a pack voltage in mV (0..655350, what the register can say) or 'true'");
        }
        i++;
        kind = ALFA_SCN_ACT_BMS_VOLTAGE;
    } else if (!strcmp(verb, "time_shift")) {
        const char *v = i < l->n ? l->t[i] : "";
        if ((v[0] != '+' && v[0] != '-') || parse_dur(v + 1, &value) < 0) {
            return fail(p, l->line, "time_shift needs +DURATION or -DURATION (e.g. -6h)");
        }
        value = v[0] == '-' ? -value : value;
        i++;
        kind = ALFA_SCN_ACT_TIME_SHIFT;
    } else if (!strcmp(verb, "gateway")) {
        if (i >= l->n || parse_onoff(l->t[i], &value) < 0) {
            return fail(p, l->line, "gateway needs on or off");
        }
        i++;
        kind = ALFA_SCN_ACT_GATEWAY;
    } else {
        return fail(p, l->line, "unknown action '%s'", verb);
    }
    if (i != l->n) {
        return fail(p, l->line, "unexpected '%s' at the end of the line", l->t[i]);
    }
    alfa_scn_action_t *a = new_action(p, l, at);
    if (a == NULL) {
        return fail(p, l->line, "out of memory");
    }
    a->kind = kind;
    a->target = tgt;
    a->value = value;
    if (cmd != NULL) {
        snprintf(a->name, sizeof(a->name), "%s", cmd);
        snprintf(a->json, sizeof(a->json), "%s", json);
    }
    if (serial != 0 && remember_serial(p, p->s->action_count - 1, 0, serial, l->line) < 0) {
        return fail(p, l->line, "out of memory");
    }
    return 0;
}

static int parse_expect(parser_t *p, tok_line_t *l, unsigned i, int64_t from, int64_t to)
{
    alfa_scn_target_t tgt;
    uint64_t serial;
    uint8_t ever = 0;
    if (i < l->n && !strcmp(l->t[i], "ever")) {
        if (from == to) {
            return fail(p, l->line, "'ever' needs an interval (from ... to ...)");
        }
        ever = 1;
        i++;
    }
    if (parse_target(p, l, &i, 1, &tgt, &serial) < 0) {
        return -1;
    }
    if (i >= l->n) {
        return fail(p, l->line, "expect needs a field after the target");
    }
    int site = tgt.kind == ALFA_SCN_TGT_SITE;
    const alfa_scn_field_t *f = alfa_scn_field_find(l->t[i], site);
    if (f == NULL) {
        return fail(p, l->line, "unknown %s field '%s'", site ? "site" : "pack", l->t[i]);
    }
    i++;
    int setting = -1;
    if (!strcmp(f->name, "setting")) {
        if (i >= l->n || (setting = alfa_settings_find(l->t[i], strlen(l->t[i]))) < 0) {
            return fail(p, l->line, "'setting' needs a setting name (eco_limit_w, grid_limit_kwh, ...)");
        }
        i++;
    }
    if (i >= l->n) {
        return fail(p, l->line, "expect needs an operator (==, !=, <=, >=, <, >, changes <=)");
    }
    uint8_t op;
    const char *o = l->t[i++];
    if (!strcmp(o, "==")) {
        op = ALFA_SCN_OP_EQ;
    } else if (!strcmp(o, "!=")) {
        op = ALFA_SCN_OP_NE;
    } else if (!strcmp(o, "<=")) {
        op = ALFA_SCN_OP_LE;
    } else if (!strcmp(o, ">=")) {
        op = ALFA_SCN_OP_GE;
    } else if (!strcmp(o, "<")) {
        op = ALFA_SCN_OP_LT;
    } else if (!strcmp(o, ">")) {
        op = ALFA_SCN_OP_GT;
    } else if (!strcmp(o, "changes")) {
        if (i >= l->n || strcmp(l->t[i], "<=")) {
            return fail(p, l->line, "'changes' is followed by '<= N'");
        }
        i++;
        op = ALFA_SCN_OP_CHANGES_LE;
        if (from == to || ever) {
            return fail(p, l->line, "'changes <= N' needs an interval (from ... to ...) and no 'ever'");
        }
    } else {
        return fail(p, l->line, "unknown operator '%s' (==, !=, <=, >=, <, >, changes <=)", o);
    }
    if (i >= l->n) {
        return fail(p, l->line, "expect needs a value after the operator");
    }
    int64_t v;
    if (op == ALFA_SCN_OP_CHANGES_LE) {
        if (parse_range(l->t[i], 0, 1000000, &v) < 0) {
            return fail(p, l->line, "changes count '%s' must be 0..1000000", l->t[i]);
        }
    } else if (alfa_scn_field_value(f, l->t[i], &v) < 0) {
        return fail(p, l->line, "bad value '%s' for %s", l->t[i], f->name);
    }
    i++;
    if (i != l->n) {
        return fail(p, l->line, "unexpected '%s' at the end of the line", l->t[i]);
    }
    alfa_scn_expect_t *e = new_expect(p, l);
    if (e == NULL) {
        return fail(p, l->line, "out of memory");
    }
    e->from_ms = from;
    e->to_ms = to;
    e->target = tgt;
    e->field = f;
    e->setting = (int16_t)setting;
    e->ever = ever;
    e->op = op;
    e->value = v;
    if (serial != 0 && remember_serial(p, p->s->expect_count - 1, 1, serial, l->line) < 0) {
        return fail(p, l->line, "out of memory");
    }
    return 0;
}

static int parse_timed(parser_t *p, tok_line_t *l)
{
    unsigned i = 1;
    int64_t from, to;
    if (!p->have_start) {
        return fail(p, l->line, "'start YYYY-MM-DD HH:MM' must come before the first timed line");
    }
    if (!strcmp(l->t[0], "at")) {
        if (parse_when(p, l, &i, 0, p->cursor_ms, &from) < 0) {
            return -1;
        }
        to = from;
    } else {
        if (parse_when(p, l, &i, 0, p->cursor_ms, &from) < 0) {
            return -1;
        }
        if (i >= l->n || strcmp(l->t[i], "to")) {
            return fail(p, l->line, "an interval is 'from TIME to TIME expect ...'");
        }
        i++;
        if (parse_when(p, l, &i, 1, from, &to) < 0) {
            return -1;
        }
        if (to <= from) {
            return fail(p, l->line, "the interval ends before it starts");
        }
    }
    p->cursor_ms = from;
    if (i >= l->n) {
        return fail(p, l->line, "nothing to do after the time");
    }
    if (!strcmp(l->t[i], "expect")) {
        return parse_expect(p, l, i + 1, from, to);
    }
    if (from != to) {
        return fail(p, l->line, "only 'expect' can span an interval; actions use 'at TIME'");
    }
    return parse_action(p, l, i, from);
}

static int parse_line(parser_t *p, tok_line_t *l)
{
    alfa_scn_t *s = p->s;
    const char *k = l->t[0];
    int64_t x;
    if (!strcmp(k, "at") || !strcmp(k, "from")) {
        return parse_timed(p, l);
    }
    if (!strcmp(k, "packs")) {
        if (l->n != 2 || parse_range(l->t[1], 1, ALFA_SCN_MAX_PACKS, &x) < 0) {
            return fail(p, l->line, "packs needs a count 1..%u", ALFA_SCN_MAX_PACKS);
        }
        p->packs_declared = (uint8_t)x;
        return 0;
    }
    if (!strcmp(k, "pack")) {
        if (l->n < 2 || parse_range(l->t[1], 1, ALFA_SCN_MAX_PACKS, &x) < 0) {
            return fail(p, l->line, "pack needs a pack number 1..%u", ALFA_SCN_MAX_PACKS);
        }
        if (l->n < 4) {
            return fail(p, l->line, "pack N needs properties (serial, soc, capacity, peak, ...)");
        }
        tok_line_t *n = realloc(p->pack_lines, (p->pack_line_count + 1) * sizeof(*n));
        if (n == NULL) {
            return fail(p, l->line, "out of memory");
        }
        p->pack_lines = n;
        p->pack_lines[p->pack_line_count++] = *l;
        l->buf = NULL; /* ownership moved */
        return 0;
    }
    if (!strcmp(k, "timezone")) {
        if (l->n != 2 || parse_tz(l->t[1], &s->utc_offset_min) < 0) {
            return fail(p, l->line, "timezone is an UTC offset: +HH:MM or -HH:MM (-12:00..+14:00) or UTC");
        }
        if (p->have_start) {
            return fail(p, l->line, "timezone must come before start");
        }
        return 0;
    }
    if (!strcmp(k, "start")) {
        int64_t days;
        uint32_t tod;
        if (l->n != 3 || parse_date(l->t[1], &days) < 0 || parse_tod(l->t[2], &tod) < 0) {
            return fail(p, l->line, "start is 'start YYYY-MM-DD HH:MM' (local time)");
        }
        if (p->have_start) {
            return fail(p, l->line, "start given twice");
        }
        s->start_tod_ms = tod;
        s->start_unix_s = days * 86400 + tod / 1000 - (int64_t)s->utc_offset_min * 60;
        p->have_start = 1;
        return 0;
    }
    if (!strcmp(k, "duration")) {
        if (l->n != 2 || parse_dur(l->t[1], &x) < 0 || x > 366 * ALFA_SCN_DAY_MS) {
            return fail(p, l->line, "duration is e.g. 24h, 90m, 2d (at most 366d)");
        }
        s->duration_ms = x;
        return 0;
    }
    if (!strcmp(k, "seed")) {
        uint64_t v;
        if (l->n != 2 || parse_u64(l->t[1], &v) < 0) {
            return fail(p, l->line, "seed needs a non-negative integer");
        }
        s->seed = v;
        s->seed_given = 1;
        return 0;
    }
    if (!strcmp(k, "step")) {
        if (l->n != 2 || parse_dur(l->t[1], &x) < 0 || x > 1000) {
            return fail(p, l->line, "step is 1ms..1000ms (e.g. 10ms)");
        }
        s->step_us = (uint32_t)x * 1000u;
        return 0;
    }
    if (!strcmp(k, "mains")) {
        if (l->n != 2 || parse_range(l->t[1], 100, 260, &x) < 0) {
            return fail(p, l->line, "mains needs the RMS voltage 100..260 (V)");
        }
        s->plant.mains_mv = (uint32_t)x * 1000u;
        return 0;
    }
    if (!strcmp(k, "relays")) {
        if (l->n != 2 || (strcmp(l->t[1], "no") && strcmp(l->t[1], "nc"))) {
            return fail(p, l->line, "relays is 'no' (energised = closed) or 'nc'");
        }
        s->plant.relays_nc = !strcmp(l->t[1], "nc");
        return 0;
    }
    if (!strcmp(k, "gateway")) {
        if (l->n != 2 || parse_onoff(l->t[1], &x) < 0) {
            return fail(p, l->line, "gateway needs on or off");
        }
        s->gateway_on = (uint8_t)x;
        return 0;
    }
    if (!strcmp(k, "solar")) {
        return parse_solar(p, l);
    }
    if (!strcmp(k, "house")) {
        return parse_house(p, l);
    }
    if (!strcmp(k, "pool")) {
        return parse_switched(p, l, &p->tmpl.pool);
    }
    if (!strcmp(k, "heater")) {
        return parse_switched(p, l, &p->tmpl.heater);
    }
    if (!strcmp(k, "battery")) {
        return parse_pack_kv(p, l, 1, &p->tmpl, NULL);
    }
    if (!strcmp(k, "ota")) {
        return parse_ota_image(p, l);
    }
    return fail(p, l->line, "unknown keyword '%s'", k);
}

/* ------------------------------------------------------------------ the whole file */

uint64_t alfa_scn_default_serial(unsigned i)
{
    return 0xA4CF12000000ull + (uint64_t)i + 1u;
}

void alfa_scn_free(alfa_scn_t *s)
{
    free(s->actions);
    free(s->expects);
    s->actions = NULL;
    s->expects = NULL;
    s->action_count = 0;
    s->expect_count = 0;
}

static int cmp_action(const void *a, const void *b)
{
    const alfa_scn_action_t *x = a, *y = b;
    if (x->at_ms != y->at_ms) {
        return x->at_ms < y->at_ms ? -1 : 1;
    }
    return x->line < y->line ? -1 : (x->line > y->line);
}

static int finish(parser_t *p)
{
    alfa_scn_t *s = p->s;
    if (!p->have_start) {
        return fail(p, 1, "no 'start YYYY-MM-DD HH:MM' line");
    }
    unsigned count = p->packs_override ? p->packs_override : (p->packs_declared ? p->packs_declared : 1u);
    s->pack_count = (uint8_t)count;
    s->plant.pack_count = (uint8_t)count;
    s->plant.seed = s->seed;
    for (unsigned i = 0; i < count; i++) {
        s->plant.packs[i] = p->tmpl;
        s->packs[i].serial = alfa_scn_default_serial(i);
    }
    for (size_t k = 0; k < p->pack_line_count; k++) {
        tok_line_t *l = &p->pack_lines[k];
        int64_t n;
        if (parse_range(l->t[1], 1, ALFA_SCN_MAX_PACKS, &n) < 0) {
            /* The line was kept only after this same check: never taken, but never unchecked. */
            return fail(p, l->line, "pack needs a pack number 1..%u", ALFA_SCN_MAX_PACKS);
        }
        if ((unsigned)n > count) {
            if (p->packs_override) {
                continue; /* --packs asked for fewer packs: their lines do not apply */
            }
            return fail(p, l->line, "pack %u is beyond the site's %u packs ('packs N')", (unsigned)n,
                        count);
        }
        if (parse_pack_kv(p, l, 2, &s->plant.packs[n - 1], &s->packs[n - 1].serial) < 0) {
            return -1;
        }
    }
    for (unsigned i = 0; i < count; i++) {
        for (unsigned j = 0; j < i; j++) {
            if (s->packs[i].serial == s->packs[j].serial) {
                return fail(p, 1, "packs %u and %u have the same serial 0x%012" PRIX64, j + 1, i + 1,
                            s->packs[i].serial);
            }
        }
    }
    for (size_t k = 0; k < p->pend_count; k++) {
        const pending_serial_t *ps = &p->pend[k];
        unsigned found = count;
        for (unsigned i = 0; i < count; i++) {
            if (s->packs[i].serial == ps->serial) {
                found = i;
            }
        }
        if (found == count) {
            return fail(p, ps->line, "no pack has serial 0x%012" PRIX64, ps->serial);
        }
        if (ps->is_expect) {
            s->expects[ps->index].target.pack = (uint8_t)found;
        } else {
            s->actions[ps->index].target.pack = (uint8_t)found;
        }
    }
    for (size_t k = 0; k < s->action_count; k++) {
        const alfa_scn_action_t *a = &s->actions[k];
        if (a->target.kind == ALFA_SCN_TGT_PACK && a->target.pack >= count) {
            return fail(p, a->line, "pack %u is beyond the site's %u packs", a->target.pack + 1u, count);
        }
        if (a->at_ms > s->duration_ms) {
            return fail(p, a->line, "this action comes after the end of the run (duration)");
        }
    }
    for (size_t k = 0; k < s->expect_count; k++) {
        const alfa_scn_expect_t *e = &s->expects[k];
        if (e->target.kind == ALFA_SCN_TGT_PACK && e->target.pack >= count) {
            return fail(p, e->line, "pack %u is beyond the site's %u packs", e->target.pack + 1u, count);
        }
        if (e->from_ms > s->duration_ms) {
            return fail(p, e->line, "this expectation starts after the end of the run (duration)");
        }
    }
    if (alfa_plant_init(&(alfa_plant_t){0}, &s->plant) < 0) {
        return fail(p, 1, "the plant description is inconsistent (check solar, battery, loads)");
    }
    /* Stable order by time: qsort is not stable, so ties are broken by line number. */
    if (s->action_count > 1) {
        qsort(s->actions, s->action_count, sizeof(s->actions[0]), cmp_action);
    }
    return 0;
}

int alfa_scn_parse_string(const char *name, const char *text, uint8_t packs_override,
                          alfa_scn_t *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->file, sizeof(s->file), "%s", name);
    alfa_plant_defaults(&s->plant, 1);
    s->duration_ms = ALFA_SCN_DAY_MS;
    s->step_us = 10000u;
    s->seed = 1;
    s->gateway_on = 1;
    parser_t p;
    memset(&p, 0, sizeof(p));
    p.name = name;
    p.s = s;
    p.err = err;
    p.errlen = errlen;
    p.tmpl = s->plant.packs[0];
    p.packs_override = packs_override;
    if (packs_override > ALFA_SCN_MAX_PACKS) {
        snprintf(err, errlen, "%s: --packs must be 1..%u", name, ALFA_SCN_MAX_PACKS);
        return -1;
    }
    int rc = 0;
    unsigned line = 0;
    const char *c = text;
    while (rc == 0 && *c) {
        const char *eol = strchr(c, '\n');
        size_t len = eol ? (size_t)(eol - c) : strlen(c);
        line++;
        tok_line_t l;
        int tr = tokenize(&l, name, line, c, len);
        if (tr == -1) {
            rc = fail(&p, line, "out of memory");
        } else if (tr == -2) {
            rc = fail(&p, line, "too many words on one line (at most %u)", MAX_TOK);
        } else if (l.n > 0) {
            rc = parse_line(&p, &l);
        }
        tok_free(&l);
        c = eol ? eol + 1 : c + len;
    }
    if (rc == 0) {
        rc = finish(&p);
    }
    for (size_t k = 0; k < p.pack_line_count; k++) {
        tok_free(&p.pack_lines[k]);
    }
    free(p.pack_lines);
    free(p.pend);
    if (rc < 0) {
        alfa_scn_free(s);
    }
    return rc;
}

int alfa_scn_parse_file(const char *path, uint8_t packs_override, alfa_scn_t *s, char *err,
                        size_t errlen)
{
    memset(s, 0, sizeof(*s));
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 0, len = 0;
    char *buf = NULL;
    int rc = 0;
    for (;;) {
        if (len + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *n = ncap > (1u << 24) ? NULL : realloc(buf, ncap);
            if (n == NULL) {
                rc = -1;
                break;
            }
            buf = n;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    if (rc < 0 || ferror(f)) {
        snprintf(err, errlen, "%s: cannot read (too large or I/O error)", path);
        rc = -1;
    }
    fclose(f);
    if (rc == 0) {
        buf[len] = '\0';
        if (memchr(buf, '\0', len) != NULL) {
            snprintf(err, errlen, "%s: not a text file (NUL byte)", path);
            rc = -1;
        } else {
            rc = alfa_scn_parse_string(path, buf, packs_override, s, err, errlen);
        }
    }
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ firmware update (docs/scenarios.md) */

/* ota image NAME version X.Y.Z size BYTES [counter N] [hw_class N] [device_type N]
 *           [unsigned] [tampered] [other_key] */
static int parse_ota_image(parser_t *p, tok_line_t *l)
{
    alfa_scn_t *s = p->s;
    if (l->n < 3 || strcmp(l->t[1], "image")) {
        return fail(p, l->line, "ota lines are 'ota image NAME version X.Y.Z size BYTES ...'");
    }
    if (s->ota_image_count >= ALFA_SCN_OTA_IMAGES_MAX) {
        return fail(p, l->line, "at most %u ota images", ALFA_SCN_OTA_IMAGES_MAX);
    }
    alfa_scn_ota_image_t im;
    memset(&im, 0, sizeof(im));
    im.device_type = 1;
    im.hw_class = 1;
    im.counter = 1;
    im.line = l->line;
    if (strlen(l->t[2]) >= sizeof(im.name)) {
        return fail(p, l->line, "image name too long");
    }
    snprintf(im.name, sizeof(im.name), "%s", l->t[2]);
    for (size_t k = 0; k < s->ota_image_count; k++) {
        if (!strcmp(s->ota_images[k].name, im.name)) {
            return fail(p, l->line, "ota image '%s' defined twice", im.name);
        }
    }
    int have_version = 0;
    for (unsigned i = 3; i < l->n; i++) {
        const char *key = l->t[i];
        int64_t v;
        unsigned a, b, c;
        char extra;
        if (!strcmp(key, "unsigned") || !strcmp(key, "tampered") || !strcmp(key, "other_key")) {
            im.flags |= !strcmp(key, "unsigned") ? ALFA_SCN_OTA_UNSIGNED
                        : !strcmp(key, "tampered") ? ALFA_SCN_OTA_TAMPERED
                                                   : ALFA_SCN_OTA_OTHER_KEY;
            continue;
        }
        if (i + 1 >= l->n) {
            return fail(p, l->line, "'%s' needs a value", key);
        }
        const char *val = l->t[++i];
        if (!strcmp(key, "version")) {
            if (sscanf(val, "%u.%u.%u%c", &a, &b, &c, &extra) != 3 || a > 31u || b > 63u || c > 31u) {
                return fail(p, l->line, "version is X.Y.Z within 31.63.31");
            }
            im.major = (uint8_t)a;
            im.minor = (uint8_t)b;
            im.patch = (uint8_t)c;
            have_version = 1;
        } else if (!strcmp(key, "size") && parse_range(val, 1, 2 * 1024 * 1024, &v) == 0) {
            im.size = (uint32_t)v;
        } else if (!strcmp(key, "counter") && parse_range(val, 0, 0xFFFFFFFFll, &v) == 0) {
            im.counter = (uint32_t)v;
        } else if (!strcmp(key, "hw_class") && parse_range(val, 0, 255, &v) == 0) {
            im.hw_class = (uint8_t)v;
        } else if (!strcmp(key, "device_type") && parse_range(val, 1, 255, &v) == 0) {
            im.device_type = (uint8_t)v;
        } else {
            return fail(p, l->line, "bad ota image property '%s %s' (version, size 1..2097152, counter, hw_class, "
                                    "device_type, unsigned, tampered, other_key)", key, val);
        }
    }
    if (!have_version || im.size == 0u) {
        return fail(p, l->line, "ota image needs a version and a size");
    }
    s->ota_images[s->ota_image_count++] = im;
    return 0;
}

/* at T ota_start TARGET IMAGE [force] | ota_cancel | ota_loss TARGET RATE% |
 *      ota_selftest_fail TARGET on|off | ota_gateway_restart */
static int parse_ota_action(parser_t *p, tok_line_t *l, unsigned i, int64_t at)
{
    const char *verb = l->t[i++];
    alfa_scn_target_t tgt = {ALFA_SCN_TGT_ALL, 0};
    uint64_t serial = 0;
    int64_t value = 0;
    const char *image = NULL;
    uint8_t kind;
    if (!strcmp(verb, "ota_start")) {
        if (parse_target(p, l, &i, 0, &tgt, &serial) < 0) {
            return -1;
        }
        if (i >= l->n) {
            return fail(p, l->line, "ota_start needs an image name (defined by an 'ota image' line)");
        }
        image = l->t[i++];
        size_t k = 0;
        while (k < p->s->ota_image_count && strcmp(p->s->ota_images[k].name, image)) {
            k++;
        }
        if (k == p->s->ota_image_count) {
            return fail(p, l->line, "no ota image '%s' defined before this line", image);
        }
        if (i < l->n && !strcmp(l->t[i], "force")) {
            value = 1;
            i++;
        }
        kind = ALFA_SCN_ACT_OTA_START;
    } else if (!strcmp(verb, "ota_cancel") || !strcmp(verb, "ota_gateway_restart")) {
        kind = !strcmp(verb, "ota_cancel") ? ALFA_SCN_ACT_OTA_CANCEL : ALFA_SCN_ACT_OTA_GW_RESTART;
    } else if (!strcmp(verb, "ota_loss") || !strcmp(verb, "ota_selftest_fail")) {
        if (parse_target(p, l, &i, 0, &tgt, &serial) < 0) {
            return -1;
        }
        const char *v = i < l->n ? l->t[i++] : NULL;
        if (!strcmp(verb, "ota_loss")) {
            if (v == NULL || parse_pct_ppm(v, &value) < 0) {
                return fail(p, l->line, "ota_loss needs the share of update frames lost, e.g. 1%%");
            }
            kind = ALFA_SCN_ACT_OTA_LOSS;
        } else {
            if (parse_onoff(v, &value) < 0) {
                return fail(p, l->line, "ota_selftest_fail needs on or off");
            }
            kind = ALFA_SCN_ACT_OTA_SELFTEST_FAIL;
        }
    } else {
        return fail(p, l->line, "unknown action '%s' (ota_start, ota_cancel, ota_loss, ota_selftest_fail, "
                                "ota_gateway_restart)", verb);
    }
    if (i != l->n) {
        return fail(p, l->line, "unexpected '%s' at the end of the line", l->t[i]);
    }
    alfa_scn_action_t *a = new_action(p, l, at);
    if (a == NULL) {
        return fail(p, l->line, "out of memory");
    }
    a->kind = kind;
    a->target = tgt;
    a->value = value;
    if (image != NULL) {
        snprintf(a->name, sizeof(a->name), "%s", image);
    }
    if (serial != 0 && remember_serial(p, p->s->action_count - 1, 0, serial, l->line) < 0) {
        return fail(p, l->line, "out of memory");
    }
    return 0;
}
