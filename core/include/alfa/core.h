/* The pack controller core's public API: one context per pack, measurements, control, indicators, faults, settings. */
#ifndef ALFA_CORE_H
#define ALFA_CORE_H

/*
 * How to use it
 * -------------
 *   alfa_core_t core;                       // owned by the caller (static, stack or a struct)
 *   alfa_core_config_t cfg = { .serial = mac48, .settings = loaded_or_NULL };
 *   alfa_core_init(&core, &port, &cfg);
 *   for (;;) { alfa_core_process(&core); ... }   // as often as the port likes, never blocks
 *
 * The core keeps no global state: everything lives in `alfa_core_t`, so a simulator runs many
 * packs in one process. The port table and its `user` object belong to the caller and must
 * outlive the core. Every function takes the context as its first argument and is called from
 * one thread only (the same one that calls alfa_core_process).
 *
 * Timing
 * ------
 * alfa_core_process runs a measurement/control cycle every ALFA_CORE_CYCLE_MS (2 s, SPEC.md §5.6):
 * read the four CT blocks, compute powers, solar and energies, apply the daily reset and the
 * grid-import limit, debounce faults, decide the relays (SPEC.md §6.3), and at the end feed the
 * watchdog (SPEC.md §12: only a completed cycle feeds it). Indicators update as their time comes
 * (100 ms sweep steps, 500 ms blinks); pixels, segments and LEDs are pushed only when they change.
 * Commands (settings, time, overrides, BMS input, site messages) act at once: the relays are
 * decided again inside the call.
 *
 * Relays
 * ------
 * Before the first valid BMS reading the relays sit in the boot state (all closed: the home is fed
 * and the inverter can charge); the energy modes take over with that reading. Relay changes
 * respect the minimum dwell (setting dwell_s) except those made for the grid-import limit and for
 * critical faults. Polarity (NC contacts) is applied before port->relays_set.
 *
 * Errors
 * ------
 * Fallible functions return ALFA_OK or a negative alfa_err_t; on error nothing changed.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/err.h"
#include "alfa/port.h"
#include "alfa/model.h"
#include "alfa/settings.h"
#include "alfa/meas.h"
#include "alfa/fault.h"
#include "alfa/ctrl.h"
#include "alfa/ind.h"
#include "alfa/ltime.h"
#include "alfa/siteday.h"

#define ALFA_CORE_CYCLE_MS 2000u
/* Energy integration never spans more than this (a stalled caller must not invent energy). */
#define ALFA_CORE_MAX_STEP_MS 10000u

typedef struct alfa_core_config {
    uint64_t serial;                  /* 48-bit hardware serial (the ESP32's MAC) */
    const alfa_settings_t *settings;  /* settings loaded by the store; NULL = factory defaults.
                                       * Copied; must pass alfa_settings_validate. */
    bool settings_corrupt;            /* the store found no valid copy: raise SETTINGS_CORRUPT */
} alfa_core_config_t;

/* A firmware version (major 0..31, minor 0..63, patch 0..31: the heartbeat's wire widths). */
typedef struct alfa_fw_version {
    uint8_t major, minor, patch;
} alfa_fw_version_t;

