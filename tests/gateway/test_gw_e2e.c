/* End-to-end tests of alfaspark-gateway: real mosquitto, the real daemon on an SLCAN pty, protocol-library packs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

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
} fx_t;

static int start_all(fx_t *f, int auth, const char *const *extra)
{
    memset(f, 0, sizeof *f);
    if (hx_broker_start(&f->broker, 0, auth) != 0) return -1;
    if (hx_bus_open(&f->bus) != 0) return -1;
    if (hx_gw_start(&f->gw, &f->broker, SITE, &f->bus, extra) != 0) return -1;
    hx_pack_init(&f->packs[0], SERIAL_A, 5);
    hx_pack_init(&f->packs[1], SERIAL_B, 9);
    return 0;
}

static int setup(void **state)
{
    static fx_t fx;
    *state = &fx;
    if (start_all(&fx, 0, NULL) != 0) return -1;
    if (hx_client_connect(&fx.cli, fx.broker.port, "observer", NULL, NULL) != 0) return -1;
    hx_client_sub(&fx.cli, "alfaspark/#");
    hx_client_sub(&fx.cli, "homeassistant/#");
    /* the gateway is up once it says so */
    return hx_wait(&fx.cli, T("gateway/status"), "online", 5000, &fx.bus, NULL, 0, NULL) >= 0 ? 0 : -1;
}

/* The same with the gateway speaking MQTT 5. */
static int setup_v5(void **state)
{
    static fx_t fx;
    static const char *const extra[] = {"--set", "mqtt.protocol=5", NULL};
    *state = &fx;
    if (start_all(&fx, 0, extra) != 0) return -1;
    if (hx_client_connect(&fx.cli, fx.broker.port, "observer", NULL, NULL) != 0) return -1;
    hx_client_sub(&fx.cli, "alfaspark/#");
    return hx_wait(&fx.cli, T("gateway/status"), "online", 5000, &fx.bus, NULL, 0, NULL) >= 0 ? 0 : -1;
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

/* Heartbeats + one telemetry cycle from every pack, then answer commands for `ms`. */
static void beat(fx_t *f, int npacks, int telemetry)
{
    for (int k = 0; k < npacks; k++) {
        hx_pack_heartbeat(&f->bus, &f->packs[k]);
        if (telemetry) hx_pack_telemetry(&f->bus, &f->packs[k]);
    }
}

static void test_state_retained_with_units(void **state)
{
    fx_t *f = *state;
    beat(f, 1, 1);
    int i = hx_wait(&f->cli, T("pack/" HEX_A "/state"), "\"p_grid_w\":1234", 3000, &f->bus, NULL, 0, NULL);
    assert_true(i >= 0);
    const hx_msg_t *m = hx_msg(&f->cli, i);
    assert_non_null(strstr(m->payload, "\"serial\":\"" HEX_A "\""));
    assert_non_null(strstr(m->payload, "\"v_pack_mv\":52000"));
    assert_non_null(strstr(m->payload, "\"i_batt_ma\":-9600"));
    assert_non_null(strstr(m->payload, "\"soc_pct\":56"));
    assert_non_null(strstr(m->payload, "\"p_batt_w\":-500"));
    assert_non_null(strstr(m->payload, "\"mode\":\"eco\""));
    assert_non_null(strstr(m->payload, "\"relay_grid_closed\":true"));
    assert_non_null(strstr(m->payload, "\"relay_pool_closed\":false"));
    assert_non_null(strstr(m->payload, "\"grid_import_today_wh\":4321"));
    assert_non_null(strstr(m->payload, "\"fw_version\":\"2.5.0\""));
    assert_true(hx_wait(&f->cli, T("pack/" HEX_A "/status"), "online", 2000, &f->bus, NULL, 0, NULL) >= 0);

    /* one state message per telemetry cycle, never one per CAN frame */
    int before = hx_count(&f->cli, T("pack/" HEX_A "/state"), NULL);
    f->packs[0].t.p_grid_w = 777;
    for (int c = 0; c < 3; c++) hx_pack_telemetry(&f->bus, &f->packs[0]);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_A "/state"), "\"cycle\":3,", 3000, &f->bus, NULL, 0, NULL) >= 0);
    hx_settle(200, &f->bus, NULL, 0, NULL);
    assert_int_equal(hx_count(&f->cli, T("pack/" HEX_A "/state"), NULL) - before, 3);

    /* a subscriber that arrives later gets the last state at once, flagged retained */
    hx_client_t late;
    assert_int_equal(hx_client_connect(&late, f->broker.port, "late", NULL, NULL), 0);
    hx_client_sub(&late, T("pack/+/state"));
    i = hx_wait(&late, T("pack/" HEX_A "/state"), "\"cycle\":3,", 2000, NULL, NULL, 0, NULL);
    assert_true(i >= 0);
    assert_true(hx_msg(&late, i)->retain);
    assert_non_null(strstr(hx_msg(&late, i)->payload, "\"p_grid_w\":777"));
    hx_client_close(&late);
}

