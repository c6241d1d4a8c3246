/* Tests of the settings model: the one table, ranges and cross-field rules, the versioned blob, and the core's settings API. */
#include "harness.h"
#include "alfa/settings.h"

static void table_rows_match_ids_and_defaults_are_valid(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < ALFA_SET_COUNT; i++) {
        const alfa_setting_desc_t *d = alfa_settings_desc(i);
        assert_non_null(d);
        assert_int_equal(d->id, i);
        assert_true(d->min <= d->def && d->def <= d->max);
        assert_int_equal(alfa_settings_find(d->name, strlen(d->name)), (int)i);
    }
    assert_null(alfa_settings_desc(ALFA_SET_COUNT));
    assert_true(alfa_settings_find("no_such_setting", 15) < 0);
    assert_true(alfa_settings_find("mode_x", 4) == ALFA_SET_MODE); /* length-limited match */
    alfa_settings_t s;
    alfa_settings_defaults(&s);
    assert_int_equal(alfa_settings_validate(&s, NULL, NULL), ALFA_PROTO_OK);
    assert_int_equal(s.sc_low_pct, 10);
    assert_int_equal(s.sc_high_pct, 50);
    assert_int_equal(s.nominal_v, 220);
    assert_int_equal(s.mains_hz, 50);
    assert_int_equal(s.cell_count, 16);
    assert_int_equal(s.pixel_count, 10);
    assert_int_equal(s.dwell_s, 30);
    assert_int_equal(s.eco_min_off_s, 60);
    assert_int_equal(s.grid_limit_on, 0);
    assert_int_equal(s.tou_relay, ALFA_RELAY_INVERTER);
}

static void ranges_and_cross_rules_refuse_with_reason(void **state)
{
    (void)state;
    alfa_settings_t s, before;
    alfa_settings_defaults(&s);
    before = s;
    const char *why = NULL;
    /* Self-consumption low 5..45 %. */
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_LOW_PCT, 4, &why), ALFA_PROTO_E_RANGE);
    assert_string_equal(why, "value below the setting's minimum");
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_LOW_PCT, 46, &why), ALFA_PROTO_E_RANGE);
    assert_string_equal(why, "value above the setting's maximum");
    /* high >= low + 5 */
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_HIGH_PCT, 14, &why), ALFA_PROTO_E_RANGE);
    assert_string_equal(why, "self-consumption high threshold must be at least low + 5 %");
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_HIGH_PCT, 101, &why), ALFA_PROTO_E_RANGE);
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_LOW_PCT, 46, NULL), ALFA_PROTO_E_RANGE);
    /* grid limit 2..30 kWh; mains 50 or 60 only; node 0..126 */
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_GRID_LIMIT_KWH, 1, &why), ALFA_PROTO_E_RANGE);
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_GRID_LIMIT_KWH, 31, &why), ALFA_PROTO_E_RANGE);
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_MAINS_HZ, 55, &why), ALFA_PROTO_E_RANGE);
    assert_string_equal(why, "mains frequency must be 50 or 60 Hz");
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_NODE_ID, 127, &why), ALFA_PROTO_E_RANGE);
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_COUNT, 1, &why), ALFA_PROTO_E_INVAL);
    assert_string_equal(why, "unknown setting");
    assert_memory_equal(&s, &before, sizeof s); /* nothing changed */
    /* and the good ones go through */
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_HIGH_PCT, 30, &why), ALFA_PROTO_OK);
    assert_string_equal(why, "ok");
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_LOW_PCT, 26, &why), ALFA_PROTO_E_RANGE);
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_LOW_PCT, 25, &why), ALFA_PROTO_OK);
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_HIGH_PCT, 100, &why), ALFA_PROTO_OK);
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_SC_LOW_PCT, 45, &why), ALFA_PROTO_OK);
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_GRID_LIMIT_KWH, 30, NULL), ALFA_PROTO_OK);
    assert_int_equal(alfa_settings_set(&s, ALFA_SET_MAINS_HZ, 60, NULL), ALFA_PROTO_OK);
    int32_t v = 0;
    assert_int_equal(alfa_settings_get(&s, ALFA_SET_SC_LOW_PCT, &v), ALFA_PROTO_OK);
    assert_int_equal(v, 45);
    assert_int_equal(alfa_settings_get(&s, 99, &v), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_settings_get(NULL, 0, &v), ALFA_PROTO_E_INVAL);
    /* NULLs are refused, never dereferenced */
    assert_true(alfa_settings_find(NULL, 3) < 0);
    alfa_settings_defaults(NULL);
    assert_int_equal(alfa_settings_validate(NULL, &why, NULL), ALFA_PROTO_E_INVAL);
    assert_string_equal(why, "no settings");
    uint8_t out[ALFA_SETTINGS_BLOB_SIZE];
    assert_int_equal(alfa_settings_encode(NULL, out, sizeof out), ALFA_PROTO_E_INVAL);
    assert_int_equal(alfa_settings_check(NULL, 0, 0, &why), ALFA_PROTO_E_INVAL);
}