typedef struct alfa_core {
    const alfa_port_t *port;
    uint64_t serial;
    alfa_fw_version_t fw_version;     /* of the image that runs (alfa_core_set_fw_version) */
    alfa_settings_t settings;
    uint32_t settings_gen;            /* +1 on every settings change (the pack tells the store) */

    uint32_t boot_ms;
    uint32_t next_cycle_ms;
    uint32_t last_energy_ms;
    uint32_t cycle;                   /* completed 2-s cycles */
    uint8_t ran;                      /* a first cycle has run */

    /* measurements */
    int32_t i_ma[ALFA_CT_COUNT];
    int32_t p_grid_w, p_home_w, p_pool_w, p_heater_w, p_batt_w, p_solar_w;
    uint8_t ct_bad;                   /* bit i: CT i out of range in the last cycle */
    uint8_t bms_valid;                /* a valid BMS reading arrived since boot */
    uint8_t batt_known;               /* the battery's figures are current (not lost) */
    uint8_t soc_pct;
    uint32_t v_pack_mv;               /* filtered */
    int32_t i_batt_ma;
    alfa_soc_filter_t soc_filter;
    alfa_energy_t e_grid, e_solar, e_charge, e_discharge;

    /* time, day and grid limit */
    alfa_clock_t clock;
    alfa_siteday_t day;               /* the one owner of "today" (siteday.h) */
    uint8_t grid_limit_latched;
    uint8_t site_limit_reached;
    uint32_t site_import_wh;          /* the site's import today, as the master last said */
    uint8_t import_recovering;        /* 1: e_grid counts since boot, before it not back yet;
                                       * 2: answered (flag down); later answers of the same round
                                       * are still taken as "before boot" until the next cycle */
    uint32_t import_base_wh;          /* the import before boot taken back so far */

    /* site and indicators */
    uint8_t is_master;
    uint8_t fw_update;
    uint8_t identify;
    uint32_t identify_until_ms;
    uint16_t ext_warnings;            /* warnings reported from outside (node ID conflict) */
    uint16_t bms_warnings;
    uint8_t bms_degraded;             /* the BMS link keeps needing retries */
    alfa_faults_t faults;
    alfa_ctrl_t ctrl;
    uint8_t relays_pushed;            /* last energised mask given to the port */
    uint8_t relays_pushed_valid;
    alfa_ind_frame_t ind;             /* last frame pushed */
    uint8_t ind_pushed;               /* bit0 pixels, bit1 segments, bit2 LEDs pushed once */
    uint32_t ind_next_ms;
} alfa_core_t;

/* Start a pack: copy the settings (or defaults), put the relays in the boot state (pushed to the
 * port at once), show "---" until the first BMS reading. ALFA_E_INVAL for a NULL argument, a
 * port without now_ms/relays_set/status_leds_set, or a serial above 48 bits; ALFA_E_RANGE when
 * cfg->settings fails validation. On error `c` is not usable. */
alfa_err_t alfa_core_init(alfa_core_t *c, const alfa_port_t *port, const alfa_core_config_t *cfg);

/* Do whatever is due now (cycle, indicators). Never blocks; call it often (every few ms). */
void alfa_core_process(alfa_core_t *c);

/* ---- inputs ---- */

/* What the BMS link tells the core (the seam between bms.h and the core, filled by the pack). */
typedef struct alfa_core_bms_in {
    uint8_t flags;                /* ALFA_CORE_BMS_* */
    alfa_bms_reading_t reading;   /* values with ALFA_CORE_BMS_VALUES; alarm and warning words
                                   * with ALFA_CORE_BMS_ALARMS */
} alfa_core_bms_in_t;
#define ALFA_CORE_BMS_VALUES 0x01u    /* a good, plausible reading: pack voltage, current, SOC */
#define ALFA_CORE_BMS_ALARMS 0x02u    /* a well-formed frame: its alarm/warning bits act, even when
                                       * its values were implausible (a failed poll) */
#define ALFA_CORE_BMS_COMM_LOST 0x04u /* no good reading for ALFA_BMS_LOST_MS: battery unknown */
#define ALFA_CORE_BMS_DEGRADED 0x08u  /* the link keeps needing retries: warning BMS_DEGRADED */

/* One BMS event. VALUES sets SOC (at once the first time, then through the ~30 s filter) and the
 * battery's figures; ALARMS raises or clears the alarm faults and the BMS warning; COMM_LOST
 * raises (clear = clears) ALFA_FAULT_BMS_COMM_LOST and makes the battery unknown: battery power
 * counts as 0 in the balance, nothing is integrated from it and telemetry reports v_pack_mv 0.
 * ALFA_E_INVAL for NULL; ALFA_E_RANGE when VALUES carries a pack voltage of 0 or above
 * ALFA_V_PACK_MAX_MV (the BMS layer never sends one): then nothing changed. */
alfa_err_t alfa_core_bms_input(alfa_core_t *c, const alfa_core_bms_in_t *in);

/* The same event without its values (ALFA_CORE_BMS_VALUES in in->flags is ignored): alarm bits,
 * comm lost, degraded. Nothing in it can be out of range, so it cannot fail and returns nothing;
 * the pack's seam gives it a reading whose values alfa_core_bms_input refused. */
void alfa_core_bms_status(alfa_core_t *c, const alfa_core_bms_in_t *in);