static void test_availability_and_last_will(void **state)
{
    fx_t *f = *state;
    beat(f, 1, 1);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_A "/status"), "online", 3000, &f->bus, NULL, 0, NULL) >= 0);
    uint32_t t0 = hx_ms();
    /* heartbeats stop: offline after 3 s, not before */
    int i = hx_wait(&f->cli, T("pack/" HEX_A "/status"), "offline", 6000, &f->bus, NULL, 0, NULL);
    uint32_t dt = hx_ms() - t0;
    assert_true(i >= 0);
    assert_true(dt >= 2500 && dt <= 5000); /* 3 s after the last heartbeat, give or take the machine's load */
    /* the gateway dies without a goodbye: the broker publishes its Last Will */
    hx_gw_kill(&f->gw, SIGKILL);
    i = hx_wait(&f->cli, T("gateway/status"), "offline", 5000, NULL, NULL, 0, NULL);
    assert_true(i >= 0);
    assert_true(hx_msg(&f->cli, i)->retain || 1);
    hx_client_t late;
    assert_int_equal(hx_client_connect(&late, f->broker.port, "late2", NULL, NULL), 0);
    hx_client_sub(&late, T("gateway/status"));
    i = hx_wait(&late, T("gateway/status"), NULL, 2000, NULL, NULL, 0, NULL);
    assert_true(i >= 0);
    assert_string_equal(hx_msg(&late, i)->payload, "offline");
    hx_client_close(&late);
}

static void test_command_reaches_every_pack(void **state)
{
    fx_t *f = *state;
    beat(f, 2, 1);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_B "/status"), "online", 3000, &f->bus, f->packs, 2, &f->bus_from) >= 0);
    hx_client_pub(&f->cli, T("cmd/set_mode"), "{\"id\":\"req-1\",\"mode\":\"backup\",\"on\":true}", 0);
    int a = hx_wait(&f->cli, T("cmd/result"), "\"pack\":\"" HEX_A "\"", 3000, &f->bus, f->packs, 2, &f->bus_from);
    int b = hx_wait(&f->cli, T("cmd/result"), "\"pack\":\"" HEX_B "\"", 3000, &f->bus, f->packs, 2, &f->bus_from);
    assert_true(a >= 0 && b >= 0);
    assert_non_null(strstr(hx_msg(&f->cli, a)->payload, "\"id\":\"req-1\""));
    assert_non_null(strstr(hx_msg(&f->cli, a)->payload, "\"result\":\"ok\""));
    assert_non_null(strstr(hx_msg(&f->cli, b)->payload, "\"id\":\"req-1\""));
    assert_non_null(strstr(hx_msg(&f->cli, b)->payload, "\"result\":\"ok\""));
    /* exactly one broadcast frame carried it, with the mode */
    assert_int_equal(hx_bus_count(&f->bus, ALFA_CLS_CMD, ALFA_CMD_SET_MODE), 1);
    for (int k = 0; k < f->bus.n_seen; k++) {
        alfa_cmd_t c;
        if (alfa_proto_cmd_decode(&f->bus.seen[k], &c) == 0) {
            assert_int_equal(c.dst, ALFA_NODE_BROADCAST);
            assert_int_equal(c.src, ALFA_NODE_LINUX_GATEWAY);
            assert_int_equal(c.u.set_mode.mode, ALFA_MODE_BACKUP);
            assert_int_equal(c.u.set_mode.on, 1);
        }
    }
    /* one pack, numeric id; refusal reason from the pack comes back as is */
    f->packs[1].ack_result = ALFA_ACK_NOT_ALLOWED;
    hx_client_pub(&f->cli, T("pack/" HEX_B "/cmd/factory_reset"), "{\"id\":42,\"confirm\":\"factory_reset\"}", 0);
    int r = hx_wait(&f->cli, T("cmd/result"), "\"id\":42,", 3000, &f->bus, f->packs, 2, &f->bus_from);
    assert_true(r >= 0);
    assert_non_null(strstr(hx_msg(&f->cli, r)->payload, "\"result\":\"not_allowed\""));
    assert_non_null(strstr(hx_msg(&f->cli, r)->payload, "\"pack\":\"" HEX_B "\""));
    /* a pack that does not answer: timeout after 1 s */
    f->packs[0].auto_ack = 0;
    uint32_t t0 = hx_ms();
    hx_client_pub(&f->cli, T("pack/" HEX_A "/cmd/identify"), "{\"id\":\"slow\",\"seconds\":5}", 0);
    r = hx_wait(&f->cli, T("cmd/result"), "\"id\":\"slow\"", 4000, &f->bus, f->packs, 2, &f->bus_from);
    assert_true(r >= 0);
    assert_non_null(strstr(hx_msg(&f->cli, r)->payload, "\"result\":\"timeout\""));
    assert_true(hx_ms() - t0 >= 900);
}

