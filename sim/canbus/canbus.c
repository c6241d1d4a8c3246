/* The timed CAN bus model: bit-accurate frame lengths, arbitration, error counters, cut-offs. */
#include "alfa/canbus.h"

#include <string.h>

#define BIT_US_NUM 1000000u /* microseconds per second; a bit lasts BIT_US_NUM / bitrate */

static uint64_t bits_to_us(uint64_t bits) { return bits * BIT_US_NUM / ALFA_CANBUS_BITRATE; }

/* ---------------------------------------------------------------- frame length */

typedef struct bitbuf {
    uint8_t b[160];
    uint32_t n;
} bitbuf_t;

static void put_bits(bitbuf_t *bb, uint32_t v, uint32_t count)
{
    for (uint32_t i = count; i > 0; i--) {
        bb->b[bb->n++] = (uint8_t)((v >> (i - 1u)) & 1u);
    }
}

uint32_t alfa_canbus_frame_bits(const alfa_can_frame_t *frame, int worst_case)
{
    bitbuf_t bb;
    bb.n = 0;
    int ext = (frame->flags & ALFA_CAN_FLAG_EXT) != 0;
    int rtr = (frame->flags & ALFA_CAN_FLAG_RTR) != 0;
    uint8_t len = frame->len > 8u ? 8u : frame->len;
    put_bits(&bb, 0, 1); /* SOF */
    if (ext) {
        put_bits(&bb, frame->id >> 18, 11);
        put_bits(&bb, 1, 1); /* SRR */
        put_bits(&bb, 1, 1); /* IDE */
        put_bits(&bb, frame->id & 0x3FFFFu, 18);
        put_bits(&bb, rtr ? 1u : 0u, 1);
        put_bits(&bb, 0, 2); /* r1, r0 */
    } else {
        put_bits(&bb, frame->id & 0x7FFu, 11);
        put_bits(&bb, rtr ? 1u : 0u, 1);
        put_bits(&bb, 0, 2); /* IDE, r0 */
    }
    put_bits(&bb, len, 4);
    if (!rtr) {
        for (uint8_t i = 0; i < len; i++) {
            put_bits(&bb, frame->data[i], 8);
        }
    }
    /* CRC-15/CAN (polynomial 0x4599) over SOF..data. */
    uint32_t crc = 0;
    for (uint32_t i = 0; i < bb.n; i++) {
        uint32_t nxt = bb.b[i] ^ ((crc >> 14) & 1u);
        crc = (crc << 1) & 0x7FFFu;
        if (nxt) {
            crc ^= 0x4599u;
        }
    }
    put_bits(&bb, crc, 15);
    uint32_t n = bb.n;
    uint32_t stuffed;
    if (worst_case) {
        stuffed = n + (n - 1u) / 4u;
    } else {
        /* After five equal bits a complement bit is inserted; it starts the next run. */
        uint32_t extra = 0, run = 1;
        uint8_t last = bb.b[0];
        for (uint32_t i = 1; i < n; i++) {
            if (bb.b[i] == last) {
                run++;
                if (run == 5u) {
                    extra++;
                    last = (uint8_t)(last ^ 1u);
                    run = 1;
                }
            } else {
                last = bb.b[i];
                run = 1;
            }
        }
        stuffed = n + extra;
    }
    /* CRC delimiter, ACK slot, ACK delimiter, 7-bit EOF, 3-bit intermission. */
    return stuffed + 1u + 1u + 1u + 7u + 3u;
}

/* ---------------------------------------------------------------- bus */

void alfa_canbus_init(alfa_canbus_t *bus, uint64_t seed)
{
    memset(bus, 0, sizeof(*bus));
    alfa_rng_seed(&bus->rng, seed);
}

alfa_canbus_node_t *alfa_canbus_attach(alfa_canbus_t *bus)
{
    if (bus->n_nodes >= ALFA_CANBUS_MAX_NODES) {
        return NULL;
    }
    alfa_canbus_node_t *n = &bus->nodes[bus->n_nodes];
    memset(n, 0, sizeof(*n));
    n->bus = bus;
    n->index = bus->n_nodes;
    n->connected = 1;
    bus->n_nodes++;
    return n;
}

void alfa_canbus_set_connected(alfa_canbus_node_t *node, int connected)
{
    node->connected = connected ? 1u : 0u;
}

void alfa_canbus_inject_errors(alfa_canbus_t *bus, uint32_t count) { bus->inject_errors += count; }

