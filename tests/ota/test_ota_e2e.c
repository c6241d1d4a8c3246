/* Firmware updates end to end: the real gateway and Mosquitto, alfaspark-sim packs on the SLCAN pty, alfasparkctl update. */
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

#include "alfa/fwimg.h"
#include "gw_harness.h"

/*
 * One simulated site of three packs (running 2.5.0, the build's version) at 8x real time behind
 * the SLCAN pty; the real gateway on it; the test's own signing key (alfaspark-sign keygen),
 * which the simulated packs trust (--ota-pub). In order:
 *   - a tampered, an unsigned, a wrong-hardware and an older image: every pack refuses, says why,
 *     nothing is activated; a damaged image is refused by the gateway before any pack sees it;
 *   - 2.6.0 to every pack while pack 2 loses power in the middle: it resumes, all confirm;
 *   - 2.7.0 while the gateway restarts in the middle: the session and the packs resume;
 *   - 2.8.0 whose canary fails its self-test: it rolls back to 2.7.0, says why, the roll-out stops.
 */

#define SITE "site1"
#define T(x) "alfaspark/" SITE "/" x

static const char *const serials[3] = {"a4cf12000001", "a4cf12000002", "a4cf12000003"};

typedef struct rig {
    hx_broker_t broker;
    hx_bus_t bus;              /* only its path: the simulator's pty */
    hx_gw_t gw;
    hx_client_t cli;
    pid_t sim_pid;
    int sim_in;                /* the simulator's stdin (live actions) */
    char dir[128];
    char key[512], pub[512];
} rig_t;

static rig_t g_rig;

static void path(const rig_t *r, const char *name, char *out, size_t cap) { snprintf(out, cap, "%s/%s", r->dir, name); }

static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static const char *bin(void)
{
    const char *b = getenv("ALFA_BIN_DIR");
    return b ? b : "build/bin";
}

/* Sign `payload` (written to a file) as version `ver` with extra sign options. */
static int sign(rig_t *r, const char *name, const char *ver, const char *extra, uint32_t size, uint32_t seed)
{
    char in[512], out[512];
    path(r, "payload.bin", in, sizeof in);
    path(r, name, out, sizeof out);
    FILE *f = fopen(in, "wb");
    if (f == NULL) return -1;
    uint32_t x = seed * 2654435761u + 7u;
    for (uint32_t i = 0; i < size; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        fputc((int)(x & 0xFF), f);
    }
    fclose(f);
    return sh("%s/alfaspark-sign sign --key %s --version %s %s %s %s >/dev/null", bin(), r->key, ver, extra, in, out);
}

/* Load an image file, change it with `edit`, save it under `name`. */
static int edit_image(rig_t *r, const char *from, const char *name, void (*edit)(uint8_t *img, size_t len))
{
    char a[512], b[512];
    path(r, from, a, sizeof a);
    path(r, name, b, sizeof b);
    FILE *f = fopen(a, "rb");
    if (f == NULL) return -1;
    static uint8_t img[300000];
    size_t len = fread(img, 1, sizeof img, f);
    fclose(f);
    edit(img, len);
    f = fopen(b, "wb");
    if (f == NULL || fwrite(img, 1, len, f) != len) return -1;
    return fclose(f);
}

static void unsign(uint8_t *img, size_t len) { (void)len; memset(img + 64, 0, 64); }
static void tamper(uint8_t *img, size_t len)
{
    img[128 + 1000] ^= 0x10;
    alfa_sha256(img + 128, len - 128, img + 32); /* the header's hash fixed up: only the signature tells */
}
static void damage(uint8_t *img, size_t len) { (void)len; img[128 + 2000] ^= 0x01; } /* hash left as it was */

static void sim_action(rig_t *r, const char *line)
{
    char b[128];
    int n = snprintf(b, sizeof b, "%s\n", line);
    assert_int_equal(write(r->sim_in, b, (size_t)n), n);
}