static void test_bad_commands_never_reach_can(void **state)
{
    fx_t *f = *state;
    beat(f, 1, 1);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_A "/status"), "online", 3000, &f->bus, f->packs, 1, &f->bus_from) >= 0);
    hx_client_pub(&f->cli, T("cmd/set_eco_limit"), "{\"id\":\"j\",\"limit_w\":", 0);
    hx_client_pub(&f->cli, T("cmd/launch_rockets"), "{\"id\":\"u\"}", 0);
    hx_client_pub(&f->cli, T("cmd/set_eco_limit"), "{\"id\":\"r\",\"limit_w\":999999}", 0);
    hx_client_pub(&f->cli, T("pack/0000deadbeef/cmd/reboot"), "{\"id\":\"p\"}", 0);
    hx_client_pub(&f->cli, T("cmd/set_grid_limit"), "{\"id\":\"t\",\"on\":\"maybe\",\"limit_kwh\":5}", 0);
    struct { const char *id, *result; } want[] = {
        {"\"id\":null", "invalid_json"}, /* unparseable: no id to echo */
        {"\"id\":\"u\"", "unknown_command"}, {"\"id\":\"r\"", "out_of_range"},
        {"\"id\":\"p\"", "unknown_pack"}, {"\"id\":\"t\"", "bad_value"}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int i = hx_wait(&f->cli, T("cmd/result"), want[k].id, 3000, &f->bus, f->packs, 1, &f->bus_from);
        assert_true(i >= 0);
        char res[64];
        snprintf(res, sizeof res, "\"result\":\"%s\"", want[k].result);
        assert_non_null(strstr(hx_msg(&f->cli, i)->payload, res));
        assert_non_null(strstr(hx_msg(&f->cli, i)->payload, "\"detail\":"));
    }
    assert_non_null(strstr(hx_msg(&f->cli, hx_wait(&f->cli, T("cmd/result"), "\"id\":\"r\"", 10, NULL, NULL, 0, NULL))->payload,
                           "100..40000"));
    hx_settle(200, &f->bus, f->packs, 1, &f->bus_from);
    assert_int_equal(hx_bus_count(&f->bus, ALFA_CLS_CMD, -1), 0);
    /* and a good one does go out */
    hx_pack_heartbeat(&f->bus, &f->packs[0]);
    hx_client_pub(&f->cli, T("cmd/set_eco_limit"), "{\"id\":\"good\",\"limit_w\":2500}", 0);
    int i = hx_wait(&f->cli, T("cmd/result"), "\"id\":\"good\"", 3000, &f->bus, f->packs, 1, &f->bus_from);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&f->cli, i)->payload, "\"result\":\"ok\""));
    assert_int_equal(hx_bus_count(&f->bus, ALFA_CLS_CMD, ALFA_CMD_SET_ECO_LIMIT), 1);
}

