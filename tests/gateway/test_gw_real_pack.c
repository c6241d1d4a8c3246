/* The gateway with a real pack: alfaspark-pack (firmware core on Linux) + alfaspark-bms-sim, joined to the gateway by a pty bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw_harness.h"

#define PACK_SERIAL 0x24dcc3a1b2c4ull
#define PACK_HEX "24dcc3a1b2c4"
#define T(x) "alfaspark/site1/" x

typedef struct rig {
    hx_broker_t broker;
    hx_bus_t gwbus, packbus;  /* two SLCAN ptys; the test is the wire between them */
    int gw_from, pack_from;
    hx_gw_t gw;
    hx_client_t cli;
    pid_t bms_pid, pack_pid;
    char bms_path[128];
} rig_t;

static rig_t g_rig;

/* Carry every frame each side sent to the other side. */
static void wire(rig_t *r)
{
    hx_bus_pump(&r->gwbus, 0);
    hx_bus_pump(&r->packbus, 2);
    for (; r->gw_from < r->gwbus.n_seen; r->gw_from++) hx_bus_send(&r->packbus, &r->gwbus.seen[r->gw_from]);
    for (; r->pack_from < r->packbus.n_seen; r->pack_from++) hx_bus_send(&r->gwbus, &r->packbus.seen[r->pack_from]);
    if (r->gwbus.n_seen > HX_MAX_FRAMES - 64) r->gwbus.n_seen = r->gw_from = 0;
    if (r->packbus.n_seen > HX_MAX_FRAMES - 64) r->packbus.n_seen = r->pack_from = 0;
}

static int wait_msg(rig_t *r, const char *topic, const char *needle, int timeout_ms)
{
    uint32_t t0 = hx_ms();
    while ((int)(hx_ms() - t0) < timeout_ms) {
        int i = hx_wait(&r->cli, topic, needle, 0, NULL, NULL, 0, NULL);
        if (i >= 0) return i;
        wire(r);
    }
    return -1;
}

static int setup(void **state)
{
    rig_t *r = &g_rig;
    memset(r, 0, sizeof *r);
    *state = r;
    if (hx_broker_start(&r->broker, 0, 0) != 0 || hx_bus_open(&r->gwbus) != 0 || hx_bus_open(&r->packbus) != 0) return -1;
    const char *bin = getenv("ALFA_BIN_DIR");
    char exe[256], flash[256], cfg[256], can[128];
    /* the BMS simulator prints its pty path first */
    int p[2];
    if (pipe(p) != 0) return -1;
    r->bms_pid = fork();
    if (r->bms_pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        snprintf(exe, sizeof exe, "%s/alfaspark-bms-sim", bin ? bin : "build/bin");
        execl(exe, exe, "--pty", "--v-pack-mv", "54400", "--i-batt-ma", "1500", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    if (f == NULL || fgets(r->bms_path, sizeof r->bms_path, f) == NULL) return -1;
    r->bms_path[strcspn(r->bms_path, "\r\n")] = '\0';
    snprintf(flash, sizeof flash, "%.120s/settings.flash", r->broker.dir);
    snprintf(cfg, sizeof cfg, "%.120s/pack.ini", r->broker.dir);
    snprintf(can, sizeof can, "slcan:%.63s", r->packbus.path);
    FILE *ini = fopen(cfg, "w");
    if (ini == NULL) return -1;
    fprintf(ini, "[pack]\nserial = 0x%llx\nflash = %s\n[bms]\ndevice = %s\n[can]\ninterface = %s\n",
            (unsigned long long)PACK_SERIAL, flash, r->bms_path, can);
    fclose(ini);
    r->pack_pid = fork();
    if (r->pack_pid == 0) {
        char plog[200];
        snprintf(plog, sizeof plog, "%.120s/pack.log", r->broker.dir);
        int lfd = open(plog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(lfd, 1);
        dup2(lfd, 2);
        snprintf(exe, sizeof exe, "%s/alfaspark-pack", bin ? bin : "build/bin");
        execl(exe, exe, "--config", cfg, (char *)NULL);
        _exit(127);
    }
    if (hx_gw_start(&r->gw, &r->broker, "site1", &r->gwbus, NULL) != 0) return -1;
    if (hx_client_connect(&r->cli, r->broker.port, "observer", NULL, NULL) != 0) return -1;
    hx_client_sub(&r->cli, "alfaspark/#");
    return 0;
}

static int teardown(void **state)
{
    rig_t *r = *state;
    hx_client_close(&r->cli);
    hx_gw_kill(&r->gw, SIGTERM);
    if (r->pack_pid > 0) { kill(r->pack_pid, SIGTERM); waitpid(r->pack_pid, NULL, 0); }
    if (r->bms_pid > 0) { kill(r->bms_pid, SIGTERM); waitpid(r->bms_pid, NULL, 0); }
    hx_broker_stop(&r->broker);
    hx_broker_cleanup(&r->broker);
    hx_bus_close(&r->gwbus);
    hx_bus_close(&r->packbus);
    return 0;
}

static void test_real_pack_state_and_commands(void **state)
{
    rig_t *r = *state;
    /* the pack joins, reads its BMS and its telemetry appears with the BMS's values */
    int i = wait_msg(r, T("pack/" PACK_HEX "/state"), "\"v_pack_mv\":54400", 20000);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&r->cli, i)->payload, "\"soc_pct\":50"));
    assert_non_null(strstr(hx_msg(&r->cli, i)->payload, "\"i_batt_ma\":1500"));
    assert_true(wait_msg(r, T("pack/" PACK_HEX "/status"), "online", 3000) >= 0);
    /* the gateway's time reached the pack: no "time not set" fault any more */
    i = wait_msg(r, T("pack/" PACK_HEX "/state"), "\"faults\":[]", 8000);
    assert_true(i >= 0);

    /* backup mode through MQTT, acknowledged by the real core, visible in its next telemetry */
    hx_client_pub(&r->cli, T("pack/" PACK_HEX "/cmd/set_mode"), "{\"id\":\"real-1\",\"mode\":\"backup\",\"on\":true}", 0);
    i = wait_msg(r, T("cmd/result"), "\"id\":\"real-1\"", 3000);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&r->cli, i)->payload, "\"result\":\"ok\""));
    assert_true(wait_msg(r, T("pack/" PACK_HEX "/state"), "\"mode\":\"backup\"", 6000) >= 0);

    /* a broadcast command: the pack answers it too */
    hx_client_pub(&r->cli, T("cmd/set_eco_limit"), "{\"id\":\"real-2\",\"limit_w\":2500}", 0);
    i = wait_msg(r, T("cmd/result"), "\"id\":\"real-2\"", 3000);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&r->cli, i)->payload, "\"pack\":\"" PACK_HEX "\""));
    assert_non_null(strstr(hx_msg(&r->cli, i)->payload, "\"result\":\"ok\""));

    /* read_settings: the values the core holds come back in the result */
    hx_client_pub(&r->cli, T("pack/" PACK_HEX "/cmd/read_settings"), "{\"id\":\"real-3\"}", 0);
    i = wait_msg(r, T("cmd/result"), "\"id\":\"real-3\"", 3000);
    assert_true(i >= 0);
    assert_non_null(strstr(hx_msg(&r->cli, i)->payload, "\"result\":\"ok\""));
    assert_non_null(strstr(hx_msg(&r->cli, i)->payload, "\"eco_limit_w\":2500"));
    assert_non_null(strstr(hx_msg(&r->cli, i)->payload, "\"mode\":4"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_real_pack_state_and_commands, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
