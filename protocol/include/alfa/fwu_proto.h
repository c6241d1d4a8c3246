/* Firmware-update frames (classes 0x40..0x4F): codecs for the session, data, parity and reply frames. */
#ifndef ALFA_FWU_PROTO_H
#define ALFA_FWU_PROTO_H

/*
 * One sender (the Linux gateway, node 126) moves one signed image to many packs at once
 * (docs/protocol.md §7 is the byte-by-byte description; docs/ota.md the design):
 *
 *   CTRL     0x40  dst = pack or 127, aux = op   BEGIN, POLL, VERIFY, ACTIVATE, CANCEL, QUERY
 *   REPLY    0x41  dst = the sender, aux = op    STATUS, NACK (bitmap), NACK_RANGE
 *   MANIFEST 0x42  dst = pack or 127, aux = part the 128-byte manifest in 16 parts of 8 bytes
 *   PARITY   0x44  bits 21..7 = group            XOR of the 16 data chunks of a group
 *   DATA     0x48..0x4F  class bits 2..0 and bits 21..7 = chunk index (18 bits): 8 image bytes
 *
 * Data and parity frames use the whole identifier below the class for their index, so every
 * data byte of the frame is image; the sender's node ID stays in bits 6..0 so two senders never
 * send the same identifier. The update classes are the lowest priority on the bus: firmware
 * frames lose every arbitration against control traffic.
 *
 * Codecs write their output only on success and return 0 or a negative alfa_proto_err_t.
 */

#include <stdint.h>
#include "alfa/can_frame.h"
#include "alfa/proto.h"

#define ALFA_FWU_CHUNK 8u                  /* image bytes per data frame */
#define ALFA_FWU_CHUNKS_MAX (1u << 18)     /* chunk index width: 18 bits (2 MiB images) */
#define ALFA_FWU_GROUP 16u                 /* chunks per parity group */
#define ALFA_FWU_BLOCK_CHUNKS 512u         /* chunks per block (4 KiB): the unit of POLL */
#define ALFA_FWU_BLOCK_BYTES (ALFA_FWU_BLOCK_CHUNKS * ALFA_FWU_CHUNK)
#define ALFA_FWU_BLOCKS_MAX (ALFA_FWU_CHUNKS_MAX / ALFA_FWU_BLOCK_CHUNKS)
#define ALFA_FWU_MANIFEST_PARTS 16u        /* 128 bytes / 8 */
#define ALFA_FWU_NACK_BITS 40u             /* chunks one NACK bitmap frame covers */

/* CTRL ops (identifier aux byte). Values travel on CAN: append, never renumber. */
typedef enum alfa_fwu_op {
    ALFA_FWU_OP_BEGIN = 1,     /* 6 bytes: session u32, flags u8, reserved u8 */
    ALFA_FWU_OP_POLL = 2,      /* 8 bytes: session u32, first_block u16, last_block u16 (bit 15 = answer with STATUS) */
    ALFA_FWU_OP_VERIFY = 3,    /* 4 bytes: session u32 */
    ALFA_FWU_OP_ACTIVATE = 4,  /* 4 bytes: session u32 */
    ALFA_FWU_OP_CANCEL = 5,    /* 4 bytes: session u32 (0 = whatever session) */
    ALFA_FWU_OP_QUERY = 6,     /* 0 bytes */
} alfa_fwu_op_t;

/* BEGIN flags. */
#define ALFA_FWU_BEGIN_FORCE 0x01u  /* installer override: accept a version that is not newer */
#define ALFA_FWU_BEGIN_FEC 0x02u    /* a parity frame follows every group of 16 chunks */

/* REPLY ops. */
typedef enum alfa_fwu_reply_op {
    ALFA_FWU_REP_STATUS = 1,     /* 8 bytes: session u32, state u8, result u8, missing u16 */
    ALFA_FWU_REP_NACK = 2,       /* 8 bytes: first chunk u24, 40-bit map (bit i = chunk first+i missing) */
    ALFA_FWU_REP_NACK_RANGE = 3, /* 8 bytes: first chunk u24, count u24, reserved u16 */
} alfa_fwu_reply_op_t;

/* A pack's update state (STATUS byte 4). */
typedef enum alfa_fwu_state {
    ALFA_FWU_ST_IDLE = 0,        /* no session */
    ALFA_FWU_ST_MANIFEST = 1,    /* session begun, manifest parts missing (missing = bitmap of parts) */
    ALFA_FWU_ST_RECEIVING = 2,   /* manifest accepted, chunks arriving (missing = chunks still missing) */
    ALFA_FWU_ST_VERIFYING = 3,   /* every chunk in: hashing the slot */
    ALFA_FWU_ST_READY = 4,       /* the slot holds the verified image: may be activated */
    ALFA_FWU_ST_ACTIVATING = 5,  /* boot slot switched: restarting into the new image */
    ALFA_FWU_ST_TRIAL = 6,       /* running the new image, self-test not passed yet */
    ALFA_FWU_ST_CONFIRMED = 7,   /* running the new image, confirmed after its self-test */
    ALFA_FWU_ST_ROLLED_BACK = 8, /* the new image was not confirmed: the previous one runs (result says why) */
    ALFA_FWU_ST_REFUSED = 9,     /* the manifest was refused (result says why): nothing written */
    ALFA_FWU_ST_FAILED = 10,     /* the transfer failed (result says why) */
    ALFA_FWU_ST_RESUMING = 11,   /* after a restart: reading the slot to learn what is already there */
    ALFA_FWU_ST_COUNT
} alfa_fwu_state_t;

