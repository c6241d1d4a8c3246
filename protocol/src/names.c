/* The one table of names of modes, faults and warnings: what MQTT, logs, tools and scenarios call them. */
#include "alfa/model.h"

static const char *const mode_names[ALFA_MODE_COUNT] = {"none", "self_consumption", "eco", "tou", "backup"};

static const char *const fault_names[ALFA_FAULT_COUNT] = {
    "bms_comm_lost", "cell_over_voltage", "cell_under_voltage", "over_temperature",
    "under_temperature", "charge_over_current", "discharge_over_current", "short_circuit",
    "bms_internal", "ct_out_of_range", "time_not_set", "settings_corrupt", "can_bus_off",
};

static const char *const warning_names[ALFA_WARN_COUNT] = {
    "loads_limit", "grid_limit_reached", "bms_degraded", "node_id_conflict",
};

const char *alfa_mode_name(uint32_t mode) { return mode < ALFA_MODE_COUNT ? mode_names[mode] : (const char *)0; }
const char *alfa_fault_name(uint32_t bit) { return bit < ALFA_FAULT_COUNT ? fault_names[bit] : (const char *)0; }
const char *alfa_warning_name(uint32_t bit) { return bit < ALFA_WARN_COUNT ? warning_names[bit] : (const char *)0; }