/* A good reading (values and alarm bits), for benches and tools without a BMS poller. */
static inline alfa_err_t alfa_core_bms_reading(alfa_core_t *c, const alfa_bms_reading_t *r)
{
    alfa_core_bms_in_t in = {.flags = ALFA_CORE_BMS_VALUES | ALFA_CORE_BMS_ALARMS, .reading = *r};
    return alfa_core_bms_input(c, &in);
}

/* Wall-clock time (gateway broadcast): Unix seconds UTC and the local offset in minutes.
 * ALFA_E_RANGE outside 2020..2100 or offsets outside -720..+840; nothing changes then. */
alfa_err_t alfa_core_set_time(alfa_core_t *c, int64_t unix_s, int16_t utc_offset_min);
bool alfa_core_time_valid(const alfa_core_t *c);

/* Conditions detected outside the core. There is one function per condition, not one taking a
 * bit number, so that none can name a bit the core does not have: none can fail. The debounce
 * of the fault's row applies. */
/* The CAN controller is bus-off (true) or back (false): ALFA_FAULT_CAN_BUS_OFF (from the node). */
void alfa_core_can_bus_off(alfa_core_t *c, bool bus_off);
/* The settings store holds no valid record (true), or has written one again (false):
 * ALFA_FAULT_SETTINGS_CORRUPT (from the pack; alfa_core_config_t raises it at boot). */
void alfa_core_settings_corrupt(alfa_core_t *c, bool corrupt);
/* This pack moved off a node ID another node holds (true) until the warning's time is over
 * (false): warning ALFA_WARN_NODE_ID_CONFLICT (from the node). */
void alfa_core_node_id_conflict(alfa_core_t *c, bool active);

/* ---- settings ---- */

/* Every settings change, whatever its origin (a CAN command, MQTT through the gateway, a scenario,
 * a restore), ends in the one commit of core.c, which applies the same side effects to the same
 * change: a new mode puts the manual overrides it did not set back to auto (SPEC.md §6.3); a new
 * grid-limit kWh (or switching the limit on) judges the limit afresh (a latched limit is released
 * and the master re-sends "reached" if the site is still over). The generation counter advances
 * and the relays are decided again at once. On error nothing changes. */

/* Change one setting (alfa_setting_id_t). ALFA_E_NOENT for an unknown id, ALFA_E_RANGE for a value
 * outside the table's range or breaking a cross-field rule (`*reason`, may be NULL, says which). */
alfa_err_t alfa_core_setting_set(alfa_core_t *c, uint32_t id, int32_t value, const char **reason);

/* Change several settings as one (checked together: e.g. both self-consumption thresholds).
 * `n` pairs of ids[i] = values[i]; ALFA_E_INVAL for NULLs or n == 0, otherwise as above. */
alfa_err_t alfa_core_settings_change(alfa_core_t *c, const uint16_t *ids, const int32_t *values, uint32_t n,
                                     const char **reason);
/* Read one setting. ALFA_E_NOENT for an unknown id. */
alfa_err_t alfa_core_setting_get(const alfa_core_t *c, uint32_t id, int32_t *value);
/* The settings in use (read only; change them only through the functions here). */
const alfa_settings_t *alfa_core_settings(const alfa_core_t *c);
/* Advances by one on every change: compare with the value you saved to know whether to store. */
uint32_t alfa_core_settings_generation(const alfa_core_t *c);
/* Replace all settings with `s` (a restore). ALFA_E_RANGE (nothing changed, `*reason` says why)
 * when `s` fails alfa_settings_validate. Same commit, same side effects as any change. */
alfa_err_t alfa_core_settings_load(alfa_core_t *c, const alfa_settings_t *s, const char **reason);
/* Factory defaults, keeping the node ID (the pack's place on the bus is not a preference). */
void alfa_core_factory_reset(alfa_core_t *c);
/* The app's "mode on/off" (SPEC.md §6.1): on makes `mode` the active one; off leaves no mode
 * active if `mode` was the active one (otherwise nothing changes). ALFA_E_RANGE for a bad mode. */
alfa_err_t alfa_core_set_mode(alfa_core_t *c, uint32_t mode, bool on);

/* ---- site coordination (called by the CAN node) ---- */

