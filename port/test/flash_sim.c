/* An in-memory flash for tests that enforces a real part's rules and cuts power on demand. */
#include "alfa/flash_sim.h"

#include <stdlib.h>
#include <string.h>

static uint32_t sim_rand(alfa_flash_sim_t *sim)
{
    /* xorshift32: reproducible garbage from the cut's seed. */
    uint32_t x = sim->rng ? sim->rng : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    sim->rng = x;
    return x;
}

int alfa_flash_sim_init(alfa_flash_sim_t *sim, const alfa_flash_geom_t *geom)
{
    if (sim == NULL || geom == NULL || geom->block_size == 0u || geom->block_count == 0u || geom->prog_size == 0u ||
        geom->block_size % geom->prog_size != 0u || (uint64_t)geom->block_size * geom->block_count > 0x40000000u) {
        return -1;
    }
    memset(sim, 0, sizeof(*sim));
    sim->geom = *geom;
    size_t total = (size_t)geom->block_size * geom->block_count;
    sim->mem = malloc(total);
    sim->programmed = calloc(total / geom->prog_size, 1);
    sim->wear = calloc(geom->block_count, sizeof(uint32_t));
    if (sim->mem == NULL || sim->programmed == NULL || sim->wear == NULL) {
        alfa_flash_sim_free(sim);
        return -1;
    }
    memset(sim->mem, geom->erased_value, total);
    return 0;
}

void alfa_flash_sim_free(alfa_flash_sim_t *sim)
{
    if (sim == NULL) {
        return;
    }
    free(sim->mem);
    free(sim->programmed);
    free(sim->wear);
    sim->mem = NULL;
    sim->programmed = NULL;
    sim->wear = NULL;
}

void alfa_flash_sim_port(alfa_flash_sim_t *sim, alfa_port_t *port)
{
    port->user = sim;
    port->flash_geom = &sim->geom;
    port->flash_read = alfa_flash_sim_read;
    port->flash_prog = alfa_flash_sim_prog;
    port->flash_erase = alfa_flash_sim_erase;
}

void alfa_flash_sim_load(alfa_flash_sim_t *sim, const uint8_t *data, size_t len)
{
    size_t total = (size_t)sim->geom.block_size * sim->geom.block_count;
    if (len > total) {
        len = total;
    }
    if (data != sim->mem) { /* loading the sim's own memory only recomputes the flags */
        memset(sim->mem, sim->geom.erased_value, total);
        if (len > 0u) {
            memcpy(sim->mem, data, len);
        }
    }
    size_t unit = sim->geom.prog_size;
    for (size_t u = 0; u < total / unit; u++) {
        uint8_t any = 0;
        for (size_t i = 0; i < unit; i++) {
            any |= (uint8_t)(sim->mem[u * unit + i] != sim->geom.erased_value);
        }
        sim->programmed[u] = any;
    }
}

void alfa_flash_sim_cut_at(alfa_flash_sim_t *sim, uint64_t nth, alfa_flash_cut_mode_t mode, uint32_t torn_units,
                           uint32_t seed)
{
    sim->cut_at_op = nth == 0u ? 0u : sim->ops + nth;
    sim->cut_mode = (uint8_t)mode;
    sim->torn_units = torn_units;
    sim->rng = seed | 1u;
    sim->cut_done = 0;
}

void alfa_flash_sim_power_on(alfa_flash_sim_t *sim)
{
    sim->dead = 0;
    sim->cut_done = 0;
    sim->cut_at_op = 0u;
}

int32_t alfa_flash_sim_read(void *user, uint32_t addr, void *buf, uint32_t len)
{
    alfa_flash_sim_t *sim = user;
    uint64_t total = (uint64_t)sim->geom.block_size * sim->geom.block_count;
    if (sim->dead) {
        return ALFA_PORT_E_IO;
    }
    if (buf == NULL || (uint64_t)addr + len > total) {
        sim->rule_breaks++;
        return ALFA_PORT_E_RANGE;
    }
    sim->reads++;
    memcpy(buf, sim->mem + addr, len);
    return ALFA_PORT_OK;
}

/* Count the operation; 1 when this one is the armed cut. */
static int sim_cut_now(alfa_flash_sim_t *sim)
{
    sim->ops++;
    if (sim->cut_at_op != 0u && sim->ops == sim->cut_at_op) {
        sim->dead = 1;
        sim->cut_done = 1;
        sim->cut_at_op = 0u;
        return 1;
    }
    return 0;
}

