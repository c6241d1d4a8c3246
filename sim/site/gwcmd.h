/* Command translation of the simulated gateway: command name + JSON payload -> alfa_cmd_t. */
#ifndef SIM_GWCMD_H
#define SIM_GWCMD_H

#include <stddef.h>
#include <stdint.h>

#include "alfa/proto.h"

/* Build the CAN command `name` (alfa_cmd_name spelling, the MQTT topic's last level) from its
 * JSON payload exactly as the gateway does for cmd/<name> (serial 0) or pack/<serial>/cmd/<name>:
 * with the gateway's own parser (gateway/daemon/gw_cmd.c), its validation and its refusals.
 * set_time without "unix_s"/"utc_offset_min" takes the given (simulated) gateway clock. Only code
 * and payload are filled; the caller sets seq, src and dst. Returns 0, or -1 with a message. */
int sim_gwcmd_build(const char *name, const char *json, uint64_t serial, int64_t unix_s,
                    int16_t utc_offset_min, alfa_cmd_t *cmd, char *err, size_t errlen);

#endif
