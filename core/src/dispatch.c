/* Commands on CAN: the const dispatch table, duplicate detection, acknowledgements, read-settings answers and reboots. */
#include "alfa/dispatch.h"
#include "alfa/bytes.h"

static bool due(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }

alfa_err_t alfa_dispatch_init(alfa_dispatch_t *d, alfa_node_t *node, alfa_core_t *core, const alfa_port_t *port)
{
    if (d == 0 || node == 0 || core == 0 || port == 0) {
        return ALFA_E_INVAL;
    }
    alfa_memset(d, 0, sizeof(*d));
    d->node = node;
    d->core = core;
    d->port = port;
    return ALFA_OK;
}

bool alfa_dispatch_reboot_pending(const alfa_dispatch_t *d) { return d->reboot_pending != 0; }

static void send_ack(alfa_dispatch_t *d, uint8_t dst, uint8_t code, uint8_t seq, uint8_t result)
{
    alfa_ack_t a = {.src = alfa_node_id(d->node), .dst = dst, .code = code, .seq = seq, .result = result};
    alfa_can_frame_t f;
    if (alfa_proto_ack_encode(&a, &f) != 0 || alfa_node_send(d->node, &f) < 0) {
        d->stats.ack_fail++; /* the sender times out and may repeat: the duplicate rule answers */
    }
}

static uint8_t ack_from_err(alfa_err_t rc)
{
    switch (rc) {
    case ALFA_OK: return ALFA_ACK_OK;
    case ALFA_E_RANGE:
    case ALFA_E_NOENT:
    case ALFA_E_INVAL: return ALFA_ACK_OUT_OF_RANGE;
    case ALFA_E_STATE:
    case ALFA_E_BUSY: return ALFA_ACK_NOT_ALLOWED;
    default: return ALFA_ACK_FAILED;
    }
}

/* Several settings as one change, through the core's one commit. */
static uint8_t change(alfa_dispatch_t *d, const uint16_t *ids, const int32_t *values, uint32_t n)
{
    return ack_from_err(alfa_core_settings_change(d->core, ids, values, n, 0));
}

static uint8_t h_set_mode(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    return ack_from_err(alfa_core_set_mode(d->core, c->u.set_mode.mode, c->u.set_mode.on != 0));
}

static uint8_t h_sc_thresholds(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    const uint16_t ids[] = {ALFA_SET_SC_LOW_PCT, ALFA_SET_SC_HIGH_PCT};
    const int32_t v[] = {c->u.sc_thresholds.low_pct, c->u.sc_thresholds.high_pct};
    return change(d, ids, v, 2u);
}

static uint8_t h_eco_limit(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    if (c->u.eco_limit.limit_w > (uint32_t)INT32_MAX) {
        return ALFA_ACK_OUT_OF_RANGE;
    }
    const uint16_t ids[] = {ALFA_SET_ECO_LIMIT_W};
    const int32_t v[] = {(int32_t)c->u.eco_limit.limit_w};
    return change(d, ids, v, 1u);
}

static uint8_t h_tou_window(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    /* A window's three settings are consecutive ids (enabled, start, end), per window. */
    uint16_t base = (uint16_t)(ALFA_SET_TOU0_ENABLED + 3u * (uint32_t)c->u.tou_window.index);
    const uint16_t ids[] = {base, (uint16_t)(base + 1u), (uint16_t)(base + 2u)};
    const int32_t v[] = {c->u.tou_window.enabled, c->u.tou_window.start_min, c->u.tou_window.end_min};
    return change(d, ids, v, 3u);
}

static uint8_t h_grid_limit(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    const uint16_t ids[] = {ALFA_SET_GRID_LIMIT_ON, ALFA_SET_GRID_LIMIT_KWH};
    const int32_t v[] = {c->u.grid_limit.on, c->u.grid_limit.limit_kwh};
    /* "off" may come without a limit (0): the stored kWh is kept for the next "on". */
    uint32_t n = (c->u.grid_limit.on != 0 || c->u.grid_limit.limit_kwh != 0) ? 2u : 1u;
    return change(d, ids, v, n);
}

