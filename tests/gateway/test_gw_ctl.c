/* alfasparkctl as a user meets it: a real mosquitto, the real gateway on an SLCAN pty, protocol-library packs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_harness.h"

#define SITE "site1"
#define SERIAL_A 0x0000a1b2c3d4ull
#define SERIAL_B 0x00f0e1d2c3b4ull
#define HEX_A "0000a1b2c3d4"
#define HEX_B "00f0e1d2c3b4"
#define T(x) "alfaspark/" SITE "/" x

typedef struct fx {
    hx_broker_t broker;
    hx_bus_t bus;
    hx_gw_t gw;
    hx_client_t cli;
    hx_pack_t packs[2];
    int bus_from;
    char port[16], out[256], text[16384];
    uint32_t took_ms;
} fx_t;

static int setup(void **state)
{
    static fx_t fx;
    fx_t *f = &fx;
    *state = f;
    memset(f, 0, sizeof *f);
    setenv("TZ", "UTC0", 1);
    if (hx_broker_start(&f->broker, 0, 0) != 0 || hx_bus_open(&f->bus) != 0) return -1;
    if (hx_gw_start(&f->gw, &f->broker, SITE, &f->bus, NULL) != 0) return -1;
    hx_pack_init(&f->packs[0], SERIAL_A, 5);
    hx_pack_init(&f->packs[1], SERIAL_B, 9);
    if (hx_client_connect(&f->cli, f->broker.port, "observer", NULL, NULL) != 0) return -1;
    hx_client_sub(&f->cli, "alfaspark/#");
    snprintf(f->port, sizeof f->port, "%d", f->broker.port);
    snprintf(f->out, sizeof f->out, "%.200s/ctl.out", f->broker.dir);
    if (hx_wait(&f->cli, T("gateway/status"), "online", 5000, &f->bus, NULL, 0, NULL) < 0) return -1;
    /* both packs known, with state */
    for (int k = 0; k < 2; k++) {
        hx_pack_heartbeat(&f->bus, &f->packs[k]);
        hx_pack_telemetry(&f->bus, &f->packs[k]);
    }
    if (hx_wait(&f->cli, T("pack/" HEX_B "/state"), NULL, 3000, &f->bus, f->packs, 2, &f->bus_from) < 0) return -1;
    return hx_wait(&f->cli, T("pack/" HEX_A "/state"), NULL, 3000, &f->bus, f->packs, 2, &f->bus_from) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    hx_client_close(&f->cli);
    hx_gw_kill(&f->gw, SIGTERM);
    hx_broker_stop(&f->broker);
    hx_broker_cleanup(&f->broker);
    hx_bus_close(&f->bus);
    return 0;
}

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(buf, 1, cap - 1, fp) : 0;
    buf[n] = '\0';
    if (fp) fclose(fp);
}

/* Run alfasparkctl on our broker with `args` (NULL-terminated) for at most `ms`; its output is in
 * f->text. Its exit status, or -1 when it was still running and was stopped. */
static int ctl_for(fx_t *f, const char *const *args, int ms)
{
    const char *argv[32] = {"alfasparkctl", "--host", "127.0.0.1", "--port", f->port};
    int n = 5;
    for (int k = 0; args[k] != NULL && n < 31; k++) argv[n++] = args[k];
    argv[n] = NULL;
    for (int k = 0; k < 2; k++) hx_pack_heartbeat(&f->bus, &f->packs[k]); /* keep them online */
    uint32_t t0 = hx_ms();
    int rc = hx_run(argv, f->out, ms, &f->bus, f->packs, 2, &f->bus_from);
    f->took_ms = hx_ms() - t0;
    slurp(f->out, f->text, sizeof f->text);
    return rc;
}

static int ctl(fx_t *f, const char *const *args) { return ctl_for(f, args, 10000); }

#define HAS(s) assert_non_null(strstr(f->text, s))
#define HASNT(s) assert_null(strstr(f->text, s))

/* A refusal by the gateway ends the command at once, with its reason and status 1: no timeout line. */
static void test_refusal_ends_at_once(void **state)
{
    fx_t *f = *state;
    const char *a[] = {"--site", SITE, "set-eco-limit", "999999", NULL};
    assert_int_equal(ctl(f, a), 1);
    HAS("refused by the gateway: out_of_range: \"limit_w\" must be 100..40000 W");
    HASNT("timeout");
    assert_true(f->took_ms < 1500); /* the wait for answers is 3000 ms */
}

/* A malformed serial: the gateway answers without an id (it could not read the topic); that
 * answer is ours and is reported at once. */
