/* Making signed firmware images (host side, OpenSSL): keys, deterministic ECDSA-P256 signatures, image files. */
#ifndef ALFA_FWSIGN_H
#define ALFA_FWSIGN_H

/*
 * Used by alfaspark-sign, the simulator (its test key), tests and benchmarks. Private keys live
 * in PEM files outside the repository (or are derived from a seed for the simulator's own test
 * images: never trusted by a real pack). Signatures are deterministic: the nonce is
 * HMAC-SHA256(private key, digest || counter) reduced modulo the group order, so the same image
 * and key always give the same bytes (reproducible builds, a deterministic simulator) and no
 * nonce ever depends on a random generator. Verification is OpenSSL's own (fw_verify.h).
 */

#include <stddef.h>
#include <stdint.h>
#include "alfa/fwimg.h"

typedef struct alfa_fwsign_key {
    uint8_t d[32];          /* private scalar, big-endian */
    uint8_t point[65];      /* public key, uncompressed */
} alfa_fwsign_key_t;

/* Make a new P-256 key pair: KEY.pem (PKCS#8, mode 0600) and PUB.pem. 0 or -1 (errno-style
 * message on stderr). */
int alfa_fwsign_keygen(const char *key_path, const char *pub_path);
/* Read a private key PEM. 0 or -1. */
int alfa_fwsign_load(const char *key_path, alfa_fwsign_key_t *k);
/* A key derived from `seed` (the simulator's test key). 0 or -1. */
int alfa_fwsign_key_from_seed(uint64_t seed, alfa_fwsign_key_t *k);
/* Sign a digest: r || s. 0 or -1. */
int alfa_fwsign_sign(const alfa_fwsign_key_t *k, const uint8_t digest[32], uint8_t sig[64]);

/* Build an image: `fields` gives device type, hardware class, version, security counter and build
 * time (size, SHA-256 and key id are computed); `out` (len + 128 bytes) gets manifest + payload.
 * `k` NULL leaves the signature zero (an unsigned image, for tests of refusal). 0 or -1. */
int alfa_fwsign_image(const alfa_fwsign_key_t *k, const alfa_fwimg_hdr_t *fields, const uint8_t *payload,
                      uint32_t len, uint8_t *out);

/* "X.Y.Z" -> major/minor/patch within the wire widths (31.63.31). 0 or -1. */
int alfa_fwsign_parse_version(const char *s, uint8_t *major, uint8_t *minor, uint8_t *patch);

#endif
