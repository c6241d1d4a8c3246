/* Drives one pack's core through full 2-s cycles so callgrind can count the instructions of exactly one cycle. */
#include <stdio.h>
#include <stdlib.h>
#include "alfa/core.h"
#include "alfa/test_port.h"

/* One control cycle as the firmware runs it: the BMS poll result arrives, then the cycle (four
 * CT blocks of 200 ms at 4 kHz, powers, energies, limit, faults, relays, indicators, watchdog).
 * bench/10-core.sh collects instructions only inside this function. */
__attribute__((noinline)) static void cycle(alfa_test_port_t *tp, alfa_core_t *core,
                                            const alfa_bms_reading_t *r)
{
    alfa_test_port_advance(tp, ALFA_CORE_CYCLE_MS);
    if (alfa_core_bms_reading(core, r) < 0) {
        abort();
    }
    alfa_core_process(core);
}

__attribute__((noinline)) void alfa_bench_one_cycle(alfa_test_port_t *tp, alfa_core_t *core,
                                                    const alfa_bms_reading_t *r);
__attribute__((noinline)) void alfa_bench_one_cycle(alfa_test_port_t *tp, alfa_core_t *core,
                                                    const alfa_bms_reading_t *r)
{
    cycle(tp, core, r);
}

int main(int argc, char **argv)
{
    int cycles = argc > 1 ? atoi(argv[1]) : 10;
    static alfa_test_port_t tp;
    static alfa_core_t core;
    alfa_test_port_init(&tp, 0);
    /* a busy afternoon: every CT carries current, with noise, so nothing is skipped */
    alfa_test_port_set_ct(&tp, ALFA_CT_GRID, 9000, 2040, 4);
    alfa_test_port_set_ct(&tp, ALFA_CT_INVERTER, 14000, 2052, 4);
    alfa_test_port_set_ct(&tp, ALFA_CT_POOL, 3500, 2047, 4);
    alfa_test_port_set_ct(&tp, ALFA_CT_HEATER, 8000, 2049, 4);
    alfa_core_config_t cfg = {.serial = 0x24A1B2C3D4E5ull};
    if (alfa_core_init(&core, &tp.port, &cfg) != ALFA_OK ||
        alfa_core_setting_set(&core, ALFA_SET_MODE, ALFA_MODE_ECO, NULL) != ALFA_OK ||
        alfa_core_set_time(&core, 1780300000, 120) != ALFA_OK) {
        return 1;
    }
    alfa_bms_reading_t r = {.v_pack_mv = 53400, .i_batt_ma = 18000};
    /* warm up: blocks generated and cached, filter primed */
    for (int k = 0; k < 3; k++) {
        cycle(&tp, &core, &r); /* outside the measured function */
    }
    uint32_t before = tp.watchdog_feeds;
    for (int k = 0; k < cycles; k++) {
        alfa_bench_one_cycle(&tp, &core, &r);
    }
    /* every call must have been a full cycle, or the figure means nothing */
    if (tp.watchdog_feeds - before != (uint32_t)cycles) {
        fprintf(stderr, "bench-core: %u cycles ran, %d expected\n", tp.watchdog_feeds - before, cycles);
        return 1;
    }
    alfa_telemetry_t t;
    alfa_core_telemetry(&core, &t);
    printf("cycles=%d soc=%u p_grid_w=%d p_home_w=%d relays=0x%x\n", cycles + 3, t.soc_pct,
           t.p_grid_w, t.p_home_w, t.relays_closed);
    return 0;
}