static void test_rate_limit_per_client(void **state)
{
    fx_t *f = *state;
    beat(f, 1, 1);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_A "/status"), "online", 3000, &f->bus, f->packs, 1, &f->bus_from) >= 0);
    for (int k = 0; k < 15; k++) {
        char p[96];
        snprintf(p, sizeof p, "{\"id\":\"f%d\",\"client\":\"flooder\",\"seconds\":1}", k);
        hx_client_pub(&f->cli, T("cmd/identify"), p, 0);
    }
    assert_true(hx_wait(&f->cli, T("cmd/result"), "\"id\":\"f14\"", 3000, &f->bus, f->packs, 1, &f->bus_from) >= 0);
    hx_settle(300, &f->bus, f->packs, 1, &f->bus_from);
    int limited = hx_count(&f->cli, T("cmd/result"), "rate_limited");
    /* a burst of 10 is allowed, then one a second: 5 refused (fewer only if the machine took
     * seconds to deliver the 15) */
    assert_true(limited >= 3 && limited <= 5);
    assert_int_equal(hx_bus_count(&f->bus, ALFA_CLS_CMD, ALFA_CMD_IDENTIFY), 15 - limited);
    /* another client is not punished for the flooder */
    hx_client_pub(&f->cli, T("cmd/identify"), "{\"id\":\"polite\",\"client\":\"app\",\"seconds\":1}", 0);
    int i = hx_wait(&f->cli, T("cmd/result"), "\"id\":\"polite\"", 3000, &f->bus, f->packs, 1, &f->bus_from);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&f->cli, i)->payload, "\"result\":\"ok\""));
}

static void test_time_discovery_and_import_recovery(void **state)
{
    fx_t *f = *state;
    /* time broadcast at start */
    hx_bus_pump(&f->bus, 100);
    assert_true(hx_bus_count(&f->bus, ALFA_CLS_TIME, -1) >= 1);
    f->packs[0].t.day = 20400; /* the site day its counters belong to */
    beat(f, 1, 1);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_A "/state"), "\"grid_import_today_wh\":4321", 3000, &f->bus, NULL, 0, NULL) >= 0);
    /* discovery: an energy counter for the HA Energy dashboard */
    const char *cfg_topic = "homeassistant/sensor/alfaspark_" HEX_A "/grid_import_today_wh/config";
    int i = hx_wait(&f->cli, cfg_topic, "total_increasing", 3000, &f->bus, NULL, 0, NULL);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&f->cli, i)->payload, "\"device_class\":\"energy\""));
    assert_non_null(strstr(hx_msg(&f->cli, i)->payload, "\"unit_of_measurement\":\"Wh\""));
    assert_true(hx_wait(&f->cli, "homeassistant/sensor/alfaspark_site_site1/p_solar_w/config", NULL, 3000, NULL, NULL, 0, NULL) >= 0);
    /* the pack reboots and reports 0: the published counter does not dip */
    f->packs[0].t.grid_import_today_wh = 0;
    f->packs[0].t.p_grid_w = 4242;
    hx_pack_telemetry(&f->bus, &f->packs[0]);
    i = hx_wait(&f->cli, T("pack/" HEX_A "/state"), "\"p_grid_w\":4242", 3000, &f->bus, NULL, 0, NULL);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&f->cli, i)->payload, "\"grid_import_today_wh\":4321"));
    /* ... and asks for its day's import: the gateway answers with it (another day's question gets
     * no answer: its figures would be wrong for it) */
    alfa_can_frame_t req;
    assert_int_equal(alfa_proto_import_req_encode(5, 20399, &req), 0);
    hx_bus_send(&f->bus, &req);
    hx_bus_pump(&f->bus, 300);
    for (int j = 0; j < f->bus.n_seen; j++) {
        alfa_import_msg_t m;
        assert_int_not_equal(alfa_proto_import_decode(&f->bus.seen[j], &m), ALFA_CLS_IMPORT_RESP);
    }
    assert_int_equal(alfa_proto_import_req_encode(5, 20400, &req), 0);
    hx_bus_send(&f->bus, &req);
    int got = 0;
    for (int k = 0; k < 100 && !got; k++) {
        hx_bus_pump(&f->bus, 20);
        for (int j = 0; j < f->bus.n_seen; j++) {
            alfa_import_msg_t m;
            if (alfa_proto_import_decode(&f->bus.seen[j], &m) == ALFA_CLS_IMPORT_RESP) {
                assert_int_equal(m.dst, 5);
                assert_int_equal(m.day, 20400);
                if (m.serial24 == ALFA_SERIAL24(f->packs[0].serial)) {
                    assert_int_equal(m.grid_import_today_wh, 4321);
                    got = 1;
                }
            }
        }
    }
    assert_true(got);
    /* Home Assistant restarts: discovery is sent again */
    int before = hx_count(&f->cli, cfg_topic, NULL);
    hx_client_pub(&f->cli, "homeassistant/status", "online", 0);
    uint32_t t0 = hx_ms();
    while (hx_count(&f->cli, cfg_topic, NULL) == before && hx_ms() - t0 < 4000) hx_settle(20, &f->bus, NULL, 0, NULL);
    assert_true(hx_count(&f->cli, cfg_topic, NULL) > before);
}

