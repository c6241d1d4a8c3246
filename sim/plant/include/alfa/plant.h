/* The site's physical plant for the simulator: sun, house loads, batteries, hybrid inverters, grid. */
#ifndef ALFA_PLANT_H
#define ALFA_PLANT_H

/*
 * A deterministic, integer model of what the packs' sensors see (docs/simulator.md draws the
 * wiring). Time is simulated: the caller passes the local time of day and the step length.
 * Powers are W, voltages mV, currents mA, energies nJ internally and Wh outward.
 *
 * Wiring of one pack (the rule that makes the core's energy balance hold):
 *
 *   PV array --+                                   +-- CT "inverter output" -- relay 2 -- house
 *              |                                   |      (the pack's share of the house load)
 *   grid -- relay 1 -- CT "grid" -- [hybrid inverter] -- battery (BMS: pack mV, current mA)
 *
 *   main panel (grid) -- relay 3 -- CT "pool"   -- pool pump
 *   main panel (grid) -- relay 4 -- CT "heater" -- water heater
 *
 * The inverter is lossless and never exports, so for every pack and every step
 * P_pv_used = P_home + P_batt - P_grid exactly: the core's P_solar = max(0, P_home + P_batt -
 * P_grid) recovers the PV power the inverter used. The pool pump and water heater hang on the
 * main panel, outside the inverter, so Eco's house load P_home + P_pool + P_heater counts each
 * watt once. House load not served by any inverter (output relays open, or batteries empty with
 * the grid relay open) is "unserved": on a real site the changeover switch would take it from
 * the grid directly, which no pack CT sees.
 *
 * Hybrid-inverter policy per pack and step (documented in docs/simulator.md):
 *   PV feeds the house share first, then charges the battery (up to its charge limit and
 *   100 % SOC); the rest is curtailed (no export).
 *   Grid relay closed: the grid covers the rest of the house share and tops the battery up at
 *   `grid_charge_w` (backup behaviour: the battery does not discharge while the grid is there).
 *   Grid relay open: the battery covers the rest of the house share (up to its discharge limit,
 *   while not empty); what it cannot cover is unserved.
 */

#include <stdint.h>

#define ALFA_PLANT_MAX_PACKS 64u
#define ALFA_PLANT_MAX_LOADS 16u    /* scheduled house loads */
#define ALFA_PLANT_MAX_WINDOWS 4u   /* schedule windows of the pool pump / water heater */
#define ALFA_PLANT_DAY_MIN 1440u

/* A daily window [from_min, to_min) in local minutes of the day; crosses midnight when
 * to_min < from_min; from == to means all day. */
typedef struct alfa_plant_window {
    uint16_t from_min;
    uint16_t to_min;
} alfa_plant_window_t;

/* A house load that draws `p_w` inside its daily window. `day` 0 = every day, else only on
 * simulated day `day` (1 = the start date). */
typedef struct alfa_plant_load {
    int32_t p_w;
    alfa_plant_window_t when;
    uint16_t day;
} alfa_plant_load_t;

/* A switched external load (pool pump, water heater): draws `p_w` while its relay is closed and
 * one of its windows is on. No window = always on. */
typedef struct alfa_plant_switched {
    int32_t p_w;
    uint8_t window_count;
    alfa_plant_window_t windows[ALFA_PLANT_MAX_WINDOWS];
} alfa_plant_switched_t;

/* Clear-sky solar of one pack's PV array: half a sine from sunrise to sunset, peak at noon of
 * that span; `cloud_pct` > 0 dims it by up to that much, changing smoothly every 10 minutes
 * from the seeded generator. */
typedef struct alfa_plant_solar {
    int32_t peak_w;
    uint16_t sunrise_min;
    uint16_t sunset_min;
    uint8_t cloud_pct;   /* 0..100 */
} alfa_plant_solar_t;

/* One pack's battery and inverter. */
typedef struct alfa_plant_battery {
    uint32_t capacity_wh;     /* usable energy between 0 % and 100 % */
    uint8_t soc_init_pct;     /* at the start of the run */
    uint16_t r_int_mohm;      /* internal resistance: terminal voltage moves with current */
    int32_t max_charge_w;     /* inverter/BMS charge limit */
    int32_t max_discharge_w;  /* inverter/BMS discharge limit */
    int32_t grid_charge_w;    /* charge power drawn from the grid while the grid relay is closed */
    uint8_t cells;            /* cells in series: 0 % at cells x 2.9 V, 100 % at cells x 3.9 V */
    uint8_t auto_alarms;      /* 1: cell under-voltage alarm while empty (clears above 2 %) */
} alfa_plant_battery_t;

/* Per-pack part of the configuration. */
typedef struct alfa_plant_pack_cfg {
    alfa_plant_solar_t solar;
    alfa_plant_battery_t battery;
    alfa_plant_switched_t pool;
    alfa_plant_switched_t heater;
} alfa_plant_pack_cfg_t;

/* The whole site. */
typedef struct alfa_plant_cfg {
    uint32_t mains_mv;           /* RMS mains voltage the CTs' currents are computed with (220 V) */
    int32_t base_load_w;         /* house base load, always on */
    uint8_t load_count;
    alfa_plant_load_t loads[ALFA_PLANT_MAX_LOADS];
    uint8_t relays_nc;           /* 1: relay contacts closed when the coil is NOT energised */
    uint64_t seed;               /* clouds */
    uint8_t pack_count;
    alfa_plant_pack_cfg_t packs[ALFA_PLANT_MAX_PACKS];
} alfa_plant_cfg_t;

