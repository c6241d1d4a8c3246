/* A deliberate fault for scripts/isa_check.sh: each bare-metal leg must stop on what would crash (or not exist on) the real chip. */
#include "isa.h"

int isa_run(void)
{
#if defined(__riscv)
    /* amoadd.w t0, t1, (t2): an A-extension instruction; the ESP32-C3 has it, strict rv32imc must not. */
    volatile uint32_t w = 1;
    __asm__ volatile("mv t2, %0\n\tli t1, 1\n\t.word 0x0063A2AF" : : "r"(&w) : "t0", "t1", "t2", "memory");
    return (int)w;
#else
    /* A 32-bit load from an odd address: the ESP32 (and de212) raise LoadStoreAlignment (EXCCAUSE 9). */
    volatile uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)((uintptr_t)b + 1u);
    return (int)*p;
#endif
}
