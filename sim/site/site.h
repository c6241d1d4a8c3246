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
#define SIM_GATEWAY_SERIAL 0x0A1F00000001ull /* the simulated gateway's own serial (heartbeat) */
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
    uint64_t gw_tx_dropped;   /* frames of the gateway role the bus queue refused (each is repeated later) */
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

/* Facts of pack i for checks against the truth (the soak): the plant's side and the
 * controller's. Returns -1 for a bad index. */
typedef struct sim_pack_info {
    uint64_t serial;
    uint8_t powered;
    uint8_t booted;          /* the controller runs */
    uint8_t bus;             /* powered and linked to the CAN bus */
    uint64_t booted_us;      /* when the controller last started */
    uint64_t linked_us;      /* when it last joined the bus */
    uint8_t grid_closed;     /* the grid contact, as the plant has it */
    int64_t grid_import_mj;  /* the plant's truth: energy in through its grid input since the start */
    uint16_t bms_alarms;     /* alarm bits the BMS reports (injected and automatic) */
    uint8_t bms_answering;   /* the BMS answers cleanly (not silent, no line noise, true voltage) */
    /* the controller's view (booted only) */
    uint8_t why_grid;        /* alfa_why_t */
    uint32_t faults;
    uint8_t is_master;
    uint8_t node_id, master_id;
    uint16_t day;
    uint32_t grid_import_today_wh;
    uint8_t stored_busy;     /* the settings store holds a change not yet on flash */
} sim_pack_info_t;
int sim_site_pack_info(const sim_site_t *s, unsigned i, sim_pack_info_t *out);

/* The simulated gateway's wall clock (with time_shift corrections), and whether it runs. */
int64_t sim_site_gateway_unix_s(const sim_site_t *s);
int sim_site_gateway_on(const sim_site_t *s);

#endif
