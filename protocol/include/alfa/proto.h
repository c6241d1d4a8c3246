/* The Alfaspark CAN protocol: identifier plan, frame codecs, commands and acknowledgements. */
#ifndef ALFA_PROTO_H
#define ALFA_PROTO_H

/*
 * This header is the manual of the wire format (docs/protocol.md describes the same frames
 * byte by byte for people writing their own decoder). Freestanding C11: no heap, no globals.
 *
 * Every Alfaspark frame is a classic CAN 2.0B frame with a 29-bit identifier at 500 kbit/s:
 *
 *   bits 28..22  message class (7 bits, ALFA_CLS_*): the founder's classes in priority order
 *   bits 21..15  destination node ID (127 = everybody) for addressed classes; see per-class notes
 *   bits 14..7   auxiliary byte (command code in commands and acks; 0 where unused)
 *   bits  6..0   the SENDER's node ID
 *
 * The heartbeat class packs its identifier differently (device type, state flags and 8 serial
 * bits instead of destination and aux), see ALFA_PROTO_HB_ID. Because every identifier carries
 * the sender's node ID and node IDs are unique on a settled bus, no two nodes ever send the same
 * identifier. Payloads are little-endian scaled integers.
 *
 * Codecs never write to their output unless they succeed: a decode of a malformed frame returns
 * a negative alfa_proto_err_t and leaves the output untouched.
 */

#include <stdint.h>
#include "alfa/can_frame.h"
#include "alfa/model.h"

/* ---------------------------------------------------------------- errors */

/* The protocol library's one error enum: zero success, negative failure. Stable values. */
typedef enum alfa_proto_err {
    ALFA_PROTO_OK = 0,
    ALFA_PROTO_E_INVAL = -1,   /* NULL argument or bad parameter from the caller */
    ALFA_PROTO_E_ID = -2,      /* not an Alfaspark identifier (11-bit, RTR, error, unknown class) */
    ALFA_PROTO_E_LEN = -3,     /* data length wrong for this frame or command */
    ALFA_PROTO_E_RANGE = -4,   /* a field is outside its allowed values (incl. reserved != 0) */
    ALFA_PROTO_E_CMD = -5,     /* unknown command code */
    ALFA_PROTO_E_MISMATCH = -6, /* telemetry part of another cycle or sender: not assembled */
    ALFA_PROTO_E_FORMAT = -7,  /* not a firmware image of a format we know (fwimg.h) */
} alfa_proto_err_t;

/* Short lower-case name of a protocol error ("len", "range"...), never NULL. */
const char *alfa_proto_err_name(int err);

/* ---------------------------------------------------------------- node IDs */

#define ALFA_NODE_UNASSIGNED 0u    /* never used by a node on the bus */
#define ALFA_NODE_BROADCAST 127u   /* destination "every node"; never a sender */
#define ALFA_NODE_LINUX_GATEWAY 126u /* the Linux CAN<->MQTT gateway's fixed ID */
#define ALFA_NODE_FIRST 1u         /* packs and Energy-Gateway devices claim IDs 1..125 */
#define ALFA_NODE_LAST 125u
#define ALFA_NODE_MAX 127u

/* ---------------------------------------------------------------- classes */

/* Message classes (identifier bits 28..22). Lower class = higher bus priority. */
typedef enum alfa_msg_class {
    ALFA_CLS_HEARTBEAT = 0x01,      /* every node, every 1 s */
    ALFA_CLS_ID_IN_USE = 0x02,      /* master to a claiming node: that ID is reserved by another */
    ALFA_CLS_TIME = 0x03,           /* wall-clock time: gateway every 60 s, master when gateway silent */
    ALFA_CLS_IMPORT_REQ = 0x06,     /* a booted pack asks for today's grid import */
    ALFA_CLS_IMPORT_RESP = 0x07,    /* master / gateway answers the pack */
    ALFA_CLS_TELEM_0 = 0x10,        /* telemetry part 0 .. part 6 = 0x10 .. 0x16 */
    ALFA_CLS_SITE_0 = 0x18,         /* site totals part 0 .. part 3 = 0x18 .. 0x1B (master) */
    ALFA_CLS_CMD = 0x20,            /* command to one node or to all */
    ALFA_CLS_ACK = 0x30,            /* acknowledgement of a command */
    ALFA_CLS_SETTING = 0x31,        /* one setting's value (answer to READ_SETTINGS) */
    ALFA_CLS_FW_FIRST = 0x40,       /* firmware update classes 0x40..0x4F (SPEC §11), fwu_proto.h: */
    ALFA_CLS_FWU_CTRL = 0x40,       /*   sender -> packs: begin, poll, verify, activate, cancel, query */
    ALFA_CLS_FWU_REPLY = 0x41,      /*   pack -> sender: status, missing-chunk reports (NACKs) */
    ALFA_CLS_FWU_MANIFEST = 0x42,   /*   sender -> packs: the 128-byte signed manifest, 16 parts */
    ALFA_CLS_FWU_PARITY = 0x44,     /*   sender -> packs: XOR of a group of 16 data chunks */
    ALFA_CLS_FWU_DATA = 0x48,       /*   sender -> packs: 0x48..0x4F, 8 image bytes, index in the id */
    ALFA_CLS_FW_LAST = 0x4F,
} alfa_msg_class_t;