static void test_idless_answer_reported(void **state)
{
    fx_t *f = *state;
    const char *a[] = {"--site", SITE, "--pack", "xyz", "identify", NULL};
    assert_int_equal(ctl(f, a), 1);
    HAS("xyz unknown_pack: a pack serial is 12 hex digits");
    HASNT("timeout");
    assert_true(f->took_ms < 1500);
}

/* Every pack answers ok: one line each, status 0. A pack that stays silent: timeout, status 1. */
static void test_answers_and_timeout(void **state)
{
    fx_t *f = *state;
    const char *a[] = {"--site", SITE, "set-mode", "eco", "on", NULL};
    assert_int_equal(ctl(f, a), 0);
    HAS(HEX_A " ok");
    HAS(HEX_B " ok");
    /* set-setting takes the value the way read-settings shows it: a mode by name */
    const char *b[] = {"--site", SITE, "set-setting", "mode", "backup", NULL};
    assert_int_equal(ctl(f, b), 0);
    HAS(HEX_B " ok");
    f->packs[1].auto_ack = 0;
    const char *c[] = {"--site", SITE, "--pack", HEX_B, "identify", "3", NULL};
    assert_int_equal(ctl(f, c), 1);
    HAS(HEX_B " timeout");
    f->packs[1].auto_ack = 1;
}

/* A site the broker has no gateway for is named as such, with the sites it has. */
static void test_wrong_site(void **state)
{
    fx_t *f = *state;
    const char *a[] = {"--site", "nope", "set-mode", "eco", "on", NULL};
    assert_int_equal(ctl(f, a), 3);
    HAS("no gateway for site \"nope\"");
    HAS("sites on this broker: " SITE);
    HASNT("timeout");
    const char *b[] = {"--site", "nope", "status", NULL};
    assert_int_equal(ctl(f, b), 3);
    HAS("no gateway for site \"nope\"");
    const char *c[] = {"--site", "no/pe", "status", NULL};
    assert_int_equal(ctl(f, c), 2);
    HAS("--site \"no/pe\"");
}

/* The bad argument is named, with the command's own synopsis, never the whole usage. */
static void test_bad_arguments_named(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *args[8];
        const char *says;
    } cases[] = {
        {{"set-mode", "eco", NULL}, "set-mode: takes 2 arguments, not 1"},
        {{"set-mode", "fast", "on", NULL}, "MODE \"fast\" is not one of: self_consumption, eco, tou, backup"},
        {{"set-mode", "eco", "maybe", NULL}, "\"maybe\" is neither on nor off"},
        {{"set-tou-window", "1", "25:00", "02:00", NULL}, "START \"25:00\" is not a time"},
        {{"set-relay-override", "garage", "open", NULL}, "RELAY \"garage\" is not one of: grid, inverter, pool, heater"},
        {{"set-setting", "colour", "3", NULL}, "\"colour\" is not a setting"},
        {{"set-setting", "grid_limit_on", "perhaps", NULL}, "VALUE \"perhaps\" for grid_limit_on is not on or off"},
        {{"factory-reset", NULL}, "confirm with --yes"},
        {{"--port", "x", "status", NULL}, "--port \"x\": not a port number"},
        {{"--frob", "status", NULL}, "--frob: unknown option"},
        {{"launch", NULL}, "launch: unknown command"},
        {{NULL}, "no command given"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *argv[16] = {"alfasparkctl", "--host", "127.0.0.1", "--port", f->port, "--site", SITE};
        int n = 7;
        for (int j = 0; cases[k].args[j] != NULL; j++) argv[n++] = cases[k].args[j];
        argv[n] = NULL;
        int before = hx_count(&f->cli, T("cmd/result"), NULL);
        assert_int_equal(hx_run(argv, f->out, 5000, &f->bus, f->packs, 2, &f->bus_from), 2);
        slurp(f->out, f->text, sizeof f->text);
        if (strstr(f->text, cases[k].says) == NULL) fail_msg("case %zu: expected \"%s\" in:\n%s", k, cases[k].says, f->text);
        HASNT("commands:"); /* not the whole usage */
        hx_settle(100, &f->bus, f->packs, 2, &f->bus_from);
        assert_int_equal(hx_count(&f->cli, T("cmd/result"), NULL), before); /* nothing was sent */
    }
}

