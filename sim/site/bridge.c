/* The SLCAN pty bridge: plays a USB-CAN adapter on a pseudo-terminal for the real gateway. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "alfa/proto.h"
#include "alfa/slcan.h"

#define OUT_MAX 65536u

struct sim_bridge {
    int master;
    int slave;             /* kept open so the master never reads EIO between gateway runs */
    char path[64];
    alfa_canbus_node_t *node;
    int open;              /* channel opened with 'O' */
    char line[64];
    size_t line_len;
    char out[OUT_MAX];
    size_t out_len;
    unsigned long dropped;
    unsigned long frames_in, frames_out, time_dropped;
    char time_line[ALFA_SLCAN_LINE_MAX]; /* the simulated role's last time frame, as an SLCAN line */
    int time_len;
};

static void out_put(sim_bridge_t *b, const char *s, size_t n)
{
    if (b->out_len + n > OUT_MAX) {
        b->dropped++; /* the gateway is not reading: drop, as an adapter's buffer would */
        return;
    }
    memcpy(b->out + b->out_len, s, n);
    b->out_len += n;
}

sim_bridge_t *sim_bridge_new(alfa_canbus_t *bus)
{
    sim_bridge_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (b->master < 0 || grantpt(b->master) < 0 || unlockpt(b->master) < 0 ||
        ptsname_r(b->master, b->path, sizeof(b->path)) != 0) {
        fprintf(stderr, "alfaspark-sim: cannot create a pty: %s\n", strerror(errno));
        if (b->master >= 0) {
            close(b->master);
        }
        free(b);
        return NULL;
    }
    /* The slave raw, as an adapter's tty (no echo, no line editing), kept open; the master
     * non-blocking, or reading it would stall the whole simulation. */
    b->slave = open(b->path, O_RDWR | O_NOCTTY);
    struct termios t;
    int ok = b->slave >= 0 && tcgetattr(b->slave, &t) == 0;
    if (ok) {
        cfmakeraw(&t);
        ok = tcsetattr(b->slave, TCSANOW, &t) == 0;
    }
    int fl = ok ? fcntl(b->master, F_GETFL) : -1;
    if (fl < 0 || fcntl(b->master, F_SETFL, fl | O_NONBLOCK) < 0) {
        fprintf(stderr, "alfaspark-sim: cannot set up the pty %s: %s\n", b->path, strerror(errno));
        sim_bridge_free(b);
        return NULL;
    }
    b->node = alfa_canbus_attach(bus);
    if (b->node == NULL) {
        fprintf(stderr, "alfaspark-sim: no room on the bus for the pty bridge\n");
        sim_bridge_free(b);
        return NULL;
    }
    return b;
}

const char *sim_bridge_path(const sim_bridge_t *b) { return b->path; }

static void handle_line(sim_bridge_t *b)
{
    const char *l = b->line;
    size_t n = b->line_len;
    if (n == 0) {
        out_put(b, "\r", 1);
        return;
    }
    switch (l[0]) {
    case 'O':
        b->open = 1;
        out_put(b, "\r", 1);
        /* the site's time first, so that the gateway never stamps a record with its own clock */
        if (b->time_len > 0) out_put(b, b->time_line, (size_t)b->time_len);
        return;
    case 'C':
        b->open = 0;
        out_put(b, "\r", 1);
        return;
    case 'S':
        out_put(b, n == 2 && l[1] == '6' ? "\r" : "\a", 1); /* only 500 kbit/s is on this bus */
        return;
    case 'F':
        out_put(b, "F00\r", 4);
        return;
    case 'V':
        out_put(b, "V1013\r", 6);
        return;
    case 'N':
        out_put(b, "NSIM0\r", 6);
        return;
    case 't':
    case 'T': {
        alfa_can_frame_t f;
        if (!b->open || alfa_slcan_parse(l, n, &f) != 1) {
            out_put(b, "\a", 1);
            return;
        }
        /* The site runs on simulated time: the real gateway's wall-clock time frames would
         * fight the simulated one, so they are acknowledged and dropped. */
        if (alfa_proto_classify(&f) == ALFA_CLS_TIME) {
            b->time_dropped++;
        } else if (alfa_canbus_send(b->node, &f) != ALFA_PORT_OK) {
            out_put(b, "\a", 1);
            return;
        } else {
            b->frames_in++;
        }
        out_put(b, l[0] == 'T' ? "Z\r" : "z\r", 2);
        return;
    }
    default:
        out_put(b, "\a", 1);
        return;
    }
}

void sim_bridge_pump(sim_bridge_t *b)
{
    char buf[1024];
    ssize_t got;
    while ((got = read(b->master, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            char c = buf[i];
            if (c == '\r' || c == '\n') {
                if (c == '\r' || b->line_len) {
                    handle_line(b);
                }
                b->line_len = 0;
            } else if (b->line_len + 1 < sizeof(b->line)) {
                b->line[b->line_len++] = c;
            } else {
                b->line_len = 0; /* over-long garbage: resynchronise on the next '\r' */
            }
        }
    }
    alfa_can_frame_t f;
    while (alfa_canbus_recv(b->node, &f) == 1) {
        char line[ALFA_SLCAN_LINE_MAX];
        int len = alfa_slcan_format(&f, line, sizeof(line));
        /* Frames of the simulated gateway role (node 126: scenario commands, heartbeats) are not
         * the real gateway's business: it would take them for its own ID in use. Its time frames
         * are passed on: they are the packs' clock, which the real gateway stamps its records
         * with (gateway/daemon/include/alfa/gw_clock.h). */
        int is_time = alfa_proto_classify(&f) == ALFA_CLS_TIME;
        int from_gw_role = (f.flags & ALFA_CAN_FLAG_EXT) && ALFA_PROTO_ID_SRC(f.id) == ALFA_NODE_LINUX_GATEWAY && !is_time;
        if (is_time && len > 0 && (size_t)len <= sizeof(b->time_line)) {
            memcpy(b->time_line, line, (size_t)len);
            b->time_len = len;
        }
        if (b->open && len > 0 && !(f.flags & ALFA_CAN_FLAG_ERR) && !from_gw_role) {
            out_put(b, line, (size_t)len);
            b->frames_out++;
        }
    }
    while (b->out_len > 0) {
        ssize_t w = write(b->master, b->out, b->out_len);
        if (w <= 0) {
            break;
        }
        memmove(b->out, b->out + w, b->out_len - (size_t)w);
        b->out_len -= (size_t)w;
    }
}

void sim_bridge_summary(const sim_bridge_t *b, FILE *f)
{
    fprintf(f, "alfaspark-sim: pty bridge: %lu frames to the bus, %lu to the pty, %lu wall-clock time frames "
               "of the attached gateway dropped, %lu lines dropped (pty not read)\n",
            b->frames_in, b->frames_out, b->time_dropped, b->dropped);
}

void sim_bridge_free(sim_bridge_t *b)
{
    if (b == NULL) {
        return;
    }
    if (b->slave >= 0) {
        close(b->slave);
    }
    close(b->master);
    free(b);
}