static uint8_t h_relay_override(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    const uint16_t ids[] = {(uint16_t)(ALFA_SET_OVR_GRID + (uint32_t)c->u.relay_override.relay)};
    const int32_t v[] = {c->u.relay_override.override};
    return change(d, ids, v, 1u);
}

static uint8_t h_calibration(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    if (c->u.calibration.gain_ua > (uint32_t)INT32_MAX) {
        return ALFA_ACK_OUT_OF_RANGE;
    }
    /* Per CT: gain then offset, consecutive ids. */
    uint16_t base = (uint16_t)(ALFA_SET_CT_GRID_GAIN_UA + 2u * (uint32_t)c->u.calibration.ct);
    const uint16_t ids[] = {base, (uint16_t)(base + 1u)};
    const int32_t v[] = {(int32_t)c->u.calibration.gain_ua, c->u.calibration.offset_ma};
    return change(d, ids, v, 2u);
}

static uint8_t h_set_time(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    return ack_from_err(alfa_core_set_time(d->core, (int64_t)c->u.set_time.unix_s, c->u.set_time.utc_offset_min));
}

static uint8_t h_identify(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    alfa_core_identify(d->core, c->u.identify.seconds);
    return ALFA_ACK_OK;
}

static uint8_t h_read_settings(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    d->rs_active = 1;
    d->rs_dst = c->src;
    d->rs_seq = c->seq;
    d->rs_next = 0;
    return ALFA_ACK_OK;
}

static uint8_t schedule_reboot(alfa_dispatch_t *d)
{
    d->reboot_pending = 1;
    d->reboot_at_ms = d->now_ms + ALFA_DISPATCH_REBOOT_DELAY_MS;
    return ALFA_ACK_OK;
}

static uint8_t h_reboot(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    (void)c;
    return d->port->reboot == 0 ? (uint8_t)ALFA_ACK_FAILED : schedule_reboot(d);
}

static uint8_t h_factory_reset(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    if (c->u.factory_reset.confirm != ALFA_FACTORY_RESET_CODE) {
        return ALFA_ACK_NOT_ALLOWED;
    }
    alfa_core_factory_reset(d->core);
    return d->port->reboot == 0 ? (uint8_t)ALFA_ACK_OK : schedule_reboot(d);
}

static uint8_t h_set_setting(alfa_dispatch_t *d, const alfa_cmd_t *c)
{
    if (c->u.set_setting.id == ALFA_SET_NODE_ID) {
        return ALFA_ACK_NOT_ALLOWED; /* node IDs are claimed on the bus, never set from outside */
    }
    const uint16_t ids[] = {c->u.set_setting.id};
    const int32_t v[] = {c->u.set_setting.value};
    return change(d, ids, v, 1u);
}

#define FROM_GW_EGW (ALFA_DISPATCH_FROM_GATEWAY | ALFA_DISPATCH_FROM_EGW)

