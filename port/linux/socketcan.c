/* SocketCAN backend: raw PF_CAN socket, extended frames, error frames mapped to controller state. */
#include "alfa/socketcan.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/raw.h>

int alfa_socketcan_open(alfa_socketcan_t *c, const char *ifname)
{
    if (c == NULL || ifname == NULL || strlen(ifname) >= IFNAMSIZ) {
        return ALFA_PORT_E_IO;
    }
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->state = ALFA_CAN_ERROR_ACTIVE;
    int fd = socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW);
    if (fd < 0) {
        return ALFA_PORT_E_IO;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1u);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
        close(fd);
        return ALFA_PORT_E_IO;
    }
    can_err_mask_t errmask = CAN_ERR_BUSOFF | CAN_ERR_CRTL | CAN_ERR_RESTARTED | CAN_ERR_ACK;
    if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &errmask, sizeof(errmask)) < 0) {
        close(fd);
        return ALFA_PORT_E_IO;
    }
    struct sockaddr_can addr;
    memset(&addr, 0, sizeof(addr));
    addr.can_family = AF_CAN;
    addr.can_ifindex = ifr.ifr_ifindex;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(fd);
        return ALFA_PORT_E_IO;
    }
    c->fd = fd;
    return ALFA_PORT_OK;
}

void alfa_socketcan_close(alfa_socketcan_t *c)
{
    if (c != NULL && c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

int32_t alfa_socketcan_send(alfa_socketcan_t *c, const alfa_can_frame_t *frame)
{
    if (c == NULL || c->fd < 0 || frame == NULL) {
        return ALFA_PORT_E_IO;
    }
    int ext = (frame->flags & ALFA_CAN_FLAG_EXT) != 0;
    if (frame->len > ALFA_CAN_MAX_DLC || (frame->flags & ALFA_CAN_FLAG_ERR) != 0 ||
        frame->id > (ext ? ALFA_CAN_ID_MASK_EXT : (uint32_t)CAN_SFF_MASK)) {
        return ALFA_PORT_E_RANGE;
    }
    if (c->state == ALFA_CAN_BUS_OFF) {
        return ALFA_PORT_E_BUSOFF;
    }
    struct can_frame cf;
    memset(&cf, 0, sizeof(cf));
    cf.can_id = frame->id | (ext ? CAN_EFF_FLAG : 0u) |
                ((frame->flags & ALFA_CAN_FLAG_RTR) ? CAN_RTR_FLAG : 0u);
    cf.can_dlc = frame->len;
    memcpy(cf.data, frame->data, frame->len);
    ssize_t w = write(c->fd, &cf, sizeof(cf));
    if (w == (ssize_t)sizeof(cf)) {
        c->n_tx_frames++;
        return ALFA_PORT_OK;
    }
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
        return ALFA_PORT_E_FULL;
    }
    if (w < 0 && errno == ENETDOWN) {
        c->state = ALFA_CAN_BUS_OFF;
        return ALFA_PORT_E_BUSOFF;
    }
    return ALFA_PORT_E_IO;
}

int32_t alfa_socketcan_recv(alfa_socketcan_t *c, alfa_can_frame_t *frame)
{
    if (c == NULL || c->fd < 0 || frame == NULL) {
        return ALFA_PORT_E_IO;
    }
    for (;;) {
        struct can_frame cf;
        ssize_t r = read(c->fd, &cf, sizeof(cf));
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                return 0;
            }
            return ALFA_PORT_E_IO;
        }
        if (r != (ssize_t)sizeof(cf)) {
            return 0;
        }
        if (cf.can_id & CAN_ERR_FLAG) {
            c->n_err_frames++;
            if (cf.can_id & CAN_ERR_BUSOFF) {
                c->state = ALFA_CAN_BUS_OFF;
            } else if (cf.can_id & CAN_ERR_RESTARTED) {
                c->state = ALFA_CAN_ERROR_ACTIVE;
            } else if ((cf.can_id & CAN_ERR_CRTL) &&
                       (cf.data[1] & (CAN_ERR_CRTL_RX_PASSIVE | CAN_ERR_CRTL_TX_PASSIVE))) {
                c->state = ALFA_CAN_ERROR_PASSIVE;
            } else if ((cf.can_id & CAN_ERR_CRTL) && (cf.data[1] & CAN_ERR_CRTL_ACTIVE)) {
                c->state = ALFA_CAN_ERROR_ACTIVE;
            }
            continue;
        }
        memset(frame, 0, sizeof(*frame));
        if (cf.can_id & CAN_EFF_FLAG) {
            frame->id = cf.can_id & CAN_EFF_MASK;
            frame->flags = ALFA_CAN_FLAG_EXT;
        } else {
            frame->id = cf.can_id & CAN_SFF_MASK;
        }
        if (cf.can_id & CAN_RTR_FLAG) {
            frame->flags = (uint8_t)(frame->flags | ALFA_CAN_FLAG_RTR);
        }
        frame->len = cf.can_dlc > ALFA_CAN_MAX_DLC ? (uint8_t)ALFA_CAN_MAX_DLC : cf.can_dlc;
        memcpy(frame->data, cf.data, frame->len);
        c->n_rx_frames++;
        return 1;
    }
}

alfa_can_state_t alfa_socketcan_state(const alfa_socketcan_t *c)
{
    return c == NULL ? ALFA_CAN_BUS_OFF : c->state;
}

int alfa_socketcan_fd(const alfa_socketcan_t *c) { return c == NULL ? -1 : c->fd; }

void alfa_socketcan_recover(alfa_socketcan_t *c)
{
    if (c != NULL && c->state == ALFA_CAN_BUS_OFF) {
        c->state = ALFA_CAN_ERROR_ACTIVE;
    }
}
