/* Bare-metal start for the isa-check harness on QEMU's riscv32 virt machine: stack, trap vector, bss, run, exit. */
    .section .text.start, "ax"
    .globl _start
_start:
    la      sp, __stack_top
    la      t0, isa_trap
    csrw    mtvec, t0           /* any trap ends the run with exit code 100 + mcause */
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  call    isa_rv32_main
    /* isa_rv32_main exits through the test device; never here. */
3:  j       3b

    /* A trap (an atomic or float instruction on this strict rv32imc, a bad address) is a failure:
     * exit through sifive_test with (100 + mcause) << 16 | 0x3333. */
    .align  2
isa_trap:
    csrr    t0, mcause
    addi    t0, t0, 100
    slli    t0, t0, 16
    li      t1, 0x3333
    or      t0, t0, t1
    li      t1, 0x100000
    sw      t0, 0(t1)
1:  j       1b

    /* Retired instructions so far (QEMU -icount makes them exact), read without a torn carry. */
    .globl isa_instret
isa_instret:
    csrr    a1, minstreth
    csrr    a0, minstret
    csrr    t0, minstreth
    bne     a1, t0, isa_instret
    ret
