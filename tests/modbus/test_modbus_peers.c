/* Real peers on pseudo-terminals: our master against a libmodbus slave; libmodbus, mbpoll and our probe against alfaspark-bms-sim. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <modbus.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "alfa/bms.h"
#include "alfa/bmsmodel.h"
#include "alfa/err.h"
#include "alfa/serial_linux.h"

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t now_ms_cb(void *user)
{
    (void)user;
    return (uint32_t)(mono_us() / 1000u);
}

static const char *bin_dir(void)
{
    const char *d = getenv("ALFA_BIN_DIR");
    return d != NULL ? d : "build/bin";
}

/* ---- a process we start, with its stdout on a pipe ---------------------------------------- */

typedef struct child {
    pid_t pid;
    int out_fd;
} child_t;

/* Children still running, so that a failed assertion does not leave a simulator behind. */
static pid_t live[16];

static void live_add(pid_t p)
{
    for (int i = 0; i < 16; i++) {
        if (live[i] == 0) {
            live[i] = p;
            return;
        }
    }
}

static void live_del(pid_t p)
{
    for (int i = 0; i < 16; i++) {
        if (live[i] == p) {
            live[i] = 0;
        }
    }
}

static int kill_live(void **state)
{
    (void)state;
    for (int i = 0; i < 16; i++) {
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
    }
    return 0;
}

static int child_start(child_t *c, char *const argv[])
{
    int p[2];
    if (pipe(p) < 0) {
        return -1;
    }
    c->pid = fork();
    if (c->pid < 0) {
        return -1;
    }
    if (c->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    c->out_fd = p[0];
    live_add(c->pid);
    return 0;
}

/* Read one line of the child's stdout within timeout_ms. */
static int child_line(child_t *c, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    uint64_t end = mono_us() + (uint64_t)timeout_ms * 1000u;
    while (n + 1 < cap && mono_us() < end) {
        struct pollfd pf = {.fd = c->out_fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0) {
            continue;
        }
        char ch;
        ssize_t r = read(c->out_fd, &ch, 1);
        if (r <= 0) {
            break;
        }
        if (ch == '\n') {
            buf[n] = '\0';
            return 0;
        }
        buf[n++] = ch;
    }
    buf[n] = '\0';
    return -1;
}

static int child_stop(child_t *c)
{
    int st = 0;
    kill(c->pid, SIGTERM);
    waitpid(c->pid, &st, 0);
    live_del(c->pid);
    close(c->out_fd);
    return st;
}

/* Start alfaspark-bms-sim --pty with extra arguments; its pty path goes to `path`. */
static void sim_start(child_t *c, char *path, size_t cap, const char *extra[])
{
    char exe[512];
    snprintf(exe, sizeof(exe), "%s/alfaspark-bms-sim", bin_dir());
    char *argv[40];
    int k = 0;
    argv[k++] = exe;
    argv[k++] = (char *)"--pty";
    for (int i = 0; extra != NULL && extra[i] != NULL && k < 38; i++) {
        argv[k++] = (char *)extra[i];
    }
    argv[k] = NULL;
    assert_int_equal(child_start(c, argv), 0);
    assert_int_equal(child_line(c, path, cap, 5000), 0);
    assert_true(strncmp(path, "/dev/pts/", 9) == 0);
}

/* Run a program to completion, capturing stdout; returns its exit status. */
static int run_capture(char *const argv[], char *out, size_t cap, int timeout_ms)
{
    child_t c;
    if (child_start(&c, argv) < 0) {
        return -1;
    }
    size_t n = 0;
    uint64_t end = mono_us() + (uint64_t)timeout_ms * 1000u;
    while (mono_us() < end) {
        struct pollfd pf = {.fd = c.out_fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0) {
            continue;
        }
        ssize_t r = read(c.out_fd, out + n, cap - 1 - n);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        if (n + 1 >= cap) {
            break;
        }
    }
    out[n] = '\0';
    int st = 0;
    pid_t w = 0;
    while ((w = waitpid(c.pid, &st, WNOHANG)) == 0 && mono_us() < end) {
        struct timespec nap = {0, 5000000};
        nanosleep(&nap, NULL);
    }
    close(c.out_fd);
    if (w != c.pid) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, &st, 0);
        live_del(c.pid);
        return -1;
    }
    live_del(c.pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- our master on a pty master fd ----------------------------------------------------------- */

static int open_pty(char *slave_path, size_t cap)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    assert_int_equal(ptsname_r(m, slave_path, cap), 0);
    return m;
}

