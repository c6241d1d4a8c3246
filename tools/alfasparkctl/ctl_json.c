/* Reads members of the gateway's JSON documents (pack state, site state, settings) for alfasparkctl's tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* The documents are larger than the gateway's command reader takes (30+ members), and the tool
 * only displays them: a walker over the top-level members that skips nested values is enough.
 * It never reads past the terminating NUL and gives up (NULL) on anything malformed. */

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Past the string starting at the quote p, or NULL. */
static const char *skip_string(const char *p)
{
    for (p++; *p != '\0'; p++) {
        if (*p == '\\') {
            if (p[1] == '\0') return NULL;
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* Past the value starting at p, or NULL. */
static const char *skip_value(const char *p)
{
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p != '\0') {
            if (*p == '"') {
                p = skip_string(p);
                if (p == NULL) return NULL;
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
            p++;
        }
        return NULL;
    }
    const char *s = p;
    while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') p++;
    return p == s ? NULL : p;
}

const char *ctl_json_raw(const char *json, const char *key, size_t *len)
{
    if (json == NULL || key == NULL) return NULL;
    const char *p = ws(json);
    if (*p++ != '{') return NULL;
    size_t klen = strlen(key);
    for (;;) {
        p = ws(p);
        if (*p == '}') return NULL;
        if (*p != '"') return NULL;
        const char *k = p + 1, *after = skip_string(p);
        if (after == NULL) return NULL;
        int match = (size_t)(after - 1 - k) == klen && memcmp(k, key, klen) == 0;
        p = ws(after);
        if (*p++ != ':') return NULL;
        p = ws(p);
        const char *v = p, *end = skip_value(p);
        if (end == NULL) return NULL;
        if (match) {
            if (len) *len = (size_t)(end - v);
            return v;
        }
        p = ws(end);
        if (*p == ',') {
            p++;
            continue;
        }
        return NULL;
    }
}

long long ctl_json_int(const char *json, const char *key, int *ok)
{
    size_t n = 0;
    const char *v = ctl_json_raw(json, key, &n);
    char buf[32];
    if (ok) *ok = 0;
    if (v == NULL || n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end;
    long long x = strtoll(buf, &end, 10);
    if (*end != '\0') return 0;
    if (ok) *ok = 1;
    return x;
}

int ctl_json_true(const char *json, const char *key)
{
    size_t n = 0;
    const char *v = ctl_json_raw(json, key, &n);
    return v != NULL && n == 4 && memcmp(v, "true", 4) == 0;
}

/* Unescape the JSON string at p (its opening quote) into buf. */
static const char *unescape(const char *p, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    const char *end = p + n - 1; /* the closing quote */
    for (p++; p < end && o + 1 < cap; p++) {
        char ch = *p;
        if (ch == '\\' && p + 1 < end) {
            p++;
            switch (*p) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'u':
                ch = '?';
                p += (end - p > 4) ? 4 : (end - p - 1);
                break;
            default: ch = *p; break;
            }
        }
        buf[o++] = ch;
    }
    buf[o] = '\0';
    return buf;
}

const char *ctl_json_str(const char *json, const char *key, char *buf, size_t cap)
{
    size_t n = 0;
    const char *v = ctl_json_raw(json, key, &n);
    if (cap == 0) return buf;
    buf[0] = '\0';
    if (v == NULL || n < 2 || v[0] != '"') return buf;
    return unescape(v, n, buf, cap);
}

const char *ctl_json_list(const char *json, const char *key, char *buf, size_t cap)
{
    size_t n = 0;
    const char *v = ctl_json_raw(json, key, &n);
    if (cap == 0) return buf;
    buf[0] = '\0';
    if (v == NULL || v[0] != '[') return buf;
    const char *p = ws(v + 1), *end = v + n;
    size_t o = 0;
    while (p < end && *p != ']') {
        const char *e = skip_value(p);
        if (e == NULL || e > end) break;
        char item[64];
        if (*p == '"') {
            unescape(p, (size_t)(e - p), item, sizeof item);
        } else {
            snprintf(item, sizeof item, "%.*s", (int)(e - p), p);
        }
        int w = snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", item);
        if (w < 0 || (size_t)w >= cap - o) break;
        o += (size_t)w;
        p = ws(e);
        if (*p == ',') p = ws(p + 1);
    }
    return buf;
}