static void blob_round_trips_and_refuses_any_bad_field(void **state)
{
    (void)state;
    alfa_settings_t s, out;
    alfa_settings_defaults(&s);
    s.mode = ALFA_MODE_ECO;
    s.eco_limit_w = 4500;
    s.tou[2].enabled = 1;
    s.tou[2].start_min = 22 * 60;
    s.tou[2].end_min = 6 * 60;
    s.ct[3].offset_ma = -120;
    s.node_id = 7;
    uint8_t blob[ALFA_SETTINGS_BLOB_SIZE + 8];
    assert_int_equal(alfa_settings_encode(&s, blob, 10), ALFA_PROTO_E_LEN);
    int n = alfa_settings_encode(&s, blob, sizeof blob);
    assert_int_equal(n, ALFA_SETTINGS_BLOB_SIZE);
    assert_int_equal(blob[0], 'A');
    assert_int_equal(blob[2], ALFA_SETTINGS_BLOB_VERSION);
    /* eco limit is value 4, little-endian */
    assert_int_equal(blob[4 + 4 * ALFA_SET_ECO_LIMIT_W], 4500 & 0xFF);
    assert_int_equal(blob[5 + 4 * ALFA_SET_ECO_LIMIT_W], 4500 >> 8);
    memset(&out, 0, sizeof out);
    assert_int_equal(alfa_settings_decode(&out, blob, (size_t)n, NULL), ALFA_PROTO_OK);
    assert_memory_equal(&out, &s, sizeof s);

    alfa_settings_t keep = out;
    const char *why = NULL;
    assert_int_equal(alfa_settings_decode(&out, blob, (size_t)n - 1, &why), ALFA_PROTO_E_LEN);
    uint8_t bad[ALFA_SETTINGS_BLOB_SIZE];
    memcpy(bad, blob, sizeof bad);
    bad[2] = 9; /* unknown version */
    assert_int_equal(alfa_settings_decode(&out, bad, sizeof bad, &why), ALFA_PROTO_E_RANGE);
    memcpy(bad, blob, sizeof bad);
    bad[4 + 4 * ALFA_SET_GRID_LIMIT_KWH] = 31; /* one bad field refuses all */
    assert_int_equal(alfa_settings_decode(&out, bad, sizeof bad, &why), ALFA_PROTO_E_RANGE);
    memcpy(bad, blob, sizeof bad);
    bad[4 + 4 * ALFA_SET_SC_HIGH_PCT] = 12; /* cross rule: high < low + 5 */
    assert_int_equal(alfa_settings_decode(&out, bad, sizeof bad, &why), ALFA_PROTO_E_RANGE);
    assert_string_equal(why, "self-consumption high threshold must be at least low + 5 %");
    assert_int_equal(alfa_settings_decode(&out, NULL, 4, &why), ALFA_PROTO_E_INVAL);
    assert_memory_equal(&out, &keep, sizeof out);
    /* invalid settings are never encoded */
    s.dwell_s = -1;
    assert_int_equal(alfa_settings_encode(&s, blob, sizeof blob), ALFA_PROTO_E_RANGE);
    uint32_t bad_id = 0;
    assert_int_equal(alfa_settings_validate(&s, &why, &bad_id), ALFA_PROTO_E_RANGE);
    assert_int_equal(bad_id, ALFA_SET_DWELL_S);
    s.dwell_s = 30;
    s.mains_hz = 55;
    assert_int_equal(alfa_settings_validate(&s, &why, &bad_id), ALFA_PROTO_E_RANGE);
    assert_int_equal(bad_id, ALFA_SET_MAINS_HZ);
}

