/* ECDSA-P256 signature check of firmware images on Linux (OpenSSL): the port's fw_verify callback and PUB.pem loading. */
#ifndef ALFA_FW_VERIFY_H
#define ALFA_FW_VERIFY_H

/*
 * Public keys are 65-byte uncompressed P-256 points (0x04 || X || Y): the form compiled into a
 * build (alfa_fw_keys.h, generated from the PUB.pem files named at configure time) and the form a
 * port hands to alfa_fw_verify_any. Signatures are r || s, 32 bytes each, big-endian, over a
 * SHA-256 digest (fwimg.h).
 */

#include <stddef.h>
#include <stdint.h>

#define ALFA_FW_KEY_SIZE 65u

/* 0 when `sig` is a valid signature of `digest` by the key `point`; -1 otherwise (also for a
 * point that is not on the curve). */
int alfa_fw_verify(const uint8_t point[ALFA_FW_KEY_SIZE], const uint8_t digest[32], const uint8_t sig[64]);

/* 0 when any of the `n` keys verifies it (key rotation: several keys are trusted at once). */
int alfa_fw_verify_any(const uint8_t (*keys)[ALFA_FW_KEY_SIZE], size_t n, const uint8_t digest[32],
                       const uint8_t sig[64]);

/* Read a PEM public key (SubjectPublicKeyInfo, as `openssl ec -pubout` or alfaspark-sign keygen
 * write it) into its point. 0, or -1 when unreadable or not a P-256 key. */
int alfa_fw_pub_load(const char *path, uint8_t point[ALFA_FW_KEY_SIZE]);

#endif
