/* An in-memory flash for tests that enforces a real part's rules and cuts power on demand. */
#ifndef ALFA_FLASH_SIM_H
#define ALFA_FLASH_SIM_H

/*
 * Rules enforced (each breach returns a negative alfa_port_err_t and changes nothing):
 *  - addresses and lengths inside the region (ALFA_PORT_E_RANGE);
 *  - program address and length multiples of prog_size, length > 0 (ALFA_PORT_E_RANGE);
 *  - a program unit is programmed at most once between erases, even with erased-value data
 *    (ALFA_PORT_E_REPROG): stricter than NOR, as strict as ECC'd or encrypted flash;
 *  - erase works on whole blocks and leaves them at the erased value (0xFF or 0x00).
 *
 * Power cuts: alfa_flash_sim_cut_at arms a cut at the Nth program-or-erase operation counted
 * from then on (1 = the next one). The operation is then done partly according to the mode, the
 * flash goes "dead" (every later call fails with ALFA_PORT_E_IO, as nothing reaches a chip
 * without power) until alfa_flash_sim_power_on. The contents stay for the reboot.
 *
 * Memory comes from the heap (this is test code); alfa_flash_sim_free releases it.
 */

#include <stddef.h>
#include <stdint.h>
#include "alfa/port.h"

typedef enum alfa_flash_cut_mode {
    ALFA_FLASH_CUT_BEFORE = 0,  /* the operation does not happen at all */
    ALFA_FLASH_CUT_TORN = 1,    /* program: its first `torn_units` units land, the rest stay erased;
                                 * erase: the block's first `torn_units` units are erased, the rest keep
                                 * their old contents */
    ALFA_FLASH_CUT_GARBAGE = 2, /* program: first `torn_units` units land, the next one holds random bytes;
                                 * erase: the whole block holds random bytes */
    ALFA_FLASH_CUT_AFTER = 3,   /* the operation completes, then power fails */
} alfa_flash_cut_mode_t;

typedef struct alfa_flash_sim {
    alfa_flash_geom_t geom;
    uint8_t *mem;        /* block_size * block_count bytes */
    uint8_t *programmed; /* one flag per program unit */
    uint32_t *wear;      /* erase count per block */
    uint64_t ops;        /* program + erase operations since init (attempted, legal ones) */
    uint64_t progs, erases, reads;
    uint64_t bytes_programmed;
    uint64_t rule_breaks; /* illegal calls refused (alignment, range, reprogram) */
    /* power-cut injection */
    uint64_t cut_at_op;  /* absolute value of `ops` at which power fails; 0 = not armed */
    uint8_t cut_mode;    /* alfa_flash_cut_mode_t */
    uint32_t torn_units;
    uint32_t rng;
    int dead;            /* power is off: every call fails */
    int cut_done;        /* the armed cut happened (cleared by alfa_flash_sim_power_on) */
    uint64_t bad_blocks; /* bit b set: programs and erases of block b (< 64) fail with ALFA_PORT_E_IO */
} alfa_flash_sim_t;

/* Allocate a blank (erased) flash with geometry `geom` (copied). Returns 0, or -1 for a geometry
 * with zero sizes, prog_size not dividing block_size, or no memory. */
int alfa_flash_sim_init(alfa_flash_sim_t *sim, const alfa_flash_geom_t *geom);

/* Release the memory; `sim` may be reused with alfa_flash_sim_init. */
void alfa_flash_sim_free(alfa_flash_sim_t *sim);

/* Point `port`'s flash callbacks, geometry and `user` at `sim` (other callbacks untouched). */
void alfa_flash_sim_port(alfa_flash_sim_t *sim, alfa_port_t *port);

/* Overwrite the raw contents with `len` bytes of `data` (the rest is erased); a unit that is not
 * entirely at the erased value counts as programmed. Passing `sim->mem` itself keeps the contents
 * and only recomputes those flags. For fuzzing and crafted-corruption tests. */
void alfa_flash_sim_load(alfa_flash_sim_t *sim, const uint8_t *data, size_t len);

/* Arm a power cut at the `nth` (>= 1) program/erase operation from now, in `mode`, with
 * `torn_units` for the torn modes and `seed` for the garbage bytes. */
void alfa_flash_sim_cut_at(alfa_flash_sim_t *sim, uint64_t nth, alfa_flash_cut_mode_t mode, uint32_t torn_units,
                           uint32_t seed);

/* Power back on: the flash answers again, no cut is armed, cut_done is cleared. Contents are kept. */
void alfa_flash_sim_power_on(alfa_flash_sim_t *sim);

/* The port callbacks (`user` is the alfa_flash_sim_t), for a port that forwards to them. */
int32_t alfa_flash_sim_read(void *user, uint32_t addr, void *buf, uint32_t len);
int32_t alfa_flash_sim_prog(void *user, uint32_t addr, const void *buf, uint32_t len);
int32_t alfa_flash_sim_erase(void *user, uint32_t block);

#endif
