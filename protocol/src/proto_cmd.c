/* Command codec: the command set of SPEC §8.6, its payload layouts, names and format checks. */
#include "alfa/proto.h"
#include "alfa/bytes.h"
#include "proto_internal.h"

/* Per-code facts, indexed by code; a NULL name marks an unused code. */
typedef struct cmd_info {
    const char *name;
    uint8_t payload_len;
} cmd_info_t;

static const cmd_info_t cmd_info[ALFA_CMD_CODE_MAX + 1u] = {
    [ALFA_CMD_SET_MODE] = {"set_mode", 2},
    [ALFA_CMD_SET_SC_THRESHOLDS] = {"set_sc_thresholds", 2},
    [ALFA_CMD_SET_ECO_LIMIT] = {"set_eco_limit", 4},
    [ALFA_CMD_SET_TOU_WINDOW] = {"set_tou_window", 6},
    [ALFA_CMD_SET_GRID_LIMIT] = {"set_grid_limit", 2},
    [ALFA_CMD_SET_RELAY_OVERRIDE] = {"set_relay_override", 2},
    [ALFA_CMD_SET_CALIBRATION] = {"set_calibration", 7},
    [ALFA_CMD_SET_TIME] = {"set_time", 6},
    [ALFA_CMD_IDENTIFY] = {"identify", 1},
    [ALFA_CMD_READ_SETTINGS] = {"read_settings", 0},
    [ALFA_CMD_REBOOT] = {"reboot", 0},
    [ALFA_CMD_FACTORY_RESET] = {"factory_reset", 4},
    [ALFA_CMD_SET_SETTING] = {"set_setting", 6},
};
_Static_assert(sizeof(cmd_info) / sizeof(cmd_info[0]) == ALFA_CMD_CODE_MAX + 1u, "command table");

int alfa_cmd_payload_len(uint8_t code)
{
    if (code > ALFA_CMD_CODE_MAX || cmd_info[code].name == 0) {
        return ALFA_PROTO_E_CMD;
    }
    return cmd_info[code].payload_len;
}

const char *alfa_cmd_name(uint8_t code)
{
    return code > ALFA_CMD_CODE_MAX ? 0 : cmd_info[code].name;
}