/* Start alfasparkctl update in the background; its output goes to `out`. */
static pid_t ctl_update(rig_t *r, const char *image, const char *out)
{
    char img[512], port[16], exe[256];
    path(r, image, img, sizeof img);
    snprintf(port, sizeof port, "%d", r->broker.port);
    snprintf(exe, sizeof exe, "%s/alfasparkctl", bin());
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(exe, exe, "--host", "127.0.0.1", "--port", port, "--site", SITE, "update", img, "--timeout-s", "240",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid, int timeout_ms)
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
        hx_settle(50, NULL, NULL, 0, NULL);
    }
}

static int file_has(const char *file, const char *needle)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) return 0;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* The version a pack reports now, from the retained pack/<serial>/state (a fresh client). */
static int pack_version_is(rig_t *r, const char *serial, const char *ver)
{
    hx_client_t c;
    memset(&c, 0, sizeof c);
    if (hx_client_connect(&c, r->broker.port, "ota-check", NULL, NULL) != 0) return 0;
    char topic[96], needle[64];
    snprintf(topic, sizeof topic, T("pack/%s/state"), serial);
    snprintf(needle, sizeof needle, "\"fw_version\":\"%s\"", ver);
    hx_client_sub(&c, topic);
    int ok = 0;
    for (int k = 0; k < 40 && !ok; k++) { /* the next state after a restart may take a few cycles */
        ok = hx_wait(&c, topic, needle, 250, NULL, NULL, 0, NULL) >= 0;
        if (!ok) {
            hx_client_close(&c);
            memset(&c, 0, sizeof c);
            if (hx_client_connect(&c, r->broker.port, "ota-check", NULL, NULL) != 0) return 0;
            hx_client_sub(&c, topic);
        }
    }
    hx_client_close(&c);
    return ok;
}