/* Poll once in real time through the firmware's BMS code. */
static alfa_bms_result_t poll_real(alfa_serial_t *ser, uint8_t address, uint8_t retries)
{
    alfa_port_t port;
    memset(&port, 0, sizeof(port));
    port.user = ser;
    port.now_ms = now_ms_cb;
    port.serial_write = alfa_serial_port_write;
    port.serial_read = alfa_serial_port_read;
    alfa_bms_config_t bc;
    alfa_bms_config_default(&bc);
    bc.profile = alfa_bms_profile_find("default-soc");
    bc.address = address;
    bc.modbus.retries = retries;
    bc.modbus.timeout_ms = 200; /* libmodbus runs in a thread of a loaded test machine */
    bc.modbus.timeout_cap_ms = 1000;
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &port, &bc, now_ms_cb(NULL)), ALFA_OK);
    alfa_bms_result_t r;
    memset(&r, 0, sizeof(r));
    uint64_t end = mono_us() + 10000000u;
    while (mono_us() < end) {
        if (alfa_bms_process(&bms, now_ms_cb(NULL), &r) == 1) {
            return r;
        }
        assert_true(alfa_serial_wait(ser, 1) >= 0);
    }
    fail_msg("poll did not finish");
    return r;
}

typedef struct slave {
    modbus_t *ctx;
    modbus_mapping_t *map;
    volatile int stop;
    volatile int served;
    pthread_t th;
} slave_t;

static void *slave_main(void *arg)
{
    slave_t *s = arg;
    uint8_t q[MODBUS_RTU_MAX_ADU_LENGTH];
    while (!s->stop) {
        int rc = modbus_receive(s->ctx, q);
        if (rc > 0) {
            modbus_reply(s->ctx, q, rc, s->map);
            s->served++;
        }
    }
    return NULL;
}

static void slave_start(slave_t *s, const char *path, int slave_id, int nregs, const uint16_t *regs)
{
    memset(s, 0, sizeof(*s));
    s->ctx = modbus_new_rtu(path, 9600, 'N', 8, 1);
    assert_non_null(s->ctx);
    assert_int_equal(modbus_set_slave(s->ctx, slave_id), 0);
    assert_int_equal(modbus_connect(s->ctx), 0);
    modbus_set_indication_timeout(s->ctx, 0, 100000);
    s->map = modbus_mapping_new(0, 0, nregs, nregs);
    assert_non_null(s->map);
    for (int i = 0; i < nregs; i++) {
        s->map->tab_registers[i] = regs[i];
        s->map->tab_input_registers[i] = regs[i];
    }
    assert_int_equal(pthread_create(&s->th, NULL, slave_main, s), 0);
}

static void slave_stop(slave_t *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    modbus_mapping_free(s->map);
    modbus_close(s->ctx);
    modbus_free(s->ctx);
}

static const alfa_bmsm_values_t peer_vals = {
    .v_pack_mv = 49800, .i_batt_ma = 25670, .soc_pct = 18, .alarms = 0x0003, .warnings = 0x0010,
    .temp_max_dc = 412, .cell_min_mv = 3050, .cell_max_mv = 3120,
};