#define ALFA_TELEM_PARTS 7u
#define ALFA_SITE_PARTS 4u

/* Identifier field helpers. */
#define ALFA_PROTO_ID(cls, dst, aux, src)                                                       \
    ((((uint32_t)(cls) & 0x7Fu) << 22) | (((uint32_t)(dst) & 0x7Fu) << 15) |                   \
     (((uint32_t)(aux) & 0xFFu) << 7) | ((uint32_t)(src) & 0x7Fu))
#define ALFA_PROTO_ID_CLASS(id) ((uint8_t)(((id) >> 22) & 0x7Fu))
#define ALFA_PROTO_ID_DST(id) ((uint8_t)(((id) >> 15) & 0x7Fu))
#define ALFA_PROTO_ID_AUX(id) ((uint8_t)(((id) >> 7) & 0xFFu))
#define ALFA_PROTO_ID_SRC(id) ((uint8_t)((id) & 0x7Fu))

/* Heartbeat identifier: class 0x01, device type (2 bits), state flags (5 bits), serial bits
 * 0..7, sender. The serial bits keep two nodes that momentarily claim the same node ID from
 * sending identical identifiers while the conflict is being resolved. */
#define ALFA_PROTO_HB_ID(dtype, state, serial, src)                                             \
    (((uint32_t)ALFA_CLS_HEARTBEAT << 22) | (((uint32_t)(dtype) & 0x3u) << 20) |               \
     (((uint32_t)(state) & 0x1Fu) << 15) | (((uint32_t)(serial) & 0xFFu) << 7) |               \
     ((uint32_t)(src) & 0x7Fu))

/* ---------------------------------------------------------------- heartbeat (0x01) */

/* Heartbeat state flags (5 bits in the identifier). */
#define ALFA_HB_MASTER 0x01u     /* this node is the site master */
#define ALFA_HB_FAULT 0x02u      /* a critical fault is active */
#define ALFA_HB_WARNING 0x04u    /* a warning is active */
#define ALFA_HB_UPDATING 0x08u   /* a firmware update is in progress */
#define ALFA_HB_CLAIMING 0x10u   /* the node ID is not settled yet (first seconds after joining) */

/* Firmware version on the wire: major 5 bits, minor 6 bits, patch 5 bits. */
#define ALFA_FW_VERSION_WIRE(maj, min, pat)                                                     \
    ((uint16_t)((((maj) & 0x1Fu) << 11) | (((min) & 0x3Fu) << 5) | ((pat) & 0x1Fu)))

typedef struct alfa_heartbeat {
    uint8_t node_id;       /* sender, 1..126 */
    uint8_t device_type;   /* alfa_device_type_t: 1 pack, 2 Energy-Gateway, 3 Linux gateway */
    uint8_t state;         /* ALFA_HB_* */
    uint64_t serial;       /* 48-bit hardware serial */
    uint8_t fw_major, fw_minor, fw_patch;
} alfa_heartbeat_t;

/* Encode a heartbeat into *frame. E_RANGE if node_id is 0/127, device type unknown, serial
 * over 48 bits or the version does not fit; *frame is then untouched. */
int alfa_proto_heartbeat_encode(const alfa_heartbeat_t *hb, alfa_can_frame_t *frame);
/* Decode a heartbeat; E_ID if not one, E_LEN unless 8 bytes, E_RANGE if the serial bits in the
 * identifier disagree with the payload or a field is invalid. */
