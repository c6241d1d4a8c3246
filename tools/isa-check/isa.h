/* The isa-check harness: one whole pack driven through a scripted day by an integer-only world, identical on every ISA. */
#ifndef ALFA_ISA_H
#define ALFA_ISA_H

/*
 * What it is. `isa_run` builds a world — a plant (battery, solar, house, pool pump, water heater,
 * grid), a BMS that answers the pack's real Modbus RTU requests, a scripted gateway on the CAN bus
 * (heartbeat, time, commands, a settings write, grid-import answers, a firmware update), a 16-KiB NOR
 * flash for the settings and a 32-KiB one for two firmware slots with ESP-IDF-like boot records — and
 * runs one `alfa_pack_t` in it for 24 simulated hours, through nothing but the pack's public API
 * (alfa_pack_init / alfa_pack_process / alfa_pack_boot_state / alfa_pack_fwu) and the port callbacks.
 *
 * The update (fwsend.c, fwslots.c): at 10:00 the gateway's place sends a 6,000-byte image made here
 * (deterministic bytes, a real header with the payload's SHA-256) with the protocol library's codecs;
 * the pack receives it into the update slot, hashes it (SHA-256 on every ISA), activates it, restarts,
 * the harness's bootloader starts it pending-verify, and the pack confirms it after its self-test.
 * The signature is not ECDSA here (no crypto on bare metal): fw_verify compares the digest and the
 * 64 signature bytes with the ones the harness put in the manifest.
 *
 * Why. The same C runs on the host, bare-metal rv32imc under QEMU (the ESP32-C3 ISA) and the
 * ESP32's own Xtensa configuration under QEMU (de212, which traps unaligned accesses). Every output
 * of the pack (frames, relays, pixels, segments, LEDs, Modbus bytes, flash operations) and every
 * assembled telemetry record is folded into one CRC-32; the printed hourly lines and the final sum
 * must be byte-identical on all three. Integers only, no libc, no heap: the world is one struct.
 *
 * Platform hooks: each build supplies isa_out (write text) and isa_instret (retired instructions,
 * 0 where not available). Lines starting with '#' carry per-platform figures and are not compared.
 */

#include <stdbool.h>
#include <stdint.h>
#include "alfa/pack.h"
#include "alfa/proto.h"
#include "alfa/settings.h"

/* ---- platform hooks ---- */
void isa_out(const char *s, uint32_t len);
uint64_t isa_instret(void);
/* Runs the day; returns the number of failed expectations (0 = pass). */
int isa_run(void);

/* ---- the day (day.c) ---- */
#define ISA_DAY_MS 86400000u
#define ISA_START_LOCAL_S (21u * 3600u)      /* the day starts at 21:00 local */
#define ISA_START_UNIX_S 1750532400u          /* 2025-06-21 19:00:00 UTC = 21:00 at UTC+2 */
#define ISA_UTC_OFFSET_MIN 120
#define ISA_NOW_ORIGIN_MS 0xFFF00000u         /* the pack's monotonic clock wraps 17.5 min in */
#define ISA_TICK_MS 10u                       /* world step: gateway frames and events on this grid */
#define ISA_WAKE_MS 50u                       /* the board's periodic wake-up (plus CAN and UART events) */
#define ISA_PLANT_MS 100u                     /* the plant's integration step */
#define ISA_SERIAL 0x240AC4123456ull          /* the pack's serial (an Espressif MAC) */
#define ISA_GW_SERIAL 0x00A1FA000001ull       /* the gateway's serial */

/* Local clock time of the day -> ms since the start (21:00 local). */
#define ISA_T(h, m, s) \
    ((((uint32_t)(h) * 3600u + (uint32_t)(m) * 60u + (uint32_t)(s) + 86400u - ISA_START_LOCAL_S) % 86400u) * 1000u)