static void our_master_vs_libmodbus_slave(void **state)
{
    (void)state;
    char path[128];
    int m = open_pty(path, sizeof(path));
    uint16_t regs[8];
    alfa_bmsm_encode(&peer_vals, regs);
    slave_t s;
    slave_start(&s, path, 1, 8, regs);
    alfa_serial_t ser;
    alfa_serial_cfg_t sc;
    alfa_serial_cfg_default(&sc);
    assert_int_equal(alfa_serial_attach(&ser, m, &sc), 0);
    assert_int_equal(alfa_serial_de(&ser), ALFA_SERIAL_DE_NONE); /* a pty has no RS-485 mode or modem lines */
    for (int i = 0; i < 5; i++) {
        alfa_bms_result_t r = poll_real(&ser, 1, 3);
        assert_int_equal(r.status, ALFA_MB_OK);
        assert_int_equal(r.reading.v_pack_mv, 49800);
        assert_int_equal(r.reading.i_batt_ma, 25670);
        assert_int_equal(r.reading.soc_pct, 18);
        assert_int_equal(r.reading.alarms, 0x0003);
        assert_int_equal(r.reading.warnings, 0x0010);
        assert_int_equal(r.reading.temp_max_dc, 412);
        assert_int_equal(r.reading.cell_min_mv, 3050);
        assert_int_equal(r.reading.cell_max_mv, 3120);
    }
    /* a BMS at another address stays silent for us: timeout, after every retry */
    alfa_bms_result_t r = poll_real(&ser, 7, 1);
    assert_int_equal(r.status, ALFA_MB_TIMEOUT);
    assert_int_equal(r.attempts, 2);
    assert_true(s.served >= 5);
    slave_stop(&s);
    assert_int_equal(alfa_serial_close(&ser), 0);
    close(m);
}

static void libmodbus_slave_exception_understood(void **state)
{
    (void)state;
    char path[128];
    int m = open_pty(path, sizeof(path));
    uint16_t regs[4] = {520, 0, 50, 0};
    slave_t s;
    slave_start(&s, path, 1, 4, regs); /* only 4 registers: reading 8 is an illegal address */
    alfa_serial_t ser;
    alfa_serial_cfg_t sc;
    alfa_serial_cfg_default(&sc);
    assert_int_equal(alfa_serial_attach(&ser, m, &sc), 0);
    alfa_bms_result_t r = poll_real(&ser, 1, 3);
    assert_int_equal(r.status, ALFA_MB_EXCEPTION);
    assert_int_equal(r.exception_code, 2); /* illegal data address */
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.reading.v_pack_mv, 0);
    slave_stop(&s);
    assert_int_equal(alfa_serial_close(&ser), 0);
    close(m);
}

/* ---- libmodbus master against alfaspark-bms-sim ---------------------------------------------- */

static void libmodbus_master_vs_bms_sim(void **state)
{
    (void)state;
    char path[128];
    child_t c;
    const char *args[] = {"--v-pack-mv", "49800", "--i-batt-ma", "25670", "--soc", "18", "--alarms", "3",
                          "--warnings", "0x10", "--temp-dc", "412", "--cell-min-mv", "3050", "--cell-max-mv",
                          "3120", NULL};
    sim_start(&c, path, sizeof(path), args);
    modbus_t *ctx = modbus_new_rtu(path, 9600, 'N', 8, 1);
    assert_non_null(ctx);
    modbus_set_slave(ctx, 1);
    assert_int_equal(modbus_connect(ctx), 0);
    modbus_set_response_timeout(ctx, 1, 0);
    uint16_t want[8], got[8];
    alfa_bmsm_encode(&peer_vals, want);
    for (int i = 0; i < 3; i++) {
        memset(got, 0, sizeof(got));
        assert_int_equal(modbus_read_registers(ctx, 0, 8, got), 8);
        assert_memory_equal(got, want, sizeof(want));
    }
    memset(got, 0, sizeof(got));
    assert_int_equal(modbus_read_input_registers(ctx, 1, 2, got), 2);
    assert_int_equal(got[0], want[1]);
    assert_int_equal(got[1], want[2]);
    /* beyond the simulated register image: exception 2 as libmodbus understands it */
    assert_int_equal(modbus_read_registers(ctx, 120, 20, got), -1);
    assert_int_equal(errno, EMBXILADD);
    modbus_close(ctx);
    modbus_free(ctx);
    child_stop(&c);
}

