/* TWAI (the ESP32's CAN controller) <-> alfa_can_frame_t, the acceptance filter and bit timing, as pure functions (port/esp32/logic/twai.c). */
#ifndef ALFA_ESP32_TWAI_H
#define ALFA_ESP32_TWAI_H

/*
 * ESP-IDF's on-chip TWAI driver (esp_twai_onchip.h) speaks twai_frame_t: a header (id, dlc, ide,
 * rtr, fdf...) and a data buffer. alfa_esp32_twai_hdr_t carries exactly the header fields the port
 * uses, so the translation is tested without ESP-IDF; the ESP-IDF file copies them field by field.
 *
 * Acceptance filter. Every Alfaspark frame is extended and carries its class in identifier bits
 * 28..22 (protocol/include/alfa/proto.h): classes 0x00..0x4F are defined, 0x50..0x7F are not. The
 * SJA1000-style controller of the ESP32 and ESP32-C3 has one 32-bit filter that in "dual" mode
 * becomes two filters on identifier bits 28..13 of extended frames; the driver drops standard frames
 * in software when the filter is marked extended. Filter 1 takes classes 0x00..0x3F (bit 28 clear),
 * filter 2 classes 0x40..0x4F (bits 28..26 = 100): the rest never reaches the receive queue.
 * Masks follow ESP-IDF's twai_mask_filter_config_t: a 1 bit must match.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/can_frame.h"

#define ALFA_ESP32_TWAI_BITRATE 500000u   /* SPEC.md §8.1 */
#define ALFA_ESP32_TWAI_SP_PERMILL 875u   /* sample point 87.5 % (CiA 301's recommendation at 500k) */
#define ALFA_ESP32_TWAI_EXT_MASK 0x1FFFFFFFu
#define ALFA_ESP32_TWAI_STD_MASK 0x7FFu

typedef struct alfa_esp32_twai_hdr {
    uint32_t id;
    uint16_t dlc;
    uint8_t ide;   /* 29-bit identifier */
    uint8_t rtr;   /* remote frame */
    uint8_t fdf;   /* CAN FD frame (never sent; refused on receive) */
} alfa_esp32_twai_hdr_t;

typedef struct alfa_esp32_twai_filter {
    uint32_t id1, mask1, id2, mask2;   /* full 29-bit identifiers and masks, as twai_make_dual_filter takes them */
} alfa_esp32_twai_filter_t;

/* Frame to send -> header and data. ALFA_PORT_E_RANGE (nothing written) for len > 8, an identifier too
 * wide for its format, or the error flag (an error frame cannot be sent). */
int32_t alfa_esp32_twai_from_frame(const alfa_can_frame_t *f, alfa_esp32_twai_hdr_t *h, uint8_t data[ALFA_CAN_MAX_DLC]);

/* Received header and data -> frame. A classic DLC of 9..15 means 8 bytes. ALFA_PORT_E_RANGE
 * (nothing written) for an FD frame or fewer than min(dlc, 8) data bytes in `len`. */
int32_t alfa_esp32_twai_to_frame(const alfa_esp32_twai_hdr_t *h, const uint8_t *data, uint32_t len, alfa_can_frame_t *f);

/* The dual filter described above. */
void alfa_esp32_twai_filter(alfa_esp32_twai_filter_t *out);

/* What the controller plus the driver's software check let through, modelled bit for bit (dual
 * mode, extended: filter n compares identifier bits 28..13 under its mask; standard frames dropped). */
bool alfa_esp32_twai_accepts(const alfa_esp32_twai_filter_t *flt, uint32_t id, bool ext);

#endif
