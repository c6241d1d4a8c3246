/* The signed firmware image: header layout, its parser, and the manifest the packs check before an update. */
#ifndef ALFA_FWIMG_H
#define ALFA_FWIMG_H

/*
 * An image file is the 128-byte MANIFEST followed by the PAYLOAD (the bytes that go into the
 * firmware slot: an ESP-IDF application image on the ESP32, the alfaspark-pack ELF on Linux,
 * any bytes in the simulator):
 *
 *   manifest = header (64 bytes, little-endian) || signature (64 bytes: ECDSA-P256 r || s, big-endian)
 *
 *   off size field
 *     0   4  magic "ALFW" (0x57464C41 little-endian)
 *     4   1  format = 1
 *     5   1  signature algorithm: 1 = ECDSA-P256 over SHA-256(header bytes 0..63)
 *     6   1  device type (1 = Energy-Pack, 2 = Energy-Gateway device: model.h)
 *     7   1  hardware class (board revision family; a pack refuses another class)
 *     8   3  version major, minor, patch (must fit the heartbeat's 5/6/5 bits)
 *    11   1  reserved 0
 *    12   4  security counter (monotonic; a pack never accepts one below its running image's)
 *    16   4  payload size in bytes, 1 .. ALFA_FWIMG_PAYLOAD_MAX
 *    20   4  key id: first 4 bytes (LE) of SHA-256 of the signer's public key (65-byte point)
 *    24   4  flags, reserved 0
 *    28   4  build time, Unix seconds (informational; 0 allowed)
 *    32  32  SHA-256 of the payload
 *
 * docs/ota.md and docs/protocol.md describe the same bytes. The signature covers the header
 * only; the header covers the payload through its SHA-256. Freestanding (shared by the pack
 * core, the gateway, the tools and the simulator); nothing is written unless parsing succeeds.
 */

#include <stddef.h>
#include <stdint.h>
#include "alfa/sha256.h"

#define ALFA_FWIMG_MAGIC 0x57464C41u       /* "ALFW" */
#define ALFA_FWIMG_FORMAT 1u
#define ALFA_FWIMG_SIG_ECDSA_P256 1u
#define ALFA_FWIMG_HEADER_SIZE 64u
#define ALFA_FWIMG_SIG_SIZE 64u
#define ALFA_FWIMG_MANIFEST_SIZE 128u
/* Hardware class of the Alfaspark controller board (ESP32-WROOM-32, SPEC §4) and of the Linux
 * daemon and simulated packs that stand in for it; 0 is never a class (configs use it for "default"). */
#define ALFA_HW_CLASS_DEFAULT 1u
/* 2^18 data frames of 8 bytes: the frame index fits the update identifier (docs/protocol.md §7). */
#define ALFA_FWIMG_PAYLOAD_MAX (2u * 1024u * 1024u)

typedef struct alfa_fwimg_hdr {
    uint8_t format;
    uint8_t sig_alg;
    uint8_t device_type;
    uint8_t hw_class;
    uint8_t major, minor, patch;
    uint32_t security_counter;
    uint32_t image_size;
    uint32_t key_id;
    uint32_t build_unix_s;
    uint8_t sha256[ALFA_SHA256_SIZE];
} alfa_fwimg_hdr_t;

/* Parse the 64-byte header at the start of `manifest` (128 bytes). 0, or a negative
 * alfa_proto_err_t: ALFA_PROTO_E_FORMAT (wrong magic, format or signature algorithm),
 * ALFA_PROTO_E_RANGE (size 0 or above the maximum, a version field beyond its wire width, a
 * reserved byte or flag set), ALFA_PROTO_E_INVAL (NULL). The signature is not checked here. */
int alfa_fwimg_parse(const uint8_t manifest[ALFA_FWIMG_MANIFEST_SIZE], alfa_fwimg_hdr_t *out);

/* Write the 64-byte header of `h` (format, magic and algorithm set here). E_RANGE if a field
 * would not parse back. The signature bytes are the signer's business. */
int alfa_fwimg_write(const alfa_fwimg_hdr_t *h, uint8_t header[ALFA_FWIMG_HEADER_SIZE]);

/* Digest the signature covers: SHA-256 of the 64 header bytes. */
void alfa_fwimg_signed_digest(const uint8_t manifest[ALFA_FWIMG_MANIFEST_SIZE], uint8_t digest[ALFA_SHA256_SIZE]);

/* Session identifier of an update of this image: the first 4 bytes (LE) of SHA-256(manifest).
 * Never 0 (0 is mapped to 1) so that 0 can mean "any session". */
uint32_t alfa_fwimg_session_id(const uint8_t manifest[ALFA_FWIMG_MANIFEST_SIZE]);

/* Versions as one comparable number: major << 16 | minor << 8 | patch. */
static inline uint32_t alfa_fwimg_version(uint8_t major, uint8_t minor, uint8_t patch)
{
    return ((uint32_t)major << 16) | ((uint32_t)minor << 8) | (uint32_t)patch;
}

/* Key id of a public key given as its 65-byte uncompressed point (0x04 || X || Y). */
uint32_t alfa_fwimg_key_id(const uint8_t point[65]);

/* CRC-32 (IEEE, reflected, as zlib) of `len` bytes continuing from `crc` (start with 0). */
uint32_t alfa_crc32(uint32_t crc, const void *data, size_t len);

#endif
