/* SLCAN backend over a real pseudo-terminal pair: the test plays the USB-CAN adapter on the master side. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "alfa/lincan.h"
#include "alfa/slcan.h"

typedef struct pty_pair {
    int master;
    int slave;
    char path[128];
} pty_pair_t;

static void pty_open(pty_pair_t *p)
{
    assert_int_equal(openpty(&p->master, &p->slave, p->path, NULL, NULL), 0);
    struct termios tio;
    assert_int_equal(tcgetattr(p->slave, &tio), 0);
    cfmakeraw(&tio);
    assert_int_equal(tcsetattr(p->slave, TCSANOW, &tio), 0);
    int fl = fcntl(p->master, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(p->master, F_SETFL, fl | O_NONBLOCK), 0);
}

static void pty_close(pty_pair_t *p)
{
    if (p->master >= 0) {
        close(p->master);
    }
    if (p->slave >= 0) {
        close(p->slave);
    }
}

/* Read from the adapter side until `want` bytes arrived or 2 s of waiting for I/O passed. */
static size_t adapter_read(pty_pair_t *p, char *buf, size_t want)
{
    size_t got = 0;
    while (got < want) {
        struct pollfd pfd = {.fd = p->master, .events = POLLIN};
        if (poll(&pfd, 1, 2000) <= 0) {
            break;
        }
        ssize_t r = read(p->master, buf + got, want - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    return got;
}

/* Read whatever the adapter side has, waiting at most 500 ms for the first byte. */
static size_t adapter_read_some(pty_pair_t *p, char *buf, size_t cap)
{
    struct pollfd pfd = {.fd = p->master, .events = POLLIN};
    if (poll(&pfd, 1, 500) <= 0) {
        return 0;
    }
    ssize_t r = read(p->master, buf, cap);
    return r > 0 ? (size_t)r : 0;
}

static void adapter_write(pty_pair_t *p, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(write(p->master, s, n), (ssize_t)n);
}

/* Receive one frame, waiting (in poll, for the bytes to cross the pty) at most 2 s. */
static int32_t recv_wait(alfa_slcan_t *s, alfa_can_frame_t *f)
{
    for (int i = 0; i < 200; i++) {
        int32_t rc = alfa_slcan_recv(s, f);
        if (rc != 0) {
            return rc;
        }
        struct pollfd pfd = {.fd = alfa_slcan_fd(s), .events = POLLIN};
        (void)poll(&pfd, 1, 10); /* only a pause: recv above tells what came */
    }
    return 0;
}

/* Let the bytes already written by the adapter reach our side and be parsed. */
static void settle(alfa_slcan_t *s)
{
    for (int i = 0; i < 20; i++) {
        struct pollfd pfd = {.fd = alfa_slcan_fd(s), .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0) {
            break;
        }
        assert_int_equal(alfa_slcan_poll(s), 0);
    }
}

static void test_format_and_parse(void **state)
{
    (void)state;
    alfa_can_frame_t f = {.id = 0x043F8005u, .len = 3, .flags = ALFA_CAN_FLAG_EXT, .data = {0x01, 0xAB, 0xFF}};
    char buf[64];
    int n = alfa_slcan_format(&f, buf, sizeof(buf));
    assert_int_equal(n, 17);
    buf[n] = '\0';
    assert_string_equal(buf, "T043F8005301ABFF\r");
    alfa_can_frame_t g;
    assert_int_equal(alfa_slcan_parse(buf, (size_t)n - 1, &g), 1);
    assert_int_equal(g.id, f.id);
    assert_int_equal(g.len, 3);
    assert_int_equal(g.flags, ALFA_CAN_FLAG_EXT);
    assert_memory_equal(g.data, f.data, 3);
    alfa_can_frame_t s = {.id = 0x123, .len = 0, .flags = 0};
    n = alfa_slcan_format(&s, buf, sizeof(buf));
    buf[n] = '\0';
    assert_string_equal(buf, "t1230\r");
    assert_int_equal(alfa_slcan_format(&f, buf, 10), -1); /* too small */
    f.len = 9;
    assert_int_equal(alfa_slcan_format(&f, buf, sizeof(buf)), -1);

    memset(&g, 0x5C, sizeof(g));
    alfa_can_frame_t untouched = g;
    assert_int_equal(alfa_slcan_parse("T1FFFFFFF9", 10, &g), -1);          /* DLC 9 */
    assert_int_equal(alfa_slcan_parse("T200000000", 10, &g), -1);          /* id > 29 bits */
    assert_int_equal(alfa_slcan_parse("t8000", 5, &g), -1);                /* id > 11 bits */
    assert_int_equal(alfa_slcan_parse("t12320A", 7, &g), -1);              /* short data */
    assert_int_equal(alfa_slcan_parse("t1232AAGG", 9, &g), -1);            /* not hex */
    assert_int_equal(alfa_slcan_parse("t1232AABB12", 11, &g), -1);         /* 2 stray digits */
    assert_int_equal(alfa_slcan_parse("F00", 3, &g), 0);                   /* not a frame */
    assert_memory_equal(&g, &untouched, sizeof(g));
    assert_int_equal(alfa_slcan_parse("t1232AABB1A2B", 13, &g), 1);        /* with timestamp */
    assert_int_equal(g.id, 0x123);
    assert_int_equal(g.data[1], 0xBB);
    assert_int_equal(alfa_slcan_parse("R000000054", 10, &g), 1);           /* remote frame */
    assert_int_equal(g.flags, ALFA_CAN_FLAG_EXT | ALFA_CAN_FLAG_RTR);
    assert_int_equal(g.len, 4);
}

static void test_open_sends_setup_and_frames(void **state)
{
    (void)state;
    pty_pair_t p;
    pty_open(&p);
    alfa_lincan_t c;
    char spec[160];
    snprintf(spec, sizeof(spec), "slcan:%s", p.path);
    assert_int_equal(alfa_lincan_open(&c, spec), 0);
    assert_int_equal(alfa_lincan_kind(&c), ALFA_LINCAN_SLCAN);
    assert_true(alfa_lincan_fd(&c) >= 0);
    char buf[256];
    adapter_read(&p, buf, 7);
    assert_string_equal(buf, "C\rS6\rO\r");
    alfa_can_frame_t f = {.id = 0x08000000u | 0x7Fu, .len = 8, .flags = ALFA_CAN_FLAG_EXT,
                          .data = {1, 2, 3, 4, 5, 6, 7, 8}};
    assert_int_equal(alfa_lincan_send(&c, &f), 0);
    adapter_read(&p, buf, 27);
    assert_string_equal(buf, "T0800007F80102030405060708\r");
    assert_int_equal(alfa_lincan_state(&c), ALFA_CAN_ERROR_ACTIVE);
    assert_int_equal(alfa_lincan_close(&c), 0);
    adapter_read(&p, buf, 2);
    assert_string_equal(buf, "C\r");
    pty_close(&p);
    /* Malformed specs are refused before any device is touched. */
    assert_int_equal(alfa_lincan_open(&c, "slcan:"), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_lincan_open(&c, ""), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_lincan_open(&c, "socketcan:a:b"), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_lincan_open(&c, "slcan:/nonexistent/tty"), ALFA_PORT_E_IO);
    /* No SocketCAN here (or no such interface): a clear error, never a crash or a hang. */
    assert_int_equal(alfa_lincan_open(&c, "socketcan:alfa-nope0"), ALFA_PORT_E_IO);
    assert_int_equal(alfa_lincan_open(&c, "alfa-nope0"), ALFA_PORT_E_IO);
}

static void test_partial_lines_and_garbage(void **state)
{
    (void)state;
    pty_pair_t p;
    pty_open(&p);
    alfa_slcan_t s;
    assert_int_equal(alfa_slcan_attach(&s, p.slave, 6), 0);
    char buf[256];
    adapter_read(&p, buf, 7);
    alfa_can_frame_t f;
    /* A frame cut in three pieces is delivered only when its '\r' arrives. */
    adapter_write(&p, "T043F80");
    settle(&s);
    assert_int_equal(alfa_slcan_recv(&s, &f), 0);
    adapter_write(&p, "0521122");
    settle(&s);
    assert_int_equal(alfa_slcan_recv(&s, &f), 0);
    adapter_write(&p, "\r");
    assert_int_equal(recv_wait(&s, &f), 1);
    assert_int_equal(f.id, 0x043F8005u);
    assert_int_equal(f.len, 2);
    assert_int_equal(f.data[0], 0x11);
    assert_int_equal(f.data[1], 0x22);
    /* Garbage of every kind, then a good frame: only the good frame comes out. */
    uint32_t garbage_before = alfa_slcan_stats(&s)->n_garbage;
    adapter_write(&p, "hello world\r");
    adapter_write(&p, "\x01\x02\xff\r");
    char longline[120];
    memset(longline, 'T', sizeof(longline) - 2);
    longline[sizeof(longline) - 2] = '\r';
    longline[sizeof(longline) - 1] = '\0';
    adapter_write(&p, longline);
    adapter_write(&p, "T1FFFFFFF9\r");  /* DLC 9 */
    adapter_write(&p, "\a");            /* adapter error */
    adapter_write(&p, "z\rZ\r\r");      /* transmit acks and an OK */
    adapter_write(&p, "t7FF1A5\r");
    assert_int_equal(recv_wait(&s, &f), 1);
    assert_int_equal(f.id, 0x7FF);
    assert_int_equal(f.flags, 0);
    assert_int_equal(f.len, 1);
    assert_int_equal(f.data[0], 0xA5);
    assert_int_equal(alfa_slcan_recv(&s, &f), 0);
    assert_int_equal(alfa_slcan_stats(&s)->n_garbage - garbage_before, 4);
    assert_int_equal(alfa_slcan_stats(&s)->n_adapter_errors, 1);
    assert_int_equal(alfa_slcan_stats(&s)->n_tx_acks, 2);
    /* Many frames in one burst, with and without timestamps. */
    char burst[2048] = "";
    for (int i = 0; i < 50; i++) {
        char line[40];
        snprintf(line, sizeof(line), (i % 2) ? "T%08X1%02X\r" : "T%08X1%02XBEEF\r", 0x100 + i, i);
        strcat(burst, line);
    }
    adapter_write(&p, burst);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(recv_wait(&s, &f), 1);
        assert_int_equal(f.id, (uint32_t)(0x100 + i));
        assert_int_equal(f.data[0], i);
    }
    assert_int_equal(alfa_slcan_close(&s), 0);
    pty_close(&p);
}

static void test_status_busoff_and_recovery(void **state)
{
    (void)state;
    pty_pair_t p;
    pty_open(&p);
    alfa_slcan_t s;
    assert_int_equal(alfa_slcan_attach(&s, p.slave, 6), 0);
    char buf[256];
    adapter_read(&p, buf, 7);
    assert_int_equal(alfa_slcan_request_status(&s), 0);
    adapter_read(&p, buf, 2);
    assert_string_equal(buf, "F\r");
    adapter_write(&p, "F20\r");
    settle(&s);
    assert_int_equal(alfa_slcan_state(&s), ALFA_CAN_ERROR_PASSIVE);
    adapter_write(&p, "F80\r");
    settle(&s);
    assert_int_equal(alfa_slcan_state(&s), ALFA_CAN_BUS_OFF);
    alfa_can_frame_t f = {.id = 0x10, .len = 0, .flags = ALFA_CAN_FLAG_EXT};
    assert_int_equal(alfa_slcan_send(&s, &f), ALFA_PORT_E_BUSOFF);
    assert_int_equal(alfa_slcan_recover(&s), 0);
    adapter_read(&p, buf, 9);
    assert_string_equal(buf, "C\rS6\rO\rF\r");
    adapter_write(&p, "F00\r");
    settle(&s);
    assert_int_equal(alfa_slcan_state(&s), ALFA_CAN_ERROR_ACTIVE);
    assert_int_equal(alfa_slcan_send(&s, &f), 0);
    assert_int_equal(alfa_slcan_close(&s), 0);
    pty_close(&p);
}

static void test_full_buffer_never_blocks(void **state)
{
    (void)state;
    pty_pair_t p;
    pty_open(&p);
    alfa_slcan_t s;
    assert_int_equal(alfa_slcan_attach(&s, p.slave, 6), 0);
    alfa_can_frame_t f = {.id = 0x1ABCDEF0u, .len = 8, .flags = ALFA_CAN_FLAG_EXT};
    /* The adapter reads nothing: the pty fills, then our buffer, then sends are refused. */
    int sent = 0, full = 0;
    for (int i = 0; i < 20000 && !full; i++) {
        int32_t rc = alfa_slcan_send(&s, &f);
        if (rc == ALFA_PORT_E_FULL) {
            full = 1;
        } else {
            assert_int_equal(rc, 0);
            sent++;
        }
    }
    assert_true(full);
    assert_true(sent > (int)(ALFA_SLCAN_TXBUF / 27u));
    /* Commands the full buffer cannot take are refused whole and counted: a restart never goes
     * out half (a close without the open would leave the channel shut). */
    int status_queued = 0;
    while (alfa_slcan_request_status(&s) == 0) {
        status_queued++;
        assert_true(status_queued <= 13);
    }
    assert_int_equal(alfa_slcan_stats(&s)->n_tx_full, 1);
    assert_int_equal(alfa_slcan_recover(&s), ALFA_PORT_E_FULL);
    assert_int_equal(alfa_slcan_stats(&s)->n_tx_full, 2);
    /* Once the adapter drains, every queued line arrives whole and sending works again. */
    char buf[4096];
    size_t total = 0;
    size_t want = (size_t)(sent + 1) * 27u + 7u + 2u * (size_t)status_queued;
    int sent_after = 0;
    while (total < want) {
        size_t got = adapter_read_some(&p, buf, sizeof(buf) - 1);
        if (got == 0) {
            break;
        }
        total += got;
        assert_int_equal(alfa_slcan_poll(&s), 0);
        if (sent_after == 0 && alfa_slcan_send(&s, &f) == 0) {
            sent_after = 1;
        }
    }
    assert_true(sent_after);
    assert_int_equal(total, want);
    assert_int_equal(alfa_slcan_close(&s), 0);
    pty_close(&p);
}

static void test_hangup_is_reported(void **state)
{
    (void)state;
    pty_pair_t p;
    pty_open(&p);
    alfa_slcan_t s;
    assert_int_equal(alfa_slcan_attach(&s, p.slave, 6), 0);
    close(p.master);
    p.master = -1;
    alfa_can_frame_t f;
    int32_t rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        rc = alfa_slcan_recv(&s, &f);
    }
    assert_int_equal(rc, ALFA_PORT_E_IO);
    assert_int_equal(alfa_slcan_close(&s), ALFA_PORT_E_IO); /* the adapter is gone: said so */
    pty_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_parse),
        cmocka_unit_test(test_open_sends_setup_and_frames),
        cmocka_unit_test(test_partial_lines_and_garbage),
        cmocka_unit_test(test_status_busoff_and_recovery),
        cmocka_unit_test(test_full_buffer_never_blocks),
        cmocka_unit_test(test_hangup_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
