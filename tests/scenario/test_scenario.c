/* Tests of the scenario parser and the expectation engine, including malformed scenarios. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alfa/scenario.h"

#define MIN_MS 60000ll
#define HOUR_MS 3600000ll

static const char *const good =
    "# a site of three packs\n"
    "packs 3\n"
    "timezone +02:00\n"
    "start 2026-06-21 06:00   # local\n"
    "duration 2d\n"
    "seed 42\n"
    "step 20ms\n"
    "solar peak 4000 sunrise 05:30 sunset 21:00 clouds 20\n"
    "house base 500\n"
    "house load 2000 from 18:00 to 19:30\n"
    "house load 3000 from 23:00 to 01:00 day 1\n"
    "pool 1500 from 10:00 to 12:00 from 14:00 to 16:00\n"
    "heater 2500 from 13:00 to 15:00\n"
    "battery capacity 12000 soc 40 resistance 25 max_charge 4000 max_discharge 4500\n"
    "pack 2 serial 0xA4CF12345678 soc 90\n"
    "pack 3 capacity 5000 peak 0\n"
    "\n"
    "at 06:10 command all set_mode {\"mode\": \"eco\", \"on\": true}  # comment after JSON\n"
    "at +90s command serial 0xA4CF12345678 reboot\n"
    "at 06:05 bms_silent pack 1 on\n"
    "at day2 05:00 power pack 3 off\n"
    "at day2 05:00 can pack 2 off\n"
    "at day2 05:01 modbus_noise all 0.5%\n"
    "at day2 05:02 bms_alarm pack 1 0x02\n"
    "at day2 05:03 can_errors 5\n"
    "at day2 05:04 gateway off\n"
    "at 07:00 expect pack 1 soc_pct >= 35\n"
    "at 07:00 expect serial 0xA4CF12345678 mode == eco\n"
    "from 08:00 to 12:00 expect all relay_grid == open\n"
    "from 08:00 to end expect site masters == 1\n"
    "from 09:00 to +1h expect pack 3 relays_closed changes <= 2\n"
    "at 10:00 expect pack 2 last_ack == ok\n"
    "at 10:00 expect site master_serial == 0xA4CF12345678\n";

static void test_parse_good_scenario(void **state)
{
    (void)state;
    alfa_scn_t s;
    char err[256] = "";
    int rc = alfa_scn_parse_string("good.scn", good, 0, &s, err, sizeof(err));
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(s.pack_count, 3);
    assert_int_equal(s.utc_offset_min, 120);
    /* 2026-06-21 06:00 at UTC+2 = 04:00 UTC = 1782014400 */
    assert_int_equal(s.start_unix_s, 1782014400);
    assert_int_equal(s.start_tod_ms, 6 * HOUR_MS);
    assert_int_equal(s.duration_ms, 48 * HOUR_MS);
    assert_int_equal(s.seed, 42);
    assert_int_equal(s.step_us, 20000);
    assert_int_equal(s.plant.base_load_w, 500);
    assert_int_equal(s.plant.load_count, 2);
    assert_int_equal(s.plant.loads[1].when.from_min, 23 * 60);
    assert_int_equal(s.plant.loads[1].day, 1);
    assert_int_equal(s.plant.packs[0].solar.peak_w, 4000);
    assert_int_equal(s.plant.packs[0].solar.cloud_pct, 20);
    assert_int_equal(s.plant.packs[0].pool.window_count, 2);
    assert_int_equal(s.plant.packs[1].pool.windows[1].to_min, 16 * 60);
    assert_int_equal(s.plant.packs[0].battery.capacity_wh, 12000);
    assert_int_equal(s.plant.packs[0].battery.soc_init_pct, 40);
    assert_int_equal(s.plant.packs[1].battery.soc_init_pct, 90);   /* pack line over site line */
    assert_int_equal(s.plant.packs[1].battery.capacity_wh, 12000); /* site value kept */
    assert_int_equal(s.plant.packs[2].battery.capacity_wh, 5000);
    assert_int_equal(s.plant.packs[2].solar.peak_w, 0);
    assert_true(s.packs[1].serial == 0xA4CF12345678ull);
    assert_true(s.packs[0].serial == alfa_scn_default_serial(0));

    assert_int_equal(s.action_count, 9);
    /* Sorted by time: the 06:05 line comes first although written third. */
    assert_int_equal(s.actions[0].kind, ALFA_SCN_ACT_BMS_SILENT);
    assert_int_equal(s.actions[0].at_ms, 5 * MIN_MS);
    assert_int_equal(s.actions[0].target.kind, ALFA_SCN_TGT_PACK);
    assert_int_equal(s.actions[0].target.pack, 0);
    assert_int_equal(s.actions[1].kind, ALFA_SCN_ACT_COMMAND);
    assert_string_equal(s.actions[1].name, "set_mode");
    assert_string_equal(s.actions[1].json, "{\"mode\": \"eco\", \"on\": true}");
    assert_int_equal(s.actions[1].target.kind, ALFA_SCN_TGT_ALL);
    assert_int_equal(s.actions[2].at_ms, 10 * MIN_MS + 90000); /* +90s after 06:10 */
    assert_string_equal(s.actions[2].json, "{}");
    assert_int_equal(s.actions[2].target.pack, 1); /* serial resolved to pack 2 */
    assert_int_equal(s.actions[3].kind, ALFA_SCN_ACT_POWER);
    assert_int_equal(s.actions[3].at_ms, 23 * HOUR_MS);
    assert_int_equal(s.actions[3].value, 0);
    assert_int_equal(s.actions[5].kind, ALFA_SCN_ACT_MODBUS_NOISE);
    assert_int_equal(s.actions[5].value, 5000);
    assert_int_equal(s.actions[6].value, 2);
    assert_int_equal(s.actions[7].kind, ALFA_SCN_ACT_CAN_ERRORS);
    assert_int_equal(s.actions[7].value, 5);
    assert_int_equal(s.actions[8].kind, ALFA_SCN_ACT_GATEWAY);

    assert_int_equal(s.expect_count, 7);
    assert_int_equal(s.expects[0].op, ALFA_SCN_OP_GE);
    assert_int_equal(s.expects[0].from_ms, HOUR_MS);
    assert_int_equal(s.expects[0].to_ms, HOUR_MS);
    assert_string_equal(s.expects[1].field->name, "mode");
    assert_int_equal(s.expects[1].value, 2);
    assert_int_equal(s.expects[1].target.pack, 1);
    assert_int_equal(s.expects[2].target.kind, ALFA_SCN_TGT_ALL);
    assert_int_equal(s.expects[2].value, 0);
    assert_int_equal(s.expects[2].to_ms, 6 * HOUR_MS);
    assert_int_equal(s.expects[3].target.kind, ALFA_SCN_TGT_SITE);
    assert_true(s.expects[3].to_ms == INT64_MAX);
    assert_int_equal(s.expects[4].op, ALFA_SCN_OP_CHANGES_LE);
    assert_int_equal(s.expects[4].to_ms, 4 * HOUR_MS);
    assert_int_equal(s.expects[5].value, 0);
    assert_true(s.expects[6].value == 0xA4CF12345678ll);
    assert_int_equal(s.expects[6].line, 33);
    alfa_scn_free(&s);
}