int alfa_proto_heartbeat_decode(const alfa_can_frame_t *frame, alfa_heartbeat_t *hb);

/* ---------------------------------------------------------------- ID in use (0x02) */

typedef struct alfa_id_in_use {
    uint8_t src;           /* the master */
    uint8_t dst;           /* the claiming node (its tentative ID) */
    uint64_t owner_serial; /* serial of the node that holds the ID (still in the 2-min table) */
} alfa_id_in_use_t;

/* 6 data bytes: the owner's serial (u48). */
int alfa_proto_id_in_use_encode(const alfa_id_in_use_t *m, alfa_can_frame_t *frame);
int alfa_proto_id_in_use_decode(const alfa_can_frame_t *frame, alfa_id_in_use_t *m);

/* ---------------------------------------------------------------- time (0x03) */

#define ALFA_PROTO_UTC_OFFSET_MIN (-720) /* UTC-12:00 */
#define ALFA_PROTO_UTC_OFFSET_MAX 840     /* UTC+14:00 */

typedef struct alfa_time_msg {
    uint8_t src;               /* sender node ID */
    uint32_t unix_s;           /* seconds since 1970-01-01 UTC */
    int16_t utc_offset_min;    /* local time = UTC + offset */
} alfa_time_msg_t;

/* Encode / decode the broadcast time frame (6 bytes). Offset outside -720..840 is E_RANGE. */
int alfa_proto_time_encode(const alfa_time_msg_t *t, alfa_can_frame_t *frame);
int alfa_proto_time_decode(const alfa_can_frame_t *frame, alfa_time_msg_t *t);

/* ---------------------------------------------------------------- grid-import recovery (0x06/0x07) */

typedef struct alfa_import_msg {
    uint8_t src;
    uint8_t dst;                     /* response: the requesting pack; request: 127 */
    uint16_t day;                    /* the site day asked about / answered for (ALFA_DAY_*) */
    uint32_t serial24;               /* response: bits 0..23 of the serial of the pack it is about */
    uint32_t grid_import_today_wh;   /* response: that pack's import on `day` (u24) */
} alfa_import_msg_t;

/* The pack a day-import record is about is named by the low 24 bits of its serial: a site's packs
 * differ there (factory MACs of one vendor are sequential), and with the day and the energy it
 * fills one frame. */
#define ALFA_SERIAL24(serial) ((uint32_t)((serial) & 0xFFFFFFu))

/* Request: 2 data bytes (day u16), broadcast: "what was imported on my day?". Response: 8 data
 * bytes (day u16, grid_import_today_wh u24, serial24 u24), addressed to the requester; one per
 * pack the responder knows for that day (docs/protocol.md §3.3). E_RANGE for an energy or serial
 * over 24 bits. */
int alfa_proto_import_req_encode(uint8_t src, uint16_t day, alfa_can_frame_t *frame);
int alfa_proto_import_resp_encode(const alfa_import_msg_t *m, alfa_can_frame_t *frame);
/* Decodes either; serial24 and grid_import_today_wh are 0 for a request. Returns the class on
 * success (ALFA_CLS_IMPORT_REQ or ALFA_CLS_IMPORT_RESP) or a negative error. */
int alfa_proto_import_decode(const alfa_can_frame_t *frame, alfa_import_msg_t *m);

/* ---------------------------------------------------------------- telemetry (0x10..0x16) */

/* Encode one telemetry record into ALFA_TELEM_PARTS frames from node `src`. Every part carries
 * the low byte of t->cycle in byte 0; the upper 24 bits of the cycle ride in parts 1, 2 and 3.
 * E_RANGE if a value does not fit its wire field (powers +-8388607 W, energies and voltage
 * < 16777216, SOC > 100, mode unknown, relays > 4 bits); frames are then untouched. */
int alfa_proto_telem_encode(const alfa_telemetry_t *t, uint8_t src,
                            alfa_can_frame_t frames[ALFA_TELEM_PARTS]);

/* Reassembly of one sender's telemetry. Zero it (or call _reset) before first use. */
typedef struct alfa_telem_rx {
    uint8_t have;          /* bit k = part k received for `cycle8` */
    uint8_t cycle8;        /* low byte of the cycle being collected */
    uint8_t src;           /* sender being collected (0 = none yet) */
    alfa_telemetry_t work; /* fields filled so far */
} alfa_telem_rx_t;

