/* xoshiro256** with splitmix64 seeding: the simulator's deterministic random source. */
#include "alfa/sim_rng.h"

uint64_t alfa_rng_hash(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void alfa_rng_seed(alfa_rng_t *r, uint64_t seed)
{
    /* splitmix64 stepping: consecutive outputs of a Weyl sequence; never all zero in practice,
     * and guarded below because xoshiro must not start from the all-zero state. */
    uint64_t x = seed;
    for (unsigned i = 0; i < 4; i++) {
        r->s[i] = alfa_rng_hash(x);
        x += 0x9E3779B97F4A7C15ull;
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) {
        r->s[0] = 1;
    }
}

static uint64_t rotl(uint64_t x, unsigned k) { return (x << k) | (x >> (64u - k)); }

uint64_t alfa_rng_next(alfa_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5u, 7) * 9u;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t alfa_rng_below(alfa_rng_t *r, uint64_t n)
{
    if (n == 0) {
        return 0;
    }
    /* Reject draws from the incomplete last block of size n so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t v;
    do {
        v = alfa_rng_next(r);
    } while (v >= limit);
    return v % n;
}

int alfa_rng_chance_ppm(alfa_rng_t *r, uint32_t ppm)
{
    if (ppm == 0) {
        return 0;
    }
    if (ppm >= 1000000u) {
        return 1;
    }
    return alfa_rng_below(r, 1000000u) < ppm;
}

void alfa_rng_split(const alfa_rng_t *parent, uint64_t stream, alfa_rng_t *child)
{
    uint64_t mixed = alfa_rng_hash(parent->s[0] ^ alfa_rng_hash(stream ^ parent->s[3]));
    alfa_rng_seed(child, mixed ^ parent->s[1]);
}
