/* CAN protocol codecs for the small frames: heartbeat, time, grid-import recovery, acks, settings. */
#include "alfa/proto.h"
#include "alfa/bytes.h"
#include "proto_internal.h"

const char *alfa_proto_err_name(int err)
{
    switch (err) {
    case ALFA_PROTO_OK: return "ok";
    case ALFA_PROTO_E_INVAL: return "inval";
    case ALFA_PROTO_E_ID: return "id";
    case ALFA_PROTO_E_LEN: return "len";
    case ALFA_PROTO_E_RANGE: return "range";
    case ALFA_PROTO_E_CMD: return "cmd";
    case ALFA_PROTO_E_MISMATCH: return "mismatch";
    case ALFA_PROTO_E_FORMAT: return "format";
    default: return "?";
    }
}

int alfa_proto_classify(const alfa_can_frame_t *frame)
{
    if (frame == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    /* Only extended data frames are ours; an 11-bit, remote or error frame is someone else's. */
    if ((frame->flags & (ALFA_CAN_FLAG_EXT | ALFA_CAN_FLAG_RTR | ALFA_CAN_FLAG_ERR)) !=
            ALFA_CAN_FLAG_EXT ||
        frame->id > ALFA_CAN_ID_MASK_EXT || frame->len > ALFA_CAN_MAX_DLC) {
        return ALFA_PROTO_E_ID;
    }
    uint8_t cls = ALFA_PROTO_ID_CLASS(frame->id);
    switch (cls) {
    case ALFA_CLS_HEARTBEAT:
    case ALFA_CLS_ID_IN_USE:
    case ALFA_CLS_TIME:
    case ALFA_CLS_IMPORT_REQ:
    case ALFA_CLS_IMPORT_RESP:
    case ALFA_CLS_CMD:
    case ALFA_CLS_ACK:
    case ALFA_CLS_SETTING:
        return cls;
    default:
        break;
    }
    if (cls >= ALFA_CLS_TELEM_0 && cls < ALFA_CLS_TELEM_0 + ALFA_TELEM_PARTS) {
        return cls;
    }
    if (cls >= ALFA_CLS_SITE_0 && cls < ALFA_CLS_SITE_0 + ALFA_SITE_PARTS) {
        return cls;
    }
    if (cls >= ALFA_CLS_FW_FIRST && cls <= ALFA_CLS_FW_LAST) {
        return cls;
    }
    return ALFA_PROTO_E_ID;
}

/* A sender's node ID as found in a frame: 1..126 (0 and 127 are never senders). */
int alfa_proto_valid_src(uint8_t src) { return src >= ALFA_NODE_FIRST && src <= ALFA_NODE_LINUX_GATEWAY; }

int alfa_proto_check(const alfa_can_frame_t *frame, uint8_t cls, uint8_t len)
{
    int c = alfa_proto_classify(frame);
    if (c < 0) {
        return c;
    }
    if ((uint8_t)c != cls || !alfa_proto_valid_src(ALFA_PROTO_ID_SRC(frame->id))) {
        return ALFA_PROTO_E_ID;
    }
    if (frame->len != len) {
        return ALFA_PROTO_E_LEN;
    }
    return ALFA_PROTO_OK;
}

int alfa_proto_check_addr(const alfa_can_frame_t *frame, uint8_t cls, uint8_t len, int to, int aux_used,
                          uint8_t *src, uint8_t *dst)
{
    int rc = alfa_proto_check(frame, cls, len);
    if (rc < 0) {
        return rc;
    }
    uint8_t d = ALFA_PROTO_ID_DST(frame->id);
    int dst_ok = to == ALFA_PROTO_TO_ALL ? d == ALFA_NODE_BROADCAST : alfa_proto_valid_src(d);
    if (!dst_ok || (!aux_used && ALFA_PROTO_ID_AUX(frame->id) != 0)) {
        return ALFA_PROTO_E_ID;
    }
    *src = ALFA_PROTO_ID_SRC(frame->id);
    *dst = d;
    return ALFA_PROTO_OK;
}

void alfa_proto_frame_init(alfa_can_frame_t *frame, uint32_t id, uint8_t len)
{
    alfa_memset(frame, 0, sizeof(*frame));
    frame->id = id;
    frame->len = len;
    frame->flags = ALFA_CAN_FLAG_EXT;
}

/* ---------------------------------------------------------------- heartbeat */

static int hb_fields_ok(const alfa_heartbeat_t *hb)
{
    if (!alfa_proto_valid_src(hb->node_id)) {
        return 0;
    }
    if (hb->device_type != ALFA_DEV_PACK && hb->device_type != ALFA_DEV_ENERGY_GATEWAY &&
        hb->device_type != ALFA_DEV_LINUX_GATEWAY) {
        return 0;
    }
    if ((hb->state & ~0x1Fu) != 0 || (hb->serial >> 48) != 0) {
        return 0;
    }
    return hb->fw_major <= 0x1Fu && hb->fw_minor <= 0x3Fu && hb->fw_patch <= 0x1Fu;
}

int alfa_proto_heartbeat_encode(const alfa_heartbeat_t *hb, alfa_can_frame_t *frame)
{
    if (hb == 0 || frame == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    if (!hb_fields_ok(hb)) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(frame,
                          ALFA_PROTO_HB_ID(hb->device_type, hb->state, hb->serial, hb->node_id), 8);
    alfa_put_le32(&frame->data[0], (uint32_t)hb->serial);
    alfa_put_le16(&frame->data[4], (uint16_t)(hb->serial >> 32));
    alfa_put_le16(&frame->data[6], ALFA_FW_VERSION_WIRE(hb->fw_major, hb->fw_minor, hb->fw_patch));
    return ALFA_PROTO_OK;
}

int alfa_proto_heartbeat_decode(const alfa_can_frame_t *frame, alfa_heartbeat_t *hb)
{
    if (hb == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    int rc = alfa_proto_check(frame, ALFA_CLS_HEARTBEAT, 8);
    if (rc < 0) {
        return rc;
    }
    alfa_heartbeat_t h;
    h.node_id = ALFA_PROTO_ID_SRC(frame->id);
    h.device_type = (uint8_t)((frame->id >> 20) & 0x3u);
    h.state = (uint8_t)((frame->id >> 15) & 0x1Fu);
    h.serial = (uint64_t)alfa_get_le32(&frame->data[0]) |
               ((uint64_t)alfa_get_le16(&frame->data[4]) << 32);
    uint16_t ver = alfa_get_le16(&frame->data[6]);
    h.fw_major = (uint8_t)(ver >> 11);
    h.fw_minor = (uint8_t)((ver >> 5) & 0x3Fu);
    h.fw_patch = (uint8_t)(ver & 0x1Fu);
    if (!hb_fields_ok(&h) || (uint8_t)(h.serial & 0xFFu) != (uint8_t)((frame->id >> 7) & 0xFFu)) {
        return ALFA_PROTO_E_RANGE;
    }
    *hb = h;
    return ALFA_PROTO_OK;
}

/* ---------------------------------------------------------------- ID in use */

int alfa_proto_id_in_use_encode(const alfa_id_in_use_t *m, alfa_can_frame_t *frame)
{
    if (m == 0 || frame == 0 || !alfa_proto_valid_src(m->src) || !alfa_proto_valid_src(m->dst)) {
        return ALFA_PROTO_E_INVAL;
    }
    if ((m->owner_serial >> 48) != 0) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(frame, ALFA_PROTO_ID(ALFA_CLS_ID_IN_USE, m->dst, 0, m->src), 6);
    alfa_put_le32(&frame->data[0], (uint32_t)m->owner_serial);
    alfa_put_le16(&frame->data[4], (uint16_t)(m->owner_serial >> 32));
    return ALFA_PROTO_OK;
}

int alfa_proto_id_in_use_decode(const alfa_can_frame_t *frame, alfa_id_in_use_t *m)
{
    if (m == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    uint8_t src, dst;
    int rc = alfa_proto_check_addr(frame, ALFA_CLS_ID_IN_USE, 6, ALFA_PROTO_TO_NODE, 0, &src, &dst);
    if (rc < 0) {
        return rc;
    }
    m->src = src;
    m->dst = dst;
    m->owner_serial = (uint64_t)alfa_get_le32(&frame->data[0]) |
                      ((uint64_t)alfa_get_le16(&frame->data[4]) << 32);
    return ALFA_PROTO_OK;
}

/* ---------------------------------------------------------------- time */

static int offset_ok(int16_t off) { return off >= ALFA_PROTO_UTC_OFFSET_MIN && off <= ALFA_PROTO_UTC_OFFSET_MAX; }

int alfa_proto_time_encode(const alfa_time_msg_t *t, alfa_can_frame_t *frame)
{
    if (t == 0 || frame == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    if (!alfa_proto_valid_src(t->src)) {
        return ALFA_PROTO_E_INVAL;
    }
    if (!offset_ok(t->utc_offset_min)) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(frame, ALFA_PROTO_ID(ALFA_CLS_TIME, ALFA_NODE_BROADCAST, 0, t->src), 6);
    alfa_put_le32(&frame->data[0], t->unix_s);
    alfa_put_le16(&frame->data[4], (uint16_t)t->utc_offset_min);
    return ALFA_PROTO_OK;
}

int alfa_proto_time_decode(const alfa_can_frame_t *frame, alfa_time_msg_t *t)
{
    if (t == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    uint8_t src, dst;
    int rc = alfa_proto_check_addr(frame, ALFA_CLS_TIME, 6, ALFA_PROTO_TO_ALL, 0, &src, &dst);
    if (rc < 0) {
        return rc;
    }
    int16_t off = (int16_t)alfa_get_le16(&frame->data[4]);
    if (!offset_ok(off)) {
        return ALFA_PROTO_E_RANGE;
    }
    t->src = src;
    t->unix_s = alfa_get_le32(&frame->data[0]);
    t->utc_offset_min = off;
    return ALFA_PROTO_OK;
}

/* ---------------------------------------------------------------- grid-import recovery */

int alfa_proto_import_req_encode(uint8_t src, uint16_t day, alfa_can_frame_t *frame)
{
    if (frame == 0 || !alfa_proto_valid_src(src)) {
        return ALFA_PROTO_E_INVAL;
    }
    alfa_proto_frame_init(frame, ALFA_PROTO_ID(ALFA_CLS_IMPORT_REQ, ALFA_NODE_BROADCAST, 0, src), 2);
    alfa_put_le16(&frame->data[0], day);
    return ALFA_PROTO_OK;
}

int alfa_proto_import_resp_encode(const alfa_import_msg_t *m, alfa_can_frame_t *frame)
{
    if (m == 0 || frame == 0 || !alfa_proto_valid_src(m->src) || !alfa_proto_valid_src(m->dst)) {
        return ALFA_PROTO_E_INVAL;
    }
    if (m->grid_import_today_wh > ALFA_U24_MAX || m->serial24 > ALFA_U24_MAX) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(frame, ALFA_PROTO_ID(ALFA_CLS_IMPORT_RESP, m->dst, 0, m->src), 8);
    alfa_put_le16(&frame->data[0], m->day);
    alfa_put_le24(&frame->data[2], m->grid_import_today_wh);
    alfa_put_le24(&frame->data[5], m->serial24);
    return ALFA_PROTO_OK;
}

int alfa_proto_import_decode(const alfa_can_frame_t *frame, alfa_import_msg_t *m)
{
    if (m == 0 || frame == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    int cls = alfa_proto_classify(frame);
    if (cls < 0) {
        return cls;
    }
    /* The request goes to everybody; the answers go to the asking pack. */
    int req = cls == ALFA_CLS_IMPORT_REQ;
    uint8_t src, dst;
    int rc = alfa_proto_check_addr(frame, req ? ALFA_CLS_IMPORT_REQ : ALFA_CLS_IMPORT_RESP, req ? 2u : 8u,
                                   req ? ALFA_PROTO_TO_ALL : ALFA_PROTO_TO_NODE, 0, &src, &dst);
    if (rc < 0) {
        return rc;
    }
    m->src = src;
    m->dst = dst;
    m->day = alfa_get_le16(&frame->data[0]);
    m->grid_import_today_wh = req ? 0u : alfa_get_le24(&frame->data[2]);
    m->serial24 = req ? 0u : alfa_get_le24(&frame->data[5]);
    return req ? ALFA_CLS_IMPORT_REQ : ALFA_CLS_IMPORT_RESP;
}

/* ---------------------------------------------------------------- acks */

static const char *const ack_names[ALFA_ACK_RESULT_COUNT] = {
    "ok", "unknown_command", "bad_length", "out_of_range", "not_allowed", "failed",
};
_Static_assert(sizeof(ack_names) / sizeof(ack_names[0]) == ALFA_ACK_RESULT_COUNT, "ack names");

const char *alfa_ack_result_name(uint8_t result)
{
    return result < ALFA_ACK_RESULT_COUNT ? ack_names[result] : "?";
}

int alfa_proto_ack_encode(const alfa_ack_t *ack, alfa_can_frame_t *frame)
{
    if (ack == 0 || frame == 0 || !alfa_proto_valid_src(ack->src) || !alfa_proto_valid_src(ack->dst)) {
        return ALFA_PROTO_E_INVAL;
    }
    if (ack->result >= ALFA_ACK_RESULT_COUNT) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(frame, ALFA_PROTO_ID(ALFA_CLS_ACK, ack->dst, ack->code, ack->src), 2);
    frame->data[0] = ack->seq;
    frame->data[1] = ack->result;
    return ALFA_PROTO_OK;
}

int alfa_proto_ack_decode(const alfa_can_frame_t *frame, alfa_ack_t *ack)
{
    if (ack == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    uint8_t src, dst;
    int rc = alfa_proto_check_addr(frame, ALFA_CLS_ACK, 2, ALFA_PROTO_TO_NODE, 1, &src, &dst);
    if (rc < 0) {
        return rc;
    }
    if (frame->data[1] >= ALFA_ACK_RESULT_COUNT) {
        return ALFA_PROTO_E_RANGE;
    }
    ack->src = src;
    ack->dst = dst;
    ack->code = ALFA_PROTO_ID_AUX(frame->id);
    ack->seq = frame->data[0];
    ack->result = frame->data[1];
    return ALFA_PROTO_OK;
}

/* ---------------------------------------------------------------- setting values */

int alfa_proto_setting_encode(const alfa_setting_msg_t *m, alfa_can_frame_t *frame)
{
    if (m == 0 || frame == 0 || !alfa_proto_valid_src(m->src) || !alfa_proto_valid_src(m->dst)) {
        return ALFA_PROTO_E_INVAL;
    }
    if (m->last > 1u) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(frame, ALFA_PROTO_ID(ALFA_CLS_SETTING, m->dst, 0, m->src), 8);
    frame->data[0] = m->seq;
    frame->data[1] = m->last;
    alfa_put_le16(&frame->data[2], m->id);
    alfa_put_le32(&frame->data[4], (uint32_t)m->value);
    return ALFA_PROTO_OK;
}

int alfa_proto_setting_decode(const alfa_can_frame_t *frame, alfa_setting_msg_t *m)
{
    if (m == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    uint8_t src, dst;
    int rc = alfa_proto_check_addr(frame, ALFA_CLS_SETTING, 8, ALFA_PROTO_TO_NODE, 0, &src, &dst);
    if (rc < 0) {
        return rc;
    }
    if (frame->data[1] > 1u) {
        return ALFA_PROTO_E_RANGE;
    }
    m->src = src;
    m->dst = dst;
    m->seq = frame->data[0];
    m->last = frame->data[1];
    m->id = alfa_get_le16(&frame->data[2]);
    m->value = (int32_t)alfa_get_le32(&frame->data[4]);
    return ALFA_PROTO_OK;
}