static int can_transmit(const alfa_canbus_node_t *n) { return n->tx_count > 0 && !n->bus_off; }

static void tx_pop(alfa_canbus_node_t *n)
{
    n->tx_head = (n->tx_head + 1u) % ALFA_CANBUS_TXQ;
    n->tx_count--;
}

static void tec_add(alfa_canbus_node_t *n, uint32_t v)
{
    n->tec += v;
    if (n->tec >= 256u) {
        n->bus_off = 1;
        n->recover_at_us = 0;
        /* A bus-off controller drops what it had queued (the ESP32 TWAI driver does). */
        n->tx_count = 0;
    }
}

static void rx_push(alfa_canbus_node_t *n, const alfa_can_frame_t *f)
{
    if (n->rx_count == ALFA_CANBUS_RXQ) {
        n->n_rx_overflow++;
        return;
    }
    n->rxq[(n->rx_head + n->rx_count) % ALFA_CANBUS_RXQ] = *f;
    n->rx_count++;
    n->n_rx++;
}

static int frames_equal(const alfa_can_frame_t *a, const alfa_can_frame_t *b)
{
    return a->id == b->id && a->flags == b->flags && a->len == b->len &&
           memcmp(a->data, b->data, a->len) == 0;
}

/* Arbitration value: lower wins. Standard frames compare by their 11 bits placed where an
 * extended frame's base ID sits; at equal base the standard frame (dominant IDE) wins. */
static uint64_t arb_key(const alfa_can_frame_t *f)
{
    if (f->flags & ALFA_CAN_FLAG_EXT) {
        return ((uint64_t)(f->id >> 18) << 20) | (1u << 19) | ((uint64_t)(f->id & 0x3FFFFu) << 1) |
               ((f->flags & ALFA_CAN_FLAG_RTR) ? 1u : 0u);
    }
    return ((uint64_t)(f->id & 0x7FFu) << 20) | (((f->flags & ALFA_CAN_FLAG_RTR) ? 1u : 0u) << 19);
}

/* Finish the transfer in flight at bus->busy_end_us. */
static void finish_transfer(alfa_canbus_t *bus)
{
    uint64_t end = bus->busy_end_us;
    bus->busy = 0;
    bus->idle_since_us = end;
    if (bus->busy_is_error) {
        bus->n_error_frames++;
        for (uint8_t i = 0; i < bus->n_nodes; i++) {
            alfa_canbus_node_t *n = &bus->nodes[i];
            int sender = 0;
            for (uint8_t k = 0; k < bus->busy_nsenders; k++) {
                sender |= (bus->busy_sender[k] == i);
            }
            if (sender) {
                n->n_tx_errors++;
                tec_add(n, 8);
            } else if (n->connected && !n->bus_off) {
                n->rec = n->rec < 255u ? n->rec + 1u : n->rec;
            }
        }
        return; /* the frames stay queued and are retried */
    }
    if (bus->busy_ack_error) {
        alfa_canbus_node_t *n = &bus->nodes[bus->busy_sender[0]];
        n->n_tx_errors++;
        /* An error-passive transmitter's ACK errors do not raise its TEC further (ISO 11898-1). */
        if (n->tec < 128u) {
            tec_add(n, 8);
        }
        tx_pop(n);
        return;
    }
    bus->n_frames++;
    for (uint8_t k = 0; k < bus->busy_nsenders; k++) {
        alfa_canbus_node_t *n = &bus->nodes[bus->busy_sender[k]];
        tx_pop(n);
        n->n_tx++;
        if (n->tec > 0) {
            n->tec--;
        }
    }
    for (uint8_t i = 0; i < bus->n_nodes; i++) {
        alfa_canbus_node_t *n = &bus->nodes[i];
        int sender = 0;
        for (uint8_t k = 0; k < bus->busy_nsenders; k++) {
            sender |= (bus->busy_sender[k] == i);
        }
        if (sender || !n->connected || n->bus_off) {
            continue;
        }
        rx_push(n, &bus->busy_frame);
        if (n->rec > 0) {
            n->rec--;
        }
    }
    if (bus->observer != NULL) {
        bus->observer(bus->observer_ctx, &bus->busy_frame, bus->busy_sender[0], bus->busy_start_us,
                      end);
    }
}

/* Error frame after the error: 6-bit flag, up to 6 bits of echo, 8-bit delimiter, intermission. */
#define ERROR_FRAME_BITS (6u + 6u + 8u + 3u)

