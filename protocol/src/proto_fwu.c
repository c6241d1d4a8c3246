/* Codecs of the firmware-update frames (classes 0x40..0x4F): session control, replies, manifest, data and parity. */
#include "alfa/fwu_proto.h"
#include "alfa/bytes.h"
#include "proto_internal.h"

static const char *const state_names[ALFA_FWU_ST_COUNT] = {
    "idle", "manifest", "receiving", "verifying", "ready", "activating", "trial", "confirmed",
    "rolled_back", "refused", "failed", "resuming",
};

static const char *const result_names[ALFA_FWU_R_COUNT] = {
    "ok", "bad_manifest", "bad_signature", "wrong_device", "wrong_hardware", "downgrade", "counter",
    "too_large", "busy", "hash", "flash", "no_slots", "selftest", "not_confirmed", "not_ready", "session",
};

const char *alfa_fwu_state_name(uint8_t state) { return state < ALFA_FWU_ST_COUNT ? state_names[state] : "?"; }
const char *alfa_fwu_result_name(uint8_t result) { return result < ALFA_FWU_R_COUNT ? result_names[result] : "?"; }

/* Data byte count of each CTRL op, or -1 for an unknown op. */
static int ctrl_len(uint8_t op)
{
    switch (op) {
    case ALFA_FWU_OP_BEGIN: return 6;
    case ALFA_FWU_OP_POLL: return 8;
    case ALFA_FWU_OP_VERIFY:
    case ALFA_FWU_OP_ACTIVATE:
    case ALFA_FWU_OP_CANCEL: return 4;
    case ALFA_FWU_OP_QUERY: return 0;
    default: return -1;
    }
}

static int ctrl_dst_ok(uint8_t dst) { return (dst >= ALFA_NODE_FIRST && dst <= ALFA_NODE_LAST) || dst == ALFA_NODE_BROADCAST; }

static int ctrl_fields_ok(const alfa_fwu_ctrl_t *c)
{
    if (c->op == ALFA_FWU_OP_BEGIN && (c->flags & ~(ALFA_FWU_BEGIN_FORCE | ALFA_FWU_BEGIN_FEC)) != 0u) {
        return 0;
    }
    if (c->op == ALFA_FWU_OP_POLL &&
        (c->first_block >= ALFA_FWU_BLOCKS_MAX || c->last_block >= ALFA_FWU_BLOCKS_MAX || c->last_block < c->first_block ||
         c->want_status > 1u)) {
        return 0;
    }
    return 1;
}

int alfa_fwu_ctrl_encode(const alfa_fwu_ctrl_t *c, alfa_can_frame_t *f)
{
    if (c == 0 || f == 0 || !alfa_proto_valid_src(c->src) || !ctrl_dst_ok(c->dst)) {
        return ALFA_PROTO_E_INVAL;
    }
    int len = ctrl_len(c->op);
    if (len < 0) {
        return ALFA_PROTO_E_CMD;
    }
    if (!ctrl_fields_ok(c)) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(f, ALFA_PROTO_ID(ALFA_CLS_FWU_CTRL, c->dst, c->op, c->src), (uint8_t)len);
    if (len >= 4) {
        alfa_put_le32(f->data, c->session);
    }
    if (c->op == ALFA_FWU_OP_BEGIN) {
        f->data[4] = c->flags;
    } else if (c->op == ALFA_FWU_OP_POLL) {
        alfa_put_le16(&f->data[4], c->first_block);
        alfa_put_le16(&f->data[6], (uint16_t)(c->last_block | (c->want_status ? 0x8000u : 0u)));
    }
    return ALFA_PROTO_OK;
}