static void libmodbus_master_sees_injected_faults(void **state)
{
    (void)state;
    char path[128];
    child_t c;
    const char *crc[] = {"--fault", "crc:1", NULL};
    sim_start(&c, path, sizeof(path), crc);
    modbus_t *ctx = modbus_new_rtu(path, 9600, 'N', 8, 1);
    modbus_set_slave(ctx, 1);
    assert_int_equal(modbus_connect(ctx), 0);
    modbus_set_response_timeout(ctx, 0, 500000);
    uint16_t got[8];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(modbus_read_registers(ctx, 0, 8, got), -1); /* libmodbus refuses them too */
        modbus_flush(ctx);
    }
    modbus_close(ctx);
    modbus_free(ctx);
    child_stop(&c);

    const char *exc[] = {"--fault", "exception:1", "--exception-code", "6", NULL};
    sim_start(&c, path, sizeof(path), exc);
    ctx = modbus_new_rtu(path, 9600, 'N', 8, 1);
    modbus_set_slave(ctx, 1);
    assert_int_equal(modbus_connect(ctx), 0);
    modbus_set_response_timeout(ctx, 0, 500000);
    assert_int_equal(modbus_read_registers(ctx, 0, 8, got), -1);
    assert_int_equal(errno, EMBXSBUSY);
    modbus_close(ctx);
    modbus_free(ctx);
    child_stop(&c);
}

/* ---- mbpoll, a second independent master ---------------------------------------------------- */

static void mbpoll_vs_bms_sim(void **state)
{
    (void)state;
    if (access("/usr/bin/mbpoll", X_OK) != 0) {
        fail_msg("mbpoll is not installed (scripts/deps.sh installs it)");
    }
    char path[128];
    child_t c;
    const char *args[] = {"--v-pack-mv", "49800", "--i-batt-ma", "-1500", "--soc", "77", NULL};
    sim_start(&c, path, sizeof(path), args);
    char *argv[] = {(char *)"/usr/bin/mbpoll", (char *)"-m", (char *)"rtu", (char *)"-a", (char *)"1",
                    (char *)"-b", (char *)"9600", (char *)"-P", (char *)"none", (char *)"-t", (char *)"4",
                    (char *)"-0", (char *)"-r", (char *)"0", (char *)"-c", (char *)"8", (char *)"-1",
                    path, NULL};
    static char out[8192];
    int rc = run_capture(argv, out, sizeof(out), 10000);
    child_stop(&c);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "[0]: \t498\n"));
    assert_non_null(strstr(out, "[1]: \t65386 (-150)\n")); /* -1.50 A in 0.01 A */
    assert_non_null(strstr(out, "[2]: \t77\n"));
    assert_non_null(strstr(out, "[7]: \t3255\n"));
}

/* ---- alfaspark-bms-probe, as an installer runs it --------------------------------------------- */

static int probe(const char *path, const char *extra1, const char *extra2, char *out, size_t cap)
{
    char exe[512];
    snprintf(exe, sizeof(exe), "%s/alfaspark-bms-probe", bin_dir());
    char *argv[12];
    int k = 0;
    argv[k++] = exe;
    argv[k++] = (char *)"--device";
    argv[k++] = (char *)path;
    argv[k++] = (char *)"--once";
    if (extra1 != NULL) {
        argv[k++] = (char *)extra1;
    }
    if (extra2 != NULL) {
        argv[k++] = (char *)extra2;
    }
    argv[k] = NULL;
    return run_capture(argv, out, cap, 15000);
}

