/* Helpers shared by the protocol library's codec files; not part of the public interface. */
#ifndef ALFA_PROTO_INTERNAL_H
#define ALFA_PROTO_INTERNAL_H

#include <stdint.h>
#include "alfa/can_frame.h"
#include "alfa/bytes.h"

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

#endif
