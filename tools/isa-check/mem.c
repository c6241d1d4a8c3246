/* mem* for the freestanding bare-metal builds of the isa-check harness (rv32 and Xtensa have no libc here). */
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *o = d;
    const uint8_t *i = s;
    while (n--) {
        *o++ = *i++;
    }
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    uint8_t *o = d;
    const uint8_t *i = s;
    if (o < i) {
        while (n--) {
            *o++ = *i++;
        }
    } else {
        while (n--) {
            o[n] = i[n];
        }
    }
    return d;
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *o = d;
    while (n--) {
        *o++ = (uint8_t)c;
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n; n--, x++, y++) {
        if (*x != *y) {
            return *x - *y;
        }
    }
    return 0;
}
