/* Linux serial port: termios setup, RS-485 direction by the kernel or by RTS, non-blocking reads and writes. */
#include "alfa/serial_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

typedef struct baud_map {
    uint32_t rate;
    speed_t code;
} baud_map_t;

static const baud_map_t bauds[] = {
    {1200, B1200},     {2400, B2400},     {4800, B4800},       {9600, B9600},       {19200, B19200},
    {38400, B38400},   {57600, B57600},   {115200, B115200},   {230400, B230400},   {460800, B460800},
    {500000, B500000}, {576000, B576000}, {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
    {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000}, {3500000, B3500000},
    {4000000, B4000000},
};

static int baud_code(uint32_t rate, speed_t *code)
{
    for (size_t i = 0; i < sizeof(bauds) / sizeof(bauds[0]); i++) {
        if (bauds[i].rate == rate) {
            *code = bauds[i].code;
            return 1;
        }
    }
    return 0;
}

int alfa_serial_baud_ok(uint32_t baud)
{
    speed_t c;
    return baud_code(baud, &c);
}

void alfa_serial_cfg_default(alfa_serial_cfg_t *cfg)
{
    cfg->baud = 9600;
    cfg->parity = 'N';
    cfg->stop_bits = 1;
    cfg->de = ALFA_SERIAL_DE_AUTO;
}

const char *alfa_serial_de_name(alfa_serial_de_t de)
{
    switch (de) {
    case ALFA_SERIAL_DE_AUTO: return "auto";
    case ALFA_SERIAL_DE_KERNEL: return "kernel";
    case ALFA_SERIAL_DE_RTS: return "rts";
    case ALFA_SERIAL_DE_NONE: return "none";
    default: return "?";
    }
}

static int set_rts(int fd, int on)
{
    int bit = TIOCM_RTS;
    return ioctl(fd, on ? TIOCMBIS : TIOCMBIC, &bit);
}

/* A pseudo-terminal (UNIX98 slave, majors 136..143, or the /dev/ptmx master side). */
static int is_pty(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
        return 0;
    }
    unsigned int maj = major(st.st_rdev), min = minor(st.st_rdev);
    return (maj >= 136u && maj <= 143u) || (maj == 5u && min == 2u);
}

static int setup(alfa_serial_t *s, const alfa_serial_cfg_t *cfg)
{
    speed_t code;
    if (!baud_code(cfg->baud, &code) || (cfg->parity != 'N' && cfg->parity != 'E' && cfg->parity != 'O') ||
        (cfg->stop_bits != 1 && cfg->stop_bits != 2)) {
        return -EINVAL;
    }
    struct termios t;
    if (tcgetattr(s->fd, &t) < 0) {
        return -errno;
    }
    cfmakeraw(&t);
    t.c_cflag &= (tcflag_t) ~(PARENB | PARODD | CSTOPB | CSIZE | CRTSCTS);
    t.c_cflag |= CS8 | CLOCAL | CREAD;
    if (cfg->parity != 'N') {
        t.c_cflag |= PARENB;
        if (cfg->parity == 'O') {
            t.c_cflag |= PARODD;
        }
    }
    if (cfg->stop_bits == 2) {
        t.c_cflag |= CSTOPB;
    }
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, code) < 0 || cfsetospeed(&t, code) < 0) {
        return -errno;
    }
    if (tcsetattr(s->fd, TCSANOW, &t) < 0) {
        /* A pty has no wire and refuses parity; its timing is paced by the peer instead. */
        if (errno != EINVAL || !is_pty(s->fd)) {
            return -errno;
        }
        t.c_cflag &= (tcflag_t) ~(PARENB | PARODD);
        if (tcsetattr(s->fd, TCSANOW, &t) < 0) {
            return -errno;
        }
    }
    if (tcflush(s->fd, TCIOFLUSH) < 0) {
        return -errno;
    }
    s->baud = cfg->baud;
    s->bits_per_char = (uint8_t)(1 + 8 + (cfg->parity != 'N') + cfg->stop_bits);

    s->de = ALFA_SERIAL_DE_NONE;
    if (cfg->de == ALFA_SERIAL_DE_AUTO || cfg->de == ALFA_SERIAL_DE_KERNEL) {
        struct serial_rs485 rs;
        memset(&rs, 0, sizeof(rs));
        rs.flags = SER_RS485_ENABLED | SER_RS485_RTS_ON_SEND;
        if (ioctl(s->fd, TIOCSRS485, &rs) == 0) {
            s->de = ALFA_SERIAL_DE_KERNEL;
        } else if (cfg->de == ALFA_SERIAL_DE_KERNEL) {
            return -errno;
        }
    }
    if (s->de == ALFA_SERIAL_DE_NONE && (cfg->de == ALFA_SERIAL_DE_AUTO || cfg->de == ALFA_SERIAL_DE_RTS)) {
        int bits;
        if (ioctl(s->fd, TIOCMGET, &bits) == 0 && set_rts(s->fd, 0) == 0) {
            s->de = ALFA_SERIAL_DE_RTS;
        } else if (cfg->de == ALFA_SERIAL_DE_RTS) {
            return -errno;
        }
    }
    s->de_active = 0;
    return 0;
}

