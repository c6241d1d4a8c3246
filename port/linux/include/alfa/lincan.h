/* The Linux CAN interface: one handle over the SLCAN or SocketCAN backend, chosen by configuration. */
#ifndef ALFA_LINCAN_H
#define ALFA_LINCAN_H

/*
 * The gateway and the Linux pack open their bus with a configuration string:
 *   "slcan:/dev/ttyACM0"   SLCAN adapter on a serial device, 500 kbit/s
 *   "socketcan:can0"       SocketCAN interface (compile-tested only on this project's machines)
 *   "can0"                 same as socketcan:can0 (no ':' and no '/')
 *   "/dev/ttyACM0"         same as slcan:/dev/ttyACM0 (starts with '/')
 * All calls are non-blocking and return alfa_port_err_t codes, so they slot straight into the
 * CAN callbacks of alfa_port_t.
 */

#include "alfa/slcan.h"
#include "alfa/socketcan.h"

typedef enum alfa_lincan_kind {
    ALFA_LINCAN_NONE = 0,
    ALFA_LINCAN_SLCAN = 1,
    ALFA_LINCAN_SOCKETCAN = 2,
} alfa_lincan_kind_t;

typedef struct alfa_lincan {
    alfa_lincan_kind_t kind;
    union {
        alfa_slcan_t slcan;
        alfa_socketcan_t socketcan;
    } b;
} alfa_lincan_t;

/* Open the backend named by `spec` (see above). 0, ALFA_PORT_E_RANGE for a malformed spec, or
 * ALFA_PORT_E_IO when the device cannot be opened. */
int alfa_lincan_open(alfa_lincan_t *c, const char *spec);
/* Close (SLCAN: tell the adapter first). 0, or the backend's error that kept the adapter from
 * hearing it (alfa_slcan_close); closed either way. */
int alfa_lincan_close(alfa_lincan_t *c);
/* File descriptor to poll() for readability (-1 when closed). */
int alfa_lincan_fd(const alfa_lincan_t *c);
int32_t alfa_lincan_send(alfa_lincan_t *c, const alfa_can_frame_t *frame);
int32_t alfa_lincan_recv(alfa_lincan_t *c, alfa_can_frame_t *frame);
alfa_can_state_t alfa_lincan_state(const alfa_lincan_t *c);
/* After bus-off: restart the controller (alfa_slcan_recover, alfa_socketcan_recover). 0, or the
 * backend's error: the state stays bus-off and a later call tries again. */
int alfa_lincan_recover(alfa_lincan_t *c);
/* The backend in use (ALFA_LINCAN_NONE when closed). */
alfa_lincan_kind_t alfa_lincan_kind(const alfa_lincan_t *c);
/* Bytes queued for the device and not yet written: poll for POLLOUT while not 0 (SLCAN; a
 * SocketCAN socket queues in the kernel: always 0). */
uint32_t alfa_lincan_tx_pending(const alfa_lincan_t *c);

#endif
