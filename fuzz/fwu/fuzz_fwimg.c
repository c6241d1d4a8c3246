/* libFuzzer target: the firmware manifest/header parser, the slot trailer check and the update frame decoders. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alfa/fwimg.h"
#include "alfa/fwu.h"
#include "alfa/fwu_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t m[ALFA_FWU_TRAILER_HEAD];
    memset(m, 0, sizeof(m));
    memcpy(m, data, size < sizeof(m) ? size : sizeof(m));
    alfa_fwimg_hdr_t h;
    if (alfa_fwimg_parse(m, &h) == 0) {
        /* What parses writes back to the same bytes (the header has no slack). */
        uint8_t w[ALFA_FWIMG_HEADER_SIZE];
        if (alfa_fwimg_write(&h, w) != 0 || memcmp(w, m, 24) != 0 || memcmp(w + 28, m + 28, 36) != 0) {
            __builtin_trap();
        }
        if (h.image_size == 0u || h.image_size > ALFA_FWIMG_PAYLOAD_MAX || h.major > 31u || h.minor > 63u ||
            h.patch > 31u) {
            __builtin_trap();
        }
    }
    alfa_fwimg_hdr_t t;
    if (alfa_fwu_trailer_check(m, &t) == 0 && alfa_fwimg_parse(m, &h) != 0) {
        __builtin_trap(); /* a valid trailer holds a valid manifest */
    }
    /* The remaining bytes as CAN frames of the update classes: decoders accept or refuse,
     * and what they accept encodes back to the very same frame. */
    for (size_t off = 0; off + 13u <= size; off += 13u) {
        alfa_can_frame_t f;
        memset(&f, 0, sizeof(f));
        f.id = ((uint32_t)(0x40u + (data[off] & 0x0Fu)) << 22) |
               ((uint32_t)data[off + 1] << 14 | (uint32_t)data[off + 2] << 6 | (data[off + 3] >> 2));
        f.id &= 0x1FFFFFFFu;
        f.flags = ALFA_CAN_FLAG_EXT;
        f.len = (uint8_t)(data[off + 4] % 9u);
        memcpy(f.data, data + off + 5, 8);
        alfa_fwu_ctrl_t c;
        alfa_fwu_reply_t r;
        alfa_can_frame_t g;
        uint8_t src, dst, part;
        uint32_t idx;
        if (alfa_fwu_ctrl_decode(&f, &c) == 0 && (alfa_fwu_ctrl_encode(&c, &g) != 0 || g.id != f.id || g.len != f.len ||
                                                  memcmp(g.data, f.data, f.len) != 0)) {
            __builtin_trap();
        }
        if (alfa_fwu_reply_decode(&f, &r) == 0 &&
            (alfa_fwu_reply_encode(&r, &g) != 0 || g.id != f.id || memcmp(g.data, f.data, 8) != 0)) {
            __builtin_trap();
        }
        if (alfa_fwu_data_decode(&f, &src, &idx) == 0 &&
            (alfa_fwu_data_encode(src, idx, f.data, &g) != 0 || g.id != f.id)) {
            __builtin_trap();
        }
        if (alfa_fwu_parity_decode(&f, &src, &idx) == 0 &&
            (alfa_fwu_parity_encode(src, idx, f.data, &g) != 0 || g.id != f.id)) {
            __builtin_trap();
        }
        if (alfa_fwu_manifest_decode(&f, &src, &dst, &part) == 0 &&
            (alfa_fwu_manifest_encode(src, dst, part, f.data, &g) != 0 || g.id != f.id)) {
            __builtin_trap();
        }
    }
    return 0;
}
