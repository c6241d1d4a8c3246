/* The one table of the data model's names: modes, relays, overrides, faults and warnings, as they appear on MQTT, in logs and in the docs. */
#ifndef ALFA_NAMES_H
#define ALFA_NAMES_H

/*
 * Each function returns the stable snake_case name of a value of an alfa/model.h enum, or NULL
 * when the value has no name (out of range). The names travel on MQTT (state JSON, events,
 * commands), so they never change; a new enum value gets a new name here, in the same commit.
 * Freestanding, stateless.
 */

#include <stdint.h>

#include "alfa/model.h"

/* "none", "self_consumption", "eco", "tou", "backup" (alfa_mode_t). */
const char *alfa_mode_name(uint32_t mode);
/* "grid", "inverter", "pool", "heater" (relay and CT index, ALFA_RELAY_* order). */
const char *alfa_relay_name(uint32_t relay);
/* "auto", "open", "closed" (alfa_override_t). */
const char *alfa_override_name(uint32_t ovr);
/* "bms_comm_lost", "cell_over_voltage"... (alfa_fault_bit_t). */
const char *alfa_fault_name(uint32_t bit);
/* "loads_limit", "grid_limit_reached"... (alfa_warning_bit_t). */
const char *alfa_warning_name(uint32_t bit);
/* The name of `value` of an enum setting of the settings table (alfa/settings.h): mode (a mode),
 * override_* (an override), tou_relay (a relay). NULL for other settings and unnamed values. */
const char *alfa_setting_value_name(uint32_t setting_id, int32_t value);

#endif
