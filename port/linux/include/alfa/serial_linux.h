/* Linux serial port for the BMS link: termios at standard rates and parities, RS-485 direction, non-blocking I/O. */
#ifndef ALFA_SERIAL_LINUX_H
#define ALFA_SERIAL_LINUX_H

/*
 * Opens a tty (USB RS-485 adapter, on-board UART, or a pseudo-terminal) raw and non-blocking,
 * and provides the port's serial_write / serial_read callbacks on it.
 *
 * RS-485 driver direction (DE), chosen by `de`:
 *  - ALFA_SERIAL_DE_KERNEL: the kernel's RS-485 mode (ioctl TIOCSRS485, RTS on send): the UART
 *    driver raises DE before the first bit and drops it after the last stop bit. Best timing;
 *    needs a driver that supports it (many on-board UARTs, some USB adapters).
 *  - ALFA_SERIAL_DE_RTS: we raise RTS before writing and drop it once the transmitter reports
 *    empty (checked on every read call, i.e. every main-loop turn). For adapters with RTS wired
 *    to DE but no kernel RS-485 support.
 *  - ALFA_SERIAL_DE_NONE: nothing to switch (adapters with automatic direction, ptys).
 *  - ALFA_SERIAL_DE_AUTO: kernel mode if the driver accepts it, else RTS if the line has modem
 *    control, else none. Which one was taken: alfa_serial_de() after opening.
 *
 * Errors are negative errno values (-ENOENT, -EINVAL for an unsupported baud rate or parity...).
 * Nothing here blocks except alfa_serial_wait(), which waits at most its timeout.
 */

#include <stdint.h>

#include "alfa/port.h"

typedef enum alfa_serial_de {
    ALFA_SERIAL_DE_AUTO = 0,
    ALFA_SERIAL_DE_KERNEL = 1,
    ALFA_SERIAL_DE_RTS = 2,
    ALFA_SERIAL_DE_NONE = 3,
} alfa_serial_de_t;

typedef struct alfa_serial_cfg {
    uint32_t baud;      /* a standard rate: 1200 .. 4000000 */
    char parity;        /* 'N', 'E' or 'O' */
    uint8_t stop_bits;  /* 1 or 2 */
    alfa_serial_de_t de;
} alfa_serial_cfg_t;

typedef struct alfa_serial {
    int fd;             /* -1 when closed */
    int owns_fd;        /* close() closes fd */
    alfa_serial_de_t de; /* the direction method actually in use */
    int de_active;      /* RTS mode: DE currently raised */
    uint32_t baud;
    uint8_t bits_per_char; /* 10 for 8N1, 11 for 8E1/8O1/8N2, 12 for 8E2/8O2 */
    uint32_t errors;    /* read/write errors seen */
} alfa_serial_t;

/* 9600 8N1, DE auto. */
void alfa_serial_cfg_default(alfa_serial_cfg_t *cfg);

/* 1 if `baud` is a rate termios supports here. */
int alfa_serial_baud_ok(uint32_t baud);

/* Open `path` raw, non-blocking, with `cfg`. 0, or a negative errno (s->fd is then -1). */
int alfa_serial_open(alfa_serial_t *s, const char *path, const alfa_serial_cfg_t *cfg);

/* Same on an already open tty fd (e.g. a pty master a test created); the caller keeps the fd
 * (alfa_serial_close does not close it). */
int alfa_serial_attach(alfa_serial_t *s, int fd, const alfa_serial_cfg_t *cfg);

/* Drop DE, close (if owned). Safe on a closed port. 0, or -errno when DE could not be dropped
 * (RTS mode): the line may stay driven until the device is closed, which drops RTS on Linux. */
int alfa_serial_close(alfa_serial_t *s);

/* Queue bytes: count accepted (may be less than len when the driver queue is full) or -errno. */
int32_t alfa_serial_write(alfa_serial_t *s, const uint8_t *data, uint16_t len);

/* Read what is there: count (0 = nothing yet) or -errno. */
int32_t alfa_serial_read(alfa_serial_t *s, uint8_t *data, uint16_t cap);

/* Wait until bytes can be read or `timeout_ms` passed: 1, 0, or -errno. */
int alfa_serial_wait(alfa_serial_t *s, int timeout_ms);

/* Port callbacks whose `user` is an alfa_serial_t (for programs whose port is just the serial
 * line, like the BMS probe). Errors map to ALFA_PORT_E_IO. */
int32_t alfa_serial_port_write(void *user, const uint8_t *data, uint16_t len);
int32_t alfa_serial_port_read(void *user, uint8_t *data, uint16_t cap);

/* The tty's file descriptor to poll() (-1 when closed). */
int alfa_serial_fd(const alfa_serial_t *s);
/* The direction method in use (never ALFA_SERIAL_DE_AUTO once open). */
alfa_serial_de_t alfa_serial_de(const alfa_serial_t *s);
/* The rate set and the bits per character on the wire (10 for 8N1): what paces the master. */
uint32_t alfa_serial_baud(const alfa_serial_t *s);
uint8_t alfa_serial_bits_per_char(const alfa_serial_t *s);

/* "auto", "kernel", "rts", "none" */
const char *alfa_serial_de_name(alfa_serial_de_t de);

#endif