/* Why (STATUS byte 5). */
typedef enum alfa_fwu_result {
    ALFA_FWU_R_OK = 0,
    ALFA_FWU_R_BAD_MANIFEST = 1,  /* header malformed, or manifest not the session's */
    ALFA_FWU_R_BAD_SIGNATURE = 2, /* no compiled-in key verifies the signature (unsigned, tampered, unknown key) */
    ALFA_FWU_R_WRONG_DEVICE = 3,  /* image for another device type */
    ALFA_FWU_R_WRONG_HARDWARE = 4, /* image for another hardware class */
    ALFA_FWU_R_DOWNGRADE = 5,     /* version not newer than the running one (and not forced) */
    ALFA_FWU_R_COUNTER = 6,       /* security counter below the running image's (never allowed) */
    ALFA_FWU_R_TOO_LARGE = 7,     /* payload does not fit the slot */
    ALFA_FWU_R_BUSY = 8,          /* the running image is not confirmed yet */
    ALFA_FWU_R_HASH = 9,          /* the received payload does not match the header's SHA-256 */
    ALFA_FWU_R_FLASH = 10,        /* the slot port failed */
    ALFA_FWU_R_NO_SLOTS = 11,     /* this pack has no firmware slots */
    ALFA_FWU_R_SELFTEST = 12,     /* the new image failed its self-test (missing = failed checks) */
    ALFA_FWU_R_NOT_CONFIRMED = 13, /* the new image was reset before it confirmed itself */
    ALFA_FWU_R_NOT_READY = 14,    /* activate before the image was verified */
    ALFA_FWU_R_SESSION = 15,      /* not in that session */
    ALFA_FWU_R_COUNT
} alfa_fwu_result_t;

/* Self-test checks (STATUS missing field of a SELFTEST rollback: bit set = check failed). */
#define ALFA_FWU_CHECK_SETTINGS 0x01u  /* the settings store could be read */
#define ALFA_FWU_CHECK_BMS 0x02u       /* the BMS answered */
#define ALFA_FWU_CHECK_CAN 0x04u       /* the node settled on the bus, not bus-off */
#define ALFA_FWU_CHECK_CYCLE 0x08u     /* a full control cycle ran with a BMS reading */
#define ALFA_FWU_CHECK_ALL 0x0Fu

/* Lower-case names ("receiving", "bad_signature"), never NULL ("?" for unknown values). */
const char *alfa_fwu_state_name(uint8_t state);
const char *alfa_fwu_result_name(uint8_t result);

typedef struct alfa_fwu_ctrl {
    uint8_t src, dst;        /* sender; a pack (1..125) or 127 */
    uint8_t op;              /* alfa_fwu_op_t */
    uint32_t session;        /* all ops but QUERY */
    uint8_t flags;           /* BEGIN */
    uint16_t first_block;    /* POLL: blocks first..last (0..511) */
    uint16_t last_block;
    uint8_t want_status;     /* POLL: end the answer with a STATUS frame */
} alfa_fwu_ctrl_t;

int alfa_fwu_ctrl_encode(const alfa_fwu_ctrl_t *c, alfa_can_frame_t *f);
/* E_ID (not CTRL, bad sender/destination), E_LEN (length wrong for the op), E_CMD (unknown op),
 * E_RANGE (reserved bits or flags set, block numbers out of range or reversed). */
int alfa_fwu_ctrl_decode(const alfa_can_frame_t *f, alfa_fwu_ctrl_t *c);

typedef struct alfa_fwu_reply {
    uint8_t src, dst;        /* the pack; the session's sender */
    uint8_t op;              /* alfa_fwu_reply_op_t */
    /* STATUS */
    uint32_t session;
    uint8_t state, result;
    uint16_t missing;
    /* NACK, NACK_RANGE */
    uint32_t first;          /* chunk index */
    uint32_t count;          /* NACK_RANGE: 1..ALFA_FWU_CHUNKS_MAX */
    uint8_t map[5];          /* NACK: bit i of byte i/8 = chunk first+i missing */
} alfa_fwu_reply_t;

int alfa_fwu_reply_encode(const alfa_fwu_reply_t *r, alfa_can_frame_t *f);
int alfa_fwu_reply_decode(const alfa_can_frame_t *f, alfa_fwu_reply_t *r);

/* Data frame of chunk `index` (< ALFA_FWU_CHUNKS_MAX) from `src` carrying `data` (8 bytes). */
int alfa_fwu_data_encode(uint8_t src, uint32_t index, const uint8_t data[ALFA_FWU_CHUNK], alfa_can_frame_t *f);
/* E_ID unless a data frame from a valid sender; E_LEN unless 8 bytes. The data are f->data. */
int alfa_fwu_data_decode(const alfa_can_frame_t *f, uint8_t *src, uint32_t *index);

/* Parity frame of group `group` (< ALFA_FWU_CHUNKS_MAX / ALFA_FWU_GROUP): XOR of its chunks. */
int alfa_fwu_parity_encode(uint8_t src, uint32_t group, const uint8_t x[ALFA_FWU_CHUNK], alfa_can_frame_t *f);
int alfa_fwu_parity_decode(const alfa_can_frame_t *f, uint8_t *src, uint32_t *group);

/* Manifest part `part` (0..15) to `dst` (a pack or 127). */
int alfa_fwu_manifest_encode(uint8_t src, uint8_t dst, uint8_t part, const uint8_t data[8], alfa_can_frame_t *f);
int alfa_fwu_manifest_decode(const alfa_can_frame_t *f, uint8_t *src, uint8_t *dst, uint8_t *part);

#endif
