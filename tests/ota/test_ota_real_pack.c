/* The real alfaspark-pack daemon updated over SLCAN: its binary is replaced by the signed image, it comes back with the new version; an unconfirmed one rolls back at the next start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw_harness.h"

/*
 * The pack: build/bin/alfaspark-pack copied into a directory of its own (the "installed" binary:
 * its firmware slots are files beside it), its BMS alfaspark-bms-sim on a pty, its CAN an SLCAN
 * pty; the gateway on another pty; the test carries every frame between the two (the wire). The
 * image: the same program, stripped and signed as 2.6.0 with the test's key, which the pack's
 * configuration adds to its trusted keys. alfasparkctl update sends it; the daemon writes slot a,
 * verifies it, switches, restarts through its launcher into slot a, passes its self-test and
 * confirms: it now reports 2.6.0. Then 2.7.0 goes to slot b, and the daemon is killed while 2.7.0
 * runs unconfirmed (a crash, or systemd's watchdog); started again (as systemd would), its
 * launcher rolls back to slot a: the pack reports 2.6.0 and the gateway "rolled_back".
 */

#define PACK_SERIAL 0x24dcc3a1b2c5ull
#define PACK_HEX "24dcc3a1b2c5"
#define T(x) "alfaspark/site1/" x

typedef struct rig {
    hx_broker_t broker;
    hx_bus_t gwbus, packbus;
    int gw_from, pack_from;
    hx_gw_t gw;
    hx_client_t cli;
    pid_t bms_pid, pack_pid;
    char bms_path[128], dir[128], inst[256], cfg[256], key[256], pub[256];
} rig_t;

static rig_t g_rig;

static const char *bin(void)
{
    const char *b = getenv("ALFA_BIN_DIR");
    return b ? b : "build/bin";
}

static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void wire(rig_t *r)
{
    hx_bus_pump(&r->gwbus, 0);
    hx_bus_pump(&r->packbus, 1);
    for (; r->gw_from < r->gwbus.n_seen; r->gw_from++) hx_bus_send(&r->packbus, &r->gwbus.seen[r->gw_from]);
    for (; r->pack_from < r->packbus.n_seen; r->pack_from++) hx_bus_send(&r->gwbus, &r->packbus.seen[r->pack_from]);
    if (r->gwbus.n_seen > HX_MAX_FRAMES - 512) r->gwbus.n_seen = r->gw_from = 0;
    if (r->packbus.n_seen > HX_MAX_FRAMES - 512) r->packbus.n_seen = r->pack_from = 0;
}

static int wait_msg(rig_t *r, int from, const char *topic, const char *needle, int timeout_ms)
{
    uint32_t t0 = hx_ms();
    while ((int)(hx_ms() - t0) < timeout_ms) {
        for (int k = from; k < r->cli.n; k++) {
            const hx_msg_t *m = hx_msg(&r->cli, k);
            if (m != NULL && !strcmp(m->topic, topic) && (needle == NULL || strstr(m->payload, needle))) return k;
        }
        wire(r);
    }
    return -1;
}

