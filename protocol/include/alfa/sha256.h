/* SHA-256 (FIPS 180-4), freestanding and incremental: image digests for firmware updates. */
#ifndef ALFA_SHA256_H
#define ALFA_SHA256_H

/*
 * The pack core checks a received firmware image against the SHA-256 in its signed header and
 * hashes that header for the signature check; the gateway and the tools use the same code so
 * every party computes the digest one way. No heap, no globals; one context per hash.
 *
 *   alfa_sha256_t h;  alfa_sha256_init(&h);
 *   alfa_sha256_update(&h, data, len);    // any number of times, any lengths
 *   alfa_sha256_final(&h, digest);        // h must be initialised again before reuse
 */

#include <stddef.h>
#include <stdint.h>

#define ALFA_SHA256_SIZE 32u

typedef struct alfa_sha256 {
    uint32_t h[8];
    uint64_t bytes;        /* message length so far */
    uint8_t buf[64];       /* a partial block */
    uint32_t buf_len;
} alfa_sha256_t;

void alfa_sha256_init(alfa_sha256_t *s);
void alfa_sha256_update(alfa_sha256_t *s, const void *data, size_t len);
void alfa_sha256_final(alfa_sha256_t *s, uint8_t digest[ALFA_SHA256_SIZE]);
/* One-shot digest of `len` bytes. */
void alfa_sha256(const void *data, size_t len, uint8_t digest[ALFA_SHA256_SIZE]);

#endif
