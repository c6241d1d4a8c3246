/* The names of modes, relays, overrides, faults and warnings: one table each, shared by gateway, pack daemon, tools and docs. */
#include "alfa/names.h"

#include "alfa/settings.h"

static const char *const mode_names[] = {"none", "self_consumption", "eco", "tou", "backup"};
_Static_assert(sizeof mode_names / sizeof mode_names[0] == ALFA_MODE_COUNT, "one name per mode");

static const char *const relay_names[] = {"grid", "inverter", "pool", "heater"};

static const char *const override_names[] = {"auto", "open", "closed"};
_Static_assert(sizeof override_names / sizeof override_names[0] == (unsigned)ALFA_OVR_CLOSED + 1u,
               "one name per override");

static const char *const fault_names[] = {
    "bms_comm_lost",     "cell_over_voltage",      "cell_under_voltage", "over_temperature",
    "under_temperature", "charge_over_current",    "discharge_over_current", "short_circuit",
    "bms_internal",      "ct_out_of_range",        "time_not_set",       "settings_corrupt",
    "can_bus_off",
};
_Static_assert(sizeof fault_names / sizeof fault_names[0] == ALFA_FAULT_COUNT, "one name per fault bit");

static const char *const warning_names[] = {
    "loads_limit", "grid_limit_reached", "bms_degraded", "node_id_conflict", "import_recovering",
};
_Static_assert(sizeof warning_names / sizeof warning_names[0] == ALFA_WARN_COUNT, "one name per warning bit");

#define NAME_AT(tab, i) ((i) < sizeof(tab) / sizeof((tab)[0]) ? (tab)[i] : (const char *)0)

const char *alfa_mode_name(uint32_t mode) { return NAME_AT(mode_names, mode); }
const char *alfa_relay_name(uint32_t relay) { return NAME_AT(relay_names, relay); }
const char *alfa_override_name(uint32_t ovr) { return NAME_AT(override_names, ovr); }
const char *alfa_fault_name(uint32_t bit) { return NAME_AT(fault_names, bit); }
const char *alfa_warning_name(uint32_t bit) { return NAME_AT(warning_names, bit); }

const char *alfa_setting_value_name(uint32_t setting_id, int32_t value)
{
    if (value < 0) {
        return (const char *)0;
    }
    switch (setting_id) {
    case ALFA_SET_MODE: return alfa_mode_name((uint32_t)value);
    case ALFA_SET_OVR_GRID:
    case ALFA_SET_OVR_INVERTER:
    case ALFA_SET_OVR_POOL:
    case ALFA_SET_OVR_HEATER: return alfa_override_name((uint32_t)value);
    case ALFA_SET_TOU_RELAY: return alfa_relay_name((uint32_t)value);
    default: return (const char *)0;
    }
}
