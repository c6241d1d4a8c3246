/* A site for firmware-update tests and benchmarks: N real packs with firmware slots on the timed bus, and the real update sender. */
#ifndef ALFA_OTASITE_H
#define ALFA_OTASITE_H

/*
 * Each pack is a whole alfa_pack_t (core, settings store on a flash simulator, BMS poller talking
 * Modbus RTU to a BMS model, CAN node, firmware update module) with two firmware slots on the
 * slot simulator (port/test, slot_sim.h: flash rules, an ESP-IDF-like bootloader with rollback).
 * The gateway's place (node 126) runs the real sender (gw_ota.h) with a transmit queue on the
 * bus model, a heartbeat every second, and commands whose acknowledgement latency is measured.
 * Everything is processed every simulated millisecond; deterministic for a seed.
 *
 * Failure injection: each pack drops a share of the update frames it receives (independently,
 * `loss_ppm`), loses power and gets it back, or fails its self-test (its BMS goes silent while it
 * runs an unconfirmed image: a new image that cannot talk to the BMS).
 */

#include <stddef.h>
#include <stdint.h>

#include "alfa/canbus.h"
#include "alfa/gw_ota.h"
#include "alfa/pack.h"
#include "alfa/slot_sim.h"

#define OTA_SITE_MAX_PACKS 40u

typedef struct ota_site_cfg {
    uint32_t packs;
    alfa_slot_geom_t geom;           /* every pack's slots */
    uint32_t loss_ppm;               /* update frames each pack drops, parts per million */
    uint64_t seed;
    const uint8_t (*keys)[65];       /* public keys the packs trust */
    size_t nkeys;
    gw_ota_cfg_t gw;                 /* the sender's configuration */
    const uint8_t *factory_image;    /* written into slot 0 of every pack (NULL: a blank factory slot) */
    uint32_t factory_len;
} ota_site_cfg_t;

typedef struct ota_site ota_site_t;

ota_site_t *ota_site_new(const ota_site_cfg_t *cfg);
void ota_site_free(ota_site_t *s);

void ota_site_run_ms(ota_site_t *s, uint32_t ms);
uint32_t ota_site_now_ms(const ota_site_t *s);
gw_ota_t *ota_site_gw(ota_site_t *s);
alfa_canbus_t *ota_site_bus(ota_site_t *s);
uint32_t ota_site_packs(const ota_site_t *s);
uint64_t ota_site_serial(const ota_site_t *s, uint32_t i);
/* The pack controller (NULL while it has no power). */
const alfa_pack_t *ota_site_pack(const ota_site_t *s, uint32_t i);
alfa_slot_sim_t *ota_site_slots(ota_site_t *s, uint32_t i);
/* The version the pack reports (its core's). */
alfa_fw_version_t ota_site_version(const ota_site_t *s, uint32_t i);

void ota_site_power(ota_site_t *s, uint32_t i, int on);
void ota_site_loss(ota_site_t *s, uint32_t i, uint32_t ppm);
void ota_site_selftest_fail(ota_site_t *s, uint32_t i, int on);
/* Restart the gateway's sender: a new gw_ota on the same bus, restored from its saved session. */
int ota_site_gateway_restart(ota_site_t *s);

/* Queue a command from the gateway (identify 0 s) to pack i, or to every pack (i = UINT32_MAX);
 * its acknowledgement latency (to the last ack of a broadcast) is recorded. */
void ota_site_command(ota_site_t *s, uint32_t i);
/* Latencies of the commands acknowledged so far, in microseconds. */
size_t ota_site_latencies(const ota_site_t *s, const uint32_t **us);

/* Raw access at the gateway's place, for tests that speak the protocol themselves: send a frame
 * from node 126, and see every frame the gateway's node receives (before the sender does). */
int32_t ota_site_send(ota_site_t *s, const alfa_can_frame_t *f);
void ota_site_tap(ota_site_t *s, void (*fn)(void *ctx, const alfa_can_frame_t *f), void *ctx);

typedef struct ota_site_stats {
    uint64_t frames_lost;            /* update frames the packs dropped on purpose */
    uint64_t update_frames, update_bytes; /* every update frame on the wire (both directions): count, data bytes */
    uint64_t busy_us;                /* wire time of every frame */
    uint64_t update_busy_us;         /* wire time of update frames */
    uint64_t gw_hb_lost;             /* gateway heartbeats its full queue refused (the next one
                                      * a second later says the same) */
} ota_site_stats_t;
const ota_site_stats_t *ota_site_stats(const ota_site_t *s);

#endif