typedef enum isa_ev_kind {
    ISA_EV_CMD = 1,         /* gateway command: code, a, b, c, d; expect = ack result */
    ISA_EV_BMS_ALARMS,      /* BMS alarm register from now: a */
    ISA_EV_BMS_WARNINGS,    /* BMS warning register from now: a */
    ISA_EV_BMS_SILENT,      /* BMS stops answering (a = 1) or answers again (a = 0) */
    ISA_EV_BMS_SLOW,        /* BMS answers after a ms (0 = normal turnaround) */
    ISA_EV_EXPECT_RELAY,    /* telemetry: relay a closed == b */
    ISA_EV_EXPECT_FAULT,    /* telemetry: fault bit a active == b */
    ISA_EV_EXPECT_WARNING,  /* telemetry: warning bit a active == b */
    ISA_EV_EXPECT_MODE,     /* telemetry: mode == a */
    ISA_EV_EXPECT_BOOT,     /* alfa_pack_boot_state == a, boots since start == b */
    ISA_EV_EXPECT_SETTING,  /* the last read_settings answer: setting a == b */
    ISA_EV_EXPECT_IMPORT,   /* telemetry: grid import today >= a and <= b (Wh) */
    ISA_EV_FW_UPDATE,       /* the gateway starts the firmware update (fwsend.c) */
    ISA_EV_EXPECT_FW,       /* heartbeat version == a (major << 16 | minor << 8 | patch), sender phase == b */
} isa_ev_kind_t;

typedef struct isa_event {
    uint32_t t_ms;          /* since the start, on the 10-ms grid */
    uint8_t kind;           /* isa_ev_kind_t */
    uint8_t code;           /* command code */
    uint8_t expect;         /* expected ack result */
    int32_t a, b, c, d;
} isa_event_t;

extern const isa_event_t isa_day[];
extern const uint32_t isa_day_count;

/* ---- the plant (plant.c) ---- */
#define ISA_BATT_WH 10240u            /* 16 x 3.2 V x 200 Ah */
#define ISA_CT_RATE_HZ 1250u          /* what the ESP32 port delivers: 20 kHz ADC / 4 channels / 4 */
#define ISA_CT_SAMPLES 125u           /* 100 ms blocks */

typedef struct isa_plant {
    uint32_t e_mwh;               /* battery energy, mWh */
    uint32_t rem_wms;             /* W x ms not yet a whole mWh */
    int32_t solar_w, house_w, pool_w, heater_w;  /* what each would draw / give now */
    int32_t p_grid_w, p_home_w, p_pool_w, p_heater_w, p_batt_w;  /* the flows after the relays */
    uint32_t v_mv;
    int32_t i_ma;
    uint32_t rng;
} isa_plant_t;

void isa_plant_init(isa_plant_t *p);
/* Advance by dt_ms at t_ms (since the start) with relays closed = `closed` (bit i = relay i). */
void isa_plant_step(isa_plant_t *p, uint32_t t_ms, uint32_t dt_ms, uint8_t closed);
uint8_t isa_plant_soc_pct(const isa_plant_t *p);
/* One 100-ms CT block of channel `ct` for the plant's present flows: 12-bit codes, bias 2048. */
void isa_plant_ct_block(isa_plant_t *p, uint8_t ct, uint16_t out[ISA_CT_SAMPLES]);

/* ---- the BMS, a Modbus RTU slave (bmsslave.c) ---- */
typedef struct isa_bms {
    uint8_t req[16];
    uint8_t req_len;
    uint8_t resp[32];
    uint8_t resp_len;
    uint8_t resp_off;
    uint32_t resp_ready_t;        /* t_ms when the whole answer is in the UART (0 = none) */
    uint8_t resp_notified;        /* the UART event for this answer was delivered */
    uint32_t last_rx_t;
    uint16_t alarms, warnings;
    uint8_t silent;
    uint32_t slow_ms;
    uint32_t requests, answers, bad_requests;
} isa_bms_t;

void isa_bms_init(isa_bms_t *b);
/* Bytes the pack wrote at t_ms; the answer (to a complete, valid request) is scheduled. */
void isa_bms_rx(isa_bms_t *b, const isa_plant_t *plant, const uint8_t *data, uint16_t len, uint32_t t_ms);
/* Modbus CRC-16 (own routine: the harness must not share the pack's). */
uint16_t isa_crc16_modbus(const uint8_t *d, uint32_t n);

/* ---- checksum and text (fmt.c) ---- */
typedef struct isa_sum {
    uint32_t crc;
    uint32_t table[256];
} isa_sum_t;
void isa_sum_init(isa_sum_t *s);
/* Inline: on the windowed Xtensa ABI every call level the harness adds inside a port callback costs
 * register-window spills under QEMU. */
static inline void isa_sum_bytes(isa_sum_t *s, const void *data, uint32_t len)
{
    const uint8_t *p = data;
    uint32_t c = s->crc;
    for (uint32_t i = 0; i < len; i++) {
        c = s->table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    }
    s->crc = c;
}
static inline void isa_sum_u32(isa_sum_t *s, uint32_t v)
{
    /* Serialised little-endian byte by byte, so the sum never depends on the host's byte order. */
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    isa_sum_bytes(s, b, 4u);
}