static void prog_unit(alfa_flash_sim_t *sim, uint32_t addr, const uint8_t *src)
{
    memcpy(sim->mem + addr, src, sim->geom.prog_size);
    sim->programmed[addr / sim->geom.prog_size] = 1;
}

int32_t alfa_flash_sim_prog(void *user, uint32_t addr, const void *buf, uint32_t len)
{
    alfa_flash_sim_t *sim = user;
    const alfa_flash_geom_t *g = &sim->geom;
    uint64_t total = (uint64_t)g->block_size * g->block_count;
    if (sim->dead) {
        return ALFA_PORT_E_IO;
    }
    if (buf == NULL || len == 0u || addr % g->prog_size != 0u || len % g->prog_size != 0u ||
        (uint64_t)addr + len > total) {
        sim->rule_breaks++;
        return ALFA_PORT_E_RANGE;
    }
    for (uint32_t u = addr / g->prog_size; u < (addr + len) / g->prog_size; u++) {
        if (sim->programmed[u]) {
            sim->rule_breaks++;
            return ALFA_PORT_E_REPROG;
        }
    }
    const uint8_t *src = buf;
    uint32_t units = len / g->prog_size;
    if (sim_cut_now(sim)) {
        uint32_t land = 0u;
        if (sim->cut_mode == ALFA_FLASH_CUT_AFTER) {
            land = units;
        } else if (sim->cut_mode != ALFA_FLASH_CUT_BEFORE) {
            land = sim->torn_units < units ? sim->torn_units : units;
        }
        for (uint32_t u = 0; u < land; u++) {
            prog_unit(sim, addr + u * g->prog_size, src + u * g->prog_size);
        }
        if (sim->cut_mode == ALFA_FLASH_CUT_GARBAGE && land < units) {
            uint32_t at = addr + land * g->prog_size;
            for (uint32_t i = 0; i < g->prog_size; i++) {
                sim->mem[at + i] = (uint8_t)sim_rand(sim);
            }
            sim->programmed[at / g->prog_size] = 1;
        }
        sim->progs++;
        sim->bytes_programmed += (uint64_t)land * g->prog_size;
        return ALFA_PORT_E_IO;
    }
    if (addr / g->block_size < 64u && (sim->bad_blocks >> (addr / g->block_size)) & 1u) {
        return ALFA_PORT_E_IO;
    }
    for (uint32_t u = 0; u < units; u++) {
        prog_unit(sim, addr + u * g->prog_size, src + u * g->prog_size);
    }
    sim->progs++;
    sim->bytes_programmed += len;
    return ALFA_PORT_OK;
}

static void erase_units(alfa_flash_sim_t *sim, uint32_t block, uint32_t units)
{
    const alfa_flash_geom_t *g = &sim->geom;
    uint32_t base = block * g->block_size;
    memset(sim->mem + base, g->erased_value, (size_t)units * g->prog_size);
    memset(sim->programmed + base / g->prog_size, 0, units);
}

int32_t alfa_flash_sim_erase(void *user, uint32_t block)
{
    alfa_flash_sim_t *sim = user;
    const alfa_flash_geom_t *g = &sim->geom;
    uint32_t units_per_block = g->block_size / g->prog_size;
    if (sim->dead) {
        return ALFA_PORT_E_IO;
    }
    if (block >= g->block_count) {
        sim->rule_breaks++;
        return ALFA_PORT_E_RANGE;
    }
    if (sim_cut_now(sim)) {
        if (sim->cut_mode == ALFA_FLASH_CUT_AFTER) {
            erase_units(sim, block, units_per_block);
        } else if (sim->cut_mode == ALFA_FLASH_CUT_TORN) {
            erase_units(sim, block, sim->torn_units < units_per_block ? sim->torn_units : units_per_block);
        } else if (sim->cut_mode == ALFA_FLASH_CUT_GARBAGE) {
            uint32_t base = block * g->block_size;
            for (uint32_t i = 0; i < g->block_size; i++) {
                sim->mem[base + i] = (uint8_t)sim_rand(sim);
            }
            memset(sim->programmed + base / g->prog_size, 1, units_per_block);
        }
        sim->erases++;
        sim->wear[block]++;
        return ALFA_PORT_E_IO;
    }
    if (block < 64u && (sim->bad_blocks >> block) & 1u) {
        return ALFA_PORT_E_IO;
    }
    erase_units(sim, block, units_per_block);
    sim->erases++;
    sim->wear[block]++;
    return ALFA_PORT_OK;
}
