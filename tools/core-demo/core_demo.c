/* A scripted sunny day of one energy pack: a tiny plant (sun, house, pool pump, water heater, battery) around the real core, printed hour by hour. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alfa/core.h"
#include "alfa/test_port.h"

#define BATT_WH 10240.0        /* 200 Ah x 51.2 V */
#define MAX_CHARGE_W 3000.0
#define MAX_DISCHARGE_W 5000.0
#define START_UNIX 1780290000LL /* 2026-06-01 05:00 UTC */

typedef struct plant {
    double soc;          /* 0..1, the battery's true state */
    double p_batt_w;     /* + = charging */
    double p_grid_w, p_home_w, p_pool_w, p_heater_w, p_solar_w;
} plant_t;

/* Sun from 06:00 to 20:00, 5.5 kW peak at 13:00, with a passing cloud at 15:00. */
static double solar_w(double hour)
{
    if (hour < 6.0 || hour > 20.0) {
        return 0.0;
    }
    double s = sin(3.141592653589793 * (hour - 6.0) / 14.0);
    double cloud = (hour > 15.0 && hour < 15.5) ? 0.4 : 1.0;
    return 5500.0 * s * s * cloud;
}

static double house_w(double hour)
{
    double base = 350.0;
    if (hour >= 6.5 && hour < 8.5) base += 1200.0;   /* breakfast */
    if (hour >= 12.0 && hour < 13.0) base += 900.0;  /* lunch */
    if (hour >= 18.0 && hour < 22.0) base += 1500.0; /* evening */
    return base;
}

/* One plant step: the inverter feeds the loads from the sun first, then from the battery while
 * the grid relay is open, or from the grid while it is closed; surplus sun charges the battery. */
static void plant_step(plant_t *pl, const alfa_test_port_t *tp, double hour, double dt_s)
{
    bool grid = (tp->relays_energised >> ALFA_RELAY_GRID) & 1u;
    bool inv = (tp->relays_energised >> ALFA_RELAY_INVERTER) & 1u;
    bool pool = (tp->relays_energised >> ALFA_RELAY_POOL) & 1u;
    bool heater = (tp->relays_energised >> ALFA_RELAY_HEATER) & 1u;
    pl->p_solar_w = solar_w(hour);
    pl->p_home_w = inv ? house_w(hour) : 0.0;
    pl->p_pool_w = (pool && hour >= 10.0 && hour < 16.0) ? 800.0 : 0.0;
    pl->p_heater_w = (heater && ((hour >= 6.0 && hour < 7.5) || (hour >= 19.0 && hour < 20.5))) ? 1800.0 : 0.0;
    double load = pl->p_home_w + pl->p_pool_w + pl->p_heater_w;
    double surplus = pl->p_solar_w - load;
    pl->p_grid_w = 0.0;
    if (surplus >= 0.0) {
        pl->p_batt_w = fmin(surplus, pl->soc < 1.0 ? MAX_CHARGE_W : 0.0);
    } else if (grid) {
        pl->p_grid_w = -surplus;
        pl->p_batt_w = 0.0;
    } else {
        double d = fmin(-surplus, pl->soc > 0.02 ? MAX_DISCHARGE_W : 0.0);
        pl->p_batt_w = -d; /* below 2 % the inverter cuts out: the loads go dark */
    }
    pl->soc += pl->p_batt_w * dt_s / 3600.0 / BATT_WH;
    pl->soc = fmin(1.0, fmax(0.0, pl->soc));
}

static void set_ct(alfa_test_port_t *tp, uint8_t ch, double p_w)
{
    /* 20-W steps: the synthetic waveform is regenerated only when the current changes */
    uint32_t w = (uint32_t)(lround(p_w / 20.0) * 20);
    uint32_t ma = (uint32_t)((w * 1000u + 110u) / 220u);
    if (tp->ct[ch].i_rms_ma != ma) {
        alfa_test_port_set_ct(tp, ch, ma, 2048, 2);
    }
}

static void bar_text(const alfa_ind_frame_t *f, char *out)
{
    for (uint8_t i = 0; i < f->px_count; i++) {
        const alfa_rgb_t *p = &f->px[i];
        out[i] = p->b ? 'b' : p->r ? 'R' : p->g ? 'G' : '.';
    }
    out[f->px_count] = '\0';
}

static void seg_text(const uint8_t seg[3], char *out)
{
    for (int i = 0; i < 3; i++) {
        char c = ' ';
        for (uint32_t d = 0; d < 10; d++) {
            if (seg[i] == alfa_ind_digit(d)) c = (char)('0' + d);
        }
        if (seg[i] == ALFA_SEG_DASH) c = '-';
        out[i] = c;
    }
    out[3] = '\0';
}

static const char *mode_name(int m)
{
    static const char *const names[] = {"none", "self-consumption", "eco", "time-of-use", "backup"};
    return m >= 0 && m < 5 ? names[m] : "?";
}

