/* The isa-check gateway's firmware update: a deterministic image, and a minimal sender built from the protocol library's update codecs (begin, manifest, data with parity, poll and repair, verify, activate). */
#include "isa.h"

/*
 * One pack, no losses on the harness's bus, so the sender is short: it streams every chunk once
 * (a parity frame after each group of 16), polls, re-sends what a NACK names, asks for the hash check,
 * activates, and waits for the new image's confirmation. A phase that does not move within its time
 * is a failed expectation. Frames go through the same receive queue as the gateway's other traffic,
 * ISA_FW_FRAMES_PER_TICK per 10 ms.
 */

#define PHASE_MS 30000u        /* a phase longer than this is a failure */
#define TRIAL_MS 90000u        /* activation, restart and the self-test (60 s at most) */

static isa_fwsend_t *S(isa_world_t *w) { return &w->send; }

static uint32_t chunk_bytes(uint32_t c) { return c + 1u == ISA_FW_CHUNKS ? ISA_FW_IMAGE - 8u * c : 8u; }

void isa_fw_make_image(isa_world_t *w)
{
    isa_fwsend_t *s = S(w);
    uint32_t x = 0x2545F491u;
    for (uint32_t i = 0; i < ISA_FW_IMAGE; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        /* runs of 0xFF as in a real image: units the pack need not program */
        s->image[i] = (i / 512u) % 5u == 2u ? 0xFFu : (uint8_t)(x >> 11);
    }
    alfa_fwimg_hdr_t h = {.device_type = ALFA_DEV_PACK, .hw_class = ALFA_HW_CLASS_DEFAULT,
                          .major = (uint8_t)(ISA_FW_NEW_VERSION >> 16), .minor = (uint8_t)(ISA_FW_NEW_VERSION >> 8),
                          .patch = (uint8_t)ISA_FW_NEW_VERSION, .security_counter = 1u, .image_size = ISA_FW_IMAGE};
    alfa_sha256(s->image, ISA_FW_IMAGE, h.sha256);
    if (alfa_fwimg_write(&h, s->manifest) != 0) {
        isa_world_fail(w, "image header", 0, 1);
        return;
    }
    alfa_fwimg_signed_digest(s->manifest, s->digest);
    for (uint32_t i = 0; i < 64u; i++) {
        s->manifest[ALFA_FWIMG_HEADER_SIZE + i] = (uint8_t)(s->digest[i % 32u] * 7u + i); /* the stand-in signature */
    }
    s->session = alfa_fwimg_session_id(s->manifest);
}

static void to_pack(isa_world_t *w, const alfa_can_frame_t *f)
{
    isa_world_to_pack(w, f);
    S(w)->frames++;
}

static void ctrl(isa_world_t *w, uint8_t op)
{
    alfa_fwu_ctrl_t c = {.src = ALFA_NODE_LINUX_GATEWAY, .dst = w->pack_node, .op = op, .session = S(w)->session};
    if (op == ALFA_FWU_OP_BEGIN) {
        c.flags = ALFA_FWU_BEGIN_FEC;
    } else if (op == ALFA_FWU_OP_POLL) {
        c.first_block = 0;
        c.last_block = (uint16_t)((ISA_FW_CHUNKS - 1u) / ALFA_FWU_BLOCK_CHUNKS);
        c.want_status = 1;
    }
    alfa_can_frame_t f;
    if (alfa_fwu_ctrl_encode(&c, &f) != ALFA_PROTO_OK) {
        isa_world_fail(w, "update ctrl encode", op, 0);
        return;
    }
    to_pack(w, &f);
}

static void phase(isa_world_t *w, uint8_t p)
{
    S(w)->phase = p;
    S(w)->phase_t = w->t_ms;
}

static void chunk(isa_world_t *w, uint32_t c)
{
    uint8_t d[8];
    for (uint32_t i = 0; i < 8u; i++) {
        d[i] = i < chunk_bytes(c) ? S(w)->image[8u * c + i] : 0xFFu;
    }
    alfa_can_frame_t f;
    if (alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, d, &f) != ALFA_PROTO_OK) {
        isa_world_fail(w, "update data encode", (int32_t)c, 0);
        return;
    }
    to_pack(w, &f);
}

void isa_fw_start(isa_world_t *w)
{
    if (w->pack_node == 0u) {
        isa_world_fail(w, "update: no pack node", 0, 1);
        return;
    }
    isa_fwsend_t *s = S(w);
    s->st_state = 0xFFu;
    phase(w, ISA_FW_BEGIN);
    ctrl(w, ALFA_FWU_OP_BEGIN);
}

bool isa_fw_active(const isa_world_t *w)
{
    return w->send.phase != ISA_FW_IDLE && w->send.phase != ISA_FW_DONE && w->send.phase != ISA_FW_FAILED;
}

void isa_fw_on_reply(isa_world_t *w, const alfa_can_frame_t *f)
{
    isa_fwsend_t *s = S(w);
    alfa_fwu_reply_t r;
    if (alfa_fwu_reply_decode(f, &r) != ALFA_PROTO_OK || r.dst != ALFA_NODE_LINUX_GATEWAY) {
        return;
    }
    if (r.op == ALFA_FWU_REP_STATUS) {
        s->st_state = r.state;
        s->st_result = r.result;
        s->st_missing = r.missing;
        s->statuses++;
        isa_world_sum_tag(w, 'U');
        uint8_t b[3] = {r.state, r.result, (uint8_t)r.missing};
        isa_sum_bytes(&w->sum, b, 3u);
        return;
    }
    s->nacks++;
    uint32_t n = r.op == ALFA_FWU_REP_NACK_RANGE ? r.count : ALFA_FWU_NACK_BITS;
    for (uint32_t i = 0; i < n && r.first + i < ISA_FW_CHUNKS; i++) {
        if (r.op == ALFA_FWU_REP_NACK_RANGE || ((r.map[i / 8u] >> (i % 8u)) & 1u) != 0u) {
            uint32_t c = r.first + i;
            s->resend[c / 8u] = (uint8_t)(s->resend[c / 8u] | (1u << (c % 8u)));
        }
    }
}

