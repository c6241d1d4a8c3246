/* The signed firmware image header: parse and write its 64 bytes, session ids, key ids, CRC-32. */
#include "alfa/fwimg.h"
#include "alfa/bytes.h"
#include "alfa/proto.h"

int alfa_fwimg_parse(const uint8_t m[ALFA_FWIMG_MANIFEST_SIZE], alfa_fwimg_hdr_t *out)
{
    if (m == 0 || out == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    if (alfa_get_le32(m) != ALFA_FWIMG_MAGIC || m[4] != ALFA_FWIMG_FORMAT || m[5] != ALFA_FWIMG_SIG_ECDSA_P256) {
        return ALFA_PROTO_E_FORMAT;
    }
    alfa_fwimg_hdr_t h;
    h.format = m[4];
    h.sig_alg = m[5];
    h.device_type = m[6];
    h.hw_class = m[7];
    h.major = m[8];
    h.minor = m[9];
    h.patch = m[10];
    h.security_counter = alfa_get_le32(&m[12]);
    h.image_size = alfa_get_le32(&m[16]);
    h.key_id = alfa_get_le32(&m[20]);
    uint32_t flags = alfa_get_le32(&m[24]);
    h.build_unix_s = alfa_get_le32(&m[28]);
    alfa_memcpy(h.sha256, &m[32], ALFA_SHA256_SIZE);
    if (m[11] != 0u || flags != 0u || h.image_size == 0u || h.image_size > ALFA_FWIMG_PAYLOAD_MAX ||
        h.major > 0x1Fu || h.minor > 0x3Fu || h.patch > 0x1Fu || h.device_type == 0u) {
        return ALFA_PROTO_E_RANGE;
    }
    *out = h;
    return ALFA_PROTO_OK;
}

int alfa_fwimg_write(const alfa_fwimg_hdr_t *h, uint8_t b[ALFA_FWIMG_HEADER_SIZE])
{
    if (h == 0 || b == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    if (h->image_size == 0u || h->image_size > ALFA_FWIMG_PAYLOAD_MAX || h->major > 0x1Fu || h->minor > 0x3Fu ||
        h->patch > 0x1Fu || h->device_type == 0u) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_memset(b, 0, ALFA_FWIMG_HEADER_SIZE);
    alfa_put_le32(b, ALFA_FWIMG_MAGIC);
    b[4] = ALFA_FWIMG_FORMAT;
    b[5] = ALFA_FWIMG_SIG_ECDSA_P256;
    b[6] = h->device_type;
    b[7] = h->hw_class;
    b[8] = h->major;
    b[9] = h->minor;
    b[10] = h->patch;
    alfa_put_le32(&b[12], h->security_counter);
    alfa_put_le32(&b[16], h->image_size);
    alfa_put_le32(&b[20], h->key_id);
    alfa_put_le32(&b[28], h->build_unix_s);
    alfa_memcpy(&b[32], h->sha256, ALFA_SHA256_SIZE);
    return ALFA_PROTO_OK;
}

void alfa_fwimg_signed_digest(const uint8_t m[ALFA_FWIMG_MANIFEST_SIZE], uint8_t digest[ALFA_SHA256_SIZE])
{
    alfa_sha256(m, ALFA_FWIMG_HEADER_SIZE, digest);
}

uint32_t alfa_fwimg_session_id(const uint8_t m[ALFA_FWIMG_MANIFEST_SIZE])
{
    uint8_t d[ALFA_SHA256_SIZE];
    alfa_sha256(m, ALFA_FWIMG_MANIFEST_SIZE, d);
    uint32_t id = alfa_get_le32(d);
    return id != 0u ? id : 1u;
}

uint32_t alfa_fwimg_key_id(const uint8_t point[65])
{
    uint8_t d[ALFA_SHA256_SIZE];
    alfa_sha256(point, 65u, d);
    return alfa_get_le32(d);
}

uint32_t alfa_crc32(uint32_t crc, const void *data, size_t len)
{
    /* Nibble-wise: a 16-entry table keeps the firmware small; speed is irrelevant for 16-byte records. */
    static const uint32_t t[16] = {0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
                                   0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
                                   0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ t[crc & 0x0Fu];
        crc = (crc >> 4) ^ t[crc & 0x0Fu];
    }
    return ~crc;
}
