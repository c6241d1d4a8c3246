/* SLCAN backend: CAN frames over the ASCII line protocol of serial USB-CAN adapters, non-blocking. */
#include "alfa/slcan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char hexdig[] = "0123456789ABCDEF";

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Parse `n` hex digits; -1 on any non-hex character. */
static int64_t hexn(const char *p, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int h = hexval(p[i]);
        if (h < 0) {
            return -1;
        }
        v = (v << 4) | h;
    }
    return v;
}

int alfa_slcan_format(const alfa_can_frame_t *frame, char *buf, size_t cap)
{
    if (frame == NULL || buf == NULL || frame->len > ALFA_CAN_MAX_DLC) {
        return -1;
    }
    int ext = (frame->flags & ALFA_CAN_FLAG_EXT) != 0;
    int rtr = (frame->flags & ALFA_CAN_FLAG_RTR) != 0;
    if ((frame->flags & ALFA_CAN_FLAG_ERR) != 0 || frame->id > (ext ? ALFA_CAN_ID_MASK_EXT : 0x7FFu)) {
        return -1;
    }
    size_t idlen = ext ? 8u : 3u;
    size_t need = 1u + idlen + 1u + (rtr ? 0u : 2u * frame->len) + 1u;
    if (cap < need) {
        return -1;
    }
    size_t k = 0;
    buf[k++] = rtr ? (ext ? 'R' : 'r') : (ext ? 'T' : 't');
    for (size_t i = 0; i < idlen; i++) {
        buf[k++] = hexdig[(frame->id >> (4u * (idlen - 1u - i))) & 0xFu];
    }
    buf[k++] = hexdig[frame->len];
    if (!rtr) {
        for (uint8_t i = 0; i < frame->len; i++) {
            buf[k++] = hexdig[frame->data[i] >> 4];
            buf[k++] = hexdig[frame->data[i] & 0xFu];
        }
    }
    buf[k++] = '\r';
    return (int)k;
}

int alfa_slcan_parse(const char *line, size_t len, alfa_can_frame_t *frame)
{
    if (line == NULL || frame == NULL || len == 0) {
        return 0;
    }
    char t = line[0];
    if (t != 't' && t != 'T' && t != 'r' && t != 'R') {
        return 0;
    }
    int ext = (t == 'T' || t == 'R');
    int rtr = (t == 'r' || t == 'R');
    size_t idlen = ext ? 8u : 3u;
    if (len < 1u + idlen + 1u) {
        return -1;
    }
    int64_t id = hexn(&line[1], idlen);
    int64_t dlc = hexn(&line[1 + idlen], 1);
    if (id < 0 || dlc < 0 || dlc > 8 || (uint64_t)id > (ext ? ALFA_CAN_ID_MASK_EXT : 0x7FFu)) {
        return -1;
    }
    size_t body = 1u + idlen + 1u + (rtr ? 0u : 2u * (size_t)dlc);
    /* Exactly the frame, or the frame plus a 4-digit timestamp. */
    if (len != body && len != body + 4u) {
        return -1;
    }
    if (len == body + 4u && hexn(&line[body], 4) < 0) {
        return -1;
    }
    alfa_can_frame_t f;
    memset(&f, 0, sizeof(f));
    f.id = (uint32_t)id;
    f.len = (uint8_t)dlc;
    f.flags = (uint8_t)((ext ? ALFA_CAN_FLAG_EXT : 0u) | (rtr ? ALFA_CAN_FLAG_RTR : 0u));
    if (!rtr) {
        for (size_t i = 0; i < (size_t)dlc; i++) {
            int64_t b = hexn(&line[1 + idlen + 1 + 2 * i], 2);
            if (b < 0) {
                return -1;
            }
            f.data[i] = (uint8_t)b;
        }
    }
    *frame = f;
    return 1;
}

static void reset_state(alfa_slcan_t *s, int fd, int own, uint32_t bitrate_code)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    s->own_fd = own;
    s->state = ALFA_CAN_ERROR_ACTIVE;
    s->bitrate_code = bitrate_code;
}

void alfa_slcan_init(alfa_slcan_t *s) { reset_state(s, -1, 0, 6u); }

/* Queue raw bytes; 0 or ALFA_PORT_E_FULL (nothing queued). */
static int queue_bytes(alfa_slcan_t *s, const char *p, size_t n)
{
    if (s->tx_len + n > ALFA_SLCAN_TXBUF) {
        return ALFA_PORT_E_FULL;
    }
    memcpy(&s->tx[s->tx_len], p, n);
    s->tx_len += (uint32_t)n;
    return ALFA_PORT_OK;
}

