/* A site of N real packs (the whole pack but its BMS line) on the timed bus, plus a tool node: for tests, bench and fuzz. */
#ifndef ALFA_CANSITE_H
#define ALFA_CANSITE_H

/*
 * Each pack is a real `alfa_pack_t` (core, settings store, CAN duties) with its own alfa_port_t
 * whose CAN callbacks reach an `alfa_canbus_node_t`, whose clock is the bus's simulated clock and
 * whose flash is a RAM region that survives a simulated reboot (the node ID and every setting are
 * persisted by the real settings store, with its 2-s quiet period). A "tool" node (the Linux
 * gateway's place, ID 126) lets a test send commands and read everything on the bus. BMS readings
 * are synthetic (a pack voltage per pack, handed in through the pack's BMS seam every 2 s) so SOC
 * and battery power are meaningful. Deterministic.
 *
 * The structure is large (32 packs with their cores and nodes): allocate it (calloc).
 */

#include <stdint.h>
#include "alfa/canbus.h"
#include "alfa/pack.h"

#define ALFA_CANSITE_MAX_PACKS 40u
#define ALFA_CANSITE_STEP_US 1000u /* packs are processed every simulated millisecond */
#define ALFA_CANSITE_FLASH_BLOCK 1024u
#define ALFA_CANSITE_FLASH_BLOCKS 3u

typedef struct alfa_cansite alfa_cansite_t;

typedef struct alfa_cansite_pack {
    alfa_cansite_t *site;
    uint32_t index;
    uint64_t serial;
    uint8_t device_type;
    int powered;
    alfa_port_t port;
    alfa_pack_t pack;
    alfa_canbus_node_t *can;
    alfa_flash_geom_t geom;
    uint8_t flash[ALFA_CANSITE_FLASH_BLOCK * ALFA_CANSITE_FLASH_BLOCKS]; /* survives reboots */
    uint32_t flash_writes;       /* flash programs (the store writes only on change) */
    uint32_t reboots;            /* port->reboot calls carried out */
    int reboot_req;
    uint32_t v_pack_mv;          /* synthetic BMS reading */
    int32_t i_batt_ma;
    uint32_t next_bms_ms;
} alfa_cansite_pack_t;

struct alfa_cansite {
    alfa_canbus_t bus;
    alfa_cansite_pack_t packs[ALFA_CANSITE_MAX_PACKS];
    uint32_t n_packs;
    alfa_canbus_node_t *tool;    /* test/gateway access to the bus (sends as ID 126) */
    uint8_t tool_seq;
};

/* Empty site at time 0. */
void alfa_cansite_init(alfa_cansite_t *s, uint64_t seed);
/* Add and power up a pack with `serial` and a stored node ID (0 = first boot: blank flash).
 * NULL when full. */
alfa_cansite_pack_t *alfa_cansite_add_pack(alfa_cansite_t *s, uint64_t serial, uint8_t stored_node_id);
/* Same for another device type running node.c (ALFA_DEV_ENERGY_GATEWAY). */
alfa_cansite_pack_t *alfa_cansite_add_device(alfa_cansite_t *s, uint64_t serial, uint8_t stored_node_id,
                                             uint8_t device_type);
/* The node ID in the pack's stored settings (0 when none). */
uint8_t alfa_cansite_stored_node_id(alfa_cansite_pack_t *p);
/* Write a node ID into the pack's stored settings (as if flashed while it was off). */
void alfa_cansite_store_node_id(alfa_cansite_pack_t *p, uint8_t node_id);
/* Restart a pack as after a power cycle: RAM lost, flash kept. */
void alfa_cansite_reboot(alfa_cansite_pack_t *p);
/* Run the whole site for `ms` simulated milliseconds. */
void alfa_cansite_run_ms(alfa_cansite_t *s, uint32_t ms);
/* Current simulated time. */
uint32_t alfa_cansite_now_ms(const alfa_cansite_t *s);
/* Queue a command from the tool node (src 126) with the next sequence number; returns the
 * sequence number used, or a negative alfa_proto_err_t when it cannot be encoded. */
int alfa_cansite_command(alfa_cansite_t *s, alfa_cmd_t *cmd);
/* Queue a raw frame from the tool node. */
int32_t alfa_cansite_tool_send(alfa_cansite_t *s, const alfa_can_frame_t *f);
/* Number of packs whose node currently says it is master. */
uint32_t alfa_cansite_masters(const alfa_cansite_t *s);

#endif