void alfa_telem_rx_reset(alfa_telem_rx_t *rx);
/* Feed one frame of any telemetry part. Parts may arrive in any order. When a part carries a
 * different cycle byte (or sender) than the one being collected, the collection restarts with
 * that part: values of two cycles are never mixed. Returns 1 and writes *out when this part
 * completed a record, 0 when more parts are needed, or a negative error (the frame was malformed
 * and nothing changed: E_ID, E_LEN, E_RANGE). */
int alfa_telem_rx_feed(alfa_telem_rx_t *rx, const alfa_can_frame_t *frame, alfa_telemetry_t *out);

/* ---------------------------------------------------------------- site totals (0x18..0x1B) */

/* Encode the master's site totals from node `src` into ALFA_SITE_PARTS frames; `cycle` is the
 * master's cycle counter (low byte in byte 0 of every part). */
int alfa_proto_site_encode(const alfa_site_totals_t *s, uint8_t src, uint32_t cycle,
                           alfa_can_frame_t frames[ALFA_SITE_PARTS]);

typedef struct alfa_site_rx {
    uint8_t have;
    uint8_t cycle8;
    uint8_t src;
    alfa_site_totals_t work;
} alfa_site_rx_t;

void alfa_site_rx_reset(alfa_site_rx_t *rx);
/* Same contract as alfa_telem_rx_feed, for site totals parts. */
int alfa_site_rx_feed(alfa_site_rx_t *rx, const alfa_can_frame_t *frame, alfa_site_totals_t *out);

/* ---------------------------------------------------------------- commands (0x20) */

/* Command codes (identifier aux byte). Values travel on CAN: append, never renumber. */
typedef enum alfa_cmd_code {
    ALFA_CMD_SET_MODE = 0x01,         /* mode u8 (1..4), on u8 (0/1) */
    ALFA_CMD_SET_SC_THRESHOLDS = 0x02, /* low_pct u8, high_pct u8 */
    ALFA_CMD_SET_ECO_LIMIT = 0x03,    /* limit_w u32 */
    ALFA_CMD_SET_TOU_WINDOW = 0x04,   /* index u8 (0..3), start_min u16, end_min u16, enabled u8 */
    ALFA_CMD_SET_GRID_LIMIT = 0x05,   /* on u8 (0/1), limit_kwh u8 */
    ALFA_CMD_SET_RELAY_OVERRIDE = 0x06, /* relay u8 (0..3), override u8 (alfa_override_t) */
    ALFA_CMD_SET_CALIBRATION = 0x07,  /* ct u8 (0..3), gain_ua u32 (uA per ADC count), offset_ma i16 */
    ALFA_CMD_SET_TIME = 0x08,         /* unix_s u32, utc_offset_min i16 */
    ALFA_CMD_IDENTIFY = 0x09,         /* seconds u8 (0 = stop) */
    ALFA_CMD_READ_SETTINGS = 0x0A,    /* no payload; answered by ack + setting frames */
    ALFA_CMD_REBOOT = 0x0B,           /* no payload */
    ALFA_CMD_FACTORY_RESET = 0x0C,    /* confirm u32 == ALFA_FACTORY_RESET_CODE */
    ALFA_CMD_SET_SETTING = 0x0D,      /* id u16, value i32: any setting of the settings table */
} alfa_cmd_code_t;

#define ALFA_CMD_CODE_MAX 0x0Du
#define ALFA_FACTORY_RESET_CODE 0x52534654u /* "TFSR" little-endian: "Factory ReSeT" confirmation */
#define ALFA_CMD_PAYLOAD_MAX 7u             /* data byte 0 is the sequence number */

typedef struct alfa_cmd {
    uint8_t code;   /* alfa_cmd_code_t */
    uint8_t seq;    /* sender's sequence number: (src, seq, code) identifies a command */
    uint8_t src;    /* sender node ID */
    uint8_t dst;    /* destination node ID, 127 = every node */
    union {
        struct { uint8_t mode, on; } set_mode;
        struct { uint8_t low_pct, high_pct; } sc_thresholds;
        struct { uint32_t limit_w; } eco_limit;
        struct { uint8_t index; uint16_t start_min, end_min; uint8_t enabled; } tou_window;
        struct { uint8_t on, limit_kwh; } grid_limit;
        struct { uint8_t relay, override; } relay_override;
        struct { uint8_t ct; uint32_t gain_ua; int16_t offset_ma; } calibration;
        struct { uint32_t unix_s; int16_t utc_offset_min; } set_time;
        struct { uint8_t seconds; } identify;
        struct { uint32_t confirm; } factory_reset;
        struct { uint16_t id; int32_t value; } set_setting;
    } u;
} alfa_cmd_t;

