/* Link anchor for `make size`: keeps the core's public entry points and records sizeof(context). */
#include <stddef.h>
#include <stdint.h>
#include "alfa/core.h"
#include "alfa/pack.h"

/* A freestanding environment must supply these four (SPEC: ESP-IDF's ROM does); tiny versions
 * here only so that the proof link resolves, and they are not counted in the core's size. */
void *memcpy(void *d, const void *s, size_t n) { uint8_t *o = d; const uint8_t *i = s; while (n--) { *o++ = *i++; } return d; }
void *memmove(void *d, const void *s, size_t n) { uint8_t *o = d; const uint8_t *i = s; if (o < i) { while (n--) { *o++ = *i++; } } else { while (n--) { o[n] = i[n]; } } return d; }
void *memset(void *d, int c, size_t n) { uint8_t *o = d; while (n--) { *o++ = (uint8_t)c; } return d; }
int memcmp(const void *a, const void *b, size_t n) { const uint8_t *x = a, *y = b; for (; n; n--, x++, y++) { if (*x != *y) { return *x - *y; } } return 0; }

/* Their sizes are what `make size` reports: the controller core's context (`ctx`) and the whole
 * per-pack context a board allocates, core + store + BMS poller + CAN node (`pack ctx`). */
const uint8_t alfa_size_ctx_bytes[sizeof(alfa_core_t)] = {0};
const uint8_t alfa_size_pack_bytes[sizeof(alfa_pack_t)] = {0};

void alfa_size_entry(void);
void alfa_size_entry(void)
{
    /* Through the pack every module is reachable, so the --no-undefined link covers them all. */
    static alfa_pack_t *volatile p;
    (void)alfa_pack_init(p, (const alfa_port_t *)0, (const alfa_pack_config_t *)0);
    alfa_pack_process(p);
}
