/* SLCAN: the ASCII CAN protocol of serial USB-CAN adapters (CANable, USBtin, Lawicel), non-blocking. */
#ifndef ALFA_SLCAN_H
#define ALFA_SLCAN_H

/*
 * Lines are ASCII ending in '\r':
 *   O / C            open / close the CAN channel
 *   S0..S8           bitrate (S6 = 500 kbit/s)
 *   tIIILDD..        standard data frame: 3 hex id, 1 hex DLC, 2 hex per byte
 *   TIIIIIIIILDD..   extended data frame: 8 hex id
 *   rIIIL / RIIIIIIIIL remote frames (received, never sent by Alfaspark)
 *   F / Fxx          status flags request / answer (bit 5 error passive, bit 7 bus error)
 * The adapter answers '\r' for OK and '\a' (BEL) for an error; after a transmit some firmwares
 * answer 'z\r' / 'Z\r'. Received frames may carry a 4-hex-digit timestamp after the data.
 *
 * Everything here is non-blocking: writes go into a buffer flushed as the device accepts them,
 * reads take what is there, partial lines wait for their end, garbage and over-long lines are
 * dropped up to the next '\r' and counted.
 */

#include <stddef.h>
#include <stdint.h>
#include "alfa/can_frame.h"
#include "alfa/port.h"

#define ALFA_SLCAN_LINE_MAX 40u   /* longest valid line is 'T' + 8 + 1 + 16 + 4 = 30 chars */
#define ALFA_SLCAN_TXBUF 2048u
#define ALFA_SLCAN_RXQ 128u       /* received frames waiting for alfa_slcan_recv */

/* Counters for diagnostics and tests. */
typedef struct alfa_slcan_stats {
    uint32_t n_rx_frames, n_tx_frames, n_garbage, n_adapter_errors, n_rx_overflow, n_tx_acks;
    uint32_t n_tx_full;           /* a command (status request, restart) the full buffer refused */
} alfa_slcan_stats_t;

typedef struct alfa_slcan {
    int fd;                       /* serial device (or pty); -1 when closed */
    int own_fd;                   /* 1 when alfa_slcan_close must close fd */
    char line[ALFA_SLCAN_LINE_MAX];
    uint32_t line_len;
    int discarding;               /* inside an over-long line: drop bytes up to '\r' */
    uint8_t tx[ALFA_SLCAN_TXBUF];
    uint32_t tx_len;
    alfa_can_frame_t rxq[ALFA_SLCAN_RXQ];
    uint32_t rxq_head, rxq_count;
    alfa_can_state_t state;
    uint32_t bitrate_code;        /* the Sn digit used on open and recovery */
    alfa_slcan_stats_t stats;
} alfa_slcan_t;

/* Pure codec: format `frame` as an SLCAN line (with the trailing '\r') into buf (cap bytes).
 * Returns the line length or -1 if the frame is invalid (len > 8, id too wide) or buf too small. */
int alfa_slcan_format(const alfa_can_frame_t *frame, char *buf, size_t cap);

/* Pure codec: parse one line WITHOUT its '\r'. Returns 1 and fills *frame for a data or remote
 * frame, 0 for a line that is not a frame (status, ack...), -1 for a malformed frame line. */
int alfa_slcan_parse(const char *line, size_t len, alfa_can_frame_t *frame);

/* Open a serial device by path (termios raw, 115200 baud (ignored by USB CDC adapters),
 * O_NONBLOCK) and start the channel at `bitrate_code` (6 = 500 kbit/s): queues "C\r S6\r O\r".
 * Returns 0 or ALFA_PORT_E_IO (errno kept). */
int alfa_slcan_open(alfa_slcan_t *s, const char *path, uint32_t bitrate_code);
/* Same over an already open file descriptor (pty in tests); the caller keeps ownership of fd.
 * The fd is switched to non-blocking. */
int alfa_slcan_attach(alfa_slcan_t *s, int fd, uint32_t bitrate_code);
/* Queue "C\r" and flush as far as possible, then close the fd if we opened it. Returns 0, or the
 * error that kept the close command from the adapter (ALFA_PORT_E_FULL, ALFA_PORT_E_IO: its
 * channel may stay open until the next open, which closes it first); `s` is closed either way. */
int alfa_slcan_close(alfa_slcan_t *s);

/* Move bytes both ways without blocking: flush the transmit buffer, read what the device has
 * and parse complete lines. Returns 0, or ALFA_PORT_E_IO when the device failed (hang-up). */
int alfa_slcan_poll(alfa_slcan_t *s);

/* A channel without a device (fd -1): alfa_slcan_feed takes bytes, alfa_slcan_recv gives the
 * frames queued and then ALFA_PORT_E_IO (no device to poll). For fuzzing and other transports. */
void alfa_slcan_init(alfa_slcan_t *s);

/* Feed bytes as if read from the device: lines are assembled and parsed, frames queued for
 * alfa_slcan_recv. Used by alfa_slcan_poll; exposed for fuzzing and for other transports. */
void alfa_slcan_feed(alfa_slcan_t *s, const uint8_t *bytes, size_t n);

/* Queue one frame (the data are copied). ALFA_PORT_E_FULL when the buffer cannot take the line,
 * ALFA_PORT_E_RANGE for an invalid frame, ALFA_PORT_E_BUSOFF while bus-off. Polls first. */
int32_t alfa_slcan_send(alfa_slcan_t *s, const alfa_can_frame_t *frame);
/* Take one received frame: 1 copied, 0 none, negative on device error. Polls first. */
int32_t alfa_slcan_recv(alfa_slcan_t *s, alfa_can_frame_t *frame);
/* State from the adapter's last status flags answer. */
alfa_can_state_t alfa_slcan_state(const alfa_slcan_t *s);
/* Restart the channel (close, bitrate, open) and ask for status; used after bus-off. Returns 0;
 * ALFA_PORT_E_FULL when the buffer cannot take the restart (nothing queued, counted in
 * stats.n_tx_full, the state stays bus-off: ask again later); ALFA_PORT_E_IO when the device
 * failed. */
int alfa_slcan_recover(alfa_slcan_t *s);
/* Ask the adapter for its status flags ("F\r"); the answer updates the state when polled.
 * Returns 0, ALFA_PORT_E_FULL (not queued, counted in stats.n_tx_full) or ALFA_PORT_E_IO. */
int alfa_slcan_request_status(alfa_slcan_t *s);

/* The device's file descriptor to poll() (-1 when closed). */
int alfa_slcan_fd(const alfa_slcan_t *s);
/* Bytes queued for the device and not yet written (poll for POLLOUT while not 0). */
uint32_t alfa_slcan_tx_pending(const alfa_slcan_t *s);
/* Counters since open (owned by `s`). */
const alfa_slcan_stats_t *alfa_slcan_stats(const alfa_slcan_t *s);

#endif
