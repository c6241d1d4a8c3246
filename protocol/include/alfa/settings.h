/* The settings model: one const table of every pack setting (type, unit, default, range), its validation and its versioned byte blob. */
#ifndef ALFA_SETTINGS_H
#define ALFA_SETTINGS_H

/*
 * One table decides every setting's name, type, unit, default and allowed range. The firmware
 * core applies settings through it, the gateway validates MQTT commands with the very same table
 * before anything reaches CAN, and the settings store persists the blob produced here without
 * knowing its layout.
 *
 * Values are int32_t everywhere (a bool is 0/1, an enum its number, a time of day minutes after
 * local midnight). `alfa_settings_t` is plain data: one int32_t per setting, in id order, so a
 * table row's `offset` finds its field.
 *
 * Every function here is freestanding, has no state, and reports failure with a negative
 * `alfa_proto_err_t` (protocol library's error enum). A refused change leaves the settings
 * untouched, and `reason` (when not NULL) gets a short English sentence saying why.
 */

#include <stddef.h>
#include <stdint.h>
#include "alfa/proto.h"

/* Setting identifiers. Values travel on CAN and in the stored blob: append, never renumber. */
typedef enum alfa_setting_id {
    ALFA_SET_NODE_ID = 0,          /* CAN node ID, 0 = unassigned (claimed at first boot) */
    ALFA_SET_MODE = 1,             /* active energy mode (alfa_mode_t), 0 = none */
    ALFA_SET_SC_LOW_PCT = 2,       /* self-consumption: grid closes at SOC <= low */
    ALFA_SET_SC_HIGH_PCT = 3,      /* self-consumption: grid opens at SOC >= high (>= low + 5) */
    ALFA_SET_ECO_LIMIT_W = 4,      /* Eco: house load limit */
    ALFA_SET_ECO_MIN_OFF_S = 5,    /* Eco: a shed load stays off at least this long */
    ALFA_SET_ECO_SHED_INVERTER = 6, /* Eco: after heater and pump, shed the inverter output too */
    ALFA_SET_TOU0_ENABLED = 7,     /* time-of-use window 0..3: enabled, start, end (minute of day) */
    ALFA_SET_TOU0_START_MIN = 8,
    ALFA_SET_TOU0_END_MIN = 9,
    ALFA_SET_TOU1_ENABLED = 10,
    ALFA_SET_TOU1_START_MIN = 11,
    ALFA_SET_TOU1_END_MIN = 12,
    ALFA_SET_TOU2_ENABLED = 13,
    ALFA_SET_TOU2_START_MIN = 14,
    ALFA_SET_TOU2_END_MIN = 15,
    ALFA_SET_TOU3_ENABLED = 16,
    ALFA_SET_TOU3_START_MIN = 17,
    ALFA_SET_TOU3_END_MIN = 18,
    ALFA_SET_TOU_RELAY = 19,       /* relay TOU drives (ALFA_RELAY_*), default inverter output */
    ALFA_SET_GRID_LIMIT_ON = 20,   /* daily grid-import limit switched on */
    ALFA_SET_GRID_LIMIT_KWH = 21,  /* daily grid-import limit, 2..30 kWh */
    ALFA_SET_OVR_GRID = 22,        /* manual override per relay (alfa_override_t) */
    ALFA_SET_OVR_INVERTER = 23,
    ALFA_SET_OVR_POOL = 24,
    ALFA_SET_OVR_HEATER = 25,
    ALFA_SET_CT_GRID_GAIN_UA = 26, /* CT calibration: primary uA per RMS ADC count, per channel */
    ALFA_SET_CT_GRID_OFFSET_MA = 27, /* ... and an offset in mA added after the gain */
    ALFA_SET_CT_INVERTER_GAIN_UA = 28,
    ALFA_SET_CT_INVERTER_OFFSET_MA = 29,
    ALFA_SET_CT_POOL_GAIN_UA = 30,
    ALFA_SET_CT_POOL_OFFSET_MA = 31,
    ALFA_SET_CT_HEATER_GAIN_UA = 32,
    ALFA_SET_CT_HEATER_OFFSET_MA = 33,
    ALFA_SET_MAINS_HZ = 34,        /* 50 or 60 */
    ALFA_SET_NOMINAL_V = 35,       /* mains voltage used for P = I x V */
    ALFA_SET_CELL_COUNT = 36,      /* LFP cells in series (SOC curve scales with it) */
    ALFA_SET_RELAY_POLARITY = 37,  /* bit i set: relay i is wired through NC contacts */
    ALFA_SET_PIXEL_COUNT = 38,     /* WS2812B pixels on the LED bar */
    ALFA_SET_DWELL_S = 39,         /* minimum time between two non-safety changes of a relay */
    ALFA_SET_COUNT = 40
} alfa_setting_id_t;