static void test_broker_restart_survived(void **state)
{
    fx_t *f = *state;
    beat(f, 1, 1);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_A "/state"), NULL, 3000, &f->bus, NULL, 0, NULL) >= 0);
    hx_client_close(&f->cli);
    hx_broker_stop(&f->broker);
    hx_settle(300, &f->bus, NULL, 0, NULL);
    assert_int_equal(hx_broker_start(&f->broker, f->broker.port, 0), 0); /* empty: no persistence */
    hx_client_t c;
    assert_int_equal(hx_client_connect(&c, f->broker.port, "after", NULL, NULL), 0);
    hx_client_sub(&c, "alfaspark/#");
    hx_client_sub(&c, "homeassistant/#");
    /* keep the pack alive while the gateway reconnects */
    uint32_t t0 = hx_ms();
    int ok = 0;
    while (!ok && hx_ms() - t0 < 15000) {
        hx_pack_heartbeat(&f->bus, &f->packs[0]);
        hx_settle(300, &f->bus, NULL, 0, NULL);
        ok = hx_count(&c, T("gateway/status"), "online") > 0 && hx_count(&c, T("pack/" HEX_A "/state"), NULL) > 0;
    }
    assert_true(ok);
    assert_true(hx_wait(&c, "homeassistant/sensor/alfaspark_" HEX_A "/soc_pct/config", NULL, 3000, NULL, NULL, 0, NULL) >= 0);
    /* and commands work again */
    f->bus_from = f->bus.n_seen;
    hx_client_pub(&c, T("cmd/reboot"), "{\"id\":\"after-restart\"}", 0);
    int i = hx_wait(&c, T("cmd/result"), "after-restart", 3000, &f->bus, f->packs, 1, &f->bus_from);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&c, i)->payload, "\"result\":\"ok\""));
    f->cli = c; /* teardown closes it */
}

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(buf, 1, cap - 1, fp) : 0;
    buf[n] = '\0';
    if (fp) fclose(fp);
}

static void test_alfasparkctl(void **state)
{
    fx_t *f = *state;
    char port[16], out[256], text[4096];
    snprintf(port, sizeof port, "%d", f->broker.port);
    snprintf(out, sizeof out, "%s/ctl.out", f->broker.dir);
    beat(f, 2, 1);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_B "/state"), NULL, 3000, &f->bus, f->packs, 2, &f->bus_from) >= 0);
    /* set-mode eco on: both packs answer ok, exit 0 */
    const char *a1[] = {"alfasparkctl", "--host", "127.0.0.1", "--port", port, "--site", SITE, "set-mode", "eco", "on", NULL};
    beat(f, 2, 0);
    assert_int_equal(hx_run(a1, out, 8000, &f->bus, f->packs, 2, &f->bus_from), 0);
    slurp(out, text, sizeof text);
    assert_non_null(strstr(text, HEX_A " ok"));
    assert_non_null(strstr(text, HEX_B " ok"));
    /* status lists the gateway and the packs (--json: the retained documents themselves) */
    const char *a2[] = {"alfasparkctl", "--port", port, "--host", "127.0.0.1", "--site", SITE, "status", "--json", NULL};
    assert_int_equal(hx_run(a2, out, 8000, &f->bus, f->packs, 2, &f->bus_from), 0);
    slurp(out, text, sizeof text);
    assert_non_null(strstr(text, "\"gateway\":\"online\""));
    assert_non_null(strstr(text, "\"serial\":\"" HEX_A "\",\"status\":\"online\""));
    assert_non_null(strstr(text, "\"soc_pct\":56"));
    /* a refusal and a timeout exit non-zero */
    const char *a3[] = {"alfasparkctl", "--port", port, "--host", "127.0.0.1", "--site", SITE, "set-eco-limit", "999999", NULL};
    beat(f, 2, 0);
    assert_int_equal(hx_run(a3, out, 8000, &f->bus, f->packs, 2, &f->bus_from), 1);
    slurp(out, text, sizeof text);
    assert_non_null(strstr(text, "out_of_range"));
    f->packs[1].auto_ack = 0;
    const char *a4[] = {"alfasparkctl", "--port", port, "--host", "127.0.0.1", "--site", SITE, "--pack", HEX_B, "identify", "3", NULL};
    beat(f, 2, 0);
    assert_int_equal(hx_run(a4, out, 8000, &f->bus, f->packs, 2, &f->bus_from), 1);
    slurp(out, text, sizeof text);
    assert_non_null(strstr(text, HEX_B " timeout"));
    /* usage errors are caught before anything is sent */
    const char *a5[] = {"alfasparkctl", "--port", port, "set-mode", "eco", NULL};
    assert_int_equal(hx_run(a5, out, 8000, &f->bus, f->packs, 2, &f->bus_from), 2);
}

