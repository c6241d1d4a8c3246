/* Bare-metal start for the isa-check harness on QEMU's Xtensa sim machine (-cpu de212): reset stub,
 * window overflow/underflow vectors, a trap that exits with 100 + EXCCAUSE, semihosting I/O. */

#define SYS_EXIT 1
#define SYS_WRITE 4
/* simcall (0x005100): QEMU's semihosting call; the assembler has no mnemonic for it here. */
#define SIMCALL .byte 0x00, 0x51, 0x00

/* ---- reset vector of de212 (0x50000000): jump to _start in RAM (l32r reaches backwards only) */
    .section .reset, "ax"
    .globl _reset
_reset:
    j       1f
    .p2align 2
.Lstart_addr:
    .long   _start
1:  l32r    a2, .Lstart_addr
    jx      a2

/* ---- VECBASE (0x60000000 at reset): the windowed-register spill and fill handlers of the
 * Xtensa ISA, at their fixed offsets, then the exception vectors. */
    .section .vectors, "ax"
    .globl _vectors
_vectors:
    .org    0x000
_WindowOverflow4:
    s32e    a0, a5, -16
    s32e    a1, a5, -12
    s32e    a2, a5, -8
    s32e    a3, a5, -4
    rfwo
    .org    0x040
_WindowUnderflow4:
    l32e    a0, a5, -16
    l32e    a1, a5, -12
    l32e    a2, a5, -8
    l32e    a3, a5, -4
    rfwu
    .org    0x080
_WindowOverflow8:
    s32e    a0, a9, -16
    l32e    a0, a1, -12
    s32e    a1, a9, -12
    s32e    a2, a9, -8
    s32e    a3, a9, -4
    s32e    a4, a0, -32
    s32e    a5, a0, -28
    s32e    a6, a0, -24
    s32e    a7, a0, -20
    rfwo
    .org    0x0C0
_WindowUnderflow8:
    l32e    a1, a9, -12
    l32e    a0, a9, -16
    l32e    a7, a1, -12
    l32e    a2, a9, -8
    l32e    a4, a7, -32
    l32e    a3, a9, -4
    l32e    a5, a7, -28
    l32e    a6, a7, -24
    l32e    a7, a7, -20
    rfwu
    .org    0x100
_WindowOverflow12:
    s32e    a0, a13, -16
    l32e    a0, a1, -12
    s32e    a1, a13, -12
    s32e    a2, a13, -8
    s32e    a3, a13, -4
    s32e    a4, a0, -48
    s32e    a5, a0, -44
    s32e    a6, a0, -40
    s32e    a7, a0, -36
    s32e    a8, a0, -32
    s32e    a9, a0, -28
    s32e    a10, a0, -24
    s32e    a11, a0, -20
    rfwo
    .org    0x140
_WindowUnderflow12:
    l32e    a1, a13, -12
    l32e    a0, a13, -16
    l32e    a11, a1, -12
    l32e    a2, a13, -8
    l32e    a4, a11, -48
    l32e    a8, a11, -32
    l32e    a3, a13, -4
    l32e    a5, a11, -44
    l32e    a6, a11, -40
    l32e    a7, a11, -36
    l32e    a9, a11, -28
    l32e    a10, a11, -24
    l32e    a11, a11, -20
    rfwu
    /* Kernel, user and double exceptions: an unaligned access (EXCCAUSE 9), an illegal
     * instruction (0) or anything else ends the run with exit code 100 + EXCCAUSE; the one cause a
     * correct program raises, MOVSP with the caller's window spilled (AllocaCause, 5: LLVM moves the
     * stack pointer with MOVSP around calls with stack arguments), is served below. */
    .org    0x300
_KernelExceptionVector:
    j       .Ltrap
    .org    0x340
_UserExceptionVector:
    wsr.excsave1 a0
    rsr.exccause a0
    bnei    a0, 5, .Ltrap
    j       _AllocaException
    .org    0x380
.Ltrap:
    rsr.exccause a3
    addi    a3, a3, 100
    movi    a2, SYS_EXIT
    SIMCALL
1:  j       1b
    .org    0x3C0
_DoubleExceptionVector:
    j       .Ltrap
    .org    0x3D0
/* AllocaCause: bring the caller's window back into the register file with the underflow handler
 * of its size, as a RETW would, then RFWU returns to the MOVSP, which now succeeds. The underflow
 * handlers expect WINDOWBASE at the caller's window, PS.OWB at ours, and our stack pointer in the
 * caller's a5 / a9 / a13; the size of the caller's call is in the top two bits of our a0. */
_AllocaException:
    rsr.windowbase a0          /* our WINDOWBASE; our a0 itself is in EXCSAVE1 */
    rotw    -1                 /* our a0..a3 are now a4..a7 */
    rsr.ps  a2
    extui   a3, a2, 8, 4       /* PS.OWB */
    xor     a3, a3, a4
    rsr.excsave1 a4            /* our a0 back in place */
    slli    a3, a3, 8
    xor     a2, a2, a3         /* PS.OWB := our WINDOWBASE */
    wsr.ps  a2
    rsync
    bbsi    a4, 31, 1f
    j       _WindowUnderflow4  /* CALL4: our a1 is the caller's a5 */
1:  rotw    -1
    bbsi    a8, 30, 2f
    j       _WindowUnderflow8  /* CALL8: our a1 is the caller's a9 */
2:  rotw    -1
    j       _WindowUnderflow12 /* CALL12: our a1 is the caller's a13 */

/* ---- constants for the code below, placed with the other literals (before .text) */
    .section .literal, "ax"
    .p2align 2
.Lstack_top:
    .long   __stack_top
.Lps_run:
    .long   0x00040020          /* PS: WOE (windowed calls), UM, interrupt level 0, EXCM clear */
.Lmain:
    .long   isa_xt_main

    .text
    .p2align 2
    .globl _start
_start:
    /* The first window spilled is this one, by _WindowOverflow8: it takes its caller's stack pointer
     * from [a1 - 12] and stores a4..a7 at 32..20 bytes below it. There is no caller: reserve 32 bytes
     * above a1 and point [a1 - 12] at their end, so that spill lands in them. */
    movi    a2, 0                /* register window 0 is the one live window (QEMU resets WINDOWSTART to 0) */
    wsr.windowbase a2
    rsync
    movi    a2, 1
    wsr.windowstart a2
    rsync
    movi    a0, 0
    l32r    a2, .Lstack_top
    addi    a1, a2, -32
    addi    a3, a1, -12
    s32i    a2, a3, 0
    l32r    a2, .Lps_run
    wsr.ps  a2
    rsync
    l32r    a8, .Lmain
    callx8  a8
1:  j       1b

/* void isa_out(const char *s, uint32_t len): write to the host's stdout. */
    .p2align 2
    .globl isa_out
isa_out:
    entry   a1, 32
    mov     a4, a2
    mov     a5, a3
    movi    a2, SYS_WRITE
    movi    a3, 1
    SIMCALL
    retw.n

/* void isa_xt_exit(int code) */
    .p2align 2
    .globl isa_xt_exit
isa_xt_exit:
    entry   a1, 32
    mov     a3, a2
    movi    a2, SYS_EXIT
    SIMCALL
1:  j       1b
