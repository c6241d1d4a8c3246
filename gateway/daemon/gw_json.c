/* Small JSON reader (one flat object of scalars) and writer used by the gateway's MQTT side. */
#include "alfa/gw_json.h"

#include <stdio.h>
#include <string.h>

typedef struct parser {
    const char *p;
    const char *end;
    const char *start;
    gw_json_doc_t *doc;
} parser_t;

static int fail(parser_t *ps, const char *why)
{
    if (ps->doc->error == NULL) {
        ps->doc->error = why;
        ps->doc->error_at = (size_t)(ps->p - ps->start);
    }
    return -1;
}

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
        ps->p++;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(parser_t *ps, uint32_t *out)
{
    uint32_t v = 0;
    if (ps->end - ps->p < 4) return fail(ps, "truncated \\u escape");
    for (int k = 0; k < 4; k++) {
        int h = hexval(ps->p[k]);
        if (h < 0) return fail(ps, "bad hex digit in \\u escape");
        v = (v << 4) | (uint32_t)h;
    }
    ps->p += 4;
    *out = v;
    return 0;
}

/* Append one byte to the document buffer when `store` (strings we keep). */
static int put(parser_t *ps, int store, char c)
{
    if (!store) return 0;
    if (ps->doc->buf_len + 1u >= sizeof ps->doc->buf) return fail(ps, "payload too long");
    ps->doc->buf[ps->doc->buf_len++] = c;
    return 0;
}

static int put_utf8(parser_t *ps, int store, uint32_t cp)
{
    int rc = 0;
    if (cp < 0x80u) {
        rc |= put(ps, store, (char)cp);
    } else if (cp < 0x800u) {
        rc |= put(ps, store, (char)(0xC0u | (cp >> 6)));
        rc |= put(ps, store, (char)(0x80u | (cp & 0x3Fu)));
    } else if (cp < 0x10000u) {
        rc |= put(ps, store, (char)(0xE0u | (cp >> 12)));
        rc |= put(ps, store, (char)(0x80u | ((cp >> 6) & 0x3Fu)));
        rc |= put(ps, store, (char)(0x80u | (cp & 0x3Fu)));
    } else {
        rc |= put(ps, store, (char)(0xF0u | (cp >> 18)));
        rc |= put(ps, store, (char)(0x80u | ((cp >> 12) & 0x3Fu)));
        rc |= put(ps, store, (char)(0x80u | ((cp >> 6) & 0x3Fu)));
        rc |= put(ps, store, (char)(0x80u | (cp & 0x3Fu)));
    }
    return rc ? -1 : 0;
}

/* Parse a string at ps->p (on the opening quote). When `store`, the unescaped bytes go to the
 * document buffer, NUL-terminated, and *out / *out_len describe them. */
static int parse_string(parser_t *ps, int store, const char **out, size_t *out_len)
{
    size_t begin = ps->doc->buf_len;
    ps->p++; /* opening quote */
    for (;;) {
        if (ps->p >= ps->end) return fail(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20u) return fail(ps, "control character in string");
        if (c != '\\') {
            if (put(ps, store, (char)c) < 0) return -1;
            ps->p++;
            continue;
        }
        ps->p++;
        if (ps->p >= ps->end) return fail(ps, "unterminated escape");
        char e = *ps->p++;
        char lit = 0;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (read_hex4(ps, &cp) < 0) return -1;
            if (cp >= 0xD800u && cp <= 0xDBFFu) {
                uint32_t lo;
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    return fail(ps, "lone high surrogate");
                }
                ps->p += 2;
                if (read_hex4(ps, &lo) < 0) return -1;
                if (lo < 0xDC00u || lo > 0xDFFFu) return fail(ps, "bad low surrogate");
                cp = 0x10000u + ((cp - 0xD800u) << 10) + (lo - 0xDC00u);
            } else if (cp >= 0xDC00u && cp <= 0xDFFFu) {
                return fail(ps, "lone low surrogate");
            }
            if (put_utf8(ps, store, cp) < 0) return -1;
            continue;
        }
        default:
            return fail(ps, "unknown escape");
        }
        if (put(ps, store, lit) < 0) return -1;
    }
    if (store) {
        if (out_len) *out_len = ps->doc->buf_len - begin;
        if (put(ps, 1, '\0') < 0) return -1;
        if (out) *out = &ps->doc->buf[begin];
    }
    return 0;
}