static void test_check_config(void **state)
{
    fx_t *f = *state;
    char out[256], text[4096], ini[256];
    snprintf(out, sizeof out, "%s/check.out", f->broker.dir);
    snprintf(ini, sizeof ini, "%s/bad.ini", f->broker.dir);
    FILE *fp = fopen(ini, "w");
    assert_non_null(fp);
    fputs("[mqtt]\nport = many\n[homeassistant]\nenabled = perhaps\n", fp);
    fclose(fp);
    const char *bad[] = {"alfaspark-gateway", "--config", ini, "--check-config", "--syntax-only", NULL};
    assert_int_equal(hx_run(bad, out, 5000, NULL, NULL, 0, NULL), 1);
    slurp(out, text, sizeof text);
    assert_non_null(strstr(text, "2 problem(s)"));
    assert_non_null(strstr(text, "mqtt.port"));
    assert_non_null(strstr(text, "homeassistant.enabled"));
    char example[512];
    const char *src = getenv("ALFA_SOURCE_DIR");
    snprintf(example, sizeof example, "%s/deploy/gateway.ini.example", src ? src : ".");
    const char *good[] = {"alfaspark-gateway", "--config", example, "--check-config", "--syntax-only", "--set", "gateway.site=x", NULL};
    assert_int_equal(hx_run(good, out, 5000, NULL, NULL, 0, NULL), 0);
    slurp(out, text, sizeof text);
    assert_non_null(strstr(text, "configuration syntax OK: site x"));
}

/* The gateway reaches the broker over TLS, checking the broker's certificate against a CA. */
static void test_tls_to_broker(void **state)
{
    fx_t *f = *state;
    memset(f, 0, sizeof *f);
    assert_int_equal(hx_broker_enable_tls(&f->broker), 0);
    assert_int_equal(hx_broker_start(&f->broker, 0, 0), 0);
    assert_int_equal(hx_bus_open(&f->bus), 0);
    char tls_port[16], ca[200];
    snprintf(tls_port, sizeof tls_port, "mqtt.port=%d", f->broker.tls_port);
    snprintf(ca, sizeof ca, "tls.ca_file=%s", f->broker.ca_file);
    const char *extra[] = {"--set", tls_port, "--set", "mqtt.host=localhost", "--set", "tls.enabled=true", "--set", ca, NULL};
    assert_int_equal(hx_gw_start(&f->gw, &f->broker, SITE, &f->bus, extra), 0);
    assert_int_equal(hx_client_connect(&f->cli, f->broker.port, "observer", NULL, NULL), 0);
    hx_client_sub(&f->cli, "alfaspark/#");
    assert_true(hx_wait(&f->cli, T("gateway/status"), "online", 8000, &f->bus, NULL, 0, NULL) >= 0);
    hx_pack_init(&f->packs[0], SERIAL_A, 5);
    beat(f, 1, 1);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_A "/state"), "\"soc_pct\":56", 3000, &f->bus, NULL, 0, NULL) >= 0);
    char log[4096];
    slurp(f->gw.log, log, sizeof log);
    assert_non_null(strstr(log, "connected to localhost"));
}