static void start_pack(rig_t *r)
{
    r->pack_pid = fork();
    if (r->pack_pid == 0) {
        char plog[200];
        snprintf(plog, sizeof plog, "%.120s/pack.log", r->dir);
        int lfd = open(plog, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(lfd, 1);
        dup2(lfd, 2);
        execl(r->inst, r->inst, "--config", r->cfg, (char *)NULL);
        _exit(127);
    }
}

/* Run alfasparkctl update in the background while the test keeps the wire going. */
static pid_t ctl_update(rig_t *r, const char *img, const char *out)
{
    char exe[256], port[16];
    snprintf(exe, sizeof exe, "%s/alfasparkctl", bin());
    snprintf(port, sizeof port, "%d", r->broker.port);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(exe, exe, "--host", "127.0.0.1", "--port", port, "--site", "site1", "update", img, "--timeout-s", "300",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(rig_t *r, pid_t pid, int timeout_ms)
{
    uint32_t t0 = hx_ms();
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if ((int)(hx_ms() - t0) > timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        wire(r);
    }
}

static int file_has(const char *file, const char *needle)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) return 0;
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static int setup(void **state)
{
    rig_t *r = &g_rig;
    memset(r, 0, sizeof *r);
    *state = r;
    if (hx_broker_start(&r->broker, 0, 0) != 0 || hx_bus_open(&r->gwbus) != 0 || hx_bus_open(&r->packbus) != 0) return -1;
    snprintf(r->dir, sizeof r->dir, "%s", r->broker.dir);
    /* the installed binary, in a directory of its own: its slots go beside it */
    snprintf(r->inst, sizeof r->inst, "%s/opt/alfaspark-pack", r->dir);
    if (sh("mkdir -p %s/opt && cp %s/alfaspark-pack %s", r->dir, bin(), r->inst) != 0) return -1;
    snprintf(r->key, sizeof r->key, "%s/key.pem", r->dir);
    snprintf(r->pub, sizeof r->pub, "%s/pub.pem", r->dir);
    if (sh("%s/alfaspark-sign keygen %s %s", bin(), r->key, r->pub) != 0) return -1;
    /* images: the same program, stripped (a smaller image, the same code), as 2.6.0 and 2.7.0 */
    if (sh("strip -o %s/pack.elf %s/alfaspark-pack && cd %s && %s/alfaspark-sign sign --key key.pem --version 2.6.0 "
           "pack.elf v260.img >/dev/null && %s/alfaspark-sign sign --key key.pem --version 2.7.0 pack.elf v270.img >/dev/null",
           r->dir, bin(), r->dir, bin(), bin()) != 0) {
        return -1;
    }
    int p[2];
    if (pipe(p) != 0) return -1;
    r->bms_pid = fork();
    if (r->bms_pid == 0) {
        char exe[256];
        dup2(p[1], 1);
        close(p[0]);
        snprintf(exe, sizeof exe, "%s/alfaspark-bms-sim", bin());
        execl(exe, exe, "--pty", "--v-pack-mv", "54400", "--i-batt-ma", "1500", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    if (f == NULL || fgets(r->bms_path, sizeof r->bms_path, f) == NULL) return -1;
    r->bms_path[strcspn(r->bms_path, "\r\n")] = '\0';
    snprintf(r->cfg, sizeof r->cfg, "%s/pack.ini", r->dir);
    FILE *ini = fopen(r->cfg, "w");
    if (ini == NULL) return -1;
    fprintf(ini, "[pack]\nserial = 0x%llx\nflash = %s/settings.flash\n[bms]\ndevice = %s\n[can]\ninterface = slcan:%s\n"
                 "[firmware]\ntrust = %s\n",
            (unsigned long long)PACK_SERIAL, r->dir, r->bms_path, r->packbus.path, r->pub);
    fclose(ini);
    start_pack(r);
    char state_dir[200];
    snprintf(state_dir, sizeof state_dir, "ota.state_dir=%.150s", r->dir);
    const char *extra[] = {"--set", state_dir, NULL};
    if (hx_gw_start(&r->gw, &r->broker, "site1", &r->gwbus, extra) != 0) return -1;
    if (hx_client_connect(&r->cli, r->broker.port, "observer", NULL, NULL) != 0) return -1;
    hx_client_sub(&r->cli, T("pack/" PACK_HEX "/state"));
    hx_client_sub(&r->cli, T("ota/#"));
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
    if (getenv("ALFA_KEEP_TEST_DIR") == NULL) hx_broker_cleanup(&r->broker);
    hx_bus_close(&r->gwbus);
    hx_bus_close(&r->packbus);
    return 0;
}

static void test_real_pack_update_and_rollback(void **state)
{
    rig_t *r = *state;
    char out[256], img[256], slot[256], boot[256], plog[256];
    assert_true(wait_msg(r, 0, T("pack/" PACK_HEX "/state"), "\"fw_version\":\"2.5.0\"", 30000) >= 0);

    /* 2.6.0: written to slot a, verified, switched to; the daemon restarts into it and confirms */
    snprintf(out, sizeof out, "%s/ctl-260.out", r->dir);
    snprintf(img, sizeof img, "%s/v260.img", r->dir);
    int rc = wait_exit(r, ctl_update(r, img, out), 240000);
    snprintf(plog, sizeof plog, "%s/pack.log", r->dir);
    if (rc != 0) sh("cat %s; tail -30 %s; tail -30 %s", out, plog, r->gw.log);
    assert_int_equal(rc, 0);
    assert_true(file_has(out, "ok: 1 pack(s) updated"));
    int from = r->cli.n;
    assert_true(wait_msg(r, from > 5 ? from - 5 : 0, T("pack/" PACK_HEX "/state"), "\"fw_version\":\"2.6.0\"", 30000) >= 0);
    snprintf(slot, sizeof slot, "%s/opt/alfaspark-pack.slot-a", r->dir);
    struct stat st;
    assert_int_equal(stat(slot, &st), 0);
    assert_true((st.st_mode & S_IXUSR) != 0);
    snprintf(boot, sizeof boot, "%s/opt/alfaspark-pack.boot", r->dir);
    assert_true(file_has(boot, "\na 1 3\n")); /* slot a: sequence 1, VALID */
    assert_true(file_has(plog, "firmware: starting slot a"));
    assert_true(file_has(plog, "Alfaspark 2.6.0 pack"));

    /* 2.7.0 to slot b; killed while it runs unconfirmed; started again: back to slot a */
    snprintf(out, sizeof out, "%s/ctl-270.out", r->dir);
    snprintf(img, sizeof img, "%s/v270.img", r->dir);
    pid_t ctl = ctl_update(r, img, out);
    uint32_t t0 = hx_ms();
    while (!file_has(boot, "\nb 2 2\n") && (int)(hx_ms() - t0) < 200000) wire(r); /* slot b PENDING: on trial */
    assert_true(file_has(boot, "\nb 2 2\n"));
    kill(r->pack_pid, SIGKILL);
    waitpid(r->pack_pid, NULL, 0);
    hx_settle(500, NULL, NULL, 0, NULL);
    start_pack(r); /* systemd's Restart= */
    rc = wait_exit(r, ctl, 240000);
    if (rc != 1) sh("cat %s; tail -30 %s; tail -30 %s", out, plog, r->gw.log);
    assert_int_equal(rc, 1);
    assert_true(file_has(out, "rolled_back"));
    assert_true(file_has(out, "not_confirmed"));
    assert_true(file_has(boot, "\nb 2 5\n")); /* slot b ABORTED */
    assert_true(file_has(plog, "slot b was not confirmed: rolled back"));
    from = r->cli.n;
    assert_true(wait_msg(r, from > 5 ? from - 5 : 0, T("pack/" PACK_HEX "/state"), "\"fw_version\":\"2.6.0\"", 30000) >= 0);
}

int main(void)
{
    /* A sanitizer build's daemon does not fit an image (2 MiB): nothing to update it with. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "strip -o /tmp/alfa-ota-size-%d %s/alfaspark-pack", (int)getpid(), bin());
    struct stat st;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/alfa-ota-size-%d", (int)getpid());
    int big = system(cmd) == 0 && stat(tmp, &st) == 0 && st.st_size > 2 * 1024 * 1024;
    unlink(tmp);
    if (big) {
        printf("skipped: the stripped alfaspark-pack of this build (%lld bytes, sanitizers) exceeds the 2 MiB image limit\n",
               (long long)st.st_size);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_real_pack_update_and_rollback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