/* Try to start a transfer at or after `from`; returns 1 when one was started before `limit`. */
static int start_transfer(alfa_canbus_t *bus, uint64_t limit)
{
    /* The earliest moment some node has a frame ready on the idle bus. */
    uint64_t start = UINT64_MAX;
    for (uint8_t i = 0; i < bus->n_nodes; i++) {
        alfa_canbus_node_t *n = &bus->nodes[i];
        if (can_transmit(n)) {
            uint64_t tq = n->txq_t_us[n->tx_head];
            uint64_t t = tq > bus->idle_since_us ? tq : bus->idle_since_us;
            if (t < start) {
                start = t;
            }
        }
    }
    if (start == UINT64_MAX || start > limit) {
        return 0;
    }
    /* Cut-off nodes transmit on their own dead segment: served first, one at a time. */
    for (uint8_t i = 0; i < bus->n_nodes; i++) {
        alfa_canbus_node_t *n = &bus->nodes[i];
        if (can_transmit(n) && !n->connected && n->txq_t_us[n->tx_head] <= start) {
            n->n_tx_errors++;
            if (n->tec < 128u) {
                tec_add(n, 8);
            }
            tx_pop(n);
            return 1;
        }
    }
    /* Arbitration among the connected nodes whose head frame is ready at `start`. */
    uint64_t best = UINT64_MAX;
    for (uint8_t i = 0; i < bus->n_nodes; i++) {
        alfa_canbus_node_t *n = &bus->nodes[i];
        if (can_transmit(n) && n->connected && n->txq_t_us[n->tx_head] <= start) {
            uint64_t k = arb_key(&n->txq[n->tx_head]);
            if (k < best) {
                best = k;
            }
        }
    }
    if (best == UINT64_MAX) {
        return 0;
    }
    bus->busy_nsenders = 0;
    bus->busy_is_error = 0;
    bus->busy_ack_error = 0;
    const alfa_can_frame_t *winner = NULL;
    for (uint8_t i = 0; i < bus->n_nodes; i++) {
        alfa_canbus_node_t *n = &bus->nodes[i];
        if (can_transmit(n) && n->connected && n->txq_t_us[n->tx_head] <= start &&
            arb_key(&n->txq[n->tx_head]) == best) {
            if (winner == NULL) {
                winner = &n->txq[n->tx_head];
            } else if (!frames_equal(winner, &n->txq[n->tx_head])) {
                bus->busy_is_error = 1; /* same identifier, different data: bit error */
            }
            bus->busy_sender[bus->busy_nsenders++] = i;
        }
    }
    if (winner == NULL) {
        return 0; /* cannot happen: `best` came from one of these heads */
    }
    bus->busy_frame = *winner;
    uint32_t bits = alfa_canbus_frame_bits(winner, bus->worst_case_stuffing);
    int receivers = 0;
    for (uint8_t i = 0; i < bus->n_nodes; i++) {
        alfa_canbus_node_t *n = &bus->nodes[i];
        int sender = 0;
        for (uint8_t k = 0; k < bus->busy_nsenders; k++) {
            sender |= (bus->busy_sender[k] == i);
        }
        receivers += (!sender && n->connected && !n->bus_off);
    }
    if (!bus->busy_is_error && (bus->inject_errors > 0 ||
                                alfa_rng_chance_ppm(&bus->rng, bus->error_ppm))) {
        if (bus->inject_errors > 0) {
            bus->inject_errors--;
        }
        bus->busy_is_error = 1;
    }
    if (bus->busy_is_error) {
        /* The error is detected somewhere inside the frame, then the error frame follows. */
        uint32_t at = 1u + (uint32_t)alfa_rng_below(&bus->rng, bits - 13u);
        bits = at + ERROR_FRAME_BITS;
    } else if (receivers == 0) {
        bus->busy_ack_error = 1;
        bits = bits - 13u + 1u + ERROR_FRAME_BITS; /* up to the ACK slot, then an error frame */
    }
    bus->busy = 1;
    bus->busy_start_us = start;
    bus->busy_end_us = start + bits_to_us(bits);
    bus->busy_us_total += bus->busy_end_us - start;
    return 1;
}

static void run_recoveries(alfa_canbus_t *bus, uint64_t t)
{
    for (uint8_t i = 0; i < bus->n_nodes; i++) {
        alfa_canbus_node_t *n = &bus->nodes[i];
        if (n->bus_off && n->recover_at_us != 0 && n->recover_at_us <= t) {
            n->bus_off = 0;
            n->tec = 0;
            n->rec = 0;
            n->recover_at_us = 0;
        }
    }
}