/* systemd: READY=1 once, then WATCHDOG=1 at half the watchdog period, from the main loop. */
static void test_systemd_notify_and_watchdog(void **state)
{
    fx_t *f = *state;
    memset(f, 0, sizeof *f);
    assert_int_equal(hx_broker_start(&f->broker, 0, 0), 0);
    assert_int_equal(hx_bus_open(&f->bus), 0);
    char sock_path[200];
    snprintf(sock_path, sizeof sock_path, "%s/notify.sock", f->broker.dir);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    assert_true(strlen(sock_path) < sizeof a.sun_path);
    memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    setenv("NOTIFY_SOCKET", sock_path, 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    int rc = hx_gw_start(&f->gw, &f->broker, SITE, &f->bus, NULL);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(rc, 0);
    int ready = 0, feeds = 0;
    uint32_t t0 = hx_ms();
    while (hx_ms() - t0 < 2500) {
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        char buf[512];
        ssize_t n = recv(s, buf, sizeof buf - 1, 0);
        if (n <= 0) continue;
        buf[n] = '\0';
        if (strstr(buf, "READY=1")) ready++;
        if (strstr(buf, "WATCHDOG=1")) feeds++;
    }
    close(s);
    assert_int_equal(ready, 1);
    assert_true(feeds >= 4 && feeds <= 20); /* every 200 ms once running, over 2.5 s */
}

static int setup_bare(void **state)
{
    static fx_t fx;
    *state = &fx;
    return 0;
}

static int setup_auth(void **state)
{
    static fx_t fx;
    static const char *const extra[] = {"--set", "mqtt.username=gw", "--set", "mqtt.password=pw-gw", NULL};
    *state = &fx;
    if (start_all(&fx, 1, extra) != 0) return -1;
    if (hx_client_connect(&fx.cli, fx.broker.port, "site1-app", "site1", "pw-site1") != 0) return -1;
    hx_client_sub(&fx.cli, "alfaspark/site1/#");
    return hx_wait(&fx.cli, T("gateway/status"), "online", 5000, &fx.bus, NULL, 0, NULL) >= 0 ? 0 : -1;
}

static void test_auth_and_site_acl(void **state)
{
    fx_t *f = *state;
    beat(f, 1, 1);
    assert_true(hx_wait(&f->cli, T("pack/" HEX_A "/state"), NULL, 3000, &f->bus, f->packs, 1, &f->bus_from) >= 0);
    /* no credentials: refused */
    hx_client_t anon;
    int rc = hx_client_connect(&anon, f->broker.port, "anon", NULL, NULL);
    assert_int_not_equal(rc, 0);
    hx_client_close(&anon);
    /* wrong password: refused */
    hx_client_t bad;
    assert_int_not_equal(hx_client_connect(&bad, f->broker.port, "bad", "site1", "guess"), 0);
    hx_client_close(&bad);
    /* another site's user: sees nothing of site1 and cannot command it */
    hx_client_t other;
    assert_int_equal(hx_client_connect(&other, f->broker.port, "site2-app", "site2", "pw-site2"), 0);
    hx_client_sub(&other, "alfaspark/site1/#");
    hx_client_sub(&other, "alfaspark/#");
    hx_client_pub(&other, T("cmd/reboot"), "{\"id\":\"intruder\"}", 0);
    hx_pack_telemetry(&f->bus, &f->packs[0]);
    hx_settle(1500, &f->bus, f->packs, 1, &f->bus_from);
    assert_int_equal(hx_count(&other, T("pack/" HEX_A "/state"), NULL), 0);
    assert_int_equal(other.n, 0);
    assert_int_equal(hx_count(&f->cli, T("cmd/result"), "intruder"), 0);
    assert_int_equal(hx_bus_count(&f->bus, ALFA_CLS_CMD, -1), 0);
    hx_client_close(&other);
    /* the site's own user can */
    hx_client_pub(&f->cli, T("cmd/reboot"), "{\"id\":\"owner\"}", 0);
    int i = hx_wait(&f->cli, T("cmd/result"), "\"id\":\"owner\"", 3000, &f->bus, f->packs, 1, &f->bus_from);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&f->cli, i)->payload, "\"result\":\"ok\""));
    assert_int_equal(hx_bus_count(&f->bus, ALFA_CLS_CMD, ALFA_CMD_REBOOT), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_retained_with_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_availability_and_last_will, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_reaches_every_pack, setup_v5, teardown),
        cmocka_unit_test_setup_teardown(test_bad_commands_never_reach_can, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_per_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_discovery_and_import_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_restart_survived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alfasparkctl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_and_site_acl, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(test_tls_to_broker, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_systemd_notify_and_watchdog, setup_bare, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
