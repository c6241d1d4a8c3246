/* The isa-check harness's CRC-32 checksum and integer text formatting, with no libc. */
#include "isa.h"

void isa_sum_init(isa_sum_t *s)
{
    for (uint32_t i = 0; i < 256u; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
        s->table[i] = c;
    }
    s->crc = 0xFFFFFFFFu;
}

static void put(isa_line_t *l, char c)
{
    if (l->len < sizeof l->buf - 1u) {
        l->buf[l->len++] = c;
    }
}

void isa_line_str(isa_line_t *l, const char *s)
{
    while (*s != '\0') {
        put(l, *s++);
    }
}

void isa_line_u64(isa_line_t *l, uint64_t v)
{
    char tmp[20];
    uint32_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0u) {
        put(l, tmp[--n]);
    }
}

void isa_line_u32(isa_line_t *l, uint32_t v) { isa_line_u64(l, v); }

void isa_line_i32(isa_line_t *l, int32_t v)
{
    if (v < 0) {
        put(l, '-');
        isa_line_u32(l, 0u - (uint32_t)v);
    } else {
        isa_line_u32(l, (uint32_t)v);
    }
}

void isa_line_hex(isa_line_t *l, uint32_t v, uint32_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (uint32_t i = digits; i > 0u; i--) {
        put(l, hex[(v >> ((i - 1u) * 4u)) & 0xFu]);
    }
}

void isa_line_2d(isa_line_t *l, uint32_t v)
{
    put(l, (char)('0' + (int)(v / 10u % 10u)));
    put(l, (char)('0' + (int)(v % 10u)));
}

void isa_line_end(isa_line_t *l)
{
    l->buf[l->len++] = '\n';
    isa_out(l->buf, l->len);
    l->len = 0;
}