static int parse_number(parser_t *ps, gw_json_member_t *m)
{
    const char *s = ps->p;
    int neg = 0, is_int = 1, overflow = 0;
    uint64_t mag = 0;
    if (ps->p < ps->end && *ps->p == '-') {
        neg = 1;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "bad number");
    if (*ps->p == '0') {
        ps->p++;
        if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') return fail(ps, "leading zero in number");
    } else {
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            uint64_t d = (uint64_t)(*ps->p - '0');
            if (mag > (UINT64_MAX - d) / 10u) overflow = 1;
            else mag = mag * 10u + d;
            ps->p++;
        }
    }
    if (ps->p < ps->end && *ps->p == '.') {
        is_int = 0;
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "bad fraction");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        is_int = 0;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "bad exponent");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    (void)s;
    if (m == NULL) return 0;
    if (!is_int || overflow || mag > (uint64_t)INT64_MAX + (uint64_t)neg) {
        m->type = GW_JSON_REAL;
        return 0;
    }
    m->type = GW_JSON_INT;
    if (neg) {
        m->i = (mag == (uint64_t)INT64_MAX + 1u) ? INT64_MIN : -(int64_t)mag;
    } else {
        m->i = (int64_t)mag;
    }
    return 0;
}

static int expect_word(parser_t *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) return fail(ps, "unexpected character");
    ps->p += n;
    return 0;
}

static int parse_value(parser_t *ps, gw_json_member_t *m, unsigned depth);

/* Object or array whose contents are validated but not stored. */
static int parse_nested(parser_t *ps, unsigned depth)
{
    if (depth >= GW_JSON_MAX_DEPTH) return fail(ps, "nested too deep");
    char open = *ps->p++;
    char close = open == '{' ? '}' : ']';
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (open == '{') {
            if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a key");
            if (parse_string(ps, 0, NULL, NULL) < 0) return -1;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':' after key");
            ps->p++;
            skip_ws(ps);
        }
        if (parse_value(ps, NULL, depth + 1u) < 0) return -1;
        skip_ws(ps);
        if (ps->p >= ps->end) return fail(ps, "unterminated object or array");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return 0;
        }
        return fail(ps, "expected ',' or end of object/array");
    }
}

static int parse_value(parser_t *ps, gw_json_member_t *m, unsigned depth)
{
    if (ps->p >= ps->end) return fail(ps, "expected a value");
    const char *raw = ps->p;
    int rc;
    switch (*ps->p) {
    case '"':
        if (m) m->type = GW_JSON_STRING;
        rc = parse_string(ps, m != NULL, m ? &m->s : NULL, m ? &m->s_len : NULL);
        break;
    case '{':
    case '[':
        if (m) m->type = GW_JSON_NESTED;
        rc = parse_nested(ps, depth);
        break;
    case 't':
        if (m) { m->type = GW_JSON_BOOL; m->i = 1; }
        rc = expect_word(ps, "true");
        break;
    case 'f':
        if (m) { m->type = GW_JSON_BOOL; m->i = 0; }
        rc = expect_word(ps, "false");
        break;
    case 'n':
        if (m) m->type = GW_JSON_NULL;
        rc = expect_word(ps, "null");
        break;
    default:
        rc = parse_number(ps, m);
        break;
    }
    if (rc == 0 && m) {
        m->raw = raw;
        m->raw_len = (size_t)(ps->p - raw);
    }
    return rc;
}

