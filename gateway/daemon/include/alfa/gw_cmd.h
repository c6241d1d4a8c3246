/* The gateway's MQTT command parser: topic + JSON payload -> a validated CAN command, or a reason. */
#ifndef ALFA_GW_CMD_H
#define ALFA_GW_CMD_H

/*
 * Topics (SPEC.md §9), under "alfaspark/<site>/":
 *   cmd/<command>                  every pack
 *   pack/<serial>/cmd/<command>    one pack (serial = 12 hex digits, the 48-bit hardware serial)
 * <command> is a name of the protocol's command table (alfa_cmd_name: "set_mode", "reboot"...).
 * Payload: one JSON object; "id" (string or integer, echoed in the result) and "client" (string,
 * the rate-limit key) are optional in every command; the other members are the command's fields
 * (docs/protocol.md, "MQTT topics"). Unknown members are refused, so a typo never silently
 * becomes a default.
 *
 * Validation is complete before anything reaches CAN: JSON syntax, command name, member types,
 * and ranges, taken from the shared settings table (alfa/settings.h) and the protocol's format
 * limits, never restated here. The parser is pure (no I/O, no allocation, no state).
 */

#include <stddef.h>
#include <stdint.h>

#include "alfa/proto.h"

/* Results published on cmd/result. Gateway-side refusals and the packs' ack results share one
 * name space; the numbers are internal (only the names travel). */
typedef enum gw_result {
    GW_R_OK = 0,
    GW_R_UNKNOWN_COMMAND,  /* no such command name (or a pack answered unknown_command) */
    GW_R_BAD_LENGTH,       /* pack ack */
    GW_R_OUT_OF_RANGE,     /* a value outside its allowed range */
    GW_R_NOT_ALLOWED,      /* pack ack, or a command the gateway never forwards */
    GW_R_FAILED,           /* pack ack */
    GW_R_TIMEOUT,          /* the pack did not acknowledge within the timeout */
    GW_R_INVALID_JSON,     /* payload is not a JSON object */
    GW_R_BAD_VALUE,        /* a member is missing, of the wrong type, or unknown */
    GW_R_UNKNOWN_PACK,     /* no pack with that serial on the bus */
    GW_R_RATE_LIMITED,     /* the client (or the whole site) sent commands too fast */
    GW_R_BUSY,             /* too many commands waiting for acknowledgements */
    GW_R_NO_PACKS,         /* a command to all packs while no pack is online */
    GW_R_BUS_ERROR,        /* the CAN interface refused the frame */
    GW_R_COUNT
} gw_result_t;

/* Lower-case name of a result ("ok", "timeout", "invalid_json"...), never NULL. */
const char *gw_result_name(gw_result_t r);
/* The gateway result for a pack's ack result byte (alfa_ack_result_t). */
gw_result_t gw_result_from_ack(uint8_t ack_result);

#define GW_SERIAL_HEX 12u
#define GW_ID_MAX 64u      /* longest "id" echoed (JSON text) */
#define GW_CLIENT_MAX 32u
#define GW_DETAIL_MAX 120u

typedef struct gw_cmd_req {
    /* filled as far as parsing got, so even a refusal can name its id and pack */
    int for_pack;                 /* 1: pack/<serial>/cmd/..., 0: cmd/... (all packs) */
    uint64_t serial;              /* for_pack: the pack's serial */
    char serial_hex[GW_SERIAL_HEX + 1u];
    char name[24];                /* command name from the topic */
    char id_json[GW_ID_MAX + 1u]; /* "id" as JSON text ("null" when absent) */
    char client[GW_CLIENT_MAX + 1u]; /* "client" or "" */
    char detail[GW_DETAIL_MAX];   /* why a refusal happened, for people */
    /* valid on success */
    alfa_cmd_t cmd;               /* code and payload; seq/src/dst are set by the sender */
    int time_from_gateway;        /* set_time without unix_s: use the gateway's clock */
    int offset_from_gateway;      /* set_time without utc_offset_min */
} gw_cmd_req_t;

#define GW_CMD_NOT_A_COMMAND 1    /* topic is not a command topic of this site (e.g. cmd/result) */

/* Parse and validate. `site` is the site name; topic/payload need no terminator. Returns 0 with
 * req->cmd ready, GW_CMD_NOT_A_COMMAND (ignore the message, publish nothing), or the negated
 * gw_result_t of the refusal with req->detail saying why. */
int gw_cmd_parse(const char *site, const char *topic, size_t topic_len, const char *payload,
                 size_t payload_len, gw_cmd_req_t *req);

/* Format a serial as 12 lower-case hex digits into out[13]. */
void gw_serial_hex(uint64_t serial, char out[GW_SERIAL_HEX + 1u]);

/* Names of modes ("none", "self_consumption", "eco", "tou", "backup"), relays ("grid",
 * "inverter", "pool", "heater"), overrides ("auto", "open", "closed"), faults and warnings
 * (snake_case of alfa_fault_bit_t / alfa_warning_bit_t). NULL for out-of-range values. */
const char *gw_mode_name(uint32_t mode);
const char *gw_relay_name(uint32_t relay);
const char *gw_override_name(uint32_t ovr);
const char *gw_fault_name(uint32_t bit);
const char *gw_warning_name(uint32_t bit);

#endif
