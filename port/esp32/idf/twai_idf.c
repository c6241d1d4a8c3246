/* CAN on the TWAI controller: 500 kbit/s, the dual acceptance filter, an ISR (in IRAM) that only queues, bus-off state and recovery. */
#include <string.h>
#include "esp_attr.h"
#include "esp_log.h"
#include "esp_twai.h"
#include "esp_twai_onchip.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "alfa/esp32/twai.h"
#include "esp32_idf.h"

_Static_assert(sizeof(twai_frame_t) <= ALFA_ESP32_TWAI_FRAME_BYTES, "a transmit slot holds a twai_frame_t");
_Static_assert(_Alignof(twai_frame_t) <= 8u, "transmit slots are 8-byte aligned");

static alfa_esp32_t *B(void *user) { return (alfa_esp32_t *)user; }
static twai_frame_t *slot(alfa_esp32_t *b, uint32_t i) { return (twai_frame_t *)(void *)b->tx_frame[i]; }

/* ISR: read the frame, translate it, queue it, wake the pack task. Runs during flash writes
 * (CONFIG_TWAI_ISR_CACHE_SAFE), so it and what it calls are in IRAM (linker.lf: twai, canq). */
static bool IRAM_ATTR on_rx(twai_node_handle_t node, const twai_rx_done_event_data_t *ev, void *ctx)
{
    (void)ev;
    alfa_esp32_t *b = ctx;
    uint8_t data[ALFA_CAN_MAX_DLC];
    twai_frame_t rx = {.buffer = data, .buffer_len = sizeof data};
    alfa_can_frame_t f;
    if (twai_node_receive_from_isr(node, &rx) != ESP_OK) {
        b->can_rx_bad++;
        return false;
    }
    alfa_esp32_twai_hdr_t h = {.id = rx.header.id, .dlc = rx.header.dlc, .ide = (uint8_t)rx.header.ide,
                               .rtr = (uint8_t)rx.header.rtr, .fdf = (uint8_t)rx.header.fdf};
    if (alfa_esp32_twai_to_frame(&h, data, sizeof data, &f) != ALFA_PORT_OK) {
        b->can_rx_bad++;
        return false;
    }
    /* A full ring counts the drop itself; the pack is woken either way. */
    (void)alfa_esp32_can_rx_push(&b->can_rx, &f);
    BaseType_t woken = pdFALSE;
    (void)xSemaphoreGiveFromISR(b->can_sem, &woken); /* already given = the task is awake anyway */
    return woken == pdTRUE;
}

static bool IRAM_ATTR on_tx(twai_node_handle_t node, const twai_tx_done_event_data_t *ev, void *ctx)
{
    (void)node;
    alfa_esp32_t *b = ctx;
    uintptr_t at = (uintptr_t)ev->done_tx_frame, base = (uintptr_t)b->tx_frame[0];
    if (at >= base && at < base + sizeof b->tx_frame) {
        alfa_esp32_can_tx_done(&b->can_tx, (uint32_t)((at - base) / ALFA_ESP32_TWAI_FRAME_BYTES));
    }
    return false;
}

static bool IRAM_ATTR on_state(twai_node_handle_t node, const twai_state_change_event_data_t *ev, void *ctx)
{
    (void)node;
    alfa_esp32_t *b = ctx;
    b->can_state = ev->new_sta == TWAI_ERROR_BUS_OFF   ? (uint8_t)ALFA_CAN_BUS_OFF
                   : ev->new_sta == TWAI_ERROR_PASSIVE ? (uint8_t)ALFA_CAN_ERROR_PASSIVE
                                                       : (uint8_t)ALFA_CAN_ERROR_ACTIVE;
    return false;
}