static void probe_once_good_and_failures(void **state)
{
    (void)state;
    char path[128], out[4096];
    child_t c;
    const char *good[] = {"--v-pack-mv", "52300", "--i-batt-ma", "-4200", "--alarms", "0x44", "--soc", "64", NULL};
    sim_start(&c, path, sizeof(path), good);
    assert_int_equal(probe(path, NULL, NULL, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"ok\":true"));
    assert_non_null(strstr(out, "\"v_pack_mv\":52300"));
    assert_non_null(strstr(out, "\"i_batt_ma\":-4200"));
    assert_non_null(strstr(out, "\"alarms\":[\"over_temp\",\"short_circuit\"]"));
    assert_null(strstr(out, "soc_pct")); /* the default profile ignores the SOC register */
    assert_int_equal(probe(path, "--profile", "default-soc", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"soc_pct\":64"));
    /* wrong address: nobody answers */
    assert_int_equal(probe(path, "--address", "9", out, sizeof(out)), 1);
    assert_non_null(strstr(out, "\"error\":\"timeout\""));
    child_stop(&c);

    struct {
        const char *fault;
        const char *want;
    } const cases[] = {
        {"crc:1", "\"error\":\"crc\""},
        {"exception:1", "\"error\":\"exception\",\"code\":4"},
        {"wrong_address:1", "\"error\":\"bad_address\""},
        {"truncated:1", "\"error\":\"truncated\""},
        {"no_answer:1", "\"error\":\"timeout\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[] = {"--fault", cases[i].fault, NULL};
        sim_start(&c, path, sizeof(path), args);
        int rc = probe(path, "--retries", "0", out, sizeof(out));
        child_stop(&c);
        assert_int_equal(rc, 1);
        if (strstr(out, cases[i].want) == NULL) {
            fail_msg("fault %s: expected %s in %s", cases[i].fault, cases[i].want, out);
        }
        assert_non_null(strstr(out, "\"detail\":"));
        assert_null(strstr(out, "v_pack_mv"));
    }
    /* noise before a good answer is not an error */
    const char *noise[] = {"--fault", "noise:1", NULL};
    sim_start(&c, path, sizeof(path), noise);
    assert_int_equal(probe(path, "--retries", "0", out, sizeof(out)), 0);
    child_stop(&c);
    assert_non_null(strstr(out, "\"ok\":true"));
}

static void probe_help_and_usage_errors(void **state)
{
    (void)state;
    char exe[512], out[8192];
    snprintf(exe, sizeof(exe), "%s/alfaspark-bms-probe", bin_dir());
    char *help[] = {exe, (char *)"--help", NULL};
    assert_int_equal(run_capture(help, out, sizeof(out), 5000), 0);
    const char *opts[] = {"--device", "--baud", "--parity", "--address", "--profile", "--once", "--count",
                          "--period-ms", "--timeout-ms", "--retries", "--silence-ms", "--de"};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        assert_non_null(strstr(out, opts[i]));
    }
    char *nodev[] = {exe, (char *)"--once", NULL};
    assert_int_equal(run_capture(nodev, out, sizeof(out), 5000), 2);
    char *badprof[] = {exe, (char *)"--device", (char *)"/dev/null", (char *)"--profile", (char *)"x", NULL};
    assert_int_equal(run_capture(badprof, out, sizeof(out), 5000), 2);
    char *badbaud[] = {exe, (char *)"--device", (char *)"/dev/null", (char *)"--baud", (char *)"9601", NULL};
    assert_int_equal(run_capture(badbaud, out, sizeof(out), 5000), 2);
    char *missing[] = {exe, (char *)"--device", (char *)"/nonexistent/tty", (char *)"--once", NULL};
    assert_int_equal(run_capture(missing, out, sizeof(out), 5000), 3);
    assert_non_null(strstr(out, "\"error\":\"io\""));
    char *notty[] = {exe, (char *)"--device", (char *)"/dev/null", (char *)"--once", NULL};
    assert_int_equal(run_capture(notty, out, sizeof(out), 5000), 3);
}