/* status: a table with names and units by default; --json: one document with the retained state. */
static void test_status_table_and_json(void **state)
{
    fx_t *f = *state;
    const char *a[] = {"--site", SITE, "status", NULL};
    assert_int_equal(ctl(f, a), 0);
    HAS("gateway online");
    HAS("SOC");
    HAS("solar");
    HAS("kWh");
    HAS(HEX_A " online");
    HAS(" eco ");   /* the mode by name */
    HAS("GI--");    /* relays: grid and inverter closed */
    HASNT("{\"");   /* no raw JSON */
    const char *b[] = {"--site", SITE, "--json", "status", NULL};
    assert_int_equal(ctl(f, b), 0);
    HAS("{\"site\":\"" SITE "\",\"gateway\":\"online\"");
    HAS("\"serial\":\"" HEX_A "\",\"status\":\"online\",\"state\":{\"serial\":\"" HEX_A "\"");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d[\"packs\"]) == 2' %s",
             f->out);
    assert_int_equal(system(cmd), 0);
}

/* The gateway gone: its Last Will says offline, and commands say so instead of timing out. */
static void test_gateway_offline(void **state)
{
    fx_t *f = *state;
    hx_gw_kill(&f->gw, SIGTERM);
    assert_true(hx_wait(&f->cli, T("gateway/status"), "offline", 3000, NULL, NULL, 0, NULL) >= 0);
    const char *a[] = {"--site", SITE, "reboot", NULL};
    assert_int_equal(ctl(f, a), 3);
    HAS("the gateway of site \"" SITE "\" is offline");
    const char *b[] = {"--site", SITE, "status", NULL};
    assert_int_equal(ctl(f, b), 1);
    HAS("gateway offline");
}

/* watch: only packs the gateway published (a command naming a serial makes no row), and the
 * site's own time from the packs' ts_s (here a simulated site of another day and zone). */
static void test_watch_rows_and_site_time(void **state)
{
    fx_t *f = *state;
    hx_client_pub(&f->cli, "alfaspark/sim/gateway/status", "online", 1);
    hx_client_pub(&f->cli, "alfaspark/sim/pack/000000000042/status", "online", 1);
    hx_client_pub(&f->cli, "alfaspark/sim/pack/000000000042/state",
                  "{\"serial\":\"000000000042\",\"master\":true,\"ts_s\":1750000000,\"utc_offset_min\":120,"
                  "\"soc_pct\":40,\"p_solar_w\":3100,\"mode\":\"tou\",\"relay_grid_closed\":true,"
                  "\"faults\":[],\"warnings\":[\"loads_limit\"]}",
                  1);
    hx_client_pub(&f->cli, "alfaspark/sim/pack/00000000dead/cmd/identify", "{}", 1); /* retained by mistake */
    hx_settle(200, NULL, NULL, 0, NULL);
    const char *a[] = {"--site", "sim", "watch", NULL};
    assert_int_equal(ctl_for(f, a, 1500), -1); /* still running when the test stopped it */
    HAS("site time 2025-06-15 17:06:40 UTC+02:00"); /* 1750000000 = 15:06:40 UTC */
    HAS("000000000042 online  master    40    3100");
    HAS("loads_limit");
    HASNT("00000000dead");
    /* without a zone in the state: this computer's (UTC here) */
    hx_client_pub(&f->cli, "alfaspark/sim/pack/000000000042/state", "{\"serial\":\"000000000042\",\"ts_s\":1750000000}", 1);
    hx_settle(200, NULL, NULL, 0, NULL);
    const char *b[] = {"--site", "sim", "status", NULL};
    assert_int_equal(ctl(f, b), 0);
    HAS("site time 2025-06-15 15:06:40 UTC");
}

/* The gateway logs every fault and warning event by name. */
static void test_gateway_logs_faults_by_name(void **state)
{
    fx_t *f = *state;
    f->packs[0].t.faults = 1u << ALFA_FAULT_BMS_COMM_LOST;
    f->packs[0].t.warnings = 1u << ALFA_WARN_LOADS_LIMIT;
    hx_pack_telemetry(&f->bus, &f->packs[0]);
    assert_true(hx_wait(&f->cli, T("event"), "bms_comm_lost", 3000, &f->bus, NULL, 0, NULL) >= 0);
    f->packs[0].t.faults = 0;
    hx_pack_telemetry(&f->bus, &f->packs[0]);
    assert_true(hx_wait(&f->cli, T("event"), "\"active\":false", 3000, &f->bus, NULL, 0, NULL) >= 0);
    char log[65536];
    slurp(f->gw.log, log, sizeof log);
    assert_non_null(strstr(log, "warning: pack " HEX_A ": fault bms_comm_lost raised"));
    assert_non_null(strstr(log, "warning: pack " HEX_A ": warning loads_limit raised"));
    assert_non_null(strstr(log, "info: pack " HEX_A ": fault bms_comm_lost cleared"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusal_ends_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idless_answer_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_site, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_table_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gateway_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_rows_and_site_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gateway_logs_faults_by_name, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