static int32_t can_send(void *user, const alfa_can_frame_t *f)
{
    alfa_esp32_t *b = B(user);
    alfa_esp32_twai_hdr_t h;
    uint8_t data[ALFA_CAN_MAX_DLC];
    if (alfa_esp32_twai_from_frame(f, &h, data) != ALFA_PORT_OK) {
        return ALFA_PORT_E_RANGE;
    }
    if (b->can_state == ALFA_CAN_BUS_OFF) {
        return ALFA_PORT_E_BUSOFF;
    }
    int32_t i = alfa_esp32_can_tx_get(&b->can_tx);
    if (i < 0) {
        return ALFA_PORT_E_FULL;
    }
    /* The driver keeps a pointer to the frame until it is on the bus: it lives in slot i. */
    memcpy(b->tx_data[i], data, sizeof data);
    twai_frame_t *t = slot(b, (uint32_t)i);
    memset(t, 0, sizeof *t);
    t->header.id = h.id;
    t->header.dlc = h.dlc;
    t->header.ide = h.ide & 1u;
    t->header.rtr = h.rtr & 1u;
    t->buffer = b->tx_data[i];
    t->buffer_len = h.dlc;
    esp_err_t rc = twai_node_transmit((twai_node_handle_t)b->twai, t, 0);
    if (rc != ESP_OK) {
        alfa_esp32_can_tx_unget(&b->can_tx);
        return rc == ESP_ERR_TIMEOUT ? ALFA_PORT_E_FULL : rc == ESP_ERR_INVALID_STATE ? ALFA_PORT_E_BUSOFF : ALFA_PORT_E_IO;
    }
    return ALFA_PORT_OK;
}

static int32_t can_recv(void *user, alfa_can_frame_t *f) { return alfa_esp32_can_rx_pop(&B(user)->can_rx, f); }

static alfa_can_state_t can_state(void *user) { return (alfa_can_state_t)B(user)->can_state; }

static void can_recover(void *user)
{
    alfa_esp32_t *b = B(user);
    /* The controller rejoins after 128 x 11 recessive bits; on_state reports it. */
    if (twai_node_recover((twai_node_handle_t)b->twai) != ESP_OK) {
        b->errors++;
    }
}

int32_t alfa_esp32_twai_init(alfa_esp32_t *b)
{
    alfa_esp32_can_rx_init(&b->can_rx);
    alfa_esp32_can_tx_init(&b->can_tx);
    b->can_state = ALFA_CAN_ERROR_ACTIVE;
    twai_onchip_node_config_t cfg = {
        .io_cfg = {.tx = (gpio_num_t)b->pins.can_tx, .rx = (gpio_num_t)b->pins.can_rx,
                   .quanta_clk_out = GPIO_NUM_NC, .bus_off_indicator = GPIO_NUM_NC},
        .bit_timing = {.bitrate = ALFA_ESP32_TWAI_BITRATE, .sp_permill = ALFA_ESP32_TWAI_SP_PERMILL},
        .fail_retry_cnt = -1,                 /* retransmit until acknowledged, as CAN intends */
        .tx_queue_depth = ALFA_ESP32_CAN_TXQ,
        .flags = {.no_receive_rtr = 1},
    };
    twai_node_handle_t node = NULL;
    if (twai_new_node_onchip(&cfg, &node) != ESP_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "TWAI: no controller for pins %d/%d", b->pins.can_tx, b->pins.can_rx);
        return ALFA_PORT_E_IO;
    }
    b->twai = node;
    const twai_event_callbacks_t cbs = {.on_tx_done = on_tx, .on_rx_done = on_rx, .on_state_change = on_state};
    alfa_esp32_twai_filter_t flt;
    alfa_esp32_twai_filter(&flt);
    twai_mask_filter_config_t mf = twai_make_dual_filter(flt.id1, flt.mask1, flt.id2, flt.mask2, true);
    if (twai_node_register_event_callbacks(node, &cbs, b) != ESP_OK || twai_node_config_mask_filter(node, 0, &mf) != ESP_OK ||
        twai_node_enable(node) != ESP_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "TWAI: callbacks, filter or enable refused");
        return ALFA_PORT_E_IO;
    }
    b->port.can_send = can_send;
    b->port.can_recv = can_recv;
    b->port.can_state = can_state;
    b->port.can_recover = can_recover;
    return ALFA_PORT_OK;
}