static void core_out_of_range_setting_changes_nothing(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    alfa_settings_t before = *alfa_core_settings(&p.core);
    uint32_t gen = alfa_core_settings_generation(&p.core);
    uint32_t relay_calls = p.tp.relays_calls;
    const char *why = NULL;
    assert_int_equal(alfa_core_setting_set(&p.core, ALFA_SET_GRID_LIMIT_KWH, 31, &why), ALFA_E_RANGE);
    assert_string_equal(why, "value above the setting's maximum");
    assert_int_equal(alfa_core_setting_set(&p.core, ALFA_SET_SC_HIGH_PCT, 12, &why), ALFA_E_RANGE);
    assert_int_equal(alfa_core_setting_set(&p.core, 200, 1, &why), ALFA_E_NOENT);
    assert_int_equal(alfa_core_set_mode(&p.core, 9, true), ALFA_E_RANGE);
    assert_memory_equal(alfa_core_settings(&p.core), &before, sizeof before);
    assert_int_equal(alfa_core_settings_generation(&p.core), gen);
    assert_int_equal(p.tp.relays_calls, relay_calls);
    int32_t v = 0;
    assert_int_equal(alfa_core_setting_get(&p.core, ALFA_SET_GRID_LIMIT_KWH, &v), ALFA_OK);
    assert_int_equal(v, 10);
    assert_int_equal(alfa_core_setting_get(&p.core, 200, &v), ALFA_E_NOENT);

    /* a good change advances the generation (the store's cue) */
    assert_int_equal(alfa_core_setting_set(&p.core, ALFA_SET_GRID_LIMIT_KWH, 12, NULL), ALFA_OK);
    assert_int_equal(alfa_core_settings_generation(&p.core), gen + 1);

    /* load-all refuses invalid settings whole */
    alfa_settings_t s = *alfa_core_settings(&p.core);
    s.pixel_count = 0;
    assert_int_equal(alfa_core_settings_load(&p.core, &s, &why), ALFA_E_RANGE);
    assert_int_equal(alfa_core_settings(&p.core)->pixel_count, 10);
    assert_int_equal(alfa_core_settings_load(&p.core, NULL, &why), ALFA_E_INVAL);
    s.pixel_count = 16;
    assert_int_equal(alfa_core_settings_load(&p.core, &s, &why), ALFA_OK);
    assert_int_equal(alfa_core_settings(&p.core)->pixel_count, 16);
    assert_int_equal(p.tp.pixel_count, 16);
}

static void mode_on_off_and_factory_reset(void **state)
{
    (void)state;
    pack_t p;
    pack_start(&p);
    set(&p, ALFA_SET_NODE_ID, 12);
    assert_int_equal(alfa_core_set_mode(&p.core, ALFA_MODE_ECO, true), ALFA_OK);
    assert_int_equal(alfa_core_settings(&p.core)->mode, ALFA_MODE_ECO);
    set(&p, ALFA_SET_OVR_POOL, ALFA_OVR_OPEN);
    /* turning off a mode that is not active changes nothing */
    assert_int_equal(alfa_core_set_mode(&p.core, ALFA_MODE_BACKUP, false), ALFA_OK);
    assert_int_equal(alfa_core_settings(&p.core)->mode, ALFA_MODE_ECO);
    assert_int_equal(alfa_core_settings(&p.core)->override[ALFA_RELAY_POOL], ALFA_OVR_OPEN);
    /* a mode change puts the overrides back to auto */
    assert_int_equal(alfa_core_set_mode(&p.core, ALFA_MODE_ECO, false), ALFA_OK);
    assert_int_equal(alfa_core_settings(&p.core)->mode, ALFA_MODE_NONE);
    assert_int_equal(alfa_core_settings(&p.core)->override[ALFA_RELAY_POOL], ALFA_OVR_AUTO);
    set(&p, ALFA_SET_ECO_LIMIT_W, 999);
    alfa_core_factory_reset(&p.core);
    assert_int_equal(alfa_core_settings(&p.core)->eco_limit_w, 3000);
    assert_int_equal(alfa_core_settings(&p.core)->node_id, 12); /* kept */
}

