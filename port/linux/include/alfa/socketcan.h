/* SocketCAN backend: a PF_CAN raw socket on a Linux CAN interface (can0), non-blocking. */
#ifndef ALFA_SOCKETCAN_H
#define ALFA_SOCKETCAN_H

/*
 * Compile-tested only: the kernel of the build machine has no SocketCAN, so this backend has
 * never exchanged a frame in this project's tests. It follows the kernel's documented raw-socket
 * API (Documentation/networking/can.rst): extended identifiers carry CAN_EFF_FLAG, error frames
 * are requested through CAN_RAW_ERR_FILTER and reported as controller states.
 */

#include <stdint.h>
#include "alfa/can_frame.h"
#include "alfa/port.h"

typedef struct alfa_socketcan {
    int fd;                 /* -1 when closed */
    alfa_can_state_t state; /* from the last error frame seen */
    uint32_t n_rx_frames, n_tx_frames, n_err_frames;
} alfa_socketcan_t;

/* Open and bind a raw CAN socket on interface `ifname` ("can0"), non-blocking, receiving error
 * frames for bus-off, controller problems and restarts. 0 or ALFA_PORT_E_IO (errno kept). The
 * interface's bitrate is configured outside (ip link set can0 type can bitrate 500000
 * restart-ms 100). */
int alfa_socketcan_open(alfa_socketcan_t *c, const char *ifname);
void alfa_socketcan_close(alfa_socketcan_t *c);
/* Queue one frame: 0, ALFA_PORT_E_FULL (the socket buffer is full), ALFA_PORT_E_BUSOFF,
 * ALFA_PORT_E_RANGE (invalid frame) or ALFA_PORT_E_IO. */
int32_t alfa_socketcan_send(alfa_socketcan_t *c, const alfa_can_frame_t *frame);
/* Take one data frame: 1, 0 (none) or negative; error frames only update the state. */
int32_t alfa_socketcan_recv(alfa_socketcan_t *c, alfa_can_frame_t *frame);
alfa_can_state_t alfa_socketcan_state(const alfa_socketcan_t *c);
/* The socket's file descriptor to poll() (-1 when closed). */
int alfa_socketcan_fd(const alfa_socketcan_t *c);
/* The kernel restarts a bus-off controller itself when restart-ms is set; this only forgets the
 * bus-off state so that sending is tried again (a failure reports it anew). */
void alfa_socketcan_recover(alfa_socketcan_t *c);

#endif
