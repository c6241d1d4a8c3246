/* Small JSON reader (one flat object of scalars) and writer used by the gateway's MQTT side. */
#ifndef ALFA_GW_JSON_H
#define ALFA_GW_JSON_H

/*
 * Reader: MQTT command payloads are one JSON object whose members are scalars. The reader
 * checks the whole text against RFC 8259 (nested objects and arrays are parsed and kept as
 * opaque members, so a well-formed but unexpected payload gets a field error, not a syntax
 * error) and stores up to GW_JSON_MAX_MEMBERS members. Strings are unescaped (\uXXXX and
 * surrogate pairs to UTF-8) into the document's own buffer. No heap: the caller owns the
 * gw_json_doc_t and everything points into it.
 *
 * Writer: appends to a caller-owned char buffer; on overflow it stops writing and remembers,
 * so one check at the end (gw_jw_finish) covers every call.
 */

#include <stddef.h>
#include <stdint.h>

#define GW_JSON_MAX_MEMBERS 16u
#define GW_JSON_MAX_TEXT 1024u  /* longest payload accepted */
#define GW_JSON_MAX_DEPTH 8u

typedef enum gw_json_type {
    GW_JSON_NULL = 0,
    GW_JSON_BOOL = 1,
    GW_JSON_INT = 2,     /* a number without fraction or exponent that fits int64 */
    GW_JSON_REAL = 3,    /* any other number (never accepted for an integer field) */
    GW_JSON_STRING = 4,
    GW_JSON_NESTED = 5,  /* an object or array member (never accepted by a command) */
} gw_json_type_t;

typedef struct gw_json_member {
    const char *key;     /* NUL-terminated, in doc->buf */
    gw_json_type_t type;
    int64_t i;           /* GW_JSON_INT value, or 0/1 for GW_JSON_BOOL */
    const char *s;       /* GW_JSON_STRING value (NUL-terminated, in doc->buf) */
    size_t s_len;        /* its length (it may contain NUL from \u0000) */
    const char *raw;     /* the member's value as it appears in the input text */
    size_t raw_len;
} gw_json_member_t;

typedef struct gw_json_doc {
    gw_json_member_t m[GW_JSON_MAX_MEMBERS];
    uint32_t count;
    char buf[GW_JSON_MAX_TEXT + GW_JSON_MAX_MEMBERS * 2u + 8u]; /* unescaped keys and strings */
    size_t buf_len;
    const char *error;   /* on failure: what was wrong ("expected ':' after key"...) */
    size_t error_at;     /* byte offset of the error in the input */
} gw_json_doc_t;

/* Parse `len` bytes of `text` (no terminator needed) as one JSON object. Returns 0, or -1 with
 * doc->error set: syntax error, not an object, duplicate key, too many members, too deep, too
 * long. The input is only read; doc is overwritten. */
int gw_json_parse(gw_json_doc_t *doc, const char *text, size_t len);

/* The member called `key`, or NULL. */
const gw_json_member_t *gw_json_get(const gw_json_doc_t *doc, const char *key);

/* ---- writer ---- */

typedef struct gw_jw {
    char *buf;
    size_t cap;
    size_t len;
    int overflow;
    int need_comma;
} gw_jw_t;

void gw_jw_init(gw_jw_t *w, char *buf, size_t cap);
void gw_jw_obj_begin(gw_jw_t *w);                 /* "{" (as a value) */
void gw_jw_obj_end(gw_jw_t *w);                   /* "}" */
void gw_jw_arr_begin(gw_jw_t *w);
void gw_jw_arr_end(gw_jw_t *w);
void gw_jw_key(gw_jw_t *w, const char *key);      /* "key": (next call writes its value) */
void gw_jw_str(gw_jw_t *w, const char *s);        /* escaped string value */
void gw_jw_strn(gw_jw_t *w, const char *s, size_t n);
void gw_jw_int(gw_jw_t *w, int64_t v);
void gw_jw_bool(gw_jw_t *w, int v);
void gw_jw_null(gw_jw_t *w);
void gw_jw_raw(gw_jw_t *w, const char *raw, size_t n); /* a value already in JSON form */
/* NUL-terminate; returns the length, or -1 when the buffer was too small. */
int gw_jw_finish(gw_jw_t *w);

#endif