static void serial_rejects_bad_settings(void **state)
{
    (void)state;
    char path[128];
    int m = open_pty(path, sizeof(path));
    alfa_serial_t ser;
    alfa_serial_cfg_t sc;
    alfa_serial_cfg_default(&sc);
    sc.baud = 12345;
    assert_int_equal(alfa_serial_open(&ser, path, &sc), -EINVAL);
    alfa_serial_cfg_default(&sc);
    sc.parity = 'X';
    assert_int_equal(alfa_serial_open(&ser, path, &sc), -EINVAL);
    alfa_serial_cfg_default(&sc);
    sc.de = ALFA_SERIAL_DE_KERNEL; /* a pty has no RS-485 mode: asked for explicitly, it fails */
    assert_true(alfa_serial_open(&ser, path, &sc) < 0);
    /* every standard rate and parity opens on a pty */
    const uint32_t rates[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
    const speed_t codes[] = {B1200, B2400, B4800, B9600, B19200, B38400, B57600, B115200};
    const char par[] = {'N', 'E', 'O'};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        for (size_t p = 0; p < 3; p++) {
            alfa_serial_cfg_default(&sc);
            sc.baud = rates[i];
            sc.parity = par[p];
            assert_int_equal(alfa_serial_open(&ser, path, &sc), 0);
            struct termios t;
            assert_int_equal(tcgetattr(alfa_serial_fd(&ser), &t), 0);
            assert_int_equal(cfgetospeed(&t), codes[i]);
            assert_int_equal(t.c_lflag & (ICANON | ECHO), 0);  /* raw: no line editing, no echo */
            assert_int_equal(alfa_serial_baud(&ser), rates[i]);
            assert_int_equal(alfa_serial_bits_per_char(&ser), par[p] == 'N' ? 10 : 11); /* paces the master */
            /* bytes really flow both ways, without blocking */
            uint8_t b[3] = {1, 2, 3}, in[8];
            assert_int_equal(alfa_serial_write(&ser, b, 3), 3);
            assert_int_equal(read(m, in, sizeof(in)), 3);
            assert_int_equal(write(m, b, 2), 2);
            assert_int_equal(alfa_serial_wait(&ser, 1000), 1);
            assert_int_equal(alfa_serial_read(&ser, in, sizeof(in)), 2);
            assert_int_equal(alfa_serial_read(&ser, in, sizeof(in)), 0);
            assert_int_equal(alfa_serial_close(&ser), 0);
        }
    }
    close(m);
}

/* Real time on a pty: 300 polls of the probe against the simulator with 10 % defective answers
 * of every kind. Every value printed is exactly the simulator's; polls fail only on an
 * exception (a definite answer, not retried) or on four defects in a row. */
static void probe_soak_real_time(void **state)
{
    (void)state;
    char path[128];
    child_t c;
    const char *args[] = {"--v-pack-mv", "51200", "--i-batt-ma", "-7350", "--alarms", "0x20", "--seed", "99",
                          "--fault", "no_answer:0.02", "--fault", "late:0.02", "--late-ms", "250",
                          "--fault", "crc:0.02", "--fault", "truncated:0.01", "--fault", "wrong_address:0.01",
                          "--fault", "noise:0.01", "--fault", "exception:0.01", NULL};
    sim_start(&c, path, sizeof(path), args);
    char exe[512];
    snprintf(exe, sizeof(exe), "%s/alfaspark-bms-probe", bin_dir());
    char *argv[] = {exe, (char *)"--device", path, (char *)"--count", (char *)"300", (char *)"--period-ms",
                    (char *)"40", NULL};
    static char out[300 * 400];
    int rc = run_capture(argv, out, sizeof(out), 240000);
    child_stop(&c);
    assert_true(rc == 0 || rc == 1);
    int polls = 0, ok = 0, exc = 0, other = 0, retried = 0;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        polls++;
        if (strstr(line, "\"ok\":true") != NULL) {
            ok++;
            if (strstr(line, "\"v_pack_mv\":51200,\"i_batt_ma\":-7350,\"alarms\":[\"discharge_oc\"]") == NULL) {
                fail_msg("wrong values accepted: %s", line);
            }
            if (strstr(line, "\"attempts\":1,") == NULL) {
                retried++;
            }
        } else if (strstr(line, "\"error\":\"exception\",\"code\":4") != NULL) {
            exc++;
        } else {
            other++;
        }
    }
    printf("probe soak: polls=%d ok=%d retried_ok=%d exception=%d other_failures=%d\n", polls, ok, retried, exc,
           other);
    assert_int_equal(polls, 300);
    assert_true(retried > 10); /* defects happened and were recovered from */
    assert_true(other <= 1);   /* four defects in a row: about 1 in 10,000 polls */
    assert_int_equal(ok + exc + other, 300);
}

