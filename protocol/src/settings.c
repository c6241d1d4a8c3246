/* The settings table, its range and cross-field validation, and the versioned settings blob. */
#include <stddef.h>
#include "alfa/settings.h"
#include "alfa/bytes.h"
#include "alfa/model.h"

#define ROW(id_, type_, field_, name_, unit_, def_, min_, max_)                                  \
    [id_] = {(uint8_t)(id_), (uint8_t)(type_), (uint16_t)offsetof(alfa_settings_t, field_),      \
             (name_), (unit_), (def_), (min_), (max_)}

#define TOU_ROWS(n, def_en, def_start, def_end)                                                   \
    ROW(ALFA_SET_TOU##n##_ENABLED, ALFA_STYPE_BOOL, tou[n].enabled, "tou" #n "_enabled", "",      \
        def_en, 0, 1),                                                                            \
    ROW(ALFA_SET_TOU##n##_START_MIN, ALFA_STYPE_MINUTE, tou[n].start_min,                         \
        "tou" #n "_start_min", "min", def_start, 0, 1439),                                         \
    ROW(ALFA_SET_TOU##n##_END_MIN, ALFA_STYPE_MINUTE, tou[n].end_min, "tou" #n "_end_min", "min", \
        def_end, 0, 1439)

#define CT_ROWS(ch, idx, lower)                                                                        \
    ROW(ALFA_SET_CT_##ch##_GAIN_UA, ALFA_STYPE_INT, ct[idx].gain_ua,                     \
        "ct_" lower "_gain_ua", "uA/count", ALFA_CT_GAIN_DEFAULT_UA, 1, 100000),                  \
    ROW(ALFA_SET_CT_##ch##_OFFSET_MA, ALFA_STYPE_INT, ct[idx].offset_ma,                 \
        "ct_" lower "_offset_ma", "mA", 0, -5000, 5000)

const alfa_setting_desc_t alfa_settings_table[ALFA_SET_COUNT] = {
    ROW(ALFA_SET_NODE_ID, ALFA_STYPE_INT, node_id, "node_id", "", 0, 0, 126),
    ROW(ALFA_SET_MODE, ALFA_STYPE_ENUM, mode, "mode", "", ALFA_MODE_NONE, 0, ALFA_MODE_COUNT - 1),
    ROW(ALFA_SET_SC_LOW_PCT, ALFA_STYPE_INT, sc_low_pct, "sc_low_pct", "%", 10, 5, 45),
    ROW(ALFA_SET_SC_HIGH_PCT, ALFA_STYPE_INT, sc_high_pct, "sc_high_pct", "%", 50, 10, 100),
    ROW(ALFA_SET_ECO_LIMIT_W, ALFA_STYPE_INT, eco_limit_w, "eco_limit_w", "W", 3000, 100, 40000),
    ROW(ALFA_SET_ECO_MIN_OFF_S, ALFA_STYPE_INT, eco_min_off_s, "eco_min_off_s", "s", 60, 0, 3600),
    ROW(ALFA_SET_ECO_SHED_INVERTER, ALFA_STYPE_BOOL, eco_shed_inverter, "eco_shed_inverter", "",
        0, 0, 1),
    TOU_ROWS(0, 0, 17 * 60, 22 * 60),
    TOU_ROWS(1, 0, 0, 0),
    TOU_ROWS(2, 0, 0, 0),
    TOU_ROWS(3, 0, 0, 0),
    ROW(ALFA_SET_TOU_RELAY, ALFA_STYPE_ENUM, tou_relay, "tou_relay", "", 1, 0, 3),
    ROW(ALFA_SET_GRID_LIMIT_ON, ALFA_STYPE_BOOL, grid_limit_on, "grid_limit_on", "", 0, 0, 1),
    ROW(ALFA_SET_GRID_LIMIT_KWH, ALFA_STYPE_INT, grid_limit_kwh, "grid_limit_kwh", "kWh", 10, 2,
        30),
    ROW(ALFA_SET_OVR_GRID, ALFA_STYPE_ENUM, override[0], "override_grid", "", ALFA_OVR_AUTO, 0, 2),
    ROW(ALFA_SET_OVR_INVERTER, ALFA_STYPE_ENUM, override[1], "override_inverter", "",
        ALFA_OVR_AUTO, 0, 2),
    ROW(ALFA_SET_OVR_POOL, ALFA_STYPE_ENUM, override[2], "override_pool", "", ALFA_OVR_AUTO, 0, 2),
    ROW(ALFA_SET_OVR_HEATER, ALFA_STYPE_ENUM, override[3], "override_heater", "", ALFA_OVR_AUTO, 0,
        2),
    CT_ROWS(GRID, 0, "grid"),
    CT_ROWS(INVERTER, 1, "inverter"),
    CT_ROWS(POOL, 2, "pool"),
    CT_ROWS(HEATER, 3, "heater"),
    ROW(ALFA_SET_MAINS_HZ, ALFA_STYPE_INT, mains_hz, "mains_hz", "Hz", 50, 50, 60),
    ROW(ALFA_SET_NOMINAL_V, ALFA_STYPE_INT, nominal_v, "nominal_v", "V", 220, 100, 260),
    ROW(ALFA_SET_CELL_COUNT, ALFA_STYPE_INT, cell_count, "cell_count", "", 16, 4, 32),
    ROW(ALFA_SET_RELAY_POLARITY, ALFA_STYPE_MASK, relay_polarity, "relay_polarity", "", 0, 0, 15),
    ROW(ALFA_SET_PIXEL_COUNT, ALFA_STYPE_INT, pixel_count, "pixel_count", "", 10, 1, 32),
    ROW(ALFA_SET_DWELL_S, ALFA_STYPE_INT, dwell_s, "dwell_s", "s", 30, 0, 600),
};

_Static_assert(sizeof(alfa_settings_t) == 4u * (size_t)ALFA_SET_COUNT,
               "alfa_settings_t holds exactly one int32_t per setting");
_Static_assert(offsetof(alfa_settings_t, dwell_s) == 4u * (size_t)ALFA_SET_DWELL_S,
               "settings fields follow the id order");
_Static_assert(offsetof(alfa_settings_t, ct[3].offset_ma) ==
                   4u * (size_t)ALFA_SET_CT_HEATER_OFFSET_MA,
               "CT calibration fields follow the id order");
_Static_assert(ALFA_SETTINGS_BLOB_SIZE <= 256u, "the settings store keeps blobs up to 256 bytes");

static int32_t *field(alfa_settings_t *s, const alfa_setting_desc_t *d)
{
    return (int32_t *)(void *)((uint8_t *)s + d->offset);
}

static int32_t field_get(const alfa_settings_t *s, const alfa_setting_desc_t *d)
{
    int32_t v;
    alfa_memcpy(&v, (const uint8_t *)s + d->offset, sizeof v);
    return v;
}

const alfa_setting_desc_t *alfa_settings_desc(uint32_t id)
{
    return id < (uint32_t)ALFA_SET_COUNT ? &alfa_settings_table[id] : NULL;
}

int alfa_settings_find(const char *name, size_t len)
{
    if (name == NULL) {
        return ALFA_PROTO_E_INVAL;
    }
    for (uint32_t i = 0; i < (uint32_t)ALFA_SET_COUNT; i++) {
        const char *n = alfa_settings_table[i].name;
        size_t k = 0;
        while (k < len && n[k] != '\0' && n[k] == name[k]) {
            k++;
        }
        if (k == len && n[k] == '\0') {
            return (int)i;
        }
    }
    return ALFA_PROTO_E_INVAL;
}

void alfa_settings_defaults(alfa_settings_t *s)
{
    if (s == NULL) {
        return;
    }
    for (uint32_t i = 0; i < (uint32_t)ALFA_SET_COUNT; i++) {
        *field(s, &alfa_settings_table[i]) = alfa_settings_table[i].def;
    }
}

int alfa_settings_get(const alfa_settings_t *s, uint32_t id, int32_t *value)
{
    const alfa_setting_desc_t *d = alfa_settings_desc(id);
    if (s == NULL || value == NULL || d == NULL) {
        return ALFA_PROTO_E_INVAL;
    }
    *value = field_get(s, d);
    return ALFA_PROTO_OK;
}

static void say(const char **reason, const char *text)
{
    if (reason != NULL) {
        *reason = text;
    }
}

/* The rules that tie settings together, checked on `s` as it would be after the change. */
static int cross_check(const alfa_settings_t *s, const char **reason)
{
    if (s->sc_high_pct < s->sc_low_pct + 5) {
        say(reason, "self-consumption high threshold must be at least low + 5 %");
        return ALFA_PROTO_E_RANGE;
    }
    if (s->mains_hz != 50 && s->mains_hz != 60) {
        say(reason, "mains frequency must be 50 or 60 Hz");
        return ALFA_PROTO_E_RANGE;
    }
    return ALFA_PROTO_OK;
}

/* One value against its own row: unknown id or outside [min, max]. */
static int check_own_range(const alfa_settings_t *s, const alfa_setting_desc_t *d, int32_t value, const char **reason)
{
    if (d == NULL || s == NULL) {
        say(reason, "unknown setting");
        return ALFA_PROTO_E_INVAL;
    }
    if (value < d->min) {
        say(reason, "value below the setting's minimum");
        return ALFA_PROTO_E_RANGE;
    }
    if (value > d->max) {
        say(reason, "value above the setting's maximum");
        return ALFA_PROTO_E_RANGE;
    }
    return ALFA_PROTO_OK;
}

int alfa_settings_put(alfa_settings_t *s, uint32_t id, int32_t value, const char **reason)
{
    const alfa_setting_desc_t *d = alfa_settings_desc(id);
    int rc = check_own_range(s, d, value, reason);
    if (rc == ALFA_PROTO_OK) {
        *field(s, d) = value;
        say(reason, "ok");
    }
    return rc;
}

int alfa_settings_check(const alfa_settings_t *s, uint32_t id, int32_t value, const char **reason)
{
    const alfa_setting_desc_t *d = alfa_settings_desc(id);
    int rc0 = check_own_range(s, d, value, reason);
    if (rc0 != ALFA_PROTO_OK) {
        return rc0;
    }
    alfa_settings_t trial = *s;
    *field(&trial, d) = value;
    int rc = cross_check(&trial, reason);
    if (rc == ALFA_PROTO_OK) {
        say(reason, "ok");
    }
    return rc;
}

int alfa_settings_set(alfa_settings_t *s, uint32_t id, int32_t value, const char **reason)
{
    int rc = alfa_settings_check(s, id, value, reason);
    if (rc == ALFA_PROTO_OK) {
        *field(s, &alfa_settings_table[id]) = value;
    }
    return rc;
}

int alfa_settings_validate(const alfa_settings_t *s, const char **reason, uint32_t *bad_id)
{
    if (s == NULL) {
        say(reason, "no settings");
        return ALFA_PROTO_E_INVAL;
    }
    for (uint32_t i = 0; i < (uint32_t)ALFA_SET_COUNT; i++) {
        const alfa_setting_desc_t *d = &alfa_settings_table[i];
        int32_t v = field_get(s, d);
        if (v < d->min || v > d->max) {
            say(reason, v < d->min ? "value below the setting's minimum"
                                   : "value above the setting's maximum");
            if (bad_id != NULL) {
                *bad_id = i;
            }
            return ALFA_PROTO_E_RANGE;
        }
    }
    int rc = cross_check(s, reason);
    if (rc != ALFA_PROTO_OK) {
        if (bad_id != NULL) {
            *bad_id = s->mains_hz != 50 && s->mains_hz != 60 ? (uint32_t)ALFA_SET_MAINS_HZ
                                                             : (uint32_t)ALFA_SET_SC_HIGH_PCT;
        }
        return rc;
    }
    say(reason, "ok");
    return ALFA_PROTO_OK;
}

int alfa_settings_encode(const alfa_settings_t *s, uint8_t *out, size_t cap)
{
    if (s == NULL || out == NULL) {
        return ALFA_PROTO_E_INVAL;
    }
    if (cap < ALFA_SETTINGS_BLOB_SIZE) {
        return ALFA_PROTO_E_LEN;
    }
    if (alfa_settings_validate(s, NULL, NULL) != ALFA_PROTO_OK) {
        return ALFA_PROTO_E_RANGE;
    }
    out[0] = 'A';
    out[1] = 'S';
    out[2] = (uint8_t)ALFA_SETTINGS_BLOB_VERSION;
    out[3] = (uint8_t)ALFA_SET_COUNT;
    for (uint32_t i = 0; i < (uint32_t)ALFA_SET_COUNT; i++) {
        alfa_put_le32(&out[4u + 4u * i], (uint32_t)field_get(s, &alfa_settings_table[i]));
    }
    return (int)ALFA_SETTINGS_BLOB_SIZE;
}

int alfa_settings_decode(alfa_settings_t *s, const uint8_t *blob, size_t len, const char **reason)
{
    if (s == NULL || blob == NULL) {
        say(reason, "no blob");
        return ALFA_PROTO_E_INVAL;
    }
    if (len < 4u || blob[0] != 'A' || blob[1] != 'S' || blob[2] != ALFA_SETTINGS_BLOB_VERSION) {
        say(reason, len < 4u ? "settings blob is too short" : "settings blob has an unknown format or version");
        return len < 4u ? ALFA_PROTO_E_LEN : ALFA_PROTO_E_RANGE;
    }
    uint32_t count = blob[3];
    if (count == 0u || count > ALFA_SETTINGS_BLOB_COUNT_MAX || len != 4u + 4u * count) {
        say(reason, "settings blob has the wrong length for its count");
        return ALFA_PROTO_E_LEN;
    }
    alfa_settings_t trial;
    alfa_settings_defaults(&trial); /* ids an older firmware did not have */
    uint32_t known = count < (uint32_t)ALFA_SET_COUNT ? count : (uint32_t)ALFA_SET_COUNT;
    for (uint32_t i = 0; i < known; i++) {
        *field(&trial, &alfa_settings_table[i]) = (int32_t)alfa_get_le32(&blob[4u + 4u * i]);
    }
    int rc = alfa_settings_validate(&trial, reason, NULL);
    if (rc != ALFA_PROTO_OK) {
        return rc;
    }
    *s = trial;
    return ALFA_PROTO_OK;
}
_Static_assert(ALFA_SET_COUNT >= ALFA_SETTINGS_LAYOUT_FIRST && ALFA_SET_COUNT <= ALFA_SETTINGS_BLOB_COUNT_MAX,
               "ids are append-only: the first layout is a prefix of every later one");