/* Payload length of a command (bytes after the sequence number), or E_CMD if unknown. */
int alfa_cmd_payload_len(uint8_t code);
/* Lower-case name of a command ("set_mode", "reboot"...), NULL if unknown; and back.
 * alfa_cmd_from_name returns the code or E_CMD. */
const char *alfa_cmd_name(uint8_t code);
int alfa_cmd_from_name(const char *name);

/* Encode a command. E_CMD for an unknown code, E_RANGE when a field is structurally invalid
 * (the same checks as decode), E_INVAL if src is 0/127 or dst is 0. */
int alfa_proto_cmd_encode(const alfa_cmd_t *cmd, alfa_can_frame_t *frame);

/* Decode the envelope only: code, seq, src, dst; payload bytes copied to payload[] and their
 * count to *payload_len. Used by a receiver to acknowledge even a command it cannot parse.
 * E_ID if not a command frame, E_LEN if there is no sequence byte. */
int alfa_proto_cmd_envelope(const alfa_can_frame_t *frame, alfa_cmd_t *env,
                            uint8_t payload[ALFA_CMD_PAYLOAD_MAX], uint8_t *payload_len);

/* Full decode: E_ID, E_LEN (no sequence byte, or payload length wrong for the code), E_CMD
 * (unknown code), E_RANGE (an enum, flag, index or time-of-day field out of its format range).
 * Setting ranges (thresholds, kWh, watts) are NOT checked here: the settings table does that. */
int alfa_proto_cmd_decode(const alfa_can_frame_t *frame, alfa_cmd_t *cmd);

/* ---------------------------------------------------------------- acknowledgements (0x30) */

/* Ack results. Values travel on CAN and MQTT: append, never renumber. */
typedef enum alfa_ack_result {
    ALFA_ACK_OK = 0,
    ALFA_ACK_UNKNOWN_CMD = 1,  /* command code not in the dispatch table */
    ALFA_ACK_BAD_LENGTH = 2,   /* payload length wrong for the command */
    ALFA_ACK_OUT_OF_RANGE = 3, /* a value outside its allowed range: nothing changed */
    ALFA_ACK_NOT_ALLOWED = 4,  /* not allowed now (state), or not from this sender */
    ALFA_ACK_FAILED = 5,       /* accepted but could not be carried out (storage error...) */
    ALFA_ACK_RESULT_COUNT
} alfa_ack_result_t;

/* Lower-case name of an ack result ("ok", "unknown_command", "bad_length", "out_of_range",
 * "not_allowed", "failed"), never NULL ("?" for unknown values). */
const char *alfa_ack_result_name(uint8_t result);

typedef struct alfa_ack {
    uint8_t src;     /* acknowledging node */
    uint8_t dst;     /* the command's sender */
    uint8_t code;    /* the command's code */
    uint8_t seq;     /* the command's sequence number */
    uint8_t result;  /* alfa_ack_result_t */
} alfa_ack_t;

/* 2 data bytes: seq, result. */
int alfa_proto_ack_encode(const alfa_ack_t *ack, alfa_can_frame_t *frame);
int alfa_proto_ack_decode(const alfa_can_frame_t *frame, alfa_ack_t *ack);

/* ---------------------------------------------------------------- setting value (0x31) */

typedef struct alfa_setting_msg {
    uint8_t src;       /* reporting node */
    uint8_t dst;       /* who asked */
    uint8_t seq;       /* sequence number of the READ_SETTINGS command */
    uint8_t last;      /* 1 on the last setting of the answer */
    uint16_t id;       /* setting id (settings table) */
    int32_t value;
} alfa_setting_msg_t;

/* 8 data bytes: seq u8, flags u8 (bit0 last), id u16, value i32. */
int alfa_proto_setting_encode(const alfa_setting_msg_t *m, alfa_can_frame_t *frame);
int alfa_proto_setting_decode(const alfa_can_frame_t *frame, alfa_setting_msg_t *m);

/* ---------------------------------------------------------------- helpers */

/* Class of a received frame, or E_ID for anything that is not an extended data frame with a
 * known Alfaspark class. */
int alfa_proto_classify(const alfa_can_frame_t *frame);

#endif