static int str_eq(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

int alfa_cmd_from_name(const char *name)
{
    if (name == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    for (uint8_t c = 0; c <= ALFA_CMD_CODE_MAX; c++) {
        if (cmd_info[c].name != 0 && str_eq(cmd_info[c].name, name)) {
            return c;
        }
    }
    return ALFA_PROTO_E_CMD;
}

/* Format checks shared by encode and decode: enum values, flags, indexes, time of day. */
static int cmd_fields_ok(const alfa_cmd_t *c)
{
    switch (c->code) {
    case ALFA_CMD_SET_MODE:
        return c->u.set_mode.mode >= ALFA_MODE_SELF_CONSUMPTION && c->u.set_mode.mode < ALFA_MODE_COUNT &&
               c->u.set_mode.on <= 1u;
    case ALFA_CMD_SET_TOU_WINDOW:
        return c->u.tou_window.index < 4u && c->u.tou_window.start_min < 1440u &&
               c->u.tou_window.end_min < 1440u && c->u.tou_window.enabled <= 1u;
    case ALFA_CMD_SET_GRID_LIMIT:
        return c->u.grid_limit.on <= 1u;
    case ALFA_CMD_SET_RELAY_OVERRIDE:
        return c->u.relay_override.relay < 4u && c->u.relay_override.override <= ALFA_OVR_CLOSED;
    case ALFA_CMD_SET_CALIBRATION:
        return c->u.calibration.ct < 4u;
    case ALFA_CMD_SET_TIME:
        return c->u.set_time.utc_offset_min >= ALFA_PROTO_UTC_OFFSET_MIN &&
               c->u.set_time.utc_offset_min <= ALFA_PROTO_UTC_OFFSET_MAX;
    default:
        return 1;
    }
}

int alfa_proto_cmd_encode(const alfa_cmd_t *cmd, alfa_can_frame_t *frame)
{
    if (cmd == 0 || frame == 0 || !alfa_proto_valid_src(cmd->src) || cmd->dst == 0 ||
        cmd->dst > ALFA_NODE_BROADCAST) {
        return ALFA_PROTO_E_INVAL;
    }
    int len = alfa_cmd_payload_len(cmd->code);
    if (len < 0) {
        return len;
    }
    if (!cmd_fields_ok(cmd)) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(frame, ALFA_PROTO_ID(ALFA_CLS_CMD, cmd->dst, cmd->code, cmd->src),
                          (uint8_t)(1 + len));
    uint8_t *p = &frame->data[1];
    frame->data[0] = cmd->seq;
    switch (cmd->code) {
    case ALFA_CMD_SET_MODE:
        p[0] = cmd->u.set_mode.mode;
        p[1] = cmd->u.set_mode.on;
        break;
    case ALFA_CMD_SET_SC_THRESHOLDS:
        p[0] = cmd->u.sc_thresholds.low_pct;
        p[1] = cmd->u.sc_thresholds.high_pct;
        break;
    case ALFA_CMD_SET_ECO_LIMIT:
        alfa_put_le32(p, cmd->u.eco_limit.limit_w);
        break;
    case ALFA_CMD_SET_TOU_WINDOW:
        p[0] = cmd->u.tou_window.index;
        alfa_put_le16(&p[1], cmd->u.tou_window.start_min);
        alfa_put_le16(&p[3], cmd->u.tou_window.end_min);
        p[5] = cmd->u.tou_window.enabled;
        break;
    case ALFA_CMD_SET_GRID_LIMIT:
        p[0] = cmd->u.grid_limit.on;
        p[1] = cmd->u.grid_limit.limit_kwh;
        break;
    case ALFA_CMD_SET_RELAY_OVERRIDE:
        p[0] = cmd->u.relay_override.relay;
        p[1] = cmd->u.relay_override.override;
        break;
    case ALFA_CMD_SET_CALIBRATION:
        p[0] = cmd->u.calibration.ct;
        alfa_put_le32(&p[1], cmd->u.calibration.gain_ua);
        alfa_put_le16(&p[5], (uint16_t)cmd->u.calibration.offset_ma);
        break;
    case ALFA_CMD_SET_TIME:
        alfa_put_le32(p, cmd->u.set_time.unix_s);
        alfa_put_le16(&p[4], (uint16_t)cmd->u.set_time.utc_offset_min);
        break;
    case ALFA_CMD_IDENTIFY:
        p[0] = cmd->u.identify.seconds;
        break;
    case ALFA_CMD_FACTORY_RESET:
        alfa_put_le32(p, cmd->u.factory_reset.confirm);
        break;
    case ALFA_CMD_SET_SETTING:
        alfa_put_le16(p, cmd->u.set_setting.id);
        alfa_put_le32(&p[2], (uint32_t)cmd->u.set_setting.value);
        break;
    default: /* READ_SETTINGS, REBOOT: no payload */
        break;
    }
    return ALFA_PROTO_OK;
}

int alfa_proto_cmd_envelope(const alfa_can_frame_t *frame, alfa_cmd_t *env,
                            uint8_t payload[ALFA_CMD_PAYLOAD_MAX], uint8_t *payload_len)
{
    if (env == 0 || payload == 0 || payload_len == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    int cls = alfa_proto_classify(frame);
    if (cls < 0) {
        return cls;
    }
    if (cls != ALFA_CLS_CMD || !alfa_proto_valid_src(ALFA_PROTO_ID_SRC(frame->id)) ||
        ALFA_PROTO_ID_DST(frame->id) == ALFA_NODE_UNASSIGNED) {
        return ALFA_PROTO_E_ID;
    }
    if (frame->len < 1u) {
        return ALFA_PROTO_E_LEN;
    }
    alfa_memset(env, 0, sizeof(*env));
    env->code = ALFA_PROTO_ID_AUX(frame->id);
    env->dst = ALFA_PROTO_ID_DST(frame->id);
    env->src = ALFA_PROTO_ID_SRC(frame->id);
    env->seq = frame->data[0];
    *payload_len = (uint8_t)(frame->len - 1u);
    alfa_memcpy(payload, &frame->data[1], *payload_len);
    return ALFA_PROTO_OK;
}

int alfa_proto_cmd_decode(const alfa_can_frame_t *frame, alfa_cmd_t *cmd)
{
    if (cmd == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    alfa_cmd_t c;
    uint8_t p[ALFA_CMD_PAYLOAD_MAX];
    uint8_t plen = 0;
    int rc = alfa_proto_cmd_envelope(frame, &c, p, &plen);
    if (rc < 0) {
        return rc;
    }
    int want = alfa_cmd_payload_len(c.code);
    if (want < 0) {
        return want;
    }
    if (plen != (uint8_t)want) {
        return ALFA_PROTO_E_LEN;
    }
    switch (c.code) {
    case ALFA_CMD_SET_MODE:
        c.u.set_mode.mode = p[0];
        c.u.set_mode.on = p[1];
        break;
    case ALFA_CMD_SET_SC_THRESHOLDS:
        c.u.sc_thresholds.low_pct = p[0];
        c.u.sc_thresholds.high_pct = p[1];
        break;
    case ALFA_CMD_SET_ECO_LIMIT:
        c.u.eco_limit.limit_w = alfa_get_le32(p);
        break;
    case ALFA_CMD_SET_TOU_WINDOW:
        c.u.tou_window.index = p[0];
        c.u.tou_window.start_min = alfa_get_le16(&p[1]);
        c.u.tou_window.end_min = alfa_get_le16(&p[3]);
        c.u.tou_window.enabled = p[5];
        break;
    case ALFA_CMD_SET_GRID_LIMIT:
        c.u.grid_limit.on = p[0];
        c.u.grid_limit.limit_kwh = p[1];
        break;
    case ALFA_CMD_SET_RELAY_OVERRIDE:
        c.u.relay_override.relay = p[0];
        c.u.relay_override.override = p[1];
        break;
    case ALFA_CMD_SET_CALIBRATION:
        c.u.calibration.ct = p[0];
        c.u.calibration.gain_ua = alfa_get_le32(&p[1]);
        c.u.calibration.offset_ma = (int16_t)alfa_get_le16(&p[5]);
        break;
    case ALFA_CMD_SET_TIME:
        c.u.set_time.unix_s = alfa_get_le32(p);
        c.u.set_time.utc_offset_min = (int16_t)alfa_get_le16(&p[4]);
        break;
    case ALFA_CMD_IDENTIFY:
        c.u.identify.seconds = p[0];
        break;
    case ALFA_CMD_FACTORY_RESET:
        c.u.factory_reset.confirm = alfa_get_le32(p);
        break;
    case ALFA_CMD_SET_SETTING:
        c.u.set_setting.id = alfa_get_le16(p);
        c.u.set_setting.value = (int32_t)alfa_get_le32(&p[2]);
        break;
    default:
        break;
    }
    if (!cmd_fields_ok(&c)) {
        return ALFA_PROTO_E_RANGE;
    }
    *cmd = c;
    return ALFA_PROTO_OK;
}
