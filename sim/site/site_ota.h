/* The simulated site's firmware-update side: the keys the simulated packs trust, the scenario's
 * signed images, and the gateway role's update sender (the gateway daemon's own gw_ota) with a
 * small in-memory "state directory" so that a simulated gateway restart resumes the session. */
#ifndef SIM_SITE_OTA_H
#define SIM_SITE_OTA_H

#include <stdint.h>

#include "alfa/canbus.h"
#include "alfa/scenario.h"
#include "site.h"

typedef struct sim_ota sim_ota_t;

/* Trusted keys: the compiled-in ones, the --ota-pub files, the simulator's test key; then the
 * scenario's images are made. NULL with a message on stderr on failure. */
sim_ota_t *sim_ota_new(const alfa_scn_t *scn, const sim_options_t *opt);
void sim_ota_free(sim_ota_t *o);

/* The bus node the sender talks on (attached after the packs, so node order stays as before). */
void sim_ota_attach(sim_ota_t *o, alfa_canbus_node_t *gw);

/* The slot simulator's signature check (ctx = the sim_ota_t): any trusted key. */
int32_t sim_ota_verify(void *ctx, const uint8_t digest[32], const uint8_t sig[64]);

/* A frame the gateway role received; the sender's timers. Times in simulated microseconds. */
void sim_ota_on_can(sim_ota_t *o, const alfa_can_frame_t *f, uint64_t t_us);
void sim_ota_process(sim_ota_t *o, uint64_t t_us);

/* Scenario actions: start image `a->name` (to `serial`, or every pack online when 0; a->value =
 * force), cancel, restart the gateway process. 0, or -1 with a message on stderr. */
int sim_ota_start(sim_ota_t *o, const alfa_scn_action_t *a, uint64_t serial, uint64_t t_us);
int sim_ota_cancel(sim_ota_t *o, const alfa_scn_action_t *a, uint64_t t_us);
int sim_ota_gateway_restart(sim_ota_t *o, uint64_t t_us);

#endif