int alfa_fwu_ctrl_decode(const alfa_can_frame_t *f, alfa_fwu_ctrl_t *c)
{
    if (f == 0 || c == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    int cls = alfa_proto_classify(f);
    if (cls != ALFA_CLS_FWU_CTRL) {
        return ALFA_PROTO_E_ID;
    }
    uint8_t src = ALFA_PROTO_ID_SRC(f->id), dst = ALFA_PROTO_ID_DST(f->id), op = ALFA_PROTO_ID_AUX(f->id);
    if (!alfa_proto_valid_src(src) || !ctrl_dst_ok(dst)) {
        return ALFA_PROTO_E_ID;
    }
    int len = ctrl_len(op);
    if (len < 0) {
        return ALFA_PROTO_E_CMD;
    }
    if (f->len != (uint8_t)len) {
        return ALFA_PROTO_E_LEN;
    }
    alfa_fwu_ctrl_t d;
    alfa_memset(&d, 0, sizeof(d));
    d.src = src;
    d.dst = dst;
    d.op = op;
    if (len >= 4) {
        d.session = alfa_get_le32(f->data);
    }
    if (op == ALFA_FWU_OP_BEGIN) {
        d.flags = f->data[4];
        if (f->data[5] != 0u) {
            return ALFA_PROTO_E_RANGE;
        }
    } else if (op == ALFA_FWU_OP_POLL) {
        uint16_t last = alfa_get_le16(&f->data[6]);
        d.first_block = alfa_get_le16(&f->data[4]);
        d.last_block = (uint16_t)(last & 0x3FFu);
        d.want_status = (uint8_t)(last >> 15);
        if ((last & 0x7C00u) != 0u) {
            return ALFA_PROTO_E_RANGE;
        }
    }
    if (!ctrl_fields_ok(&d)) {
        return ALFA_PROTO_E_RANGE;
    }
    *c = d;
    return ALFA_PROTO_OK;
}

int alfa_fwu_reply_encode(const alfa_fwu_reply_t *r, alfa_can_frame_t *f)
{
    if (r == 0 || f == 0 || !alfa_proto_valid_src(r->src) || !alfa_proto_valid_src(r->dst)) {
        return ALFA_PROTO_E_INVAL;
    }
    uint8_t d[8];
    alfa_memset(d, 0, sizeof(d));
    switch (r->op) {
    case ALFA_FWU_REP_STATUS:
        if (r->state >= ALFA_FWU_ST_COUNT || r->result >= ALFA_FWU_R_COUNT) {
            return ALFA_PROTO_E_RANGE;
        }
        alfa_put_le32(d, r->session);
        d[4] = r->state;
        d[5] = r->result;
        alfa_put_le16(&d[6], r->missing);
        break;
    case ALFA_FWU_REP_NACK:
        if (r->first >= ALFA_FWU_CHUNKS_MAX) {
            return ALFA_PROTO_E_RANGE;
        }
        alfa_put_le24(d, r->first);
        alfa_memcpy(&d[3], r->map, 5u);
        break;
    case ALFA_FWU_REP_NACK_RANGE:
        if (r->first >= ALFA_FWU_CHUNKS_MAX || r->count == 0u || r->count > ALFA_FWU_CHUNKS_MAX - r->first) {
            return ALFA_PROTO_E_RANGE;
        }
        alfa_put_le24(d, r->first);
        alfa_put_le24(&d[3], r->count);
        break;
    default:
        return ALFA_PROTO_E_CMD;
    }
    alfa_proto_frame_init(f, ALFA_PROTO_ID(ALFA_CLS_FWU_REPLY, r->dst, r->op, r->src), 8u);
    alfa_memcpy(f->data, d, 8u);
    return ALFA_PROTO_OK;
}

int alfa_fwu_reply_decode(const alfa_can_frame_t *f, alfa_fwu_reply_t *r)
{
    if (f == 0 || r == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    uint8_t src = 0, dst = 0;
    int rc = alfa_proto_check_addr(f, ALFA_CLS_FWU_REPLY, 8u, ALFA_PROTO_TO_NODE, 1, &src, &dst);
    if (rc < 0) {
        return rc;
    }
    alfa_fwu_reply_t d;
    alfa_memset(&d, 0, sizeof(d));
    d.src = src;
    d.dst = dst;
    d.op = ALFA_PROTO_ID_AUX(f->id);
    const uint8_t *p = f->data;
    switch (d.op) {
    case ALFA_FWU_REP_STATUS:
        d.session = alfa_get_le32(p);
        d.state = p[4];
        d.result = p[5];
        d.missing = alfa_get_le16(&p[6]);
        if (d.state >= ALFA_FWU_ST_COUNT || d.result >= ALFA_FWU_R_COUNT) {
            return ALFA_PROTO_E_RANGE;
        }
        break;
    case ALFA_FWU_REP_NACK:
        d.first = alfa_get_le24(p);
        alfa_memcpy(d.map, &p[3], 5u);
        if (d.first >= ALFA_FWU_CHUNKS_MAX) {
            return ALFA_PROTO_E_RANGE;
        }
        break;
    case ALFA_FWU_REP_NACK_RANGE:
        d.first = alfa_get_le24(p);
        d.count = alfa_get_le24(&p[3]);
        if (d.first >= ALFA_FWU_CHUNKS_MAX || d.count == 0u || d.count > ALFA_FWU_CHUNKS_MAX - d.first ||
            p[6] != 0u || p[7] != 0u) {
            return ALFA_PROTO_E_RANGE;
        }
        break;
    default:
        return ALFA_PROTO_E_CMD;
    }
    *r = d;
    return ALFA_PROTO_OK;
}

/* Data and parity frames: class and bits 21..7 carry the index, bits 6..0 the sender. */
int alfa_fwu_data_encode(uint8_t src, uint32_t index, const uint8_t data[ALFA_FWU_CHUNK], alfa_can_frame_t *f)
{
    if (f == 0 || data == 0 || !alfa_proto_valid_src(src)) {
        return ALFA_PROTO_E_INVAL;
    }
    if (index >= ALFA_FWU_CHUNKS_MAX) {
        return ALFA_PROTO_E_RANGE;
    }
    uint32_t cls = (uint32_t)ALFA_CLS_FWU_DATA | (index >> 15);
    alfa_proto_frame_init(f, (cls << 22) | ((index & 0x7FFFu) << 7) | src, 8u);
    alfa_memcpy(f->data, data, 8u);
    return ALFA_PROTO_OK;
}

int alfa_fwu_data_decode(const alfa_can_frame_t *f, uint8_t *src, uint32_t *index)
{
    if (f == 0 || src == 0 || index == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    int cls = alfa_proto_classify(f);
    if (cls < (int)ALFA_CLS_FWU_DATA || cls > (int)ALFA_CLS_FW_LAST || !alfa_proto_valid_src(ALFA_PROTO_ID_SRC(f->id))) {
        return ALFA_PROTO_E_ID;
    }
    if (f->len != 8u) {
        return ALFA_PROTO_E_LEN;
    }
    *src = ALFA_PROTO_ID_SRC(f->id);
    *index = ((uint32_t)(cls - (int)ALFA_CLS_FWU_DATA) << 15) | ((f->id >> 7) & 0x7FFFu);
    return ALFA_PROTO_OK;
}

int alfa_fwu_parity_encode(uint8_t src, uint32_t group, const uint8_t x[ALFA_FWU_CHUNK], alfa_can_frame_t *f)
{
    if (f == 0 || x == 0 || !alfa_proto_valid_src(src)) {
        return ALFA_PROTO_E_INVAL;
    }
    if (group >= ALFA_FWU_CHUNKS_MAX / ALFA_FWU_GROUP) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(f, ((uint32_t)ALFA_CLS_FWU_PARITY << 22) | (group << 7) | src, 8u);
    alfa_memcpy(f->data, x, 8u);
    return ALFA_PROTO_OK;
}

int alfa_fwu_parity_decode(const alfa_can_frame_t *f, uint8_t *src, uint32_t *group)
{
    if (f == 0 || src == 0 || group == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    if (alfa_proto_classify(f) != ALFA_CLS_FWU_PARITY || !alfa_proto_valid_src(ALFA_PROTO_ID_SRC(f->id))) {
        return ALFA_PROTO_E_ID;
    }
    if (f->len != 8u) {
        return ALFA_PROTO_E_LEN;
    }
    uint32_t g = (f->id >> 7) & 0x7FFFu;
    if (g >= ALFA_FWU_CHUNKS_MAX / ALFA_FWU_GROUP) {
        return ALFA_PROTO_E_RANGE;
    }
    *src = ALFA_PROTO_ID_SRC(f->id);
    *group = g;
    return ALFA_PROTO_OK;
}

int alfa_fwu_manifest_encode(uint8_t src, uint8_t dst, uint8_t part, const uint8_t data[8], alfa_can_frame_t *f)
{
    if (f == 0 || data == 0 || !alfa_proto_valid_src(src) || !ctrl_dst_ok(dst)) {
        return ALFA_PROTO_E_INVAL;
    }
    if (part >= ALFA_FWU_MANIFEST_PARTS) {
        return ALFA_PROTO_E_RANGE;
    }
    alfa_proto_frame_init(f, ALFA_PROTO_ID(ALFA_CLS_FWU_MANIFEST, dst, part, src), 8u);
    alfa_memcpy(f->data, data, 8u);
    return ALFA_PROTO_OK;
}

int alfa_fwu_manifest_decode(const alfa_can_frame_t *f, uint8_t *src, uint8_t *dst, uint8_t *part)
{
    if (f == 0 || src == 0 || dst == 0 || part == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    if (alfa_proto_classify(f) != ALFA_CLS_FWU_MANIFEST) {
        return ALFA_PROTO_E_ID;
    }
    uint8_t s = ALFA_PROTO_ID_SRC(f->id), d = ALFA_PROTO_ID_DST(f->id), p = ALFA_PROTO_ID_AUX(f->id);
    if (!alfa_proto_valid_src(s) || !ctrl_dst_ok(d)) {
        return ALFA_PROTO_E_ID;
    }
    if (f->len != 8u) {
        return ALFA_PROTO_E_LEN;
    }
    if (p >= ALFA_FWU_MANIFEST_PARTS) {
        return ALFA_PROTO_E_RANGE;
    }
    *src = s;
    *dst = d;
    *part = p;
    return ALFA_PROTO_OK;
}
