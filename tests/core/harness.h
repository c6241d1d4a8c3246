/* Test harness for the core: one simulated pack (test port + core) and helpers that script SOC, loads and time. */
#ifndef ALFA_TEST_CORE_HARNESS_H
#define ALFA_TEST_CORE_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <stdint.h>
#include <cmocka.h>
#include "alfa/core.h"
#include "alfa/test_port.h"

/* 2026-06-01 00:00:00 UTC: a Monday in summer; local time = UTC here (offset 0). */
#define T_DAY0 1780272000LL

typedef struct pack {
    alfa_test_port_t tp;
    alfa_core_t core;
    uint8_t soc_pct;      /* SOC the scripted BMS reports (as pack voltage) */
    int32_t i_batt_ma;
    uint16_t alarms;
    int bms_on;           /* the BMS answers every cycle */
} pack_t;

static inline uint32_t soc_to_mv(uint8_t soc) { return 46400u + 160u * soc; }

static inline void pack_start_with(pack_t *p, const alfa_settings_t *s)
{
    memset(p, 0, sizeof *p);
    alfa_test_port_init(&p->tp, 1000);
    alfa_core_config_t cfg = {.serial = 0x0000A1B2C3D4E5F6ull & 0xFFFFFFFFFFFFull, .settings = s};
    assert_int_equal(alfa_core_init(&p->core, &p->tp.port, &cfg), ALFA_OK);
}

static inline void pack_start(pack_t *p) { pack_start_with(p, NULL); }

static inline void set(pack_t *p, uint32_t id, int32_t v)
{
    const char *why = NULL;
    assert_int_equal(alfa_core_setting_set(&p->core, id, v, &why), ALFA_OK);
}

/* One BMS reading at the scripted SOC. */
static inline void bms_poll(pack_t *p)
{
    alfa_bms_reading_t r = {.v_pack_mv = soc_to_mv(p->soc_pct), .i_batt_ma = p->i_batt_ma,
                            .alarms = p->alarms};
    assert_int_equal(alfa_core_bms_reading(&p->core, &r), ALFA_OK);
}

/* Optional plant hook: called before every core step (e.g. loads that follow their relays). */
typedef void (*plant_fn)(pack_t *p);
static plant_fn harness_plant;

/* Run `ms` of pack time: the core every 500 ms, the BMS every 2 s while bms_on. */
static inline void run(pack_t *p, uint32_t ms)
{
    for (uint32_t t = 0; t < ms; t += 500u) {
        if (harness_plant != NULL) {
            harness_plant(p);
        }
        alfa_test_port_run(&p->tp, &p->core, 500u, 500u);
        if (p->bms_on && (p->tp.now_ms % 2000u) == 0u) {
            bms_poll(p);
        }
    }
}

/* Set the scripted SOC and let the 30-s voltage filter settle on it. */
static inline void soc_settle(pack_t *p, uint8_t soc)
{
    p->soc_pct = soc;
    p->bms_on = 1;
    run(p, 32000u);
    alfa_telemetry_t t;
    alfa_core_telemetry(&p->core, &t);
    assert_int_equal(t.soc_pct, soc);
}

static inline void loads_w(pack_t *p, uint32_t grid, uint32_t home, uint32_t pool, uint32_t heater)
{
    alfa_test_port_set_ct_w(&p->tp, ALFA_CT_GRID, grid);
    alfa_test_port_set_ct_w(&p->tp, ALFA_CT_INVERTER, home);
    alfa_test_port_set_ct_w(&p->tp, ALFA_CT_POOL, pool);
    alfa_test_port_set_ct_w(&p->tp, ALFA_CT_HEATER, heater);
}

/* Set wall time to day `day` (0 = T_DAY0) at hh:mm local (UTC offset 0). */
static inline void clock_at(pack_t *p, int day, int hh, int mm)
{
    assert_int_equal(alfa_core_set_time(&p->core, T_DAY0 + day * 86400LL + hh * 3600 + mm * 60, 0),
                     ALFA_OK);
}

static inline int closed(const pack_t *p, uint32_t relay)
{
    /* Check what the port was told, not the core's own idea, through the board polarity. */
    return alfa_test_port_relay_closed(&p->tp, relay,
                                       (uint8_t)alfa_core_settings(&p->core)->relay_polarity);
}

#endif
