/* The isa-check harness's runtime on QEMU riscv32 virt: NS16550 console and the sifive_test exit device. */
#include <stdint.h>
#include "isa.h"

#define UART_THR ((volatile uint8_t *)0x10000000u)
#define TEST_DEVICE ((volatile uint32_t *)0x00100000u)

void isa_rv32_main(void);

void isa_out(const char *s, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        *UART_THR = (uint8_t)s[i];
    }
}

void isa_rv32_main(void)
{
    int failures = isa_run();
    /* sifive_test: 0x5555 = pass, (code << 16) | 0x3333 = exit with `code`. */
    *TEST_DEVICE = failures == 0 ? 0x5555u : (1u << 16) | 0x3333u;
    for (;;) {
    }
}
