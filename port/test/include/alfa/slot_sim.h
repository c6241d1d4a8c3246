/* Two firmware slots and their boot records on the rule-enforcing flash simulator, with an ESP-IDF-like bootloader. */
#ifndef ALFA_SLOT_SIM_H
#define ALFA_SLOT_SIM_H

/*
 * The test port's side of port.h's "firmware slots": one alfa_flash_sim_t (every flash rule, power
 * cuts at any operation, core/include/alfa/flash_sim.h) holds
 *
 *   sector 0, 1     otadata: two boot records (ESP-IDF's otadata partition): seq u32, state u32,
 *                   CRC-32 u32, reserved u32; the record with the highest valid seq is active and
 *                   selects slot (seq - 1) % 2; no valid record = slot 0 (the factory-flashed image)
 *   sector 2 ..     slot 0, then slot 1 (geom.slot_size each)
 *
 * Boot records change the way ESP-IDF changes them, so power cuts hit the same operations:
 * set_boot writes a new record (seq of the other slot) into the inactive record's sector (erase,
 * program); a state change (confirm, the bootloader's NEW -> PENDING and PENDING -> ABORTED)
 * erases and rewrites the active record's own sector. alfa_slot_sim_boot() is the 2nd-stage
 * bootloader run at every power-on: it picks the slot, starts a NEW image as PENDING and rolls a
 * PENDING one back (ABORTED) to the other slot, and refuses to start a slot whose trailer and
 * image do not verify (then it takes the other one) — like ESP-IDF's image check before boot.
 * Memory comes from the heap (test code).
 */

#include <stdint.h>
#include "alfa/flash_sim.h"
#include "alfa/port.h"

/* Verifies an ECDSA signature of a digest (the test's keys): 0 when valid. */
typedef int32_t (*alfa_slot_sim_verify_fn)(void *ctx, const uint8_t digest[32], const uint8_t sig[64]);

typedef struct alfa_slot_sim {
    alfa_flash_sim_t flash;
    alfa_slot_geom_t geom;
    uint8_t running;          /* slot started by the last alfa_slot_sim_boot */
    uint8_t begun;            /* slot_begin since that boot */
    uint8_t no_slot;          /* the last boot found no bootable slot */
    alfa_slot_sim_verify_fn verify;
    void *verify_ctx;
    uint32_t boots, rollbacks;
} alfa_slot_sim_t;

/* Allocate blank slots of geometry `g` (prog_size must be 16 or divide 16, sector >= 512).
 * `verify` (with `ctx`) checks signatures for fw_verify and for the bootloader's image check;
 * NULL accepts none. Returns 0, -1 for a bad geometry or no memory. */
int alfa_slot_sim_init(alfa_slot_sim_t *s, const alfa_slot_geom_t *g, alfa_slot_sim_verify_fn verify, void *ctx);
void alfa_slot_sim_free(alfa_slot_sim_t *s);

/* Write a complete image (manifest + payload, as alfaspark-sign makes it) into slot `slot` with its
 * trailer, outside any flash accounting: the factory programming of a board. No boot record is
 * changed. Returns 0, -1 when it does not fit. */
int alfa_slot_sim_factory(alfa_slot_sim_t *s, uint8_t slot, const uint8_t *image, uint32_t len);

/* Power-on (call after alfa_flash_sim_power_on when a cut was simulated): the bootloader. Returns
 * the slot started (0/1), or -1 when no slot holds a valid image ("none": must never happen). */
int alfa_slot_sim_boot(alfa_slot_sim_t *s);

/* State of slot `slot` (0/1) as its boot record says. */
alfa_slot_state_t alfa_slot_sim_state(alfa_slot_sim_t *s, uint8_t slot);

/* True when slot `slot` holds a complete image whose trailer manifest parses, whose payload
 * matches the header's SHA-256 and whose signature verifies; its header is copied to *hdr_out
 * (may be NULL). Reads flash without counting operations. */
int alfa_slot_sim_valid(const alfa_slot_sim_t *s, uint8_t slot, uint8_t manifest_out[128]);

/* The port callbacks, with the slot simulator instead of the port's user pointer: a port's own
 * callbacks forward to these (test_port.h, the site simulator). */
int32_t alfa_slot_sim_begin(alfa_slot_sim_t *s, uint8_t resume);
int32_t alfa_slot_sim_erase(alfa_slot_sim_t *s, uint8_t which, uint32_t sector);
int32_t alfa_slot_sim_write(alfa_slot_sim_t *s, uint8_t which, uint32_t offset, const void *data, uint32_t len);
int32_t alfa_slot_sim_read(alfa_slot_sim_t *s, uint8_t which, uint32_t offset, void *buf, uint32_t len);
int32_t alfa_slot_sim_set_boot(alfa_slot_sim_t *s);
int32_t alfa_slot_sim_confirm(alfa_slot_sim_t *s);
alfa_slot_state_t alfa_slot_sim_state_of(alfa_slot_sim_t *s, uint8_t which);
int32_t alfa_slot_sim_fw_verify(alfa_slot_sim_t *s, const uint8_t digest[32], const uint8_t sig[64]);

#endif