static void test_packs_override(void **state)
{
    (void)state;
    alfa_scn_t s;
    char err[256] = "";
    const char *t = "packs 2\nstart 2026-01-01 00:00\npack 2 soc 70\n";
    assert_int_equal(alfa_scn_parse_string("o.scn", t, 8, &s, err, sizeof(err)), 0);
    assert_int_equal(s.pack_count, 8);
    assert_int_equal(s.plant.packs[1].battery.soc_init_pct, 70);
    assert_int_equal(s.plant.packs[7].battery.soc_init_pct, 50);
    alfa_scn_free(&s);
    assert_int_equal(alfa_scn_parse_string("o.scn", t, 1, &s, err, sizeof(err)), 0);
    assert_int_equal(s.pack_count, 1);
    alfa_scn_free(&s);
}

struct bad_case {
    const char *text;
    const char *msg; /* expected error text, "file:line: ..." prefix included */
};

#define START "start 2026-06-21 06:00\n"

static const struct bad_case bad[] = {
    {"packs 0\n" START, "bad.scn:1: packs needs a count 1..64"},
    {START "frobnicate 3\n", "bad.scn:2: unknown keyword 'frobnicate'"},
    {"start 2026-02-30 06:00\n", "bad.scn:1: start is 'start YYYY-MM-DD HH:MM' (local time)"},
    {"packs 1\n", "bad.scn:1: no 'start YYYY-MM-DD HH:MM' line"},
    {START "at 25:00 power pack 1 off\n", "bad.scn:2: bad time '25:00' (HH:MM, HH:MM:SS or HH:MM:SS.mmm, 00:00-23:59)"},
    {START "at 05:00 power pack 1 off\n", "bad.scn:2: time '05:00' is before the start of the scenario"},
    {"at 07:00 power pack 1 off\n" START, "bad.scn:1: 'start YYYY-MM-DD HH:MM' must come before the first timed line"},
    {START "at +9x power pack 1 off\n", "bad.scn:2: bad relative time '+9x' (e.g. +90s, +1h30m, +500ms)"},
    {START "at 07:00 power pack 2 off\n", "bad.scn:2: pack 2 is beyond the site's 1 packs"},
    {START "at 07:00 power pack 1 maybe\n", "bad.scn:2: power needs on or off"},
    {START "at 07:00 command all fly {}\n", "bad.scn:2: unknown command 'fly'"},
    {START "at 07:00 command all set_mode {\"mode\": eco}\n",
     "bad.scn:2: payload of 'set_mode' is not a valid JSON object: {\"mode\": eco}"},
    {START "at 07:00 command all set_mode [1]\n",
     "bad.scn:2: payload of 'set_mode' is not a valid JSON object: [1]"},
    {START "at 07:00 command serial 0x123 reboot\n", "bad.scn:2: no pack has serial 0x000000000123"},
    {START "at 07:00 expect pack 1 sock_pct >= 3\n", "bad.scn:2: unknown pack field 'sock_pct'"},
    {START "at 07:00 expect site soc_pct >= 3\n", "bad.scn:2: unknown site field 'soc_pct'"},
    {START "at 07:00 expect pack 1 soc_pct => 3\n",
     "bad.scn:2: unknown operator '=>' (==, !=, <=, >=, <, >, changes <=)"},
    {START "at 07:00 expect pack 1 mode == turbo\n", "bad.scn:2: bad value 'turbo' for mode"},
    {START "at 07:00 expect pack 1 mode changes <= 1\n",
     "bad.scn:2: 'changes <= N' needs an interval (from ... to ...) and no 'ever'"},
    {START "from 09:00 to 08:00 expect pack 1 soc_pct >= 1\n", "bad.scn:2: the interval ends before it starts"},
    {START "from 08:00 to 09:00 power pack 1 off\n",
     "bad.scn:2: only 'expect' can span an interval; actions use 'at TIME'"},
    {START "at 07:00 modbus_noise pack 1 150%\n",
     "bad.scn:2: modbus_noise needs a byte error rate 0%..100% (e.g. 0.5%)"},
    {START "at 07:00 expect pack 1 soc_pct >= 3 extra\n", "bad.scn:2: unexpected 'extra' at the end of the line"},
    {START "solar peak 5000 sunrise 20:00 sunset 06:00\n", "bad.scn:2: sunset must be after sunrise"},
    {START "solar peak -5\n", "bad.scn:2: solar peak '-5' must be 0..100000 (W)"},
    {START "house load 100 from 8:00\n", "bad.scn:2: house takes 'base W' or 'load W from HH:MM to HH:MM [day N]'"},
    {START "pool 1000 from 10:00 til 12:00\n", "bad.scn:2: a schedule window is 'from HH:MM to HH:MM'"},
    {START "battery soc 101\n", "bad.scn:2: soc '101' must be 0..100 (%)"},
    {START "pack 1 serial 0x1000000000000\n", "bad.scn:2: serial '0x1000000000000' must be 1..0xFFFFFFFFFFFF (48 bits)"},
    {"packs 2\n" START "pack 1 serial 5\npack 2 serial 5\n", "bad.scn:1: packs 1 and 2 have the same serial 0x000000000005"},
    {START "pack 3 soc 10\n", "bad.scn:2: pack 3 is beyond the site's 1 packs ('packs N')"},
    {START "timezone +15:00\n", "bad.scn:2: timezone is an UTC offset: +HH:MM or -HH:MM (-12:00..+14:00) or UTC"},
    {START "duration 1h\nat 08:00 gateway off\n", "bad.scn:3: this action comes after the end of the run (duration)"},
    {START "step 5s\n", "bad.scn:2: step is 1ms..1000ms (e.g. 10ms)"},
    {START "at day0 07:00 gateway off\n", "bad.scn:2: bad day 'day0' (day1 is the start date)"},
    {START "at 07:00\n", "bad.scn:2: nothing to do after the time"},
};

