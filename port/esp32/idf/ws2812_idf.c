/* The WS2812B LED bar on an RMT channel with the bytes encoder; the frame in flight has its own buffer, never overwritten mid-transfer. */
#include "driver/rmt_encoder.h"
#include "driver/rmt_tx.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "soc/soc_caps.h"
#include "alfa/esp32/ws2812.h"
#include "esp32_idf.h"

static alfa_esp32_t *B(void *user) { return (alfa_esp32_t *)user; }

void alfa_esp32_ws2812_flush(alfa_esp32_t *b)
{
    if (!b->grb_pending || esp_timer_get_time() < b->grb_busy_until_us) {
        return;
    }
    if (rmt_tx_wait_all_done((rmt_channel_handle_t)b->rmt_chan, 0) != ESP_OK) {
        return; /* still sending: try at the next poll */
    }
    /* The RMT reads its payload while it sends: give it a copy the next frame cannot touch. */
    for (uint32_t i = 0; i < b->grb_len; i++) {
        b->grb_wire[i] = b->grb[i];
    }
    const rmt_transmit_config_t tc = {.loop_count = 0, .flags = {.eot_level = 0}};
    if (rmt_transmit((rmt_channel_handle_t)b->rmt_chan, (rmt_encoder_handle_t)b->rmt_enc, b->grb_wire, b->grb_len, &tc) != ESP_OK) {
        b->errors++;
        return;
    }
    /* n bytes take n x 8 x 1.25 us = 10 n us on the wire; then the line must stay low. */
    b->grb_busy_until_us = esp_timer_get_time() + (int64_t)b->grb_len * 10 + ALFA_WS2812_RESET_US;
    b->grb_pending = 0;
}

static void pixels_set(void *user, const alfa_rgb_t *px, uint8_t count)
{
    alfa_esp32_t *b = B(user);
    uint32_t n = alfa_ws2812_grb(px, count, b->grb, sizeof b->grb);
    if (n == 0u && count != 0u) {
        b->errors++;
        return;
    }
    b->grb_len = (uint8_t)n;
    b->grb_pending = 1;
    alfa_esp32_ws2812_flush(b);
}

int32_t alfa_esp32_ws2812_init(alfa_esp32_t *b)
{
    alfa_ws2812_symbols_t sym;
    if (alfa_ws2812_symbols(ALFA_WS2812_RMT_HZ, &sym) != ALFA_PORT_OK) {
        return ALFA_PORT_E_RANGE;
    }
    const rmt_tx_channel_config_t cc = {
        .gpio_num = (gpio_num_t)b->pins.ws2812,
        .clk_src = RMT_CLK_SRC_DEFAULT,
        .resolution_hz = ALFA_WS2812_RMT_HZ,
        .mem_block_symbols = SOC_RMT_MEM_WORDS_PER_CHANNEL, /* one block: 64 symbols on the ESP32 */
        .trans_queue_depth = 2,
    };
    const rmt_bytes_encoder_config_t ec = {.bit0 = {.val = sym.bit0}, .bit1 = {.val = sym.bit1}, .flags = {.msb_first = 1}};
    rmt_channel_handle_t chan = NULL;
    rmt_encoder_handle_t enc = NULL;
    if (rmt_new_tx_channel(&cc, &chan) != ESP_OK || rmt_new_bytes_encoder(&ec, &enc) != ESP_OK || rmt_enable(chan) != ESP_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "RMT: WS2812B channel on GPIO%d refused", b->pins.ws2812);
        return ALFA_PORT_E_IO;
    }
    b->rmt_chan = chan;
    b->rmt_enc = enc;
    b->port.pixels_set = pixels_set;
    return ALFA_PORT_OK;
}