int alfa_serial_open(alfa_serial_t *s, const char *path, const alfa_serial_cfg_t *cfg)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (path == NULL || cfg == NULL) {
        return -EINVAL;
    }
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (!isatty(fd)) {
        close(fd);
        return -ENOTTY;
    }
    s->fd = fd;
    s->owns_fd = 1;
    int rc = setup(s, cfg);
    if (rc < 0) {
        close(fd);
        s->fd = -1;
    }
    return rc;
}

int alfa_serial_attach(alfa_serial_t *s, int fd, const alfa_serial_cfg_t *cfg)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (fd < 0 || cfg == NULL) {
        return -EINVAL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -errno;
    }
    s->fd = fd;
    int rc = setup(s, cfg);
    if (rc < 0) {
        s->fd = -1;
    }
    return rc;
}

int alfa_serial_close(alfa_serial_t *s)
{
    if (s == NULL || s->fd < 0) {
        return 0;
    }
    int rc = 0;
    if (s->de == ALFA_SERIAL_DE_RTS && s->de_active) {
        /* The last request must leave the wire before DE drops. */
        if (tcdrain(s->fd) < 0 || set_rts(s->fd, 0) < 0) {
            rc = -errno;
        }
    }
    if (s->owns_fd) {
        close(s->fd); /* a tty: what was written has been drained above */
    }
    s->fd = -1;
    return rc;
}

/* RTS mode: drop DE once the last stop bit has left the shift register. */
static void de_service(alfa_serial_t *s)
{
    if (s->de != ALFA_SERIAL_DE_RTS || !s->de_active) {
        return;
    }
    int empty = 0;
    unsigned int lsr = 0;
    if (ioctl(s->fd, TIOCSERGETLSR, &lsr) == 0) {
        empty = (lsr & TIOCSER_TEMT) != 0;
    } else {
        int queued = 0;
        empty = ioctl(s->fd, TIOCOUTQ, &queued) == 0 && queued == 0;
    }
    if (empty) {
        if (set_rts(s->fd, 0) < 0) {
            s->errors++; /* DE stays up (the BMS could not answer): tried again at the next call */
            return;
        }
        s->de_active = 0;
    }
}

int32_t alfa_serial_write(alfa_serial_t *s, const uint8_t *data, uint16_t len)
{
    if (s == NULL || s->fd < 0 || (data == NULL && len > 0)) {
        return -EINVAL;
    }
    if (s->de == ALFA_SERIAL_DE_RTS && !s->de_active) {
        if (set_rts(s->fd, 1) < 0) {
            s->errors++;
            return -errno;
        }
        s->de_active = 1;
    }
    ssize_t n = write(s->fd, data, len);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return 0;
        }
        s->errors++;
        return -errno;
    }
    return (int32_t)n;
}

int32_t alfa_serial_read(alfa_serial_t *s, uint8_t *data, uint16_t cap)
{
    if (s == NULL || s->fd < 0 || data == NULL) {
        return -EINVAL;
    }
    de_service(s);
    ssize_t n = read(s->fd, data, cap);
    if (n < 0) {
        /* EIO on a pty whose other side is not open yet is "nothing to read". */
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == EIO) {
            return 0;
        }
        s->errors++;
        return -errno;
    }
    return (int32_t)n;
}

int alfa_serial_wait(alfa_serial_t *s, int timeout_ms)
{
    if (s == NULL || s->fd < 0) {
        return -EINVAL;
    }
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    int rc = poll(&p, 1, timeout_ms);
    if (rc < 0) {
        return errno == EINTR ? 0 : -errno;
    }
    return rc > 0 && (p.revents & POLLIN) ? 1 : 0;
}

int32_t alfa_serial_port_write(void *user, const uint8_t *data, uint16_t len)
{
    int32_t n = alfa_serial_write((alfa_serial_t *)user, data, len);
    return n < 0 ? ALFA_PORT_E_IO : n;
}

int32_t alfa_serial_port_read(void *user, uint8_t *data, uint16_t cap)
{
    int32_t n = alfa_serial_read((alfa_serial_t *)user, data, cap);
    return n < 0 ? ALFA_PORT_E_IO : n;
}

int alfa_serial_fd(const alfa_serial_t *s) { return s == NULL ? -1 : s->fd; }

alfa_serial_de_t alfa_serial_de(const alfa_serial_t *s) { return s->de; }

uint32_t alfa_serial_baud(const alfa_serial_t *s) { return s->baud; }

uint8_t alfa_serial_bits_per_char(const alfa_serial_t *s) { return s->bits_per_char; }