/* A scripted BMS: values move over time; after the last point they hold. A malformed script is
 * refused with a clear message. */
static void bms_sim_script_over_time(void **state)
{
    (void)state;
    char script[] = "/tmp/alfa-bms-script-XXXXXX";
    int fd = mkstemp(script);
    assert_true(fd >= 0);
    const char *text = "# t_ms v_pack_mv i_batt_ma soc alarms warnings temp_dc cell_min cell_max\n"
                       "0     48000 -20000 10 0 0 250 3000 3010\n"
                       "150   56000  30000 80 0x81 0x02 300 3500 3510   # charging, cell_ov + bms_fault\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char path[128], out[4096];
    child_t c;
    const char *args[] = {"--script", script, NULL};
    sim_start(&c, path, sizeof(path), args);
    struct timespec nap = {0, 300000000};
    nanosleep(&nap, NULL);
    assert_int_equal(probe(path, NULL, NULL, out, sizeof(out)), 0);
    child_stop(&c);
    assert_non_null(strstr(out, "\"v_pack_mv\":56000,\"i_batt_ma\":30000,\"alarms\":[\"cell_ov\",\"bms_fault\"],"
                                "\"warnings\":[\"cell_uv\"],\"temp_max_dc\":300,\"cell_min_mv\":3500"));

    fd = open(script, O_WRONLY | O_TRUNC);
    const char *bad = "0 48000 -20000 10 0 0 250 3000\n"; /* 8 numbers */
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    char exe[512];
    snprintf(exe, sizeof(exe), "%s/alfaspark-bms-sim", bin_dir());
    char *argv[] = {exe, (char *)"--pty", (char *)"--script", script, NULL};
    assert_int_equal(run_capture(argv, out, sizeof(out), 5000), 2);
    char *badfault[] = {exe, (char *)"--pty", (char *)"--fault", (char *)"crc:2", NULL};
    assert_int_equal(run_capture(badfault, out, sizeof(out), 5000), 2);
    char *both[] = {exe, (char *)"--pty", (char *)"--device", (char *)"/dev/null", NULL};
    assert_int_equal(run_capture(both, out, sizeof(out), 5000), 2);
    unlink(script);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(serial_rejects_bad_settings, kill_live),
        cmocka_unit_test_teardown(our_master_vs_libmodbus_slave, kill_live),
        cmocka_unit_test_teardown(libmodbus_slave_exception_understood, kill_live),
        cmocka_unit_test_teardown(libmodbus_master_vs_bms_sim, kill_live),
        cmocka_unit_test_teardown(libmodbus_master_sees_injected_faults, kill_live),
        cmocka_unit_test_teardown(mbpoll_vs_bms_sim, kill_live),
        cmocka_unit_test_teardown(probe_once_good_and_failures, kill_live),
        cmocka_unit_test_teardown(probe_help_and_usage_errors, kill_live),
        cmocka_unit_test_teardown(bms_sim_script_over_time, kill_live),
        cmocka_unit_test_teardown(probe_soak_real_time, kill_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