static void init_refuses_bad_arguments(void **state)
{
    (void)state;
    alfa_test_port_t tp;
    alfa_test_port_init(&tp, 0);
    alfa_core_t c;
    alfa_core_config_t cfg = {.serial = 1};
    assert_int_equal(alfa_core_init(NULL, &tp.port, &cfg), ALFA_E_INVAL);
    assert_int_equal(alfa_core_init(&c, NULL, &cfg), ALFA_E_INVAL);
    assert_int_equal(alfa_core_init(&c, &tp.port, NULL), ALFA_E_INVAL);
    cfg.serial = 1ull << 48;
    assert_int_equal(alfa_core_init(&c, &tp.port, &cfg), ALFA_E_INVAL);
    cfg.serial = 0xFFFFFFFFFFFFull;
    alfa_settings_t s;
    alfa_settings_defaults(&s);
    s.sc_low_pct = 3;
    cfg.settings = &s;
    assert_int_equal(alfa_core_init(&c, &tp.port, &cfg), ALFA_E_RANGE);
    tp.port.relays_set = NULL;
    cfg.settings = NULL;
    assert_int_equal(alfa_core_init(&c, &tp.port, &cfg), ALFA_E_INVAL);
    alfa_test_port_init(&tp, 0);
    cfg.settings_corrupt = true;
    assert_int_equal(alfa_core_init(&c, &tp.port, &cfg), ALFA_OK);
    assert_true(alfa_core_faults(&c) & (1u << ALFA_FAULT_SETTINGS_CORRUPT));
    assert_int_equal(alfa_core_serial(&c), 0xFFFFFFFFFFFFull);
}

/* A blob as the first release (layout of ALFA_SETTINGS_LAYOUT_FIRST ids) wrote it, byte for
 * byte: "AS", version 1, 40 values. Every later firmware must read it (issue 10, item 10). */
static size_t first_release_blob(uint8_t *out, uint32_t count)
{
    alfa_settings_t s;
    alfa_settings_defaults(&s);
    s.node_id = 17;
    s.mode = ALFA_MODE_TOU;
    s.eco_limit_w = 3300;
    s.tou[0].enabled = 1;
    s.tou[0].start_min = 23 * 60;
    s.tou[0].end_min = 6 * 60;
    s.grid_limit_on = 1;
    s.grid_limit_kwh = 12;
    s.ct[1].gain_ua = 21000;
    s.ct[1].offset_ma = -40;
    s.cell_count = 15;
    s.dwell_s = 45;
    out[0] = 'A';
    out[1] = 'S';
    out[2] = 1;
    out[3] = (uint8_t)count;
    for (uint32_t id = 0; id < count; id++) {
        int32_t v = 0;
        if (id < (uint32_t)ALFA_SET_COUNT) {
            assert_int_equal(alfa_settings_get(&s, id, &v), 0);
        } else {
            v = 0x5A5A; /* a setting of a newer firmware this one does not know */
        }
        out[4 + 4 * id] = (uint8_t)v;
        out[5 + 4 * id] = (uint8_t)((uint32_t)v >> 8);
        out[6 + 4 * id] = (uint8_t)((uint32_t)v >> 16);
        out[7 + 4 * id] = (uint8_t)((uint32_t)v >> 24);
    }
    return 4u + 4u * count;
}

/* Every older layout (a prefix of the ids: the first release's 40, and any shorter one) decodes:
 * the ids it has keep their values, the rest take defaults. A newer firmware's blob (more ids,
 * read again after a rollback) keeps the known ids. Only unknown formats are refused. The old
 * decoder refused any count but its own: calibration, mode and node ID were lost by the first
 * update that added a setting. */