typedef struct isa_line {
    char buf[320];
    uint32_t len;
} isa_line_t;
void isa_line_str(isa_line_t *l, const char *s);
void isa_line_u32(isa_line_t *l, uint32_t v);
void isa_line_i32(isa_line_t *l, int32_t v);
void isa_line_u64(isa_line_t *l, uint64_t v);
void isa_line_hex(isa_line_t *l, uint32_t v, uint32_t digits);
void isa_line_2d(isa_line_t *l, uint32_t v);
void isa_line_end(isa_line_t *l); /* newline, write out, clear */

/* Instructions spent in a port callback are the board's, not the pack's: counted apart. */
#define CB_BEGIN(w) uint64_t cb_t0_ = isa_instret()
#define CB_END(w) ((w)->cb_instr += isa_instret() - cb_t0_)

/* ---- the world (world.c): the port, the bus, the flash ---- */
#define ISA_FLASH_BLOCK 4096u
#define ISA_FLASH_BLOCKS 4u
#define ISA_FLASH_PROG 16u
#define ISA_FLASH_SIZE (ISA_FLASH_BLOCK * ISA_FLASH_BLOCKS)
#define ISA_RXQ 64u
#define ISA_CMD_PENDING 8u

/* A NOR region with a real part's rules: whole blocks erase to 0xFF, a 16-byte unit is programmed once
 * between erases (a second program is refused and counted). Every operation goes into the checksum
 * under the region's tags. */
typedef struct isa_nor {
    uint8_t *mem;
    uint8_t *map;                     /* bit per unit: programmed since its block's erase */
    uint32_t size, block;
    uint8_t tag_prog, tag_erase;
    uint32_t progs, erases, rule_breaks;
} isa_nor_t;

/* ---- firmware slots (fwslots.c) and the update sender (fwsend.c) ---- */
#define ISA_FW_SECTOR 4096u
#define ISA_FW_OTADATA 2u                     /* sectors of boot records (ESP-IDF's otadata) */
#define ISA_FW_SLOT_SECTORS 3u                /* 8 KiB of payload and the trailer sector */
#define ISA_FW_SLOT (ISA_FW_SECTOR * ISA_FW_SLOT_SECTORS)
#define ISA_FW_SIZE (ISA_FW_SECTOR * (ISA_FW_OTADATA + 2u * ISA_FW_SLOT_SECTORS))
#define ISA_FW_IMAGE 6000u                    /* payload bytes of the update */
#define ISA_FW_CHUNKS ((ISA_FW_IMAGE + 7u) / 8u)
#define ISA_FW_NEW_VERSION 0x020600           /* 2.6.0 */
#define ISA_FW_FRAMES_PER_TICK 8u             /* update frames per 10 ms (the rxq holds 64) */

typedef enum isa_fw_phase {
    ISA_FW_IDLE = 0, ISA_FW_BEGIN, ISA_FW_MANIFEST, ISA_FW_DATA, ISA_FW_POLL, ISA_FW_REPAIR, ISA_FW_VERIFY,
    ISA_FW_ACTIVATE, ISA_FW_DONE, ISA_FW_FAILED,
} isa_fw_phase_t;

typedef struct isa_fwsend {
    uint8_t phase;                    /* isa_fw_phase_t */
    uint32_t phase_t;                 /* when it began (timeouts) */
    uint32_t session;
    uint32_t next;                    /* next chunk to stream */
    uint8_t parity[8];
    uint8_t resend[(ISA_FW_CHUNKS + 7u) / 8u]; /* chunks a NACK asked for */
    uint8_t st_state, st_result;      /* the pack's last STATUS */
    uint16_t st_missing;
    uint32_t statuses, nacks, frames;
    uint8_t manifest[128];            /* header + the harness's stand-in signature */
    uint8_t image[ISA_FW_IMAGE];
    uint8_t digest[32];               /* what fw_verify accepts: the header's digest ... */
} isa_fwsend_t;

/* Boot records: ESP-IDF's otadata (two entries, the highest valid sequence selects the slot). */
typedef struct isa_fwslots {
    isa_nor_t nor;
    uint8_t running;                  /* slot the pack runs from */
    uint32_t rollbacks;               /* PENDING found at boot: the bootloader went back */
    uint32_t verify_calls;
} isa_fwslots_t;

typedef struct isa_pending_cmd {
    uint8_t used, code, seq, expect;
    uint32_t deadline_t;
} isa_pending_cmd_t;