/* Queue the whole restart or nothing (half of it would leave the channel closed): a close first,
 * because an adapter left open refuses a bitrate change. 0 or ALFA_PORT_E_FULL. */
static int queue_open_sequence(alfa_slcan_t *s)
{
    const char seq[7] = {'C', '\r', 'S', hexdig[s->bitrate_code & 0xFu], '\r', 'O', '\r'};
    return queue_bytes(s, seq, sizeof seq);
}

int alfa_slcan_attach(alfa_slcan_t *s, int fd, uint32_t bitrate_code)
{
    if (s == NULL || fd < 0 || bitrate_code > 8u) {
        return ALFA_PORT_E_IO;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return ALFA_PORT_E_IO;
    }
    reset_state(s, fd, 0, bitrate_code);
    int rc = queue_open_sequence(s);
    return rc < 0 ? rc : alfa_slcan_poll(s);
}

int alfa_slcan_open(alfa_slcan_t *s, const char *path, uint32_t bitrate_code)
{
    if (s == NULL || path == NULL) {
        return ALFA_PORT_E_IO;
    }
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return ALFA_PORT_E_IO;
    }
    struct termios tio;
    if (tcgetattr(fd, &tio) == 0) {
        /* A tty that stays cooked would echo our commands and translate '\r': refuse it. (Not a
         * tty at all, tcgetattr fails: there is no line discipline to set.) */
        cfmakeraw(&tio);
        tio.c_cflag |= CLOCAL | CREAD;
        tio.c_cc[VMIN] = 0;
        tio.c_cc[VTIME] = 0;
        if (cfsetispeed(&tio, B115200) < 0 || cfsetospeed(&tio, B115200) < 0 || tcsetattr(fd, TCSANOW, &tio) < 0) {
            close(fd);
            return ALFA_PORT_E_IO;
        }
    }
    int rc = alfa_slcan_attach(s, fd, bitrate_code);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    s->own_fd = 1;
    return ALFA_PORT_OK;
}

int alfa_slcan_close(alfa_slcan_t *s)
{
    if (s == NULL || s->fd < 0) {
        return ALFA_PORT_OK;
    }
    int rc = queue_bytes(s, "C\r", 2);
    if (rc == ALFA_PORT_OK) {
        rc = alfa_slcan_poll(s);
    }
    if (s->own_fd) {
        close(s->fd); /* a tty: nothing of ours is left in it to lose */
    }
    s->fd = -1;
    return rc;
}

static void push_rx(alfa_slcan_t *s, const alfa_can_frame_t *f)
{
    if (s->rxq_count == ALFA_SLCAN_RXQ) {
        s->stats.n_rx_overflow++; /* the oldest frame is kept; the newest is dropped and counted */
        return;
    }
    s->rxq[(s->rxq_head + s->rxq_count) % ALFA_SLCAN_RXQ] = *f;
    s->rxq_count++;
    s->stats.n_rx_frames++;
}

static void handle_line(alfa_slcan_t *s, const char *line, size_t len)
{
    if (len == 0) {
        return; /* a bare '\r': the adapter's OK */
    }
    alfa_can_frame_t f;
    int rc = alfa_slcan_parse(line, len, &f);
    if (rc == 1) {
        push_rx(s, &f);
        return;
    }
    if (rc == 0 && (line[0] == 'z' || line[0] == 'Z') && len == 1) {
        s->stats.n_tx_acks++;
        return;
    }
    if (rc == 0 && line[0] == 'F' && len == 3 && hexn(&line[1], 2) >= 0) {
        int64_t fl = hexn(&line[1], 2);
        if (fl & 0x80) {
            s->state = ALFA_CAN_BUS_OFF;
        } else if (fl & 0x20) {
            s->state = ALFA_CAN_ERROR_PASSIVE;
        } else {
            s->state = ALFA_CAN_ERROR_ACTIVE;
        }
        return;
    }
    s->stats.n_garbage++;
}

void alfa_slcan_feed(alfa_slcan_t *s, const uint8_t *bytes, size_t n)
{
    if (s == NULL || bytes == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = bytes[i];
        if (c == '\a') {
            /* BEL: the adapter refused the last command; it ends no line of ours. */
            s->stats.n_adapter_errors++;
            continue;
        }
        if (c == '\r' || c == '\n') {
            if (s->discarding) {
                s->discarding = 0;
            } else {
                handle_line(s, s->line, s->line_len);
            }
            s->line_len = 0;
            continue;
        }
        if (s->discarding) {
            continue;
        }
        if (c < 0x20 || c > 0x7E || s->line_len >= ALFA_SLCAN_LINE_MAX) {
            s->stats.n_garbage++;
            s->discarding = 1;
            s->line_len = 0;
            continue;
        }
        s->line[s->line_len++] = (char)c;
    }
}

