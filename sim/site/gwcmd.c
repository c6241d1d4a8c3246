/* The simulated gateway's command translation: an MQTT-style command name + JSON to a CAN command. */
#include "gwcmd.h"

#include <stdio.h>
#include <string.h>

#include "alfa/gw_cmd.h"
#include "alfa/proto.h"

/* The real gateway's parser and validator (gateway/daemon/gw_cmd.c): same names, same JSON,
 * same refusals as an MQTT command. */
int sim_gwcmd_build(const char *name, const char *json, uint64_t serial, int64_t unix_s,
                    int16_t utc_offset_min, alfa_cmd_t *cmd, char *err, size_t errlen)
{
    char topic[96];
    gw_cmd_req_t req;
    if (serial) {
        char hex[GW_SERIAL_HEX + 1u];
        gw_serial_hex(serial, hex);
        snprintf(topic, sizeof(topic), "alfaspark/sim/pack/%s/cmd/%s", hex, name);
    } else {
        snprintf(topic, sizeof(topic), "alfaspark/sim/cmd/%s", name);
    }
    int rc = gw_cmd_parse("sim", topic, strlen(topic), json, strlen(json), &req);
    if (rc != 0) {
        snprintf(err, errlen, "the gateway refuses '%s': %s (%s)", name,
                 rc < 0 ? gw_result_name((gw_result_t)-rc) : "not a command", req.detail);
        return -1;
    }
    *cmd = req.cmd;
    if (cmd->code == ALFA_CMD_SET_TIME) {
        if (req.time_from_gateway) {
            cmd->u.set_time.unix_s = (uint32_t)unix_s;
        }
        if (req.offset_from_gateway) {
            cmd->u.set_time.utc_offset_min = utc_offset_min;
        }
    }
    return 0;
}
