/* libFuzzer target: arbitrary CAN frames (identifier, length, data) into a settled pack's receive path. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alfa/core.h"
#include "alfa/node.h"
#include "alfa/proto.h"

#define RXQ 64u

typedef struct fz {
    uint32_t now_ms;
    alfa_can_frame_t rxq[RXQ];
    uint32_t rx_head, rx_count;
    uint32_t sent;
    alfa_can_state_t state;
} fz_t;

static uint32_t f_now(void *u) { return ((fz_t *)u)->now_ms; }
static void f_relays(void *u, uint8_t m) { (void)u; (void)m; }
static void f_leds(void *u, uint8_t m) { (void)u; (void)m; }
static int32_t f_send(void *u, const alfa_can_frame_t *f)
{
    fz_t *z = u;
    /* Everything a pack sends must be a frame our own decoder accepts. */
    if (alfa_proto_classify(f) < 0 || f->len > 8) {
        __builtin_trap();
    }
    z->sent++;
    return 0;
}
static int32_t f_recv(void *u, alfa_can_frame_t *f)
{
    fz_t *z = u;
    if (z->rx_count == 0) {
        return 0;
    }
    *f = z->rxq[z->rx_head];
    z->rx_head = (z->rx_head + 1u) % RXQ;
    z->rx_count--;
    return 1;
}
static alfa_can_state_t f_state(void *u) { return ((fz_t *)u)->state; }
static void f_recover(void *u) { ((fz_t *)u)->state = ALFA_CAN_ERROR_ACTIVE; }
static void f_reboot(void *u) { (void)u; }

/* Classes the selector byte maps to, so that most inputs reach a real decoder. */
static const uint8_t classes[] = {
    ALFA_CLS_HEARTBEAT, ALFA_CLS_ID_IN_USE, ALFA_CLS_TIME, ALFA_CLS_IMPORT_REQ, ALFA_CLS_IMPORT_RESP,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x18, 0x19, 0x1A, 0x1B,
    ALFA_CLS_CMD, ALFA_CLS_CMD, ALFA_CLS_CMD, ALFA_CLS_ACK, ALFA_CLS_SETTING, 0x40,
};

static alfa_core_t core;
static alfa_node_t node;
static fz_t z;
static alfa_port_t port;
static alfa_core_t tmpl_core;
static alfa_node_t tmpl_node;
static fz_t tmpl_z;
static int have_template;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the pack composition does: every received frame to the node. */
static void pump(uint32_t now_ms)
{
    alfa_can_frame_t f;
    while (f_recv(&z, &f) > 0) {
        (void)alfa_node_on_frame(&node, &f, now_ms); /* a value: whether other duties may look at it */
    }
}

/* A lone pack through LISTEN and CLAIMING to RUN. */
static void settle(void)
{
    memset(&z, 0, sizeof(z));
    memset(&port, 0, sizeof(port));
    port.user = &z;
    port.now_ms = f_now;
    port.relays_set = f_relays;
    port.status_leds_set = f_leds;
    port.can_send = f_send;
    port.can_recv = f_recv;
    port.can_state = f_state;
    port.can_recover = f_recover;
    port.reboot = f_reboot;
    alfa_core_config_t cc = {.serial = 0x24A1B2C3D4E5ull};
    if (alfa_core_init(&core, &port, &cc) != ALFA_OK) {
        __builtin_trap();
    }
    alfa_node_config_t nc = {.serial = cc.serial, .device_type = ALFA_DEV_PACK};
    if (alfa_node_init(&node, &port, &core, &nc) != ALFA_OK) {
        __builtin_trap();
    }
    for (uint32_t t = 0; t <= 4400u; t += 100u) {
        z.now_ms = t;
        pump(t);
        alfa_core_process(&core);
        alfa_node_process(&node, t);
    }
    if (alfa_node_phase(&node) != ALFA_NODE_PHASE_RUN) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!have_template) {
        settle();
        tmpl_core = core;
        tmpl_node = node;
        tmpl_z = z;
        have_template = 1;
    }
    /* Every input starts from the same settled lone pack (copied: cheaper than settling). */
    core = tmpl_core;
    node = tmpl_node;
    z = tmpl_z;
    /* Records: sel, dst, aux, src, len|flags, dt, data[len]. */
    size_t i = 0;
    /* At most 64 frames per input: longer sequences add little and slow the campaign down. */
    for (uint32_t nrec = 0; nrec < 64u && i + 6u <= size; nrec++) {
        alfa_can_frame_t f;
        memset(&f, 0, sizeof(f));
        uint8_t sel = data[i], dst = data[i + 1], aux = data[i + 2], src = data[i + 3];
        uint8_t lf = data[i + 4], dt = data[i + 5];
        i += 6u;
        if (sel >= 0xF0u) {
            f.id = ((uint32_t)dst << 24 | (uint32_t)aux << 16 | (uint32_t)src << 8 | lf) & 0x3FFFFFFFu;
        } else {
            f.id = ALFA_PROTO_ID(classes[sel % sizeof(classes)], dst, aux, src);
        }
        f.len = (uint8_t)(lf & 0x0Fu); /* up to 15: invalid lengths too */
        f.flags = (lf & 0x10u) ? 0u : ALFA_CAN_FLAG_EXT;
        f.flags = (uint8_t)(f.flags | ((lf & 0x20u) ? ALFA_CAN_FLAG_RTR : 0u) | ((lf & 0x40u) ? ALFA_CAN_FLAG_ERR : 0u));
        size_t n = f.len > 8u ? 8u : f.len;
        for (size_t k = 0; k < n && i < size; k++) {
            f.data[k] = data[i++];
        }
        if (lf & 0x80u) {
            z.state = (alfa_can_state_t)(dt % 3u);
        }
        if (z.rx_count < RXQ) {
            z.rxq[(z.rx_head + z.rx_count) % RXQ] = f;
            z.rx_count++;
        }
        z.now_ms += (uint32_t)dt * 37u;
        pump(z.now_ms);
        alfa_core_process(&core);
        alfa_node_process(&node, z.now_ms);
        /* Whatever came in, the pack stays consistent. */
        if (alfa_settings_validate(alfa_core_settings(&core), NULL, NULL) != 0) {
            __builtin_trap();
        }
        uint8_t id = alfa_node_id(&node);
        if (id < ALFA_NODE_FIRST || id > ALFA_NODE_LAST) {
            __builtin_trap();
        }
    }
    return 0;
}