int main(void)
{
    static alfa_test_port_t tp;
    static alfa_core_t core;
    alfa_test_port_init(&tp, 0);
    alfa_settings_t s;
    alfa_settings_defaults(&s);
    s.mode = ALFA_MODE_SELF_CONSUMPTION;
    s.sc_low_pct = 20;
    s.sc_high_pct = 60;
    s.grid_limit_on = 1;
    s.grid_limit_kwh = 8;
    alfa_core_config_t cfg = {.serial = 0x24A1B2C3D4E5ull, .settings = &s};
    if (alfa_core_init(&core, &tp.port, &cfg) != ALFA_OK) {
        fprintf(stderr, "core-demo: init failed\n");
        return 1;
    }
    if (alfa_core_set_time(&core, START_UNIX, 0) != ALFA_OK) {
        return 1;
    }
    plant_t pl = {.soc = 0.35};
    printf("Alfaspark core demo: one pack, a sunny day (mode %s, grid closes at SOC <= %d %%, "
           "opens at >= %d %%;\n"
           "daily grid-import limit %d kWh, the day starting 05:00)\n", mode_name(s.mode),
           s.sc_low_pct, s.sc_high_pct, s.grid_limit_kwh);
    printf("relays: G grid, I inverter out, P pool pump, H water heater (upper case = closed); "
           "bar: G green, R red, b blue sweep\n\n");
    printf("time  | SOC | solar W | home W | pool W | heat W | grid W | batt W | relays | grid why   | bar        | disp | LEDs | import Wh | solar Wh\n");
    const char *why[] = {"default", "boot", "mode", "override", "fault", "grid-limit", "dwell"};
    uint32_t step_ms = 250;
    uint32_t total_ms = 24u * 3600000u - 2000u; /* up to 04:59:58, before the daily reset */
    for (uint32_t t = 0; t < total_ms; t += step_ms) {
        double hour = 5.0 + t / 3600000.0;
        if (t % 2000u == 0u) {
            plant_step(&pl, &tp, fmod(hour, 24.0), 2.0);
            set_ct(&tp, ALFA_CT_GRID, pl.p_grid_w);
            set_ct(&tp, ALFA_CT_INVERTER, pl.p_home_w);
            set_ct(&tp, ALFA_CT_POOL, pl.p_pool_w);
            set_ct(&tp, ALFA_CT_HEATER, pl.p_heater_w);
            uint32_t v_mv = (uint32_t)(46400.0 + 16000.0 * pl.soc);
            alfa_bms_reading_t r = {.v_pack_mv = v_mv,
                                    .i_batt_ma = (int32_t)lround(pl.p_batt_w * 1e6 / v_mv)};
            if (alfa_core_bms_reading(&core, &r) != ALFA_OK) {
                return 1;
            }
        }
        if (t % 3600000u == 0u) {
            alfa_telemetry_t tm;
            alfa_core_telemetry(&core, &tm);
            char bar[ALFA_PIXELS_MAX + 1], disp[4];
            bar_text(alfa_core_indicators(&core), bar);
            seg_text(tp.segments, disp);
            char rel[5];
            const char *up = "GIPH", *lo = "giph";
            for (int i = 0; i < 4; i++) rel[i] = ((tm.relays_closed >> i) & 1u) ? up[i] : lo[i];
            rel[4] = '\0';
            printf("%02d:00 | %3u | %7d | %6d | %6d | %6d | %6d | %6d | %s   | %-10s | %-10s | %s  | %c%c%c  | %9u | %8u\n",
                   (int)fmod(hour, 24.0), tm.soc_pct, tm.p_solar_w, tm.p_home_w, tm.p_pool_w,
                   tm.p_heater_w, tm.p_grid_w, tm.p_batt_w, rel,
                   why[alfa_core_relay_why(&core, ALFA_RELAY_GRID)], bar, disp,
                   (tp.leds & ALFA_LED_GREEN) ? 'g' : '.', (tp.leds & ALFA_LED_YELLOW) ? 'y' : '.',
                   (tp.leds & ALFA_LED_RED) ? 'r' : '.', tm.grid_import_today_wh,
                   tm.solar_today_wh);
        }
        alfa_test_port_advance(&tp, step_ms);
        alfa_core_process(&core);
    }
    alfa_telemetry_t tm;
    alfa_core_telemetry(&core, &tm);
    printf("\n04:59 day done: %u cycles, watchdog fed %u times, grid import %u Wh, solar %u Wh, "
           "battery in %u Wh / out %u Wh, faults 0x%x\n", tm.cycle, tp.watchdog_feeds,
           tm.grid_import_today_wh, tm.solar_today_wh, tm.batt_charge_today_wh,
           tm.batt_discharge_today_wh, tm.faults);
    /* the demo checks itself: every 2-s cycle ran and fed the watchdog */
    return tm.cycle >= 43199u && tp.watchdog_feeds == tm.cycle ? 0 : 1;
}
