/* alfaspark-pack end to end: a real alfaspark-bms-sim on a pty, SLCAN on a pty pair, settings kept across a restart. */
#define _GNU_SOURCE /* openpty, mkdtemp, popen, clock_gettime: a Linux test */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alfa/proto.h"
#include "alfa/settings.h"
#include "alfa/slcan.h"

#define PACK_SERIAL 0xA1B2C3D4E5F6ull

typedef struct rig {
    char dir[64];
    char bms_path[128];
    pid_t bms_pid;
    pid_t pack_pid;
    int can_fd;          /* our end of the SLCAN pty pair: we play the adapter and the bus */
    char can_path[128];  /* the daemon's end */
    char line[64];
    size_t line_len;
    uint8_t seq;
} rig_t;

static rig_t g_rig;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static pid_t spawn(char *const argv[], int *stdout_fd)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    *stdout_fd = p[0];
    return pid;
}

static void start_bms_sim(rig_t *r)
{
    char exe[256];
    snprintf(exe, sizeof exe, "%s/alfaspark-bms-sim", getenv("ALFA_BIN_DIR"));
    /* 54.4 V -> SOC 50 % on the 46.4..62.4 V line; 1.5 A charging. */
    char *argv[] = {exe, "--pty", "--v-pack-mv", "54400", "--i-batt-ma", "1500", NULL};
    int out = -1;
    r->bms_pid = spawn(argv, &out);
    FILE *f = fdopen(out, "r");
    assert_non_null(fgets(r->bms_path, sizeof r->bms_path, f));
    r->bms_path[strcspn(r->bms_path, "\r\n")] = '\0';
    assert_true(r->bms_path[0] == '/');
}

static void start_pack(rig_t *r)
{
    char exe[256], flash[128], cfg[128], can[160];
    snprintf(exe, sizeof exe, "%s/alfaspark-pack", getenv("ALFA_BIN_DIR"));
    snprintf(flash, sizeof flash, "%s/settings.flash", r->dir);
    snprintf(cfg, sizeof cfg, "%s/pack.ini", r->dir);
    snprintf(can, sizeof can, "slcan:%s", r->can_path);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "[pack]\nserial = 0x%llx\nflash = %s\n[bms]\ndevice = %s\n[can]\ninterface = %s\n",
            (unsigned long long)PACK_SERIAL, flash, r->bms_path, can);
    fclose(f);
    char *argv[] = {exe, "--config", cfg, NULL};
    int out = -1;
    r->pack_pid = spawn(argv, &out);
    close(out);
}

static void stop_pack(rig_t *r)
{
    if (r->pack_pid > 0) {
        kill(r->pack_pid, SIGTERM);
        int st = 0;
        waitpid(r->pack_pid, &st, 0);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        r->pack_pid = 0;
    }
}

/* Next CAN frame the daemon sent, answering adapter commands on the way; 0 on timeout. */
static int next_frame(rig_t *r, alfa_can_frame_t *f, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        struct pollfd p = {.fd = r->can_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        char c;
        while (read(r->can_fd, &c, 1) == 1) {
            if (c != '\r') {
                if (r->line_len < sizeof r->line - 1) {
                    r->line[r->line_len++] = c;
                }
                continue;
            }
            size_t n = r->line_len;
            r->line_len = 0;
            if (n > 0 && (r->line[0] == 'T' || r->line[0] == 't')) {
                if (alfa_slcan_parse(r->line, n, f) == 1) {
                    return 1;
                }
            } else {
                (void)!write(r->can_fd, "\r", 1); /* adapter "OK" to C / S6 / O */
            }
        }
    }
    return 0;
}

