/* Link anchor for `make size`: keeps the core's public entry points and records sizeof(context). */
#include <stddef.h>
#include <stdint.h>
#include "alfa/core.h"

/* A freestanding environment must supply these four (SPEC: ESP-IDF's ROM does); tiny versions
 * here only so that the proof link resolves, and they are not counted in the core's size. */
void *memcpy(void *d, const void *s, size_t n) { uint8_t *o = d; const uint8_t *i = s; while (n--) { *o++ = *i++; } return d; }
void *memmove(void *d, const void *s, size_t n) { uint8_t *o = d; const uint8_t *i = s; if (o < i) { while (n--) { *o++ = *i++; } } else { while (n--) { o[n] = i[n]; } } return d; }
void *memset(void *d, int c, size_t n) { uint8_t *o = d; while (n--) { *o++ = (uint8_t)c; } return d; }
int memcmp(const void *a, const void *b, size_t n) { const uint8_t *x = a, *y = b; for (; n; n--, x++, y++) { if (*x != *y) { return *x - *y; } } return 0; }

/* Its size is the per-pack context size that `make size` reports. */
const uint8_t alfa_size_ctx_bytes[sizeof(alfa_core_t)] = {0};

void alfa_size_entry(void);
void alfa_size_entry(void)
{
    static alfa_core_t *volatile c;
    (void)alfa_core_init(c, (const alfa_port_t *)0, (const alfa_core_config_t *)0);
    alfa_core_process(c);
}
