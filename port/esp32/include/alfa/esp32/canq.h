/* The CAN queues between the TWAI interrupt and the pack task: a receive ring the ISR fills and a ring of transmit slots it frees (port/esp32/logic/canq.c). */
#ifndef ALFA_ESP32_CANQ_H
#define ALFA_ESP32_CANQ_H

/*
 * Both are single-producer / single-consumer rings on free-running 32-bit counters: one side writes
 * only `head`, the other only `tail`, each with release/acquire ordering (plain loads and stores
 * with fences: no atomic read-modify-write, so they also build for rv32imc without the A extension).
 * The receive ring: the TWAI ISR pushes (interrupts only queue), the pack task pops in can_recv; a
 * full ring drops the new frame and counts it. The transmit slots: ESP-IDF's driver keeps a pointer
 * to each frame until it is on the bus, so can_send takes a slot (task) and the driver's "TX done"
 * callback (ISR) releases every slot up to the one it names: the driver sends in queue order, and a
 * frame lost to bus-off is released by the next one's completion.
 * canq.c is placed in IRAM by the component's linker fragment: the ISR runs during flash writes.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/can_frame.h"

#define ALFA_ESP32_CAN_RXQ 32u   /* a 50-ms wake-up at full 500 kbit/s load is ~190 frames; ours is <10 */
/* Slots of the receive ring that firmware-update frames (classes 0x40..0x4F) may not take: while the pack
 * task erases a flash sector (~45 ms) a transfer at 70 % bus load brings ~100 frames, and the ring fills
 * with them; a command arriving then still finds room (SPEC.md §11: control traffic keeps priority).
 * The update's own losses are repaired by its parity frames and NACKs. */
#define ALFA_ESP32_CAN_RX_CONTROL 8u
#define ALFA_ESP32_CAN_TXQ 16u   /* a telemetry burst (7) + heartbeat + site totals (4) + acks */

typedef struct alfa_esp32_can_rx {
    alfa_can_frame_t slot[ALFA_ESP32_CAN_RXQ];
    uint32_t head;   /* written by the ISR */
    uint32_t tail;   /* written by the task */
    uint32_t drops;  /* written by the ISR: frames refused, update frames included */
    uint32_t update_drops; /* written by the ISR: of which update frames kept out of the reserve */
} alfa_esp32_can_rx_t;

typedef struct alfa_esp32_can_tx {
    uint32_t head;   /* slots taken: written by the task */
    uint32_t tail;   /* slots released: written by the ISR */
} alfa_esp32_can_tx_t;

void alfa_esp32_can_rx_init(alfa_esp32_can_rx_t *q);
/* ISR side. false (and drops + 1) when the ring is full, or for an update frame when only the
 * ALFA_ESP32_CAN_RX_CONTROL reserved slots are left. */
bool alfa_esp32_can_rx_push(alfa_esp32_can_rx_t *q, const alfa_can_frame_t *f);
/* Task side: 1 = a frame was copied to *f, 0 = empty. */
int32_t alfa_esp32_can_rx_pop(alfa_esp32_can_rx_t *q, alfa_can_frame_t *f);

void alfa_esp32_can_tx_init(alfa_esp32_can_tx_t *q);
/* Task side: index of a free slot (0..ALFA_ESP32_CAN_TXQ-1), or -1 when all are in flight. The slot
 * counts as taken at once; if the driver then refuses the frame, give it back with _unget. */
int32_t alfa_esp32_can_tx_get(alfa_esp32_can_tx_t *q);
/* Task side: undo the last _get (the driver did not take the frame). */
void alfa_esp32_can_tx_unget(alfa_esp32_can_tx_t *q);
/* ISR side: the frame in slot `index` is done (sent or dropped): it and every older slot are free.
 * An index that is not in flight changes nothing. */
void alfa_esp32_can_tx_done(alfa_esp32_can_tx_t *q, uint32_t index);
/* Slots in flight. */
uint32_t alfa_esp32_can_tx_busy(const alfa_esp32_can_tx_t *q);

#endif