/* This pack is (or is no longer) the site master: green LED blinks, telemetry says so. */
void alfa_core_set_master(alfa_core_t *c, bool is_master);
/* The site day (siteday.h): the day every "today" figure and CAN message about it belongs to. */
uint16_t alfa_core_day(const alfa_core_t *c);
/* The master announced its day: follow it forward (a later day resets "today" now). */
void alfa_core_follow_day(alfa_core_t *c, uint16_t day);
/* The master's word on site day `day`: the SITE's import so far and whether it reached the daily
 * limit. `true` latches the limit (grid relay open until the daily reset or until the limit is
 * switched off); `false` never releases a latched limit by itself. The site's import is kept for
 * the day, so that a new limit setting is judged afresh at once against it: raised above it, the
 * grid comes back; still under it, the latch holds without a blink. Ignored for any day but this
 * pack's own; the flag is ignored while the limit is switched off. */
void alfa_core_site_grid_limit(alfa_core_t *c, uint32_t site_import_wh, bool reached, uint16_t day);
/* Today's grid import of this pack. */
uint32_t alfa_core_grid_import_today_wh(const alfa_core_t *c);
/* A pack recovers its import of site day `day` from the master or gateway (docs/protocol.md
 * §3.3); another day's figure is ignored. After a boot (ALFA_WARN_IMPORT_RECOVERING up) `wh` is
 * what the pack had before the boot and is added to what it counted since; the flag drops at
 * once, and until the next cycle every answer of the same round is taken alike (the largest
 * wins, alfa/dayfig.h).
 * Otherwise the counter becomes max(current, wh): a late or stale answer never lowers it. */
void alfa_core_restore_grid_import(alfa_core_t *c, uint32_t wh, uint16_t day);

/* Local wall time now: false when no valid time was ever set. */
bool alfa_core_wall_time(const alfa_core_t *c, int64_t *unix_s, int16_t *utc_offset_min);
/* Any critical fault active (the pack's safe state). */
bool alfa_core_critical(const alfa_core_t *c);
/* Any warning active: control warnings or warning-severity faults (yellow LED). */
bool alfa_core_warning_any(const alfa_core_t *c);
/* A firmware update is in progress (alfa_core_set_fw_update). */
bool alfa_core_fw_update(const alfa_core_t *c);

/* ---- firmware identity ---- */

/* The version of the image that runs, as reported in heartbeats (and so on MQTT). The core starts
 * with the build's ALFA_FW_VERSION_*; the pack sets it at boot from the running slot's signed
 * header (fwu.h), so a pack updated over CAN reports the new image's version. ALFA_E_RANGE (and
 * nothing changes) for a field beyond its wire width. */
alfa_err_t alfa_core_set_fw_version(alfa_core_t *c, alfa_fw_version_t v);
alfa_fw_version_t alfa_core_fw_version(const alfa_core_t *c);

/* ---- indicators ---- */

/* Blink every LED and the bar for `seconds` (0 stops). */
void alfa_core_identify(alfa_core_t *c, uint16_t seconds);
/* The identify blink is on now. */
bool alfa_core_identifying(const alfa_core_t *c);
/* A firmware update is in progress: red LED blinks. */
void alfa_core_set_fw_update(alfa_core_t *c, bool in_progress);
/* The last frame computed and pushed (pixels, segments, status LEDs). */
const alfa_ind_frame_t *alfa_core_indicators(const alfa_core_t *c);

/* ---- outputs ---- */

/* Fill `out` with this cycle's telemetry (SPEC.md §8.5). */
void alfa_core_telemetry(const alfa_core_t *c, alfa_telemetry_t *out);
/* Relays closed now (bit i = relay i) and why relay `relay` is in its state (alfa_why_t, or
 * ALFA_WHY_DEFAULT for a bad index). */
uint8_t alfa_core_relays_closed(const alfa_core_t *c);
alfa_why_t alfa_core_relay_why(const alfa_core_t *c, uint32_t relay);
/* Active fault and warning bits (same as in telemetry). */
uint32_t alfa_core_faults(const alfa_core_t *c);
uint16_t alfa_core_warnings(const alfa_core_t *c);
uint64_t alfa_core_serial(const alfa_core_t *c);
/* Completed 2-s cycles since boot (0: no cycle yet, no measurement to show). */
uint32_t alfa_core_cycles(const alfa_core_t *c);

#endif
