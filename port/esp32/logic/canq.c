/* Lock-free rings between the TWAI ISR and the pack task (no ESP-IDF headers: host-tested; in IRAM on the board). */
#include "alfa/esp32/canq.h"
#include "alfa/proto.h"

_Static_assert((ALFA_ESP32_CAN_RXQ & (ALFA_ESP32_CAN_RXQ - 1u)) == 0u, "power of two: counters wrap cleanly");
_Static_assert((ALFA_ESP32_CAN_TXQ & (ALFA_ESP32_CAN_TXQ - 1u)) == 0u, "power of two: counters wrap cleanly");
_Static_assert(ALFA_ESP32_CAN_RX_CONTROL < ALFA_ESP32_CAN_RXQ, "update frames keep some room");

static uint32_t load_acq(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store_rel(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

void alfa_esp32_can_rx_init(alfa_esp32_can_rx_t *q) { *q = (alfa_esp32_can_rx_t){0}; }

bool alfa_esp32_can_rx_push(alfa_esp32_can_rx_t *q, const alfa_can_frame_t *f)
{
    uint32_t head = q->head;
    uint8_t cls = ALFA_PROTO_ID_CLASS(f->id);
    bool update = (f->flags & ALFA_CAN_FLAG_EXT) != 0u && cls >= ALFA_CLS_FW_FIRST && cls <= ALFA_CLS_FW_LAST;
    uint32_t room = update ? ALFA_ESP32_CAN_RXQ - ALFA_ESP32_CAN_RX_CONTROL : ALFA_ESP32_CAN_RXQ;
    if (head - load_acq(&q->tail) >= room) {
        q->drops++;
        q->update_drops += update ? 1u : 0u;
        return false;
    }
    q->slot[head % ALFA_ESP32_CAN_RXQ] = *f;
    store_rel(&q->head, head + 1u); /* the frame is complete before the task can see it */
    return true;
}

int32_t alfa_esp32_can_rx_pop(alfa_esp32_can_rx_t *q, alfa_can_frame_t *f)
{
    uint32_t tail = q->tail;
    if (load_acq(&q->head) == tail) {
        return 0;
    }
    *f = q->slot[tail % ALFA_ESP32_CAN_RXQ];
    store_rel(&q->tail, tail + 1u); /* copied out before the ISR may reuse the slot */
    return 1;
}

void alfa_esp32_can_tx_init(alfa_esp32_can_tx_t *q) { *q = (alfa_esp32_can_tx_t){0}; }

int32_t alfa_esp32_can_tx_get(alfa_esp32_can_tx_t *q)
{
    uint32_t head = q->head;
    if (head - load_acq(&q->tail) >= ALFA_ESP32_CAN_TXQ) {
        return -1;
    }
    store_rel(&q->head, head + 1u);
    return (int32_t)(head % ALFA_ESP32_CAN_TXQ);
}

void alfa_esp32_can_tx_unget(alfa_esp32_can_tx_t *q) { store_rel(&q->head, q->head - 1u); }

void alfa_esp32_can_tx_done(alfa_esp32_can_tx_t *q, uint32_t index)
{
    uint32_t tail = q->tail, head = load_acq(&q->head);
    for (uint32_t c = tail; c != head; c++) {
        if (c % ALFA_ESP32_CAN_TXQ == index) {
            store_rel(&q->tail, c + 1u);
            return;
        }
    }
}

uint32_t alfa_esp32_can_tx_busy(const alfa_esp32_can_tx_t *q) { return load_acq(&q->head) - load_acq(&q->tail); }
