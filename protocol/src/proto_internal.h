/* Helpers shared by the protocol library's codec files; not part of the public interface. */
#ifndef ALFA_PROTO_INTERNAL_H
#define ALFA_PROTO_INTERNAL_H

#include <stdint.h>
#include "alfa/can_frame.h"

/* 1 when `src` may appear as a sender (1..126). */
int alfa_proto_valid_src(uint8_t src);
/* Frame is an Alfaspark frame of class `cls` from a valid sender with exactly `len` bytes. */
int alfa_proto_check(const alfa_can_frame_t *frame, uint8_t cls, uint8_t len);
/* Destination rule of a frame class: one node (1..126) or every node (127). */
#define ALFA_PROTO_TO_NODE 0
#define ALFA_PROTO_TO_ALL 1
/* alfa_proto_check, then the destination rule `to` and an unused aux byte (unless `aux_used`):
 * E_ID when they are broken. On success writes the sender and destination, nothing else. */
int alfa_proto_check_addr(const alfa_can_frame_t *frame, uint8_t cls, uint8_t len, int to, int aux_used,
                          uint8_t *src, uint8_t *dst);
/* Zero a frame and set an extended identifier and length. */
void alfa_proto_frame_init(alfa_can_frame_t *frame, uint32_t id, uint8_t len);

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