/* How a value is shown and parsed (JSON, app); the range check is the same for all. */
typedef enum alfa_setting_type {
    ALFA_STYPE_INT = 0,    /* a plain integer in `unit` */
    ALFA_STYPE_BOOL = 1,   /* 0 = false, 1 = true */
    ALFA_STYPE_ENUM = 2,   /* a small enum (mode, override, relay index) */
    ALFA_STYPE_MINUTE = 3, /* minute of the local day, 0..1439 */
    ALFA_STYPE_MASK = 4,   /* a bit mask */
} alfa_setting_type_t;

typedef struct alfa_tou_window {
    int32_t enabled;
    int32_t start_min; /* inside from start ... */
    int32_t end_min;   /* ... up to (not including) end; start > end crosses midnight; start == end is empty */
} alfa_tou_window_t;

#define ALFA_TOU_WINDOWS 4u

/* The pack's settings: plain data, one int32_t per setting in alfa_setting_id_t order. */
typedef struct alfa_settings {
    int32_t node_id;
    int32_t mode;
    int32_t sc_low_pct;
    int32_t sc_high_pct;
    int32_t eco_limit_w;
    int32_t eco_min_off_s;
    int32_t eco_shed_inverter;
    alfa_tou_window_t tou[ALFA_TOU_WINDOWS];
    int32_t tou_relay;
    int32_t grid_limit_on;
    int32_t grid_limit_kwh;
    int32_t override[4];      /* alfa_override_t per relay, ALFA_RELAY_* order */
    struct {
        int32_t gain_ua;      /* primary-side microamps per RMS ADC count */
        int32_t offset_ma;
    } ct[4];                  /* ALFA_CT_* order */
    int32_t mains_hz;
    int32_t nominal_v;
    int32_t cell_count;
    int32_t relay_polarity;
    int32_t pixel_count;
    int32_t dwell_s;
} alfa_settings_t;

/* One row of the settings table. */
typedef struct alfa_setting_desc {
    uint8_t id;          /* alfa_setting_id_t, equal to the row's index */
    uint8_t type;        /* alfa_setting_type_t */
    uint16_t offset;     /* offsetof(alfa_settings_t, field) */
    const char *name;    /* snake_case with the unit as suffix, e.g. "eco_limit_w" (JSON key) */
    const char *unit;    /* "W", "%", "s", "min", "kWh", "uA/count", "mA", "Hz", "V", "" */
    int32_t def;         /* factory default */
    int32_t min;         /* allowed range, inclusive */
    int32_t max;
} alfa_setting_desc_t;

/* The table itself, indexed by alfa_setting_id_t. */
extern const alfa_setting_desc_t alfa_settings_table[ALFA_SET_COUNT];

/* Default CT gain: a 2000:1 CT into a 68 ohm burden, 12-bit ADC over 3.3 V:
 * 3300 mV / 4096 / 68 ohm * 2000 = 23696 uA of primary current per ADC count. */
#define ALFA_CT_GAIN_DEFAULT_UA 23696

