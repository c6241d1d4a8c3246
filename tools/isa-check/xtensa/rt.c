/* The isa-check harness's runtime on Xtensa (ESP32 configuration, windowed ABI): no libgcc exists for it
 * here, so the 64-bit multiply/divide helpers the compiler calls are written out. */
#include <stdint.h>
#include "isa.h"

uint64_t __muldi3(uint64_t a, uint64_t b);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);
void isa_xt_main(void);
void isa_xt_exit(int code);

extern uint8_t __bss_start[], __bss_end[]; /* from link.ld */

/* 64 x 64 -> 64 from 32 x 32 -> 32 multiplies only (MULL; the high-half MULUH is not configured). */
uint64_t __muldi3(uint64_t a, uint64_t b)
{
    uint32_t al = (uint32_t)a, ah = (uint32_t)(a >> 32), bl = (uint32_t)b, bh = (uint32_t)(b >> 32);
    uint32_t a0 = al & 0xFFFFu, a1 = al >> 16, b0 = bl & 0xFFFFu, b1 = bl >> 16;
    uint32_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint32_t mid = (p00 >> 16) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
    uint32_t lo = (p00 & 0xFFFFu) | (mid << 16);
    uint32_t hi = p11 + (p01 >> 16) + (p10 >> 16) + (mid >> 16) + al * bh + ah * bl;
    return ((uint64_t)hi << 32) | lo;
}

static uint32_t bit_length(uint64_t v)
{
    uint32_t hi = (uint32_t)(v >> 32), lo = (uint32_t)v;
    if (hi != 0u) {
        return 64u - (uint32_t)__builtin_clz(hi);
    }
    return lo != 0u ? 32u - (uint32_t)__builtin_clz(lo) : 0u;
}

/* Unsigned 64-bit division: 32-bit QUOU/REMU when both fit, else shift and subtract over only the
 * quotient's possible bits (the core divides 40-bit values by 14-bit ones: some 27 steps). */
static uint64_t udivmod(uint64_t n, uint64_t d, uint64_t *rem)
{
    if (d == 0u) {
        isa_xt_exit(99); /* division by zero: a bug in the code under test */
    }
    if ((n >> 32) == 0u && (d >> 32) == 0u) {
        *rem = (uint32_t)n % (uint32_t)d;
        return (uint32_t)n / (uint32_t)d;
    }
    uint32_t ln = bit_length(n), ld = bit_length(d);
    if (ln < ld) {
        *rem = n;
        return 0u;
    }
    uint32_t shift = ln - ld;
    uint64_t q = 0, dd = d << shift;
    for (uint32_t i = 0; i <= shift; i++) {
        q <<= 1;
        if (n >= dd) {
            n -= dd;
            q |= 1u;
        }
        dd >>= 1;
    }
    *rem = n;
    return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
    uint64_t r;
    return udivmod(n, d, &r);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
    uint64_t r;
    (void)udivmod(n, d, &r); /* only the remainder is wanted */
    return r;
}

/* Signed: C truncates toward zero; the remainder takes the dividend's sign. */
int64_t __divdi3(int64_t n, int64_t d)
{
    uint64_t un = n < 0 ? 0u - (uint64_t)n : (uint64_t)n;
    uint64_t ud = d < 0 ? 0u - (uint64_t)d : (uint64_t)d;
    uint64_t r;
    uint64_t q = udivmod(un, ud, &r);
    return (n < 0) != (d < 0) ? (int64_t)(0u - q) : (int64_t)q;
}

int64_t __moddi3(int64_t n, int64_t d)
{
    uint64_t un = n < 0 ? 0u - (uint64_t)n : (uint64_t)n;
    uint64_t ud = d < 0 ? 0u - (uint64_t)d : (uint64_t)d;
    uint64_t r;
    (void)udivmod(un, ud, &r); /* only the remainder is wanted */
    return n < 0 ? (int64_t)(0u - r) : (int64_t)r;
}

/* Retired instructions are measured on rv32 only. */
uint64_t isa_instret(void) { return 0u; }

void isa_xt_main(void)
{
    /* The loader leaves .bss to the program; the bounds are linker symbols, compared as addresses. */
    for (uintptr_t a = (uintptr_t)__bss_start; a < (uintptr_t)__bss_end; a += 4u) {
        *(volatile uint32_t *)a = 0u;
    }
    isa_xt_exit(isa_run() == 0 ? 0 : 1);
}
