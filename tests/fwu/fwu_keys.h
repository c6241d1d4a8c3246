/* Test helpers for firmware updates: a key pair made at test time, signed images of chosen fields. */
#ifndef FWU_KEYS_H
#define FWU_KEYS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alfa/fw_verify.h"
#include "fwsign.h"

typedef struct fwu_keys {
    char dir[64];
    alfa_fwsign_key_t key, other;     /* the trusted key, and one no pack trusts */
    uint8_t pub[1][65];
} fwu_keys_t;

/* Make both keys with alfaspark-sign's code, through PEM files in a temporary directory. */
static inline int fwu_keys_make(fwu_keys_t *k)
{
    char kp[96], pp[96];
    snprintf(k->dir, sizeof(k->dir), "/tmp/alfa-fwu-XXXXXX");
    if (mkdtemp(k->dir) == NULL) return -1;
    snprintf(kp, sizeof(kp), "%s/key.pem", k->dir);
    snprintf(pp, sizeof(pp), "%s/pub.pem", k->dir);
    if (alfa_fwsign_keygen(kp, pp) != 0 || alfa_fwsign_load(kp, &k->key) != 0 || alfa_fw_pub_load(pp, k->pub[0]) != 0) {
        return -1;
    }
    if (memcmp(k->pub[0], k->key.point, 65) != 0) return -1;
    snprintf(kp, sizeof(kp), "%s/other.pem", k->dir);
    snprintf(pp, sizeof(pp), "%s/other-pub.pem", k->dir);
    return alfa_fwsign_keygen(kp, pp) == 0 && alfa_fwsign_load(kp, &k->other) == 0 ? 0 : -1;
}

static inline void fwu_keys_drop(fwu_keys_t *k)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", k->dir);
    if (system(cmd) != 0) { /* a left-over temporary directory harms nothing */ }
}

/* A payload of `len` pseudo-random bytes (seeded), with some runs of 0xFF like a real image. */
static inline void fwu_payload(uint8_t *p, uint32_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1u;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        p[i] = (i / 1024u) % 7u == 3u ? 0xFFu : (uint8_t)x;
    }
}

/* A signed (key) or unsigned (NULL) image: `out` gets 128 + len bytes. */
static inline int fwu_image(const alfa_fwsign_key_t *key, uint8_t maj, uint8_t min, uint8_t pat, uint32_t counter,
                            uint8_t hw_class, const uint8_t *payload, uint32_t len, uint8_t *out)
{
    alfa_fwimg_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.device_type = 1;
    h.hw_class = hw_class;
    h.major = maj;
    h.minor = min;
    h.patch = pat;
    h.security_counter = counter;
    return alfa_fwsign_image(key, &h, payload, len, out);
}

#endif