int gw_json_parse(gw_json_doc_t *doc, const char *text, size_t len)
{
    parser_t ps = {text, text + len, text, doc};
    doc->count = 0;
    doc->buf_len = 0;
    doc->error = NULL;
    doc->error_at = 0;
    if (text == NULL && len > 0) return fail(&ps, "no payload");
    if (len > GW_JSON_MAX_TEXT) return fail(&ps, "payload too long");
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p != '{') return fail(&ps, "payload is not a JSON object");
    ps.p++;
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') {
        ps.p++;
    } else {
        for (;;) {
            skip_ws(&ps);
            if (ps.p >= ps.end || *ps.p != '"') return fail(&ps, "expected a key");
            if (doc->count >= GW_JSON_MAX_MEMBERS) return fail(&ps, "too many members");
            gw_json_member_t *m = &doc->m[doc->count];
            memset(m, 0, sizeof *m);
            size_t klen = 0;
            if (parse_string(&ps, 1, &m->key, &klen) < 0) return -1;
            if (strlen(m->key) != klen) return fail(&ps, "NUL in key");
            if (gw_json_get(doc, m->key) != NULL) return fail(&ps, "duplicate key");
            skip_ws(&ps);
            if (ps.p >= ps.end || *ps.p != ':') return fail(&ps, "expected ':' after key");
            ps.p++;
            skip_ws(&ps);
            if (parse_value(&ps, m, 1) < 0) return -1;
            doc->count++;
            skip_ws(&ps);
            if (ps.p >= ps.end) return fail(&ps, "unterminated object");
            if (*ps.p == ',') {
                ps.p++;
                continue;
            }
            if (*ps.p == '}') {
                ps.p++;
                break;
            }
            return fail(&ps, "expected ',' or '}'");
        }
    }
    skip_ws(&ps);
    if (ps.p != ps.end) return fail(&ps, "text after the object");
    return 0;
}

const gw_json_member_t *gw_json_get(const gw_json_doc_t *doc, const char *key)
{
    for (uint32_t k = 0; k < doc->count; k++) {
        if (strcmp(doc->m[k].key, key) == 0) return &doc->m[k];
    }
    return NULL;
}

/* ---------------------------------------------------------------- writer */

void gw_jw_init(gw_jw_t *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = cap == 0;
    w->need_comma = 0;
}

static void emit(gw_jw_t *w, const char *s, size_t n)
{
    if (w->overflow) return;
    if (w->len + n + 1u > w->cap) {
        w->overflow = 1;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void value_prefix(gw_jw_t *w)
{
    if (w->need_comma) emit(w, ",", 1);
    w->need_comma = 1;
}

void gw_jw_obj_begin(gw_jw_t *w)
{
    value_prefix(w);
    emit(w, "{", 1);
    w->need_comma = 0;
}

void gw_jw_obj_end(gw_jw_t *w)
{
    emit(w, "}", 1);
    w->need_comma = 1;
}

void gw_jw_arr_begin(gw_jw_t *w)
{
    value_prefix(w);
    emit(w, "[", 1);
    w->need_comma = 0;
}

void gw_jw_arr_end(gw_jw_t *w)
{
    emit(w, "]", 1);
    w->need_comma = 1;
}

static void emit_escaped(gw_jw_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    emit(w, "\"", 1);
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            emit(w, e, 2);
        } else if (c < 0x20u) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15u]};
            emit(w, e, 6);
        } else {
            emit(w, (const char *)&s[k], 1);
        }
    }
    emit(w, "\"", 1);
}

void gw_jw_key(gw_jw_t *w, const char *key)
{
    value_prefix(w);
    emit_escaped(w, key, strlen(key));
    emit(w, ":", 1);
    w->need_comma = 0;
}

void gw_jw_strn(gw_jw_t *w, const char *s, size_t n)
{
    value_prefix(w);
    emit_escaped(w, s, n);
}

void gw_jw_str(gw_jw_t *w, const char *s) { gw_jw_strn(w, s, strlen(s)); }

void gw_jw_int(gw_jw_t *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    value_prefix(w);
    emit(w, tmp, (size_t)n);
}

void gw_jw_bool(gw_jw_t *w, int v)
{
    value_prefix(w);
    if (v) emit(w, "true", 4);
    else emit(w, "false", 5);
}

void gw_jw_null(gw_jw_t *w)
{
    value_prefix(w);
    emit(w, "null", 4);
}

void gw_jw_raw(gw_jw_t *w, const char *raw, size_t n)
{
    value_prefix(w);
    emit(w, raw, n);
}

int gw_jw_finish(gw_jw_t *w)
{
    if (w->overflow) {
        if (w->cap > 0) w->buf[0] = '\0';
        return -1;
    }
    w->buf[w->len] = '\0';
    return (int)w->len;
}