void alfa_canbus_run_until(alfa_canbus_t *bus, uint64_t t_us)
{
    if (t_us < bus->now_us) {
        return;
    }
    for (;;) {
        if (bus->busy) {
            if (bus->busy_end_us > t_us) {
                break;
            }
            bus->now_us = bus->busy_end_us;
            finish_transfer(bus);
            run_recoveries(bus, bus->now_us);
            continue;
        }
        if (!start_transfer(bus, t_us)) {
            break;
        }
    }
    bus->now_us = t_us;
    run_recoveries(bus, t_us);
    if (!bus->busy && bus->idle_since_us < t_us) {
        /* Idle time passed: a frame queued now starts now. */
        bus->idle_since_us = t_us;
    }
}

/* ---------------------------------------------------------------- node side */

int32_t alfa_canbus_send(alfa_canbus_node_t *node, const alfa_can_frame_t *frame)
{
    if (frame == NULL || frame->len > ALFA_CAN_MAX_DLC ||
        frame->id > ((frame->flags & ALFA_CAN_FLAG_EXT) ? ALFA_CAN_ID_MASK_EXT : 0x7FFu) ||
        (frame->flags & ALFA_CAN_FLAG_ERR)) {
        return ALFA_PORT_E_RANGE;
    }
    if (node->bus_off) {
        return ALFA_PORT_E_BUSOFF;
    }
    if (node->tx_count == ALFA_CANBUS_TXQ) {
        node->n_tx_full++;
        return ALFA_PORT_E_FULL;
    }
    uint32_t slot = (node->tx_head + node->tx_count) % ALFA_CANBUS_TXQ;
    node->txq[slot] = *frame;
    node->txq_t_us[slot] = node->bus->now_us;
    node->tx_count++;
    return ALFA_PORT_OK;
}

int32_t alfa_canbus_recv(alfa_canbus_node_t *node, alfa_can_frame_t *frame)
{
    if (node->rx_count == 0) {
        return 0;
    }
    *frame = node->rxq[node->rx_head];
    node->rx_head = (node->rx_head + 1u) % ALFA_CANBUS_RXQ;
    node->rx_count--;
    return 1;
}

alfa_can_state_t alfa_canbus_state(const alfa_canbus_node_t *node)
{
    if (node->bus_off) {
        return ALFA_CAN_BUS_OFF;
    }
    if (node->tec >= 128u || node->rec >= 128u) {
        return ALFA_CAN_ERROR_PASSIVE;
    }
    return ALFA_CAN_ERROR_ACTIVE;
}

void alfa_canbus_recover(alfa_canbus_node_t *node)
{
    if (node->bus_off && node->recover_at_us == 0) {
        node->recover_at_us = node->bus->now_us + bits_to_us(128u * 11u);
        if (node->recover_at_us == 0) {
            node->recover_at_us = 1;
        }
    }
}

void alfa_canbus_set_error_ppm(alfa_canbus_t *bus, uint32_t ppm) { bus->error_ppm = ppm; }

void alfa_canbus_set_observer(alfa_canbus_t *bus, alfa_canbus_observer_fn fn, void *ctx)
{
    bus->observer = fn;
    bus->observer_ctx = ctx;
}

uint64_t alfa_canbus_now_us(const alfa_canbus_t *bus) { return bus->now_us; }
uint64_t alfa_canbus_busy_us(const alfa_canbus_t *bus) { return bus->busy_us_total; }
uint64_t alfa_canbus_error_frames(const alfa_canbus_t *bus) { return bus->n_error_frames; }

int alfa_canbus_node_connected(const alfa_canbus_node_t *node) { return node->connected; }
uint32_t alfa_canbus_node_tx_backlog(const alfa_canbus_node_t *node) { return node->tx_count; }

void alfa_canbus_node_clear_tx(alfa_canbus_node_t *node) { node->tx_count = 0; }

void alfa_canbus_node_clear_queues(alfa_canbus_node_t *node)
{
    node->tx_count = 0;
    node->rx_count = 0;
}

void alfa_canbus_node_power_off(alfa_canbus_node_t *node)
{
    alfa_canbus_node_clear_queues(node);
    node->tec = 0;
    node->rec = 0;
    node->bus_off = 0;
    node->recover_at_us = 0;
}

void alfa_canbus_node_force_bus_off(alfa_canbus_node_t *node)
{
    node->bus_off = 1;
    node->recover_at_us = 0;
}