static void test_bad_input_names_file_line_and_problem(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        alfa_scn_t s;
        char err[256] = "";
        int rc = alfa_scn_parse_string("bad.scn", bad[i].text, 0, &s, err, sizeof(err));
        if (rc != -1 || strcmp(err, bad[i].msg) != 0) {
            print_error("case %zu: rc %d\n  got:  %s\n  want: %s\n", i, rc, err, bad[i].msg);
        }
        assert_int_equal(rc, -1);
        assert_string_equal(err, bad[i].msg);
        assert_null(s.actions);
        assert_null(s.expects);
    }
}

static void test_missing_file(void **state)
{
    (void)state;
    alfa_scn_t s;
    char err[256] = "";
    assert_int_equal(alfa_scn_parse_file("/nonexistent/x.scn", 0, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "/nonexistent/x.scn: cannot open: No such file or directory");
}

/* ------------------------------------------------------------------ engine */

static alfa_scn_pack_obs_t packs[3];
static alfa_site_totals_t site;
static alfa_scn_obs_t obs = {3, packs, &site, 1};

static void observe(alfa_scn_engine_t *e, int64_t ms)
{
    alfa_scn_engine_observe(e, ms, &obs);
}

static void reset_obs(void)
{
    memset(packs, 0, sizeof(packs));
    memset(&site, 0, sizeof(site));
    for (unsigned i = 0; i < 3; i++) {
        packs[i].valid = 1;
        packs[i].powered = 1;
        packs[i].last_ack = 255;
        packs[i].t.soc_pct = 50;
    }
    obs.site_valid = 1;
}

static void test_engine_actions_in_order(void **state)
{
    (void)state;
    alfa_scn_t s;
    char err[256];
    assert_int_equal(alfa_scn_parse_string("e.scn", "packs 3\n" START
                                            "at 06:02 gateway off\nat 06:01 power pack 2 off\n"
                                            "at 06:01 power pack 2 on\n",
                                            0, &s, err, sizeof(err)), 0);
    alfa_scn_engine_t e;
    assert_int_equal(alfa_scn_engine_init(&e, &s), 0);
    assert_null(alfa_scn_engine_next_action(&e, 59999));
    const alfa_scn_action_t *a = alfa_scn_engine_next_action(&e, 60000);
    assert_non_null(a);
    assert_int_equal(a->value, 0); /* same time: file order */
    a = alfa_scn_engine_next_action(&e, 60000);
    assert_non_null(a);
    assert_int_equal(a->value, 1);
    assert_null(alfa_scn_engine_next_action(&e, 60000));
    a = alfa_scn_engine_next_action(&e, 500000);
    assert_int_equal(a->kind, ALFA_SCN_ACT_GATEWAY);
    assert_null(alfa_scn_engine_next_action(&e, 900000));
    alfa_scn_engine_free(&e);
    alfa_scn_free(&s);
}

static void test_engine_point_expectations(void **state)
{
    (void)state;
    alfa_scn_t s;
    char err[256];
    assert_int_equal(alfa_scn_parse_string("e.scn",
                                           "packs 3\n" START
                                           "at 07:00 expect pack 2 soc_pct >= 60\n"     /* line 3 fails */
                                           "at 07:00 expect all mode == backup\n"       /* 4: pack 3 fails */
                                           "at 07:00 expect pack 1 relay_grid == closed\n" /* 5 holds */
                                           "at 07:00 expect site master_pack == 3\n"    /* 6 holds */
                                           "at 07:00 expect pack 1 last_ack == out_of_range\n" /* 7 holds */
                                           "at 08:00 expect pack 1 soc_pct == 50\n",   /* 8 never reached */
                                           0, &s, err, sizeof(err)), 0);
    alfa_scn_engine_t e;
    assert_int_equal(alfa_scn_engine_init(&e, &s), 0);
    reset_obs();
    packs[0].t.mode = ALFA_MODE_BACKUP;
    packs[1].t.mode = ALFA_MODE_BACKUP;
    packs[2].t.mode = ALFA_MODE_ECO;
    packs[0].t.relays_closed = 0x01;
    packs[0].last_ack = 3;
    site.master_serial = s.packs[2].serial;
    observe(&e, 59 * MIN_MS);
    assert_int_equal(e.failure_count, 0);
    observe(&e, HOUR_MS + 10); /* first observation at or after 07:00 */
    assert_int_equal(e.failure_count, 2);
    assert_int_equal(e.failures[0].line, 3);
    assert_true(e.failures[0].at_ms == HOUR_MS + 10);
    assert_string_equal(e.failures[0].seen, "50");
    assert_string_equal(e.failures[0].what, "at 07:00 expect pack 2 soc_pct >= 60");
    assert_int_equal(e.failures[1].line, 4);
    assert_string_equal(e.failures[1].what, "at 07:00 expect all mode == backup [pack 3]");
    assert_string_equal(e.failures[1].seen, "eco");
    alfa_scn_engine_finish(&e, HOUR_MS + 30 * MIN_MS);
    assert_int_equal(e.failure_count, 3);
    assert_int_equal(e.failures[2].line, 8);
    assert_string_equal(e.failures[2].seen, "the run ended before this time");

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    alfa_scn_engine_report(&e, f);
    fclose(f);
    assert_non_null(strstr(buf, "FAILED day1 07:00:00.010 e.scn:3: expected 'at 07:00 expect pack 2 soc_pct >= 60', saw 50\n"));
    free(buf);
    alfa_scn_engine_free(&e);
    alfa_scn_free(&s);
}

static void test_engine_interval_and_changes(void **state)
{
    (void)state;
    alfa_scn_t s;
    char err[256];
    assert_int_equal(alfa_scn_parse_string("e.scn",
                                           "packs 3\n" START
                                           "from 07:00 to 08:00 expect all soc_pct >= 40\n"      /* 3 */
                                           "from 07:00 to 08:00 expect pack 1 mode changes <= 1\n" /* 4 */
                                           "from 07:00 to 08:00 expect pack 2 mode changes <= 1\n" /* 5 */
                                           "from 07:00 to end expect site packs_online == 3\n",    /* 6 */
                                           0, &s, err, sizeof(err)), 0);
    alfa_scn_engine_t e;
    assert_int_equal(alfa_scn_engine_init(&e, &s), 0);
    reset_obs();
    site.packs_online = 3;
    int64_t t = HOUR_MS - 2000;
    for (int i = 0; i < 1800; i++, t += 2000) { /* 07:00 - 08:00 every 2 s */
        packs[0].t.mode = (uint8_t)(i < 900 ? 1 : 2);          /* changes once */
        packs[1].t.mode = (uint8_t)((i / 300) % 2 ? 1 : 3);    /* changes five times */
        packs[2].t.soc_pct = (uint8_t)(i == 1000 || i == 1001 ? 39 : 45); /* dips twice */
        observe(&e, t);
    }
    assert_int_equal(e.failure_count, 1); /* only the first dip below 40 is reported */
    assert_int_equal(e.failures[0].line, 3);
    assert_string_equal(e.failures[0].what, "from 07:00 to 08:00 expect all soc_pct >= 40 [pack 3]");
    assert_string_equal(e.failures[0].seen, "39");
    observe(&e, 2 * HOUR_MS); /* the intervals close */
    assert_int_equal(e.failure_count, 2);
    assert_int_equal(e.failures[1].line, 5);
    assert_string_equal(e.failures[1].seen, "5 changes");
    /* Pack 2 goes silent: the site expectation to the end still holds from the site's view, but
     * a pack field over an interval would fail. */
    packs[1].valid = 0;
    observe(&e, 3 * HOUR_MS);
    alfa_scn_engine_finish(&e, 4 * HOUR_MS);
    assert_int_equal(e.failure_count, 2);
    alfa_scn_engine_free(&e);
    alfa_scn_free(&s);
}

static void test_engine_pack_without_telemetry_fails(void **state)
{
    (void)state;
    alfa_scn_t s;
    char err[256];
    assert_int_equal(alfa_scn_parse_string("e.scn",
                                           "packs 3\n" START
                                           "at 07:00 expect pack 3 soc_pct >= 10\n"
                                           "at 07:00 expect pack 3 powered == off\n"
                                           "at 07:00 expect site valid == 0\n"
                                           "at 07:00 expect site packs_online == 2\n",
                                           0, &s, err, sizeof(err)), 0);
    alfa_scn_engine_t e;
    assert_int_equal(alfa_scn_engine_init(&e, &s), 0);
    reset_obs();
    packs[2].valid = 0;
    packs[2].powered = 0;
    obs.site_valid = 0;
    observe(&e, HOUR_MS);
    assert_int_equal(e.failure_count, 2);
    assert_string_equal(e.failures[0].seen, "no telemetry (pack off or silent)");
    assert_int_equal(e.failures[1].line, 6);
    assert_string_equal(e.failures[1].seen, "no site totals heard");
    alfa_scn_engine_free(&e);
    alfa_scn_free(&s);
}

/* The additions of issue 10: "ever", every failing pack named, sub-second times, settings,
 * fault and warning names, the site day, clock corrections. */
static void test_engine_ever_names_settings_and_subseconds(void **state)
{
    (void)state;
    alfa_scn_t s;
    char err[256];
    int rc = alfa_scn_parse_string("e.scn",
                                   "packs 3\n" START
                                   "from 07:00 to 08:00 expect ever all warn_grid_limit_reached == on\n" /* 3 */
                                   "from 07:00 to 08:00 expect all soc_pct >= 45\n"                      /* 4 */
                                   "at 07:00:00.250 expect pack 1 setting eco_limit_w == 2500\n"        /* 5 */
                                   "at 07:00:00.250 expect pack 2 faults == bms_comm_lost+short_circuit\n" /* 6 */
                                   "at 07:00:00.250 expect pack 3 warnings == none\n"                    /* 7 */
                                   "at 07:00:00.250 expect site day == 20530\n"                          /* 8 */
                                   "at 07:30:00.5 time_shift -6h\n"
                                   "at 07:30:00.5 time_shift +1d\n",
                                   0, &s, err, sizeof(err));
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_true(s.expects[2].from_ms == HOUR_MS + 250);
    assert_int_equal(s.expects[2].setting, ALFA_SET_ECO_LIMIT_W);
    assert_int_equal(s.expects[3].value, (1 << ALFA_FAULT_BMS_COMM_LOST) | (1 << ALFA_FAULT_SHORT_CIRCUIT));
    assert_int_equal(s.action_count, 2);
    assert_true(s.actions[0].at_ms == HOUR_MS + 30 * MIN_MS + 500);
    assert_int_equal(s.actions[0].kind, ALFA_SCN_ACT_TIME_SHIFT);
    assert_true(s.actions[0].value == -6 * HOUR_MS);
    assert_true(s.actions[1].value == 24 * HOUR_MS);
    alfa_scn_engine_t e;
    assert_int_equal(alfa_scn_engine_init(&e, &s), 0);
    reset_obs();
    site.day = 20530;
    packs[0].settings_valid = 1;
    packs[0].settings[ALFA_SET_ECO_LIMIT_W] = 2400;
    packs[1].t.faults = 1u << ALFA_FAULT_BMS_COMM_LOST;
    packs[2].t.warnings = 1u << ALFA_WARN_LOADS_LIMIT;
    int64_t t = HOUR_MS;
    for (int i = 0; i < 1800; i++, t += 2000) {
        /* pack 1 reaches the limit once; packs 2 and 3 never; packs 2 and 3 dip below 45 */
        packs[0].t.warnings = (uint16_t)(i == 700 ? 1u << ALFA_WARN_GRID_LIMIT_REACHED : 0u);
        packs[1].t.soc_pct = (uint8_t)(i >= 10 && i < 20 ? 40 : 50);
        packs[2].t.soc_pct = (uint8_t)(i >= 30 ? 41 : 50);
        observe(&e, i == 0 ? t + 250 : t);
    }
    observe(&e, 2 * HOUR_MS);
    alfa_scn_engine_finish(&e, 2 * HOUR_MS);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    alfa_scn_engine_report(&e, f);
    fclose(f);
    /* every failing pack is named, each with its own first violation */
    assert_non_null(strstr(buf, "e.scn:4: expected 'from 07:00 to 08:00 expect all soc_pct >= 45 [pack 2]', saw 40"));
    assert_non_null(strstr(buf, "e.scn:4: expected 'from 07:00 to 08:00 expect all soc_pct >= 45 [pack 3]', saw 41"));
    /* "ever": packs 2 and 3 never held it, pack 1 did */
    assert_non_null(strstr(buf, "e.scn:3: expected 'from 07:00 to 08:00 expect ever all warn_grid_limit_reached == on [pack 2]', saw never; last 0"));
    assert_non_null(strstr(buf, "[pack 3]', saw never; last 0"));
    assert_null(strstr(buf, "warn_grid_limit_reached == on [pack 1]"));
    /* settings and names */
    assert_non_null(strstr(buf, "07:00:00.250 e.scn:5: expected 'at 07:00:00.250 expect pack 1 setting eco_limit_w == 2500', saw 2400"));
    assert_non_null(strstr(buf, "e.scn:6: expected 'at 07:00:00.250 expect pack 2 faults == bms_comm_lost+short_circuit', saw bms_comm_lost"));
    assert_non_null(strstr(buf, "e.scn:7: expected 'at 07:00:00.250 expect pack 3 warnings == none', saw loads_limit"));
    assert_null(strstr(buf, "e.scn:8:"));
    assert_int_equal(e.failure_count, 7);
    free(buf);
    alfa_scn_engine_free(&e);
    alfa_scn_free(&s);
    /* refusals */
    assert_int_equal(alfa_scn_parse_string("e.scn", "packs 1\n" START "at 07:00 expect ever all soc_pct >= 1\n", 0, &s, err,
                                           sizeof(err)), -1);
    assert_non_null(strstr(err, "'ever' needs an interval"));
    assert_int_equal(alfa_scn_parse_string("e.scn", "packs 1\n" START "at 07:00 expect all setting colour == 1\n", 0, &s,
                                           err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'setting' needs a setting name"));
    assert_int_equal(alfa_scn_parse_string("e.scn", "packs 1\n" START "at 07:00 expect all faults == cell_ov\n", 0, &s,
                                           err, sizeof(err)), -1);
    assert_int_equal(alfa_scn_parse_string("e.scn", "packs 1\n" START "at 07:00:00. gateway off\n", 0, &s, err,
                                           sizeof(err)), -1);
    assert_int_equal(alfa_scn_parse_string("e.scn", "packs 1\n" START "at 07:00 time_shift 6h\n", 0, &s, err,
                                           sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_ever_names_settings_and_subseconds),
        cmocka_unit_test(test_parse_good_scenario),
        cmocka_unit_test(test_packs_override),
        cmocka_unit_test(test_bad_input_names_file_line_and_problem),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_engine_actions_in_order),
        cmocka_unit_test(test_engine_point_expectations),
        cmocka_unit_test(test_engine_interval_and_changes),
        cmocka_unit_test(test_engine_pack_without_telemetry_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
