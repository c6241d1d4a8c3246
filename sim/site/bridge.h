/* The SLCAN pseudo-terminal bridge: a real gateway attaches to the simulated CAN bus through it. */
#ifndef SIM_BRIDGE_H
#define SIM_BRIDGE_H

#include <stdio.h>

#include "alfa/canbus.h"

typedef struct sim_bridge sim_bridge_t;

/* Create a pty that behaves like a USB SLCAN adapter (CANable/USBtin) plugged into `bus`:
 * it answers O/C/Sn/F/V/N, forwards 't'/'T' lines onto the bus (except time frames: the site
 * keeps simulated time), and writes every frame the bus carries as a 'T' line while the channel
 * is open (except the simulated gateway role's own frames). NULL with a message on failure. */
sim_bridge_t *sim_bridge_new(alfa_canbus_t *bus);
/* Path of the pty's slave side (/dev/pts/N), to give to alfaspark-gateway. */
const char *sim_bridge_path(const sim_bridge_t *b);
/* Move bytes both ways without blocking; call once per simulation step. */
void sim_bridge_pump(sim_bridge_t *b);
/* One line of counters (frames each way, time frames dropped) to `f`. */
void sim_bridge_summary(const sim_bridge_t *b, FILE *f);
void sim_bridge_free(sim_bridge_t *b);

#endif