/* The dispatch table (SPEC §8.6): code -> payload length, accepted senders, handler. */
static const alfa_dispatch_row_t cmd_table[] = {
    {ALFA_CMD_SET_MODE, 2, FROM_GW_EGW, h_set_mode},
    {ALFA_CMD_SET_SC_THRESHOLDS, 2, FROM_GW_EGW, h_sc_thresholds},
    {ALFA_CMD_SET_ECO_LIMIT, 4, FROM_GW_EGW, h_eco_limit},
    {ALFA_CMD_SET_TOU_WINDOW, 6, FROM_GW_EGW, h_tou_window},
    {ALFA_CMD_SET_GRID_LIMIT, 2, FROM_GW_EGW, h_grid_limit},
    {ALFA_CMD_SET_RELAY_OVERRIDE, 2, FROM_GW_EGW, h_relay_override},
    {ALFA_CMD_SET_CALIBRATION, 7, FROM_GW_EGW, h_calibration},
    {ALFA_CMD_SET_TIME, 6, FROM_GW_EGW | ALFA_DISPATCH_FROM_MASTER, h_set_time},
    {ALFA_CMD_IDENTIFY, 1, FROM_GW_EGW, h_identify},
    {ALFA_CMD_READ_SETTINGS, 0, FROM_GW_EGW, h_read_settings},
    {ALFA_CMD_REBOOT, 0, FROM_GW_EGW, h_reboot},
    {ALFA_CMD_FACTORY_RESET, 4, FROM_GW_EGW, h_factory_reset},
    {ALFA_CMD_SET_SETTING, 6, FROM_GW_EGW, h_set_setting},
};
_Static_assert(sizeof(cmd_table) / sizeof(cmd_table[0]) == ALFA_CMD_CODE_MAX, "one row per command");
_Static_assert(ALFA_SET_TOU0_START_MIN == ALFA_SET_TOU0_ENABLED + 1 && ALFA_SET_TOU0_END_MIN == ALFA_SET_TOU0_ENABLED + 2 &&
                   ALFA_SET_TOU1_ENABLED == ALFA_SET_TOU0_ENABLED + 3 && ALFA_SET_TOU3_END_MIN == ALFA_SET_TOU0_ENABLED + 11,
               "TOU window ids: enabled, start, end per window, in window order");
_Static_assert(ALFA_SET_CT_GRID_OFFSET_MA == ALFA_SET_CT_GRID_GAIN_UA + 1 &&
                   ALFA_SET_CT_HEATER_OFFSET_MA == ALFA_SET_CT_GRID_GAIN_UA + 7,
               "calibration ids: gain, offset per CT, in CT order");

const alfa_dispatch_row_t *alfa_dispatch_row(uint8_t code)
{
    for (uint32_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++) {
        if (cmd_table[i].code == code) {
            return &cmd_table[i];
        }
    }
    return 0;
}

static bool sender_allowed(const alfa_dispatch_t *d, uint8_t src, uint8_t allowed)
{
    if (src == ALFA_NODE_LINUX_GATEWAY) {
        return (allowed & ALFA_DISPATCH_FROM_GATEWAY) != 0;
    }
    alfa_node_peer_t peer;
    if (alfa_node_peer(d->node, src, &peer) && peer.device_type == ALFA_DEV_ENERGY_GATEWAY &&
        (allowed & ALFA_DISPATCH_FROM_EGW) != 0) {
        return true;
    }
    return (allowed & ALFA_DISPATCH_FROM_MASTER) != 0 && alfa_node_trusted(d->node, src, true);
}

static alfa_dispatch_dup_t *dup_find(alfa_dispatch_t *d, uint8_t src, uint8_t seq, uint8_t code)
{
    for (uint32_t i = 0; i < ALFA_DISPATCH_DUP_SLOTS; i++) {
        alfa_dispatch_dup_t *x = &d->dup[i];
        if (x->src != 0 && x->src == src && x->seq == seq && x->code == code &&
            d->now_ms - x->at_ms < ALFA_DISPATCH_DUP_MS) {
            return x;
        }
    }
    return 0;
}

static void dup_record(alfa_dispatch_t *d, uint8_t src, uint8_t seq, uint8_t code, uint8_t result)
{
    /* Reuse a free or expired slot, else the oldest one. */
    alfa_dispatch_dup_t *slot = &d->dup[0];
    for (uint32_t i = 0; i < ALFA_DISPATCH_DUP_SLOTS; i++) {
        alfa_dispatch_dup_t *x = &d->dup[i];
        if (x->src == 0 || d->now_ms - x->at_ms >= ALFA_DISPATCH_DUP_MS) {
            slot = x;
            break;
        }
        if (d->now_ms - x->at_ms > d->now_ms - slot->at_ms) {
            slot = x;
        }
    }
    slot->src = src;
    slot->seq = seq;
    slot->code = code;
    slot->result = result;
    slot->at_ms = d->now_ms;
}