static void every_older_layout_decodes(void **state)
{
    (void)state;
    uint8_t blob[4 + 4 * ALFA_SETTINGS_BLOB_COUNT_MAX];
    alfa_settings_t def, out;
    alfa_settings_defaults(&def);
    size_t n = first_release_blob(blob, ALFA_SETTINGS_LAYOUT_FIRST);
    assert_int_equal(n, 164u); /* the first release's blob size */
    assert_int_equal(alfa_settings_decode(&out, blob, n, NULL), ALFA_PROTO_OK);
    assert_int_equal(out.node_id, 17);
    assert_int_equal(out.mode, ALFA_MODE_TOU);
    assert_int_equal(out.grid_limit_kwh, 12);
    assert_int_equal(out.ct[1].gain_ua, 21000);
    assert_int_equal(out.ct[1].offset_ma, -40);
    assert_int_equal(out.dwell_s, 45);
    for (uint32_t count = 1; count <= ALFA_SETTINGS_LAYOUT_FIRST; count++) {
        n = first_release_blob(blob, count);
        memset(&out, 0xEE, sizeof out);
        const char *why = NULL;
        int rc = alfa_settings_decode(&out, blob, n, &why);
        if (rc != ALFA_PROTO_OK) {
            fail_msg("layout of %u ids refused: %s", count, why);
        }
        for (uint32_t id = 0; id < (uint32_t)ALFA_SET_COUNT; id++) {
            int32_t got = 0, want = 0;
            assert_int_equal(alfa_settings_get(&out, id, &got), 0);
            if (id < count) {
                want = (int32_t)((uint32_t)blob[4 + 4 * id] | ((uint32_t)blob[5 + 4 * id] << 8) |
                                 ((uint32_t)blob[6 + 4 * id] << 16) | ((uint32_t)blob[7 + 4 * id] << 24));
            } else {
                assert_int_equal(alfa_settings_get(&def, id, &want), 0);
            }
            assert_int_equal(got, want);
        }
    }
    /* newer layouts: known ids kept, unknown ones ignored */
    n = first_release_blob(blob, ALFA_SETTINGS_BLOB_COUNT_MAX);
    assert_int_equal(alfa_settings_decode(&out, blob, n, NULL), ALFA_PROTO_OK);
    assert_int_equal(out.node_id, 17);
    assert_int_equal(out.dwell_s, 45);
    /* refused: no ids, too many for the store, a length that does not match, another format */
    alfa_settings_t keep = out;
    n = first_release_blob(blob, 0);
    assert_int_equal(alfa_settings_decode(&out, blob, n, NULL), ALFA_PROTO_E_LEN);
    n = first_release_blob(blob, 10);
    assert_int_equal(alfa_settings_decode(&out, blob, n + 4, NULL), ALFA_PROTO_E_LEN);
    blob[3] = ALFA_SETTINGS_BLOB_COUNT_MAX + 1;
    assert_int_equal(alfa_settings_decode(&out, blob, 4u + 4u * (ALFA_SETTINGS_BLOB_COUNT_MAX + 1), NULL), ALFA_PROTO_E_LEN);
    n = first_release_blob(blob, 10);
    blob[2] = 2;
    assert_int_equal(alfa_settings_decode(&out, blob, n, NULL), ALFA_PROTO_E_RANGE);
    blob[2] = 1;
    blob[1] = 'X';
    assert_int_equal(alfa_settings_decode(&out, blob, n, NULL), ALFA_PROTO_E_RANGE);
    assert_memory_equal(&out, &keep, sizeof out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_rows_match_ids_and_defaults_are_valid),
        cmocka_unit_test(ranges_and_cross_rules_refuse_with_reason),
        cmocka_unit_test(blob_round_trips_and_refuses_any_bad_field),
        cmocka_unit_test(every_older_layout_decodes),
        cmocka_unit_test(core_out_of_range_setting_changes_nothing),
        cmocka_unit_test(mode_on_off_and_factory_reset),
        cmocka_unit_test(init_refuses_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