static int setup(void **state)
{
    rig_t *r = &g_rig;
    memset(r, 0, sizeof *r);
    *state = r;
    if (hx_broker_start(&r->broker, 0, 0) != 0) return -1;
    snprintf(r->dir, sizeof r->dir, "%s", r->broker.dir);
    path(r, "key.pem", r->key, sizeof r->key);
    path(r, "pub.pem", r->pub, sizeof r->pub);
    if (sh("%s/alfaspark-sign keygen %s %s", bin(), r->key, r->pub) != 0) return -1;
    if (sign(r, "v260.img", "2.6.0", "", 48000, 1) || sign(r, "v270.img", "2.7.0", "", 48000, 2) ||
        sign(r, "v280.img", "2.8.0", "", 32000, 3) || sign(r, "hw9.img", "2.6.0", "--hw-class 9", 20000, 4) ||
        sign(r, "old.img", "2.4.0", "", 20000, 5) || edit_image(r, "v260.img", "unsigned.img", unsign) ||
        edit_image(r, "v260.img", "tampered.img", tamper) || edit_image(r, "v260.img", "damaged.img", damage)) {
        return -1;
    }
    char scn[512], log[512];
    path(r, "site.scn", scn, sizeof scn);
    path(r, "sim.log", log, sizeof log);
    FILE *f = fopen(scn, "w");
    if (f == NULL) return -1;
    fprintf(f, "packs 3\nstart 2026-05-04 11:00\nduration 2h\nsolar peak 3000\nbattery soc 55\n"
               "at 11:00:30 command all set_mode {\"mode\": \"backup\", \"on\": true}\n");
    fclose(f);
    int in[2];
    if (pipe(in) != 0) return -1;
    r->sim_pid = fork();
    if (r->sim_pid == 0) {
        char exe[256];
        snprintf(exe, sizeof exe, "%s/alfaspark-sim", bin());
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in[0], 0);
        close(in[1]);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(exe, exe, "--scenario", scn, "--can-pty", "--realtime", "8", "--ota-pub", r->pub, "--actions-stdin",
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    r->sim_in = in[1];
    /* its pty path is the first line of its log */
    for (int k = 0; k < 200 && r->bus.path[0] == '\0'; k++) {
        FILE *lf = fopen(log, "r");
        char line[64];
        while (lf != NULL && fgets(line, sizeof line, lf) != NULL) {
            if (!strncmp(line, "CAN pty: ", 9)) {
                line[strcspn(line, "\r\n")] = '\0';
                snprintf(r->bus.path, sizeof r->bus.path, "%.50s", line + 9);
            }
        }
        if (lf != NULL) fclose(lf);
        hx_settle(20, NULL, NULL, 0, NULL);
    }
    if (r->bus.path[0] == '\0') return -1;
    char state_dir[512];
    snprintf(state_dir, sizeof state_dir, "ota.state_dir=%s", r->dir);
    const char *extra[] = {"--set", state_dir, "--set", "ota.wave_pct=50", NULL};
    if (hx_gw_start(&r->gw, &r->broker, SITE, &r->bus, extra) != 0) return -1;
    if (hx_client_connect(&r->cli, r->broker.port, "ota-test", NULL, NULL) != 0) return -1;
    hx_client_sub(&r->cli, T("ota/#"));
    hx_client_sub(&r->cli, T("pack/+/status"));
    for (int k = 0; k < 3; k++) {
        char topic[96];
        snprintf(topic, sizeof topic, T("pack/%s/status"), serials[k]);
        if (hx_wait(&r->cli, topic, "online", 30000, NULL, NULL, 0, NULL) < 0) return -1;
    }
    hx_settle(3000, NULL, NULL, 0, NULL); /* every pack settled and in backup mode */
    return 0;
}

static int teardown(void **state)
{
    rig_t *r = *state;
    hx_client_close(&r->cli);
    hx_gw_kill(&r->gw, SIGTERM);
    if (r->sim_pid > 0) {
        kill(r->sim_pid, SIGTERM);
        waitpid(r->sim_pid, NULL, 0);
    }
    close(r->sim_in);
    hx_broker_stop(&r->broker);
    if (getenv("ALFA_KEEP_TEST_DIR") == NULL) hx_broker_cleanup(&r->broker);
    return 0;
}

static void refused(rig_t *r, const char *image, const char *reason)
{
    char out[512], img[512], port[16];
    path(r, "ctl.out", out, sizeof out);
    path(r, image, img, sizeof img);
    snprintf(port, sizeof port, "%d", r->broker.port);
    const char *argv[] = {"alfasparkctl", "--host", "127.0.0.1", "--port", port, "--site", SITE, "update", img, NULL};
    int rc = hx_run(argv, out, 60000, NULL, NULL, 0, NULL);
    if (rc != 1 || !file_has(out, reason)) {
        sh("cat %s", out);
    }
    assert_int_equal(rc, 1);
    assert_true(file_has(out, reason));
    if (strcmp(reason, "refused: ") != 0) {
        for (int k = 0; k < 3; k++) {
            char line[96];
            snprintf(line, sizeof line, "%s [", serials[k]);
            assert_true(file_has(out, line)); /* a line per pack ... */
        }
        assert_true(file_has(out, "refused")); /* ... each refused */
        assert_false(file_has(out, "confirmed"));
    }
}

static void test_refusals(void **state)
{
    rig_t *r = *state;
    refused(r, "tampered.img", "bad_signature");
    refused(r, "unsigned.img", "bad_signature");
    refused(r, "hw9.img", "wrong_hardware");
    refused(r, "old.img", "downgrade");
    refused(r, "damaged.img", "refused: "); /* the gateway itself: its hash is wrong */
    char out[512];
    path(r, "ctl.out", out, sizeof out);
    assert_true(file_has(out, "does not match the header's SHA-256"));
    for (int k = 0; k < 3; k++) {
        assert_true(pack_version_is(r, serials[k], "2.5.0"));
    }
}

/* Bytes pack `serial` has of the running update, from its latest ota/pack message after `from`. */
static long long pack_bytes(rig_t *r, int from, const char *serial)
{
    char topic[96];
    snprintf(topic, sizeof topic, T("ota/pack/%s"), serial);
    long long best = -1;
    for (int k = from; k < r->cli.n; k++) {
        const hx_msg_t *m = hx_msg(&r->cli, k);
        const char *p = m != NULL && !strcmp(m->topic, topic) ? strstr(m->payload, "\"bytes\":") : NULL;
        if (p != NULL && strstr(m->payload, "\"state\":\"receiving\"")) best = atoll(p + 8);
    }
    return best;
}

static int resumed(rig_t *r, int from, const char *serial)
{
    char topic[96];
    snprintf(topic, sizeof topic, T("ota/pack/%s"), serial);
    for (int k = from; k < r->cli.n; k++) {
        const hx_msg_t *m = hx_msg(&r->cli, k);
        const char *p = m != NULL && !strcmp(m->topic, topic) ? strstr(m->payload, "\"resumed_from_bytes\":") : NULL;
        if (p != NULL && atoll(p + 21) > 0) return 1;
    }
    return 0;
}

static void test_update_with_pack_power_cut(void **state)
{
    rig_t *r = *state;
    char out[512];
    path(r, "ctl-260.out", out, sizeof out);
    int from = r->cli.n;
    pid_t ctl = ctl_update(r, "v260.img", out);
    uint32_t t0 = hx_ms();
    while (pack_bytes(r, from, serials[1]) < 12000 && (int)(hx_ms() - t0) < 60000) hx_settle(10, NULL, NULL, 0, NULL);
    assert_true(pack_bytes(r, from, serials[1]) >= 12000);
    sim_action(r, "power pack 2 off");
    hx_settle(1000, NULL, NULL, 0, NULL);
    sim_action(r, "power pack 2 on");
    int rc = wait_exit(ctl, 180000);
    if (rc != 0) sh("cat %s; tail -40 %s", out, r->gw.log);
    assert_int_equal(rc, 0);
    assert_true(resumed(r, from, serials[1])); /* it went on from what its slot held */
    assert_true(file_has(out, "ok: 3 pack(s) updated"));
    for (int k = 0; k < 3; k++) {
        assert_true(pack_version_is(r, serials[k], "2.6.0"));
    }
}

static void test_update_with_gateway_restart(void **state)
{
    rig_t *r = *state;
    char out[512], state_dir[512];
    path(r, "ctl-270.out", out, sizeof out);
    snprintf(state_dir, sizeof state_dir, "ota.state_dir=%s", r->dir);
    int from = r->cli.n;
    pid_t ctl = ctl_update(r, "v270.img", out);
    uint32_t t0 = hx_ms();
    while (pack_bytes(r, from, serials[0]) < 16000 && (int)(hx_ms() - t0) < 60000) hx_settle(10, NULL, NULL, 0, NULL);
    assert_true(pack_bytes(r, from, serials[0]) >= 16000);
    hx_gw_kill(&r->gw, SIGTERM);
    const char *extra[] = {"--set", state_dir, "--set", "ota.wave_pct=50", NULL};
    assert_int_equal(hx_gw_start(&r->gw, &r->broker, SITE, &r->bus, extra), 0);
    int rc = wait_exit(ctl, 180000);
    if (rc != 0) sh("cat %s; tail -40 %s", out, r->gw.log);
    assert_int_equal(rc, 0);
    assert_true(file_has(r->gw.log, "resumed after a gateway restart"));
    for (int k = 0; k < 3; k++) {
        assert_true(resumed(r, from, serials[k]));
        assert_true(pack_version_is(r, serials[k], "2.7.0"));
    }
}

static void test_failed_selftest_rolls_back(void **state)
{
    rig_t *r = *state;
    char out[512];
    path(r, "ctl-280.out", out, sizeof out);
    sim_action(r, "ota_selftest_fail pack 1 on");
    pid_t ctl = ctl_update(r, "v280.img", out);
    int rc = wait_exit(ctl, 200000);
    if (rc != 1) sh("cat %s; tail -40 %s", out, r->gw.log);
    assert_int_equal(rc, 1);
    assert_true(file_has(out, "rolled_back"));
    assert_true(file_has(out, "selftest (bms)"));
    assert_true(file_has(out, "skipped"));
    for (int k = 0; k < 3; k++) {
        assert_true(pack_version_is(r, serials[k], "2.7.0")); /* the canary rolled back, the others kept it */
    }
    sim_action(r, "ota_selftest_fail pack 1 off");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_update_with_pack_power_cut),
        cmocka_unit_test(test_update_with_gateway_restart),
        cmocka_unit_test(test_failed_selftest_rolls_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
