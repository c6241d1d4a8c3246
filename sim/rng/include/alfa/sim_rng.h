/* The simulator's seeded pseudo-random generator (xoshiro256** seeded through splitmix64). */
#ifndef ALFA_SIM_RNG_H
#define ALFA_SIM_RNG_H

/*
 * Every random choice of the simulator (clouds, Modbus line noise, jitter) draws from one of
 * these generators, seeded from the scenario's seed, so the same seed gives the same run on
 * every machine: the generator uses only 64-bit integer arithmetic, no floating point and no
 * global state. Each consumer owns its own `alfa_rng_t` (derived with alfa_rng_split), so adding
 * a draw in one part of the simulator does not shift the numbers every other part sees.
 */

#include <stdint.h>

typedef struct alfa_rng {
    uint64_t s[4];
} alfa_rng_t;

/* Seed a generator. Any seed, 0 included, gives a valid non-zero state. */
void alfa_rng_seed(alfa_rng_t *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t alfa_rng_next(alfa_rng_t *r);

/* Uniform integer in [0, n); 0 when n is 0. Unbiased (rejection of the short last range). */
uint64_t alfa_rng_below(alfa_rng_t *r, uint64_t n);

/* True with probability ppm / 1,000,000 (ppm >= 1,000,000 is always true, 0 never). */
int alfa_rng_chance_ppm(alfa_rng_t *r, uint32_t ppm);

/* A new independent generator for sub-stream `stream` of `parent`'s seed; `parent` is not
 * advanced, so the child depends only on the parent's state and the stream number. */
void alfa_rng_split(const alfa_rng_t *parent, uint64_t stream, alfa_rng_t *child);

/* Stateless 64-bit mix of a value (splitmix64 finaliser): the same input always gives the same
 * output. Used where a value must depend only on (seed, day, slot), not on call order. */
uint64_t alfa_rng_hash(uint64_t x);

#endif