static int flush_tx(alfa_slcan_t *s)
{
    while (s->tx_len > 0) {
        ssize_t w = write(s->fd, s->tx, s->tx_len);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                return ALFA_PORT_OK;
            }
            return ALFA_PORT_E_IO;
        }
        if (w == 0) {
            return ALFA_PORT_OK;
        }
        memmove(s->tx, &s->tx[w], s->tx_len - (size_t)w);
        s->tx_len -= (uint32_t)w;
    }
    return ALFA_PORT_OK;
}

int alfa_slcan_poll(alfa_slcan_t *s)
{
    if (s == NULL || s->fd < 0) {
        return ALFA_PORT_E_IO;
    }
    int rc = flush_tx(s);
    if (rc < 0) {
        return rc;
    }
    uint8_t buf[256];
    /* Stop reading while the queue could not take a whole buffer of short lines: what stays in
     * the kernel is read on the next poll instead of being dropped here. */
    while (s->rxq_count + sizeof(buf) / 5u <= ALFA_SLCAN_RXQ) {
        ssize_t r = read(s->fd, buf, sizeof(buf));
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                break;
            }
            return ALFA_PORT_E_IO;
        }
        if (r == 0) {
            /* A raw tty answers 0 both for "no data" and after a hang-up: ask poll which. */
            struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
            if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
                return ALFA_PORT_E_IO;
            }
            break;
        }
        alfa_slcan_feed(s, buf, (size_t)r);
    }
    return flush_tx(s);
}

int32_t alfa_slcan_send(alfa_slcan_t *s, const alfa_can_frame_t *frame)
{
    if (s == NULL || s->fd < 0) {
        return ALFA_PORT_E_IO;
    }
    if (s->state == ALFA_CAN_BUS_OFF) {
        return ALFA_PORT_E_BUSOFF;
    }
    char line[ALFA_SLCAN_LINE_MAX];
    int n = alfa_slcan_format(frame, line, sizeof(line));
    if (n < 0) {
        return ALFA_PORT_E_RANGE;
    }
    int rc = flush_tx(s); /* room first; a device that failed fails the frame now */
    if (rc < 0) {
        return rc;
    }
    rc = queue_bytes(s, line, (size_t)n);
    if (rc < 0) {
        return rc;
    }
    s->stats.n_tx_frames++;
    rc = flush_tx(s);
    return rc < 0 ? rc : ALFA_PORT_OK;
}

int32_t alfa_slcan_recv(alfa_slcan_t *s, alfa_can_frame_t *frame)
{
    if (s == NULL || frame == NULL) {
        return ALFA_PORT_E_IO;
    }
    if (s->rxq_count == 0) {
        int rc = alfa_slcan_poll(s);
        if (rc < 0) {
            return rc;
        }
    }
    if (s->rxq_count == 0) {
        return 0;
    }
    *frame = s->rxq[s->rxq_head];
    s->rxq_head = (s->rxq_head + 1u) % ALFA_SLCAN_RXQ;
    s->rxq_count--;
    return 1;
}

alfa_can_state_t alfa_slcan_state(const alfa_slcan_t *s)
{
    return s == NULL ? ALFA_CAN_BUS_OFF : s->state;
}

int alfa_slcan_request_status(alfa_slcan_t *s)
{
    if (s == NULL || s->fd < 0) {
        return ALFA_PORT_E_IO;
    }
    if (queue_bytes(s, "F\r", 2) < 0) {
        s->stats.n_tx_full++;
        return ALFA_PORT_E_FULL;
    }
    return flush_tx(s);
}

int alfa_slcan_recover(alfa_slcan_t *s)
{
    if (s == NULL || s->fd < 0) {
        return ALFA_PORT_E_IO;
    }
    if (queue_open_sequence(s) < 0) {
        s->stats.n_tx_full++;
        return ALFA_PORT_E_FULL;
    }
    s->state = ALFA_CAN_ERROR_ACTIVE;
    return alfa_slcan_request_status(s);
}

int alfa_slcan_fd(const alfa_slcan_t *s) { return s == NULL ? -1 : s->fd; }

uint32_t alfa_slcan_tx_pending(const alfa_slcan_t *s) { return s == NULL ? 0u : s->tx_len; }

const alfa_slcan_stats_t *alfa_slcan_stats(const alfa_slcan_t *s) { return &s->stats; }
