/* Freestanding byte helpers: little/big-endian load and store, and mem* without <string.h>. */
#ifndef ALFA_BYTES_H
#define ALFA_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* The core and protocol never include <string.h> (not guaranteed when freestanding); the
 * compiler builtins lower to inline code or to the environment's memcpy/memset. */
#define alfa_memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define alfa_memset(d, v, n) __builtin_memset((d), (v), (n))
#define alfa_memcmp(a, b, n) __builtin_memcmp((a), (b), (n))

static inline uint16_t alfa_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t alfa_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint16_t alfa_get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline void alfa_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void alfa_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void alfa_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* 24-bit fields (CAN payloads carry powers and energies in three bytes). */
#define ALFA_I24_MIN (-8388608L)
#define ALFA_I24_MAX 8388607L
#define ALFA_U24_MAX 16777215UL

static inline void alfa_put_le24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
}
static inline uint32_t alfa_get_le24(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}
/* Sign-extend a 24-bit two's complement value. */
static inline int32_t alfa_get_le24s(const uint8_t *p)
{
    uint32_t u = alfa_get_le24(p);
    return (u & 0x800000u) ? (int32_t)(u | 0xFF000000u) : (int32_t)u;
}

#endif