static void send_frame(rig_t *r, const alfa_can_frame_t *f)
{
    char buf[ALFA_SLCAN_LINE_MAX];
    int n = alfa_slcan_format(f, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(write(r->can_fd, buf, (size_t)n), n);
}

/* The pack's node ID from its heartbeat. */
static uint8_t wait_heartbeat(rig_t *r)
{
    alfa_can_frame_t f;
    while (next_frame(r, &f, 15.0)) {
        alfa_heartbeat_t hb;
        if (alfa_proto_heartbeat_decode(&f, &hb) == 0 && hb.serial == PACK_SERIAL && !(hb.state & ALFA_HB_CLAIMING)) {
            assert_int_equal(hb.device_type, ALFA_DEV_PACK);
            assert_int_equal(hb.fw_major, 2);
            assert_int_equal(hb.fw_minor, 5);
            return hb.node_id;
        }
    }
    fail_msg("no settled heartbeat from the pack");
    return 0;
}

/* A complete telemetry record from node `id` that satisfies `ok`. */
static int wait_telemetry(rig_t *r, uint8_t id, alfa_telemetry_t *t, int (*ok)(const alfa_telemetry_t *),
                          double timeout_s)
{
    alfa_telem_rx_t rx;
    alfa_telem_rx_reset(&rx);
    double end = now_s() + timeout_s;
    alfa_can_frame_t f;
    while (now_s() < end && next_frame(r, &f, end - now_s())) {
        if (ALFA_PROTO_ID_SRC(f.id) != id) {
            continue;
        }
        uint8_t cls = ALFA_PROTO_ID_CLASS(f.id);
        if (cls >= ALFA_CLS_TELEM_0 && cls < ALFA_CLS_TELEM_0 + ALFA_TELEM_PARTS &&
            alfa_telem_rx_feed(&rx, &f, t) == 1 && ok(t)) {
            return 1;
        }
    }
    return 0;
}

/* The ack to our command `seq`; returns its result, or -1 on timeout. */
static int wait_ack(rig_t *r, uint8_t id, uint8_t seq)
{
    alfa_can_frame_t f;
    double end = now_s() + 5.0;
    while (now_s() < end && next_frame(r, &f, end - now_s())) {
        alfa_ack_t a;
        if (alfa_proto_ack_decode(&f, &a) == 0 && a.src == id && a.dst == ALFA_NODE_LINUX_GATEWAY && a.seq == seq) {
            return a.result;
        }
    }
    return -1;
}

static int has_bms_reading(const alfa_telemetry_t *t) { return t->v_pack_mv == 54400; }
static int is_backup(const alfa_telemetry_t *t) { return t->mode == ALFA_MODE_BACKUP; }

static int setup(void **state)
{
    rig_t *r = &g_rig;
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/alfa-pack-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    int slave = -1;
    assert_int_equal(openpty(&r->can_fd, &slave, r->can_path, NULL, NULL), 0);
    struct termios tio;
    assert_int_equal(tcgetattr(slave, &tio), 0);
    cfmakeraw(&tio);
    assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
    /* Keep `slave` open: a pty pair whose last slave fd closes reports hang-up to the master. */
    int fl = fcntl(r->can_fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(r->can_fd, F_SETFL, fl | O_NONBLOCK), 0);
    start_bms_sim(r);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    rig_t *r = *state;
    if (r->pack_pid > 0) {
        kill(r->pack_pid, SIGKILL);
        waitpid(r->pack_pid, NULL, 0);
    }
    kill(r->bms_pid, SIGTERM);
    waitpid(r->bms_pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
    (void)!system(cmd);
    return 0;
}

/* A user commissioning a pack: it joins the bus, reports the BMS's values, obeys a command, refuses
 * a malformed one, and after a restart still has the setting it was given. */
static void test_pack_daemon_end_to_end(void **state)
{
    rig_t *r = *state;
    start_pack(r);
    uint8_t id = wait_heartbeat(r);
    assert_true(id >= ALFA_NODE_FIRST && id <= ALFA_NODE_LAST);

    alfa_telemetry_t t;
    assert_true(wait_telemetry(r, id, &t, has_bms_reading, 15.0));
    assert_int_equal(t.soc_pct, 50);
    assert_int_equal(t.i_batt_ma, 1500);
    assert_int_equal(t.faults & (1u << ALFA_FAULT_BMS_COMM_LOST), 0);

    /* A command with a wrong payload length: refused with the reason, nothing changes. */
    alfa_can_frame_t f = {.id = ALFA_PROTO_ID(ALFA_CLS_CMD, id, ALFA_CMD_SET_MODE, ALFA_NODE_LINUX_GATEWAY),
                          .len = 2, .flags = ALFA_CAN_FLAG_EXT, .data = {++r->seq, ALFA_MODE_BACKUP}};
    send_frame(r, &f);
    assert_int_equal(wait_ack(r, id, r->seq), ALFA_ACK_BAD_LENGTH);

    /* Backup mode on, as the gateway sends it. */
    alfa_cmd_t cmd = {.code = ALFA_CMD_SET_MODE, .seq = ++r->seq, .src = ALFA_NODE_LINUX_GATEWAY, .dst = id,
                      .u.set_mode = {.mode = ALFA_MODE_BACKUP, .on = 1}};
    assert_int_equal(alfa_proto_cmd_encode(&cmd, &f), 0);
    send_frame(r, &f);
    assert_int_equal(wait_ack(r, id, r->seq), ALFA_ACK_OK);
    assert_true(wait_telemetry(r, id, &t, is_backup, 6.0));
    assert_true(t.relays_closed & (1u << 0)); /* Backup: grid relay closed */

    /* Stop (SIGTERM, as systemd does) and start again: the mode was kept on flash. */
    stop_pack(r);
    start_pack(r);
    id = wait_heartbeat(r);
    assert_true(wait_telemetry(r, id, &t, has_bms_reading, 15.0));
    assert_int_equal(t.mode, ALFA_MODE_BACKUP);
    assert_int_equal(t.faults & (1u << ALFA_FAULT_SETTINGS_CORRUPT), 0);
    stop_pack(r);
}

/* Heartbeats of node `id` for `seconds`: how many, and how many of them did not say MASTER (or
 * said CLAIMING). */
static void watch_master(rig_t *r, uint8_t id, double seconds, int *hbs, int *not_master)
{
    double end = now_s() + seconds;
    alfa_can_frame_t f;
    while (now_s() < end && next_frame(r, &f, end - now_s())) {
        alfa_heartbeat_t hb;
        if (alfa_proto_heartbeat_decode(&f, &hb) == 0 && hb.node_id == id) {
            (*hbs)++;
            if (!(hb.state & ALFA_HB_MASTER) || (hb.state & ALFA_HB_CLAIMING)) {
                (*not_master)++;
            }
        }
    }
}

static void send_gateway_time(rig_t *r)
{
    alfa_time_msg_t tm = {.src = ALFA_NODE_LINUX_GATEWAY, .unix_s = 1790000000u, .utc_offset_min = 60};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_time_encode(&tm, &f), 0);
    send_frame(r, &f);
}

/* A lone pack with no gateway heartbeat on the bus (SPEC 8.3: it is its own master; the Linux
 * gateway never takes part): sparse gateway frames (time, commands) after seconds of silence
 * never shake its master role, and read_settings is answered in full at once. */
static void test_pack_daemon_lone_master(void **state)
{
    rig_t *r = *state;
    start_pack(r);
    uint8_t id = wait_heartbeat(r);
    int hbs = 0, bad = 0;
    send_gateway_time(r);
    watch_master(r, id, 4.5, &hbs, &bad);
    send_gateway_time(r); /* after > 3 s in which the pack heard nothing */
    watch_master(r, id, 4.5, &hbs, &bad);
    assert_true(hbs >= 7);
    assert_int_equal(bad, 0);

    alfa_cmd_t cmd = {.code = ALFA_CMD_READ_SETTINGS, .seq = ++r->seq, .src = ALFA_NODE_LINUX_GATEWAY, .dst = id};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_cmd_encode(&cmd, &f), 0);
    send_frame(r, &f);
    uint32_t got = 0;
    int acked = 0, last = 0;
    double end = now_s() + 2.0;
    while (!last && now_s() < end && next_frame(r, &f, end - now_s())) {
        alfa_ack_t a;
        alfa_setting_msg_t m;
        if (alfa_proto_ack_decode(&f, &a) == 0 && a.src == id && a.seq == r->seq) {
            acked = a.result == ALFA_ACK_OK;
        } else if (alfa_proto_setting_decode(&f, &m) == 0 && m.src == id && m.seq == r->seq) {
            assert_int_equal(m.id, got); /* in order, none missing */
            got++;
            last = m.last;
        }
    }
    assert_true(acked);
    assert_int_equal(got, ALFA_SET_COUNT);
    assert_true(last);
    hbs = bad = 0;
    watch_master(r, id, 2.5, &hbs, &bad);
    assert_true(hbs >= 2);
    assert_int_equal(bad, 0);
    stop_pack(r);
}

/* --check-config names every problem of a bad configuration and exits non-zero. */
static void test_pack_check_config(void **state)
{
    rig_t *r = *state;
    char exe[256], cfg[128], cmd[512];
    snprintf(exe, sizeof exe, "%s/alfaspark-pack", getenv("ALFA_BIN_DIR"));
    snprintf(cfg, sizeof cfg, "%s/bad.ini", r->dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "[pack]\nserial = banana\n[bms]\nbaud = 12345\nprofile = nosuch\n[gpio]\nfrobnicate = 1\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s --check-config --config %s 2>&1", exe, cfg);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096] = {0};
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_non_null(strstr(out, "[pack] serial"));
    assert_non_null(strstr(out, "baud 12345"));
    assert_non_null(strstr(out, "profile 'nosuch'"));
    assert_non_null(strstr(out, "unknown option [gpio] frobnicate"));
    assert_non_null(strstr(out, "[can] interface is required"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_check_config),
        cmocka_unit_test(test_pack_daemon_end_to_end),
        cmocka_unit_test(test_pack_daemon_lone_master),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