void alfa_dispatch_on_frame(alfa_dispatch_t *d, const alfa_can_frame_t *f, uint32_t now_ms)
{
    d->now_ms = now_ms;
    if (alfa_node_phase(d->node) == ALFA_NODE_PHASE_LISTEN) {
        return; /* no ID to answer from yet */
    }
    alfa_cmd_t env;
    uint8_t payload[ALFA_CMD_PAYLOAD_MAX];
    uint8_t plen = 0;
    if (alfa_proto_cmd_envelope(f, &env, payload, &plen) < 0) {
        d->stats.rx_bad++; /* no sequence byte: nothing to acknowledge */
        return;
    }
    if (env.dst != alfa_node_id(d->node) && env.dst != ALFA_NODE_BROADCAST) {
        return;
    }
    const alfa_dispatch_dup_t *x = dup_find(d, env.src, env.seq, env.code);
    if (x != 0) {
        d->stats.duplicate++;
        send_ack(d, env.src, env.code, env.seq, x->result);
        return;
    }
    uint8_t result;
    const alfa_dispatch_row_t *row = alfa_dispatch_row(env.code);
    alfa_cmd_t cmd;
    if (row == 0) {
        result = ALFA_ACK_UNKNOWN_CMD;
    } else if (!sender_allowed(d, env.src, row->allowed)) {
        result = ALFA_ACK_NOT_ALLOWED;
    } else if (plen != row->payload_len) {
        result = ALFA_ACK_BAD_LENGTH;
    } else {
        int rc = alfa_proto_cmd_decode(f, &cmd);
        if (rc == ALFA_PROTO_E_LEN) {
            result = ALFA_ACK_BAD_LENGTH;
        } else if (rc < 0) {
            result = ALFA_ACK_OUT_OF_RANGE;
        } else {
            result = row->handler(d, &cmd);
        }
    }
    if (result == ALFA_ACK_OK) {
        d->stats.applied++;
    } else {
        d->stats.refused++;
    }
    dup_record(d, env.src, env.seq, env.code, result);
    send_ack(d, env.src, env.code, env.seq, result);
}

static void stream_settings(alfa_dispatch_t *d)
{
    for (uint32_t k = 0; k < ALFA_DISPATCH_SETTINGS_PER_CALL && d->rs_active; k++) {
        int32_t v = 0;
        if (alfa_core_setting_get(d->core, d->rs_next, &v) != ALFA_OK) {
            d->rs_active = 0;
            return;
        }
        alfa_setting_msg_t m = {.src = alfa_node_id(d->node), .dst = d->rs_dst, .seq = d->rs_seq,
                                .last = (uint8_t)(d->rs_next + 1u == (uint32_t)ALFA_SET_COUNT),
                                .id = d->rs_next, .value = v};
        alfa_can_frame_t f;
        if (alfa_proto_setting_encode(&m, &f) < 0) {
            d->rs_active = 0;
            return;
        }
        if (alfa_node_send(d->node, &f) == ALFA_PORT_E_FULL) {
            return; /* retry this one at the next call */
        }
        d->rs_next++;
        if (d->rs_next >= (uint32_t)ALFA_SET_COUNT) {
            d->rs_active = 0;
        }
    }
}

void alfa_dispatch_process(alfa_dispatch_t *d, uint32_t now_ms)
{
    d->now_ms = now_ms;
    if (d->rs_active && alfa_node_phase(d->node) == ALFA_NODE_PHASE_RUN) {
        stream_settings(d);
    }
    if (d->reboot_pending && due(now_ms, d->reboot_at_ms)) {
        d->reboot_pending = 0;
        d->port->reboot(d->port->user);
    }
}

const alfa_dispatch_stats_t *alfa_dispatch_stats(const alfa_dispatch_t *d) { return &d->stats; }