/* Default configuration for `packs` packs: 220 V, 400 W base load, 5 kW PV 06:00-20:00 clear,
 * 10 kWh battery at 50 %, 20 mOhm, 5 kW charge/discharge, 2 kW grid charge, 16 cells, pool pump
 * 1200 W 10:00-16:00, water heater 2000 W 13:00-15:00, normally-open relays. */
void alfa_plant_defaults(alfa_plant_cfg_t *cfg, uint8_t packs);

/* What the sensors of one pack see after a step (the simulator turns these into ADC blocks and
 * BMS registers), plus the flows behind them for traces and tests. */
typedef struct alfa_plant_pack_out {
    /* sensors */
    uint32_t ct_ma[4];        /* RMS current per CT, ALFA_CT_* order: grid, inverter, pool, heater */
    uint32_t v_pack_mv;       /* terminal voltage */
    int32_t i_batt_ma;        /* + = charging */
    uint16_t bms_alarms;      /* injected | automatic alarm bits (SPEC §5.1 numbering) */
    uint8_t bms_soc_pct;      /* the BMS's own SOC register (true state of charge) */
    /* flows (W), + as named */
    int32_t p_pv_avail_w;     /* what the sun offers */
    int32_t p_pv_used_w;      /* what the inverter took (the rest is curtailed) */
    int32_t p_home_w;         /* inverter output: the served part of the pack's house share */
    int32_t p_batt_w;         /* + = charging, at the terminals */
    int32_t p_grid_w;         /* grid into the inverter */
    int32_t p_pool_w;
    int32_t p_heater_w;
    int32_t p_unserved_w;     /* house share the inverter could not serve */
} alfa_plant_pack_out_t;

typedef struct alfa_plant_pack {
    int64_t energy_nj;        /* stored energy above 0 % */
    int64_t capacity_nj;
    uint8_t relays_closed;    /* contact state, bit i = relay i closed */
    uint8_t controller_on;    /* 0: the controller is off, coils de-energised */
    uint8_t uv_latched;       /* automatic under-voltage alarm state */
    uint16_t alarms_injected;
    alfa_plant_pack_out_t out;
    /* energy totals since the start of the run, mJ (Wh = mJ / 3,600,000) */
    int64_t grid_import_mj;
    int64_t pv_used_mj;
} alfa_plant_pack_t;

typedef struct alfa_plant {
    alfa_plant_cfg_t cfg;
    alfa_plant_pack_t packs[ALFA_PLANT_MAX_PACKS];
    int32_t p_house_w;          /* whole-house demand at the last step (base + scheduled) */
    int32_t p_unserved_w;       /* house demand no inverter served (taken from the grid directly) */
} alfa_plant_t;

/* Initialise the plant from `cfg` (copied). Returns 0, or -1 if a value is out of range
 * (no packs, more than ALFA_PLANT_MAX_PACKS, zero capacity, a cell count of 0, minutes >= 1440,
 * cloud over 100 %, negative powers); the plant is then unusable. */
int alfa_plant_init(alfa_plant_t *p, const alfa_plant_cfg_t *cfg);

/* Relay coil mask of pack `idx` from its controller (port relays_set); the contacts follow the
 * site's polarity. Ignored while the controller is off. */
void alfa_plant_set_coils(alfa_plant_t *p, uint8_t idx, uint8_t energised_mask);

/* Controller of pack `idx` powered on/off. Off de-energises the coils (contacts go to rest). */
void alfa_plant_set_controller(alfa_plant_t *p, uint8_t idx, int on);

/* BMS alarm bits to report for pack `idx` on top of the automatic ones (fault injection). */
void alfa_plant_set_alarms(alfa_plant_t *p, uint8_t idx, uint16_t alarm_bits);

/* Advance the plant by `dt_ms` ending at local time `day` (1 = start date) and `ms_of_day`
 * (0..86,399,999). Flows are held constant over the step (decided from the state at its start). */
void alfa_plant_step(alfa_plant_t *p, uint32_t day, uint32_t ms_of_day, uint32_t dt_ms);

/* Solar power offered to pack `idx` at that moment (W), clouds included. */
int32_t alfa_plant_solar_w(const alfa_plant_t *p, uint8_t idx, uint32_t day, uint32_t ms_of_day);

/* What pack `idx` shows its controller's inputs and its BMS after the last step (owned by `p`). */
const alfa_plant_pack_out_t *alfa_plant_out(const alfa_plant_t *p, uint8_t idx);
/* Contacts closed now at pack `idx`, bit i = relay i. */
uint8_t alfa_plant_relays_closed(const alfa_plant_t *p, uint8_t idx);
/* Grid energy imported through pack `idx` since the start of the run, mJ (the truth). */
int64_t alfa_plant_grid_import_mj(const alfa_plant_t *p, uint8_t idx);

/* True state of charge of pack `idx`, 0..100 (rounded down), and in tenths of a percent. */
uint8_t alfa_plant_soc_pct(const alfa_plant_t *p, uint8_t idx);
uint16_t alfa_plant_soc_permille(const alfa_plant_t *p, uint8_t idx);

/* Open-circuit voltage (mV) of a pack with `cells` cells at `soc_permille` (0..1000): the
 * linear curve of SPEC §5.4, cells x 2.9 V at 0 to cells x 3.9 V at 1000. */
uint32_t alfa_plant_ocv_mv(uint8_t cells, uint32_t soc_permille);

/* Is window `w` on at local minute `min`? */
int alfa_plant_window_on(alfa_plant_window_t w, uint32_t min);

#endif
