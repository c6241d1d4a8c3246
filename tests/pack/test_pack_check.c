/* alfaspark-pack --check-config on the machine (sample serial, BMS adapter, CAN, flash file, GPIO) and its reasons at start. */
#define _GNU_SOURCE /* openpty, mkdtemp: a Linux test */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct rig {
    char dir[64], example[512], ini[128], text[16384];
    int pty_master[2], pty_slave[2];
    char pty[2][64];
} rig_t;

static int setup(void **state)
{
    static rig_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.dir, sizeof r.dir, "/tmp/alfa-packcheck-XXXXXX");
    if (mkdtemp(r.dir) == NULL) return -1;
    const char *src = getenv("ALFA_SOURCE_DIR");
    snprintf(r.example, sizeof r.example, "%s/deploy/pack.ini.example", src ? src : ".");
    snprintf(r.ini, sizeof r.ini, "%s/pack.ini", r.dir);
    for (int k = 0; k < 2; k++) {
        if (openpty(&r.pty_master[k], &r.pty_slave[k], r.pty[k], NULL, NULL) != 0) return -1;
    }
    *state = &r;
    return 0;
}

static int teardown(void **state)
{
    rig_t *r = *state;
    for (int k = 0; k < 2; k++) {
        close(r->pty_master[k]);
        close(r->pty_slave[k]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* alfaspark-pack ARGS... (NULL-terminated); stdout and stderr in r->text; its exit status. */
static int pack(rig_t *r, const char *const *args)
{
    char exe[256], out[128];
    snprintf(exe, sizeof exe, "%s/alfaspark-pack", getenv("ALFA_BIN_DIR"));
    snprintf(out, sizeof out, "%s/out.txt", r->dir);
    const char *argv[24] = {exe};
    int n = 1;
    for (int k = 0; args[k] != NULL && n < 23; k++) argv[n++] = args[k];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    FILE *f = fopen(out, "r");
    size_t len = f ? fread(r->text, 1, sizeof r->text - 1, f) : 0;
    r->text[len] = '\0';
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define HAS(s)                                                                                     \
    do {                                                                                           \
        if (strstr(r->text, s) == NULL) fail_msg("expected \"%s\" in:\n%s", s, r->text);          \
    } while (0)

static void write_ini(rig_t *r, const char *body)
{
    FILE *f = fopen(r->ini, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
}

/* The shipped file: the sample serial and every missing device are named, each with a fix. */
static void test_installed_example(void **state)
{
    rig_t *r = *state;
    const char *a[] = {"--check-config", "--config", r->example, NULL};
    assert_int_equal(pack(r, a), 1);
    HAS("[pack] serial: 0x24A1B2C3D4E5 is the sample value of pack.ini.example\n  fix: set this pack's own");
    HAS("[bms] device: /dev/ttyUSB0 does not exist (No such file or directory)\n  fix: plug in the RS-485 adapter");
    HAS("[can] interface: ");
    const char *b[] = {"--check-config", "--syntax-only", "--config", r->example, NULL};
    assert_int_equal(pack(r, b), 0);
    HAS("0 problems (syntax only)");
    const char *c[] = {"--is-configured", "--config", r->example, NULL};
    assert_int_equal(pack(r, c), 1);
    HAS("is the sample value: not starting until it is this pack's own");
    const char *d[] = {"--is-configured", "--config", r->example, "--serial", "0x0000A1B2C3D5", NULL};
    assert_int_equal(pack(r, d), 0);
    const char *e[] = {"--version", NULL};
    assert_int_equal(pack(r, e), 0);
    HAS("alfaspark-pack 2.5.0");
}

/* Everything present (ptys for the adapters, a writable directory): no problem. Then each part
 * broken in turn is named. */
static void test_each_environment_problem(void **state)
{
    rig_t *r = *state;
    char body[1024];
    snprintf(body, sizeof body, "[pack]\nserial = 0x0000A1B2C3D5\nflash = %s/settings.flash\n[bms]\ndevice = %s\n"
                                "[can]\ninterface = slcan:%s\n", r->dir, r->pty[0], r->pty[1]);
    write_ini(r, body);
    const char *ok[] = {"--check-config", "--config", r->ini, NULL};
    assert_int_equal(pack(r, ok), 0);
    HAS(": 0 problems");

    /* a flash file of another geometry */
    char flash[128];
    snprintf(flash, sizeof flash, "%s/settings.flash", r->dir);
    FILE *f = fopen(flash, "w");
    assert_non_null(f);
    fputs("too short", f);
    fclose(f);
    assert_int_equal(pack(r, ok), 1);
    HAS("[pack] flash: ");
    HAS("settings.flash has 9 bytes but the configured geometry needs 8192\n  fix: restore the block size");
    unlink(flash);

    /* a flash directory that does not exist; a GPIO chip that does not exist; a line used twice */
    snprintf(body, sizeof body, "[pack]\nserial = 0x0000A1B2C3D5\nflash = %s/no/such/dir/settings.flash\n[bms]\n"
                                "device = %s\n[can]\ninterface = socketcan:can0\n[gpio]\nchip = alfaspark-no-chip\n"
                                "relays = 1, 2, -, -\nleds = 2, -, -\n", r->dir, r->pty[0]);
    write_ini(r, body);
    assert_int_equal(pack(r, ok), 1);
    HAS("no/such/dir does not exist (No such file or directory)\n  fix: create it");
    HAS("[gpio] chip: alfaspark-no-chip cannot be opened");
    HAS("[gpio] line 2 is given twice");
    if (strstr(r->text, "[can] interface: this kernel has no SocketCAN") == NULL) HAS("[can] interface: no network interface can0");
    const char *syn[] = {"--check-config", "--syntax-only", "--config", r->ini, NULL};
    assert_int_equal(pack(r, syn), 1); /* the doubled line is a syntax problem; the devices are not looked at */
    assert_null(strstr(r->text, "[gpio] chip"));
}

/* Starting with an adapter it cannot open: it says why and what to do, and exits 1. */
static void test_start_failure_explained(void **state)
{
    rig_t *r = *state;
    char flash[128];
    snprintf(flash, sizeof flash, "%s/settings.flash", r->dir);
    const char *a[] = {"--serial", "0x0000A1B2C3D5", "--flash", flash, "--bms-device", r->pty[0], "--can", "socketcan:can0", NULL};
    assert_int_equal(pack(r, a), 1);
    HAS("can: cannot open socketcan:can0: ");
    HAS("; fix: ");
    const char *b[] = {"--serial", "0x0000A1B2C3D5", "--flash", flash, "--bms-device", "/dev/alfaspark-no-adapter", "--can",
                       "socketcan:can0", NULL};
    assert_int_equal(pack(r, b), 1);
    HAS("bms: cannot open /dev/alfaspark-no-adapter: /dev/alfaspark-no-adapter does not exist");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_installed_example),
        cmocka_unit_test(test_each_environment_problem),
        cmocka_unit_test(test_start_failure_explained),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
