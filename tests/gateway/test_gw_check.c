/* alfaspark-gateway --check-config on the machine (CAN device, files, broker and login) and its reasons, with real mosquitto and ptys. */
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

typedef struct fx {
    hx_broker_t broker;
    hx_bus_t bus;
    char example[512], out[256], port[16], text[16384];
} fx_t;

static int setup(void **state)
{
    static fx_t fx;
    fx_t *f = &fx;
    memset(f, 0, sizeof *f);
    *state = f;
    const char *src = getenv("ALFA_SOURCE_DIR");
    snprintf(f->example, sizeof f->example, "%s/deploy/gateway.ini.example", src ? src : ".");
    if (hx_broker_start(&f->broker, 0, 1) != 0 || hx_bus_open(&f->bus) != 0) return -1; /* users gw, site1, site2 */
    snprintf(f->out, sizeof f->out, "%.200s/check.out", f->broker.dir);
    snprintf(f->port, sizeof f->port, "mqtt.port=%d", f->broker.port);
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
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

/* alfaspark-gateway --config <the shipped example> ARGS...; output in f->text. */
static int gw(fx_t *f, const char *const *args)
{
    const char *argv[32] = {"alfaspark-gateway", "--config", f->example};
    int n = 3;
    for (int k = 0; args[k] != NULL && n < 31; k++) argv[n++] = args[k];
    argv[n] = NULL;
    int rc = hx_run(argv, f->out, 10000, NULL, NULL, 0, NULL);
    slurp(f->out, f->text, sizeof f->text);
    return rc;
}

#define HAS(s)                                                                                     \
    do {                                                                                           \
        if (strstr(f->text, s) == NULL) fail_msg("expected \"%s\" in:\n%s", s, f->text);          \
    } while (0)
#define HASNT(s)                                                                                   \
    do {                                                                                           \
        if (strstr(f->text, s) != NULL) fail_msg("did not expect \"%s\" in:\n%s", s, f->text);    \
    } while (0)

/* The file as the package installs it: the site is not set and the adapter is not there; each
 * problem has its reason and a fix. Its syntax alone is fine. */
static void test_installed_example(void **state)
{
    fx_t *f = *state;
    const char *a[] = {"--check-config", "--set", "mqtt.host=127.0.0.1", "--set", f->port, NULL};
    assert_int_equal(gw(f, a), 1);
    HAS("gateway.site: not set\n  fix: name the site");
    HAS("gateway.can: /dev/ttyACM0 does not exist (No such file or directory)\n  fix: plug in the SLCAN adapter");
    if (access("/etc/alfaspark/mqtt-password", R_OK) != 0) HAS("mqtt.password_file: /etc/alfaspark/mqtt-password cannot be read");
    const char *b[] = {"--check-config", "--syntax-only", NULL};
    assert_int_equal(gw(f, b), 0);
    HAS("configuration syntax OK: site (not set)");
    const char *c[] = {"--syntax-only", NULL};
    assert_int_equal(gw(f, c), 2);
    HAS("--syntax-only goes with --check-config");
    const char *d[] = {"--version", NULL};
    assert_int_equal(gw(f, d), 0);
    HAS("alfaspark-gateway 2.5.0");
}

/* What the unit's ExecCondition sees: 1 until the site is named, then 0. */
static void test_is_configured(void **state)
{
    fx_t *f = *state;
    const char *a[] = {"--is-configured", NULL};
    assert_int_equal(gw(f, a), 1);
    HAS("gateway.site is not set");
    const char *b[] = {"--is-configured", "--set", "gateway.site=home", NULL};
    assert_int_equal(gw(f, b), 0);
}

/* A complete configuration on this machine: a pty for the adapter, the broker with its login. */
static void test_all_well_and_each_environment_problem(void **state)
{
    fx_t *f = *state;
    char can[160], pw[220], bad_can[200], regular[260];
    snprintf(can, sizeof can, "gateway.can=slcan:%s", f->bus.path);
    snprintf(pw, sizeof pw, "%.200s/gw.password", f->broker.dir);
    FILE *p = fopen(pw, "w");
    assert_non_null(p);
    fputs("pw-gw\n", p);
    fclose(p);
    char pwopt[320], statedir[300], histfile[300];
    snprintf(pwopt, sizeof pwopt, "mqtt.password_file=%s", pw);
    snprintf(statedir, sizeof statedir, "ota.state_dir=%.200s", f->broker.dir);
    snprintf(histfile, sizeof histfile, "history.path=%.200s/history.db", f->broker.dir);
    const char *ok[] = {"--check-config", "--set", "gateway.site=site1", "--set", can, "--set", "mqtt.host=127.0.0.1",
                        "--set", f->port, "--set", "mqtt.username=gw", "--set", pwopt, "--set", statedir, "--set", histfile, NULL};
    assert_int_equal(gw(f, ok), 0);
    HAS("configuration OK: site site1, CAN slcan:/dev/pts/");

    /* the firmware update's state directory (the packages create /var/lib/alfaspark) */
    const char *no_state[] = {"--check-config", "--set", "gateway.site=site1", "--set", can, "--set", "mqtt.host=127.0.0.1",
                              "--set", f->port, "--set", "mqtt.username=gw", "--set", pwopt, "--set",
                              "ota.state_dir=/nonexistent/alfaspark-state", "--set", histfile, NULL};
    assert_int_equal(gw(f, no_state), 1);
    HAS("ota.state_dir: directory /nonexistent/alfaspark-state does not exist (No such file or directory)\n  fix: create it");

    /* the CAN adapter: a regular file, a device that is no serial port, an interface the kernel lacks */
    snprintf(regular, sizeof regular, "gateway.can=slcan:%s", pw);
    const char *r1[] = {"--check-config", "--set", "gateway.site=site1", "--set", regular, "--set", "mqtt.host=127.0.0.1",
                        "--set", f->port, "--set", "mqtt.username=gw", "--set", pwopt, "--set", statedir, "--set", histfile, NULL};
    assert_int_equal(gw(f, r1), 1);
    HAS("is not a device (a regular file or other)\n  fix:");
    snprintf(bad_can, sizeof bad_can, "gateway.can=slcan:/dev/null");
    const char *r2[] = {"--check-config", "--set", "gateway.site=site1", "--set", bad_can, "--set", "mqtt.host=127.0.0.1",
                        "--set", f->port, "--set", "mqtt.username=gw", "--set", pwopt, NULL};
    assert_int_equal(gw(f, r2), 1);
    HAS("gateway.can: /dev/null is a device but not a serial port (tty)");
    const char *r3[] = {"--check-config", "--set", "gateway.site=site1", "--set", "gateway.can=socketcan:can0", "--set",
                        "mqtt.host=127.0.0.1", "--set", f->port, "--set", "mqtt.username=gw", "--set", pwopt, NULL};
    assert_int_equal(gw(f, r3), 1);
    /* this project's machines have no SocketCAN; one that has it but no can0 says that instead */
    if (strstr(f->text, "gateway.can: this kernel has no SocketCAN") == NULL) HAS("gateway.can: no network interface can0");
    HAS("  fix: ");

    /* the broker: a wrong password is a refused login, a closed port no broker */
    p = fopen(pw, "w");
    assert_non_null(p);
    fputs("guess\n", p);
    fclose(p);
    assert_int_equal(gw(f, ok), 1);
    HAS("mqtt: the broker at 127.0.0.1:");
    HAS("refused the login of user \"gw\": Connection Refused: not authorised.\n  fix: the password");
    hx_broker_stop(&f->broker);
    assert_int_equal(gw(f, ok), 1);
    HAS("mqtt: no broker answers at 127.0.0.1:");
    HAS("(Connection refused)\n  fix: is Mosquitto running");
}

/* The running daemon says why it cannot open its adapter, once, and keeps trying. */
static void test_runtime_open_failure_explained(void **state)
{
    fx_t *f = *state;
    hx_gw_t g;
    hx_bus_t fake = f->bus;
    snprintf(fake.path, sizeof fake.path, "/dev/alfaspark-no-such-adapter");
    const char *extra[] = {"--set", "mqtt.username=gw", "--set", "mqtt.password=pw-gw", NULL};
    assert_int_equal(hx_gw_start(&g, &f->broker, "site1", &fake, extra), 0);
    hx_settle(4500, NULL, NULL, 0, NULL); /* three attempts, 2 s apart */
    hx_gw_kill(&g, SIGTERM);
    slurp(g.log, f->text, sizeof f->text);
    HAS("error: cannot open CAN slcan:/dev/alfaspark-no-such-adapter: /dev/alfaspark-no-such-adapter does not exist "
        "(No such file or directory); fix: plug in the SLCAN adapter");
    const char *second = strstr(strstr(f->text, "error: cannot open CAN") + 1, "error: cannot open CAN");
    assert_null(second); /* the same reason again is a debug line */
    HAS("debug: cannot open CAN slcan:/dev/alfaspark-no-such-adapter");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_installed_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_is_configured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_well_and_each_environment_problem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_open_failure_explained, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