/* The STATUS that answers a poll: where the transfer stands. */
static void after_poll(isa_world_t *w)
{
    isa_fwsend_t *s = S(w);
    if (s->st_state == ALFA_FWU_ST_READY) {
        ctrl(w, ALFA_FWU_OP_ACTIVATE);
        phase(w, ISA_FW_ACTIVATE);
    } else if (s->st_state == ALFA_FWU_ST_VERIFYING) {
        phase(w, ISA_FW_VERIFY);
    } else if (s->st_state == ALFA_FWU_ST_RECEIVING && s->st_missing == 0u) {
        ctrl(w, ALFA_FWU_OP_VERIFY);
        phase(w, ISA_FW_VERIFY);
    } else if (s->st_state == ALFA_FWU_ST_RECEIVING) {
        phase(w, ISA_FW_REPAIR);
    } else {
        isa_world_fail(w, "update: pack state after poll", s->st_state, ALFA_FWU_ST_RECEIVING);
        phase(w, ISA_FW_FAILED);
    }
}

bool isa_fw_tick(isa_world_t *w)
{
    isa_fwsend_t *s = S(w);
    if (!isa_fw_active(w)) {
        return false;
    }
    uint8_t st = s->st_state;
    if (st == ALFA_FWU_ST_REFUSED || st == ALFA_FWU_ST_FAILED || st == ALFA_FWU_ST_ROLLED_BACK) {
        isa_world_fail(w, "update refused or failed, result", s->st_result, ALFA_FWU_R_OK);
        phase(w, ISA_FW_FAILED);
        return false;
    }
    switch (s->phase) {
    case ISA_FW_BEGIN:
        if (st == ALFA_FWU_ST_MANIFEST) {
            for (uint8_t p = 0; p < ALFA_FWU_MANIFEST_PARTS; p++) {
                alfa_can_frame_t f;
                if (alfa_fwu_manifest_encode(ALFA_NODE_LINUX_GATEWAY, w->pack_node, p, &s->manifest[8u * p], &f) ==
                    ALFA_PROTO_OK) {
                    to_pack(w, &f);
                }
            }
            phase(w, ISA_FW_MANIFEST);
        }
        break;
    case ISA_FW_MANIFEST:
        if (st == ALFA_FWU_ST_RECEIVING) {
            s->next = 0;
            phase(w, ISA_FW_DATA);
        }
        break;
    case ISA_FW_DATA:
        for (uint32_t k = 0; k < ISA_FW_FRAMES_PER_TICK && s->next < ISA_FW_CHUNKS; k++) {
            uint32_t c = s->next++;
            chunk(w, c);
            for (uint32_t i = 0; i < 8u; i++) {
                s->parity[i] = (uint8_t)((c % ALFA_FWU_GROUP == 0u ? 0u : s->parity[i]) ^
                                         (i < chunk_bytes(c) ? s->image[8u * c + i] : 0xFFu));
            }
            if (c % ALFA_FWU_GROUP == ALFA_FWU_GROUP - 1u || c + 1u == ISA_FW_CHUNKS) {
                alfa_can_frame_t f;
                if (alfa_fwu_parity_encode(ALFA_NODE_LINUX_GATEWAY, c / ALFA_FWU_GROUP, s->parity, &f) == ALFA_PROTO_OK) {
                    to_pack(w, &f);
                }
            }
        }
        if (s->next == ISA_FW_CHUNKS) {
            s->st_state = 0xFFu; /* the answer to this poll is what counts */
            ctrl(w, ALFA_FWU_OP_POLL);
            phase(w, ISA_FW_POLL);
        }
        break;
    case ISA_FW_POLL:
        if (st != 0xFFu) {
            after_poll(w);
        }
        break;
    case ISA_FW_REPAIR: {
        uint32_t sent = 0;
        for (uint32_t c = 0; c < ISA_FW_CHUNKS && sent < ISA_FW_FRAMES_PER_TICK; c++) {
            if ((s->resend[c / 8u] >> (c % 8u)) & 1u) {
                s->resend[c / 8u] = (uint8_t)(s->resend[c / 8u] & ~(1u << (c % 8u)));
                chunk(w, c);
                sent++;
            }
        }
        if (sent == 0u) {
            s->st_state = 0xFFu;
            ctrl(w, ALFA_FWU_OP_POLL);
            phase(w, ISA_FW_POLL);
        }
        break;
    }
    case ISA_FW_VERIFY:
        if (st == ALFA_FWU_ST_READY) {
            ctrl(w, ALFA_FWU_OP_ACTIVATE);
            phase(w, ISA_FW_ACTIVATE);
        }
        break;
    case ISA_FW_ACTIVATE:
        /* ACTIVATING, the restart, the new image's trial, then its STATUS "confirmed" */
        if (st == ALFA_FWU_ST_CONFIRMED) {
            phase(w, ISA_FW_DONE);
        }
        break;
    default:
        break;
    }
    if (isa_fw_active(w) && w->t_ms - s->phase_t > (s->phase == ISA_FW_ACTIVATE ? TRIAL_MS : PHASE_MS)) {
        isa_world_fail(w, "update phase timed out", s->phase, ISA_FW_DONE);
        phase(w, ISA_FW_FAILED);
    }
    return isa_fw_active(w);
}
