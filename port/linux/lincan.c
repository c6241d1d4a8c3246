/* The Linux CAN interface: dispatches to the SLCAN or SocketCAN backend named in the configuration. */
#include "alfa/lincan.h"

#include <string.h>

int alfa_lincan_open(alfa_lincan_t *c, const char *spec)
{
    if (c == NULL || spec == NULL || spec[0] == '\0') {
        return ALFA_PORT_E_RANGE;
    }
    memset(c, 0, sizeof(*c));
    if (strncmp(spec, "slcan:", 6) == 0 || spec[0] == '/') {
        const char *path = spec[0] == '/' ? spec : spec + 6;
        if (path[0] == '\0') {
            return ALFA_PORT_E_RANGE;
        }
        int rc = alfa_slcan_open(&c->b.slcan, path, 6u);
        if (rc == 0) {
            c->kind = ALFA_LINCAN_SLCAN;
        }
        return rc;
    }
    const char *ifname = strncmp(spec, "socketcan:", 10) == 0 ? spec + 10 : spec;
    if (ifname[0] == '\0' || strchr(ifname, ':') != NULL || strchr(ifname, '/') != NULL) {
        return ALFA_PORT_E_RANGE;
    }
    int rc = alfa_socketcan_open(&c->b.socketcan, ifname);
    if (rc == 0) {
        c->kind = ALFA_LINCAN_SOCKETCAN;
    }
    return rc;
}

int alfa_lincan_close(alfa_lincan_t *c)
{
    if (c == NULL) {
        return ALFA_PORT_OK;
    }
    int rc = ALFA_PORT_OK;
    if (c->kind == ALFA_LINCAN_SLCAN) {
        rc = alfa_slcan_close(&c->b.slcan);
    } else if (c->kind == ALFA_LINCAN_SOCKETCAN) {
        alfa_socketcan_close(&c->b.socketcan);
    }
    c->kind = ALFA_LINCAN_NONE;
    return rc;
}

int alfa_lincan_fd(const alfa_lincan_t *c)
{
    if (c == NULL) {
        return -1;
    }
    if (c->kind == ALFA_LINCAN_SLCAN) {
        return alfa_slcan_fd(&c->b.slcan);
    }
    if (c->kind == ALFA_LINCAN_SOCKETCAN) {
        return alfa_socketcan_fd(&c->b.socketcan);
    }
    return -1;
}

int32_t alfa_lincan_send(alfa_lincan_t *c, const alfa_can_frame_t *frame)
{
    if (c == NULL) {
        return ALFA_PORT_E_IO;
    }
    if (c->kind == ALFA_LINCAN_SLCAN) {
        return alfa_slcan_send(&c->b.slcan, frame);
    }
    if (c->kind == ALFA_LINCAN_SOCKETCAN) {
        return alfa_socketcan_send(&c->b.socketcan, frame);
    }
    return ALFA_PORT_E_IO;
}

int32_t alfa_lincan_recv(alfa_lincan_t *c, alfa_can_frame_t *frame)
{
    if (c == NULL) {
        return ALFA_PORT_E_IO;
    }
    if (c->kind == ALFA_LINCAN_SLCAN) {
        return alfa_slcan_recv(&c->b.slcan, frame);
    }
    if (c->kind == ALFA_LINCAN_SOCKETCAN) {
        return alfa_socketcan_recv(&c->b.socketcan, frame);
    }
    return ALFA_PORT_E_IO;
}

alfa_can_state_t alfa_lincan_state(const alfa_lincan_t *c)
{
    if (c != NULL && c->kind == ALFA_LINCAN_SLCAN) {
        return alfa_slcan_state(&c->b.slcan);
    }
    if (c != NULL && c->kind == ALFA_LINCAN_SOCKETCAN) {
        return alfa_socketcan_state(&c->b.socketcan);
    }
    return ALFA_CAN_BUS_OFF;
}

int alfa_lincan_recover(alfa_lincan_t *c)
{
    if (c != NULL && c->kind == ALFA_LINCAN_SLCAN) {
        return alfa_slcan_recover(&c->b.slcan);
    }
    if (c != NULL && c->kind == ALFA_LINCAN_SOCKETCAN) {
        alfa_socketcan_recover(&c->b.socketcan); /* only forgets the state: cannot fail */
        return ALFA_PORT_OK;
    }
    return ALFA_PORT_E_IO;
}

alfa_lincan_kind_t alfa_lincan_kind(const alfa_lincan_t *c) { return c == NULL ? ALFA_LINCAN_NONE : c->kind; }

uint32_t alfa_lincan_tx_pending(const alfa_lincan_t *c)
{
    return c != NULL && c->kind == ALFA_LINCAN_SLCAN ? alfa_slcan_tx_pending(&c->b.slcan) : 0u;
}
