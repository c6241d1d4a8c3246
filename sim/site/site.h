/* The simulated site: N pack controllers, their BMSs, the CAN bus, the plant and a gateway role. */
#ifndef SIM_SITE_H
#define SIM_SITE_H

/*
 * One process, one simulated clock (microseconds), one fixed step. Each step:
 *   1. the plant advances (relay contacts from the packs' coils, sun, loads, batteries);
 *   2. each BMS model gets the plant's values; its answer bytes due by now are handed to the
 *      pack's serial port (whole frames, see docs/simulator.md), with injected line noise;
 *   3. every powered pack runs its controller, one alfa_pack_t (core + settings store + BMS
 *      poller + CAN node), exactly as the ESP32 and the Linux daemon do;
 *   4. the CAN bus advances to now, then the simulated gateway reads the bus (heartbeats, acks,
 *      site totals, import requests) and sends time (every 60 s) and scenario commands.
 * Every port callback of every pack is answered here (site.c); docs/simulator.md describes them.
 */

#include <stdint.h>
#include <stdio.h>

#include "alfa/canbus.h"
#include "alfa/plant.h"
#include "alfa/scenario.h"

#define SIM_ADC_RATE_HZ 4000u
#define SIM_ADC_BLOCK 800u          /* 200 ms at 4 kHz */
#define SIM_SERIAL_BUF 512u
#define SIM_FLASH_BLOCK 4096u
#define SIM_FLASH_BLOCKS 4u
#define SIM_GATEWAY_TIME_MS 60000u
#define SIM_MAX_PACKS (ALFA_CANBUS_MAX_NODES - 2u) /* the gateway and the pty bridge take a node each */
#define SIM_SLOT_SECTOR 4096u
#define SIM_SLOT_SIZE (65u * SIM_SLOT_SECTOR)    /* firmware slots: images up to 256 KiB + the trailer */

typedef struct sim_site sim_site_t;
typedef struct sim_pack sim_pack_t;

typedef struct sim_options {
    uint64_t seed;
    uint8_t seed_given;
    uint8_t packs;            /* 0: as the scenario says */
    uint32_t step_us;         /* 0: as the scenario says */
    uint8_t gateway_sim;      /* 1: the simulated gateway sends time and commands */
    uint8_t real_gateway;     /* 1: a real gateway is attached (pty): it answers import requests */
    uint32_t adc_noise_counts; /* amplitude of uniform ADC noise (0 = none; costs speed) */
    uint8_t ota_slots;        /* give the packs firmware slots even without an `ota image` (--ota-slots) */
    const char *ota_pub[8];   /* extra PUB.pem files the packs trust (--ota-pub) */
    uint8_t n_ota_pub;
} sim_options_t;

typedef struct sim_stats {
    uint64_t steps;
    uint64_t bms_polls, bms_failures;
    uint64_t cmds_sent, acks;
    uint64_t reboots;
} sim_stats_t;

/* Create a site for scenario `scn` (borrowed; it must outlive the site). Returns NULL with a
 * message on stderr when something cannot be built (too many packs, a controller refused its
 * configuration). */
sim_site_t *sim_site_new(const alfa_scn_t *scn, const sim_options_t *opt);
void sim_site_free(sim_site_t *s);

/* Simulated time since the start, in microseconds / milliseconds. */
uint64_t sim_site_now_us(const sim_site_t *s);

/* Carry out one scenario action now. Returns 0, or -1 with a message on stderr. */
int sim_site_apply(sim_site_t *s, const alfa_scn_action_t *a);

/* Advance one step. */
void sim_site_step(sim_site_t *s);

/* What the scenario engine sees now (valid until the next step). */
const alfa_scn_obs_t *sim_site_observe(sim_site_t *s);

/* 1 when pack i completed a new telemetry cycle during the last step. */
int sim_site_new_cycle(const sim_site_t *s, unsigned i);

/* Write every pack's telemetry of every cycle to `f` as CSV (header first). NULL stops. */
void sim_site_trace(sim_site_t *s, FILE *f);

/* The bus, for attaching extra nodes (the SLCAN pty bridge). */
alfa_canbus_t *sim_site_bus(sim_site_t *s);

/* The plant (read only), for live views. */
const alfa_plant_t *sim_site_plant(const sim_site_t *s);

const sim_stats_t *sim_site_stats(const sim_site_t *s);

#endif