typedef struct isa_world {
    alfa_port_t port;
    alfa_flash_geom_t geom;
    alfa_pack_t pack;
    alfa_pack_config_t cfg;
    uint32_t t_ms;                    /* since the start */
    isa_plant_t plant;
    isa_bms_t bms;
    isa_sum_t sum;
    /* board outputs */
    uint8_t coils;                    /* energised relays */
    uint8_t leds;
    uint8_t segments[ALFA_SEG_DIGITS];
    uint8_t pixels_lit;
    uint32_t watchdog_feeds;
    uint16_t ct_block[ALFA_CT_COUNT][ISA_CT_SAMPLES];
    uint8_t reboot_req;
    uint32_t boots;
    /* flash: the settings store's region, the firmware slots' region */
    isa_nor_t store;
    uint8_t flash[ISA_FLASH_SIZE];
    uint8_t flash_prog_map[ISA_FLASH_SIZE / ISA_FLASH_PROG / 8u];
    alfa_slot_geom_t slot_geom;
    isa_fwslots_t fw;
    uint8_t fw_flash[ISA_FW_SIZE];
    uint8_t fw_prog_map[ISA_FW_SIZE / ISA_FLASH_PROG / 8u];
    isa_fwsend_t send;
    uint32_t hb_version;              /* the version in the pack's last heartbeat */
    /* CAN: gateway -> pack queue; the pack's frames are handled as they are sent */
    alfa_can_frame_t rxq[ISA_RXQ];
    uint32_t rxq_head, rxq_tail, rxq_drops;
    uint8_t gw_seq;
    uint32_t frames_from_pack;
    uint8_t pack_node;                /* the node ID the pack uses (from its frames) */
    alfa_telem_rx_t telem_rx;
    alfa_telemetry_t telem;           /* the last assembled record */
    uint32_t telem_records;
    uint32_t import_req_t;            /* when a grid-import request was heard (0 = none pending) */
    isa_pending_cmd_t pending[ISA_CMD_PENDING];
    uint32_t acks_ok, acks_refused;
    int32_t settings_read[ALFA_SET_COUNT];
    uint32_t settings_frames;
    /* accounting */
    uint64_t cb_instr;                /* instructions spent in port callbacks (not the pack's) */
    int failures;
} isa_world_t;

void isa_world_init(isa_world_t *w);
/* The gateway's frame into the pack's receive queue. */
void isa_world_to_pack(isa_world_t *w, const alfa_can_frame_t *f);
/* Send scripted command `ev` from the gateway. */
void isa_world_command(isa_world_t *w, const isa_event_t *ev);
/* Periodic gateway traffic due at w->t_ms (heartbeat, time, grid-import answer). */
void isa_world_gateway_tick(isa_world_t *w);
/* Report a failed expectation (prints a FAIL line, counts it). */
void isa_world_fail(isa_world_t *w, const char *what, int32_t got, int32_t want);
/* Sum a tagged event at the present moment. */
void isa_world_sum_tag(isa_world_t *w, uint8_t tag);

/* NOR regions (world.c). */
void isa_nor_init(isa_nor_t *f, uint8_t *mem, uint8_t *map, uint32_t size, uint32_t block, uint8_t tag_prog,
                  uint8_t tag_erase);
int32_t isa_nor_read(isa_world_t *w, isa_nor_t *f, uint32_t addr, void *buf, uint32_t len);
int32_t isa_nor_prog(isa_world_t *w, isa_nor_t *f, uint32_t addr, const void *buf, uint32_t len);
int32_t isa_nor_erase(isa_world_t *w, isa_nor_t *f, uint32_t block);

/* The firmware slots (fwslots.c): the slot callbacks and fw_verify into w->port, a blank factory
 * board (slot 0 runs, no boot records); isa_fw_boot is the 2nd-stage bootloader before each start. */
void isa_fw_init(isa_world_t *w);
void isa_fw_boot(isa_world_t *w);

/* The update sender at the gateway's place (fwsend.c). */
void isa_fw_make_image(isa_world_t *w);
void isa_fw_start(isa_world_t *w);
/* Its work on the 10-ms grid while an update runs; true while it needs the grid. */
bool isa_fw_tick(isa_world_t *w);
bool isa_fw_active(const isa_world_t *w);
/* An update reply (class 0x41) the pack sent. */
void isa_fw_on_reply(isa_world_t *w, const alfa_can_frame_t *f);

#endif
