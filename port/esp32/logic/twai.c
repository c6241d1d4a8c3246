/* TWAI frame translation and acceptance filter values (no ESP-IDF headers: host-tested). */
#include "alfa/esp32/twai.h"
#include "alfa/port.h"

/* Class bits 28..22 of the identifier. */
#define CLASS_SHIFT 22u

int32_t alfa_esp32_twai_from_frame(const alfa_can_frame_t *f, alfa_esp32_twai_hdr_t *h, uint8_t data[ALFA_CAN_MAX_DLC])
{
    if (f == 0 || h == 0 || data == 0 || f->len > ALFA_CAN_MAX_DLC || (f->flags & ALFA_CAN_FLAG_ERR) != 0u) {
        return ALFA_PORT_E_RANGE;
    }
    bool ext = (f->flags & ALFA_CAN_FLAG_EXT) != 0u;
    if (f->id > (ext ? ALFA_ESP32_TWAI_EXT_MASK : ALFA_ESP32_TWAI_STD_MASK)) {
        return ALFA_PORT_E_RANGE;
    }
    *h = (alfa_esp32_twai_hdr_t){
        .id = f->id,
        .dlc = f->len,
        .ide = ext ? 1u : 0u,
        .rtr = (f->flags & ALFA_CAN_FLAG_RTR) != 0u ? 1u : 0u,
    };
    for (uint32_t i = 0; i < ALFA_CAN_MAX_DLC; i++) {
        data[i] = i < f->len ? f->data[i] : 0u;
    }
    return ALFA_PORT_OK;
}

int32_t alfa_esp32_twai_to_frame(const alfa_esp32_twai_hdr_t *h, const uint8_t *data, uint32_t len, alfa_can_frame_t *f)
{
    if (h == 0 || f == 0 || h->fdf) {
        return ALFA_PORT_E_RANGE;
    }
    uint32_t n = h->dlc > ALFA_CAN_MAX_DLC ? ALFA_CAN_MAX_DLC : h->dlc;
    if (h->rtr) {
        n = 0; /* a remote frame carries no data whatever its DLC */
    }
    if (n > 0u && (data == 0 || len < n)) {
        return ALFA_PORT_E_RANGE;
    }
    alfa_can_frame_t out = {
        .id = h->id & (h->ide ? ALFA_ESP32_TWAI_EXT_MASK : ALFA_ESP32_TWAI_STD_MASK),
        .len = (uint8_t)n,
        .flags = (uint8_t)((h->ide ? ALFA_CAN_FLAG_EXT : 0u) | (h->rtr ? ALFA_CAN_FLAG_RTR : 0u)),
    };
    for (uint32_t i = 0; i < n; i++) {
        out.data[i] = data[i];
    }
    *f = out;
    return ALFA_PORT_OK;
}

void alfa_esp32_twai_filter(alfa_esp32_twai_filter_t *out)
{
    *out = (alfa_esp32_twai_filter_t){
        .id1 = 0x00u << CLASS_SHIFT,  .mask1 = 0x40u << CLASS_SHIFT, /* class 0x00..0x3F */
        .id2 = 0x40u << CLASS_SHIFT,  .mask2 = 0x70u << CLASS_SHIFT, /* class 0x40..0x4F */
    };
}

bool alfa_esp32_twai_accepts(const alfa_esp32_twai_filter_t *flt, uint32_t id, bool ext)
{
    if (!ext) {
        return false;
    }
    /* Dual mode sees bits 28..13 only (twai_make_dual_filter shifts by 13). */
    uint32_t hi = (id & ALFA_ESP32_TWAI_EXT_MASK) >> 13;
    uint32_t m1 = (flt->mask1 & ALFA_ESP32_TWAI_EXT_MASK) >> 13, c1 = (flt->id1 & ALFA_ESP32_TWAI_EXT_MASK) >> 13;
    uint32_t m2 = (flt->mask2 & ALFA_ESP32_TWAI_EXT_MASK) >> 13, c2 = (flt->id2 & ALFA_ESP32_TWAI_EXT_MASK) >> 13;
    return ((hi ^ c1) & m1) == 0u || ((hi ^ c2) & m2) == 0u;
}
