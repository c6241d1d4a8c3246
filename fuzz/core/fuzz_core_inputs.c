/* Fuzzes a pack's core with arbitrary sequences of commands, BMS readings, time and clock steps, checking its invariants after each. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alfa/core.h"
#include "alfa/test_port.h"

static int32_t get32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* What must hold whatever came in. */
static void check(const alfa_core_t *c, const alfa_test_port_t *tp)
{
    const alfa_settings_t *s = alfa_core_settings(c);
    alfa_telemetry_t t;
    alfa_core_telemetry(c, &t);
    if (alfa_settings_validate(s, NULL, NULL) != ALFA_PROTO_OK || t.soc_pct > 100 ||
        t.p_solar_w < 0) {
        abort();
    }
    uint8_t closed = alfa_core_relays_closed(c);
    /* rank 1: a reached limit always holds the grid open */
    if ((alfa_core_warnings(c) & (1u << ALFA_WARN_GRID_LIMIT_REACHED)) && (closed & 1u)) {
        abort();
    }
    /* the port always shows the core's decision through the polarity */
    if ((uint8_t)((closed ^ (uint8_t)s->relay_polarity) & 0x0Fu) != tp->relays_energised) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static alfa_test_port_t tp;
    static alfa_core_t core;
    alfa_test_port_init(&tp, 0);
    tp.adc_count = 160; /* 40 ms blocks (2 mains cycles): the same code paths, 5x the executions */
    alfa_test_port_set_ct(&tp, ALFA_CT_GRID, 5000, 2048, 2);
    alfa_core_config_t cfg = {.serial = 42};
    if (alfa_core_init(&core, &tp.port, &cfg) != ALFA_OK) {
        abort();
    }
    size_t i = 0;
    /* At most 40 steps per input: long sequences add run time, not new states. */
    while (i + 6 <= size && i < 40u * 6u) {
        uint8_t op = data[i] % 8u;
        uint8_t a = data[i + 1];
        int32_t v = get32(&data[i + 2]);
        i += 6;
        switch (op) {
        case 0: {
            alfa_settings_t before = *alfa_core_settings(&core);
            alfa_err_t rc = alfa_core_setting_set(&core, a % (ALFA_SET_COUNT + 2u), v, NULL);
            if (rc != ALFA_OK && memcmp(&before, alfa_core_settings(&core), sizeof before) != 0) {
                abort(); /* refused means unchanged */
            }
            break;
        }
        case 1: {
            alfa_bms_reading_t r = {.v_pack_mv = (uint32_t)v % 200000u, .i_batt_ma = (int16_t)v,
                                    .alarms = a, .warnings = (uint16_t)(a >> 4),
                                    .present = (uint8_t)(a & 1u), .soc_pct = (uint8_t)(v >> 24)};
            alfa_core_bms_in_t in = {.flags = (uint8_t)(a >> 4), .reading = r};
            alfa_telemetry_t before;
            alfa_core_telemetry(&core, &before);
            if (alfa_core_bms_input(&core, &in) != ALFA_OK) {
                alfa_telemetry_t after;
                alfa_core_telemetry(&core, &after);
                if (memcmp(&before, &after, sizeof before) != 0) {
                    abort(); /* refused means unchanged */
                }
            }
            break;
        }
        case 2: {
            int64_t unix_s = 1577836800LL + (int64_t)(uint32_t)v * 7;
            int16_t off_min = (int16_t)(a * 8 - 720);
            bool in_range = unix_s <= ALFA_TIME_MAX_UNIX && off_min <= ALFA_UTC_OFFSET_MAX_MIN;
            if ((alfa_core_set_time(&core, unix_s, off_min) == ALFA_OK) != in_range) {
                abort(); /* refused exactly outside the documented range */
            }
            break;
        }
        case 3:
            alfa_test_port_run(&tp, &core, (uint32_t)v % 8000u, 100u + a * 10u);
            break;
        case 4:
            alfa_core_follow_day(&core, (uint16_t)(alfa_core_day(&core) + (a >> 6)));
            alfa_core_site_grid_limit(&core, (uint32_t)v % 40000u, a & 1u, (uint16_t)(alfa_core_day(&core) - ((a >> 1) & 1u)));
            alfa_core_restore_grid_import(&core, (uint32_t)v % 40000u, (uint16_t)(alfa_core_day(&core) - ((a >> 2) & 1u)));
            break;
        case 5:
            alfa_test_port_set_ct(&tp, (uint8_t)(a % 4u), (uint32_t)v % 70000u, (uint16_t)(1500 + a * 4), (uint16_t)(a % 8u));
            break;
        case 6:
            alfa_core_set_master(&core, a & 1u);
            alfa_core_set_fw_update(&core, a & 2u);
            alfa_core_identify(&core, (uint16_t)(a % 5u));
            if (a & 0x20u) {
                alfa_core_can_bus_off(&core, (a & 0x10u) != 0u);
            } else {
                alfa_core_settings_corrupt(&core, (a & 0x10u) != 0u);
            }
            alfa_core_node_id_conflict(&core, (a & 0x40u) != 0u);
            break;
        default:
            if ((alfa_core_set_mode(&core, a % 6u, v & 1) == ALFA_OK) != (a % 6u < ALFA_MODE_COUNT)) {
                abort(); /* refused exactly for a mode that does not exist */
            }
            break;
        }
        check(&core, &tp);
    }
    return 0;
}