/* Blob format: "AS", format version, value count, then every value as int32 little-endian in
 * id order. The settings store persists it as an opaque byte string. */
#define ALFA_SETTINGS_BLOB_VERSION 1u
#define ALFA_SETTINGS_BLOB_SIZE (4u + 4u * (uint32_t)ALFA_SET_COUNT)

/* The table row of `id`, or NULL when `id` is not a setting. */
const alfa_setting_desc_t *alfa_settings_desc(uint32_t id);

/* The id of the setting called `name` (`len` bytes, no terminator needed), or a negative
 * ALFA_PROTO_E_INVAL when there is none. */
int alfa_settings_find(const char *name, size_t len);

/* Fill `s` with factory defaults. */
void alfa_settings_defaults(alfa_settings_t *s);

/* The value of setting `id` in `s` into `*value`. ALFA_PROTO_E_INVAL for an unknown id or NULL. */
int alfa_settings_get(const alfa_settings_t *s, uint32_t id, int32_t *value);

/* Would setting `id` to `value` in `s` be allowed? Checks the table range and the cross-field
 * rules (self-consumption high >= low + 5; mains 50 or 60). Returns ALFA_PROTO_OK,
 * ALFA_PROTO_E_INVAL (unknown id, NULL) or ALFA_PROTO_E_RANGE; `*reason` (if not NULL) gets
 * why, or "ok". Changes nothing. */
int alfa_settings_check(const alfa_settings_t *s, uint32_t id, int32_t value, const char **reason);

/* Store `value` into `s` after checking it against its own row only (unknown id: E_INVAL; outside
 * [min, max]: E_RANGE; `s` unchanged then). The cross-field rules are left to
 * alfa_settings_validate on the whole, for changes of several fields at once. */
int alfa_settings_put(alfa_settings_t *s, uint32_t id, int32_t value, const char **reason);

/* Check, then store `value` into `s`. On failure `s` is unchanged. */
int alfa_settings_set(alfa_settings_t *s, uint32_t id, int32_t value, const char **reason);

/* Check every field of `s` and every cross-field rule. ALFA_PROTO_OK or ALFA_PROTO_E_RANGE with
 * the first offending setting's reason (and its id in `*bad_id` when not NULL). */
int alfa_settings_validate(const alfa_settings_t *s, const char **reason, uint32_t *bad_id);

/* Encode `s` into `out` (capacity `cap` >= ALFA_SETTINGS_BLOB_SIZE). Returns the blob length,
 * or ALFA_PROTO_E_LEN when `cap` is too small, ALFA_PROTO_E_RANGE when `s` is not valid
 * (invalid settings are never encoded), ALFA_PROTO_E_INVAL for NULL. */
int alfa_settings_encode(const alfa_settings_t *s, uint8_t *out, size_t cap);

/* Setting ids are append-only, so every blob of format version 1 with any count is readable:
 * the first ALFA_SETTINGS_LAYOUT_FIRST ids were the first release's layout. A blob written by
 * an older firmware (fewer ids) gets defaults for the ids it lacks — calibration, mode and node
 * ID survive the update that adds a setting; one written by a newer firmware (more ids, e.g.
 * read again after a rollback) keeps the ids this firmware knows and ignores the rest. */
#define ALFA_SETTINGS_LAYOUT_FIRST 40u
#define ALFA_SETTINGS_BLOB_COUNT_MAX 63u /* the store's 256-byte blob: 4 + 4 x 63 */

/* Decode and validate a blob of `len` bytes into `s`. Refused whole, `s` untouched: a wrong magic
 * or an unknown format version (ALFA_PROTO_E_RANGE), a count of 0 or over
 * ALFA_SETTINGS_BLOB_COUNT_MAX or a length that is not 4 + 4 x count (ALFA_PROTO_E_LEN), any
 * known field or cross-field rule out of range (ALFA_PROTO_E_RANGE). */
int alfa_settings_decode(alfa_settings_t *s, const uint8_t *blob, size_t len, const char **reason);

#endif
