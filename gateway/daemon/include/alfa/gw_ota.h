/* The gateway's firmware-update sender, without I/O: one signed image to many packs over CAN, staged activation, MQTT progress. */
#ifndef ALFA_GW_OTA_H
#define ALFA_GW_OTA_H

/*
 * gw_ota_t moves one image (fwimg.h) to a set of packs at once over the update classes
 * (fwu_proto.h, docs/protocol.md §7) and activates it in stages (docs/ota.md). Like gw_core it
 * is a state machine fed with received CAN frames, MQTT messages and time, answering through
 * callbacks; the daemon (gw_main.c), the simulator's gateway role, tests and the benchmark drive
 * the same code. It reads the bus itself (heartbeats: serial <-> node ID, running version,
 * restarts; replies of class 0x41), so it needs nothing from gw_core.
 *
 *   offer     BEGIN to every target + the 16 manifest parts; each pack checks the manifest
 *             (signature, device, hardware class, version, counter, size) and answers STATUS:
 *             accepted (receiving or resuming what it already has) or refused (reason)
 *   transfer  rounds: every chunk some accepted pack misses, in order, paced under the bus-load
 *             budget; the first round is the whole image with a parity frame per 16 chunks and a
 *             POLL after each 4-KiB block, whose NACKs are re-sent at once, ahead of new data;
 *             then POLL with status, re-send the union of what is missing, until every pack has
 *             all; a pack silent for pack_timeout_ms is dropped (reported)
 *   verify    each pack hashes its slot and reports READY (or a hash failure: it starts again)
 *   activate  one canary pack first, then waves of wave_pct of the rest, each waiting until its
 *             packs run the new image confirmed by their self-test; a rollback or a timeout stops
 *             the roll-out (the remaining packs keep the old image, reported "skipped")
 *
 * Pacing: update frames are counted in bits against bus_load_pct of 500 kbit/s, and never more
 * than burst_frames of them wait in the transmit path (io->tx_backlog), so a command queued by
 * gw_core waits behind at most that many.
 *
 * MQTT (alfaspark/<site>/ota/...): `image` (raw image bytes, stored as the staged image),
 * `start` (JSON: image path or the staged image, packs, force, wave_pct), `cancel`;
 * out: `state` (retained, the session), `pack/<serial>` (retained, per pack: state, bytes,
 * total, error, version), `result` (events: start refused, image staged, finished).
 * Session state is kept in the file "ota-session" through io->write_file after every change of
 * a phase or a pack's state, and gw_ota_restore takes it up after a gateway restart.
 */

#include <stddef.h>
#include <stdint.h>

#include "alfa/fwimg.h"
#include "alfa/fwu_proto.h"

#define GW_OTA_MAX_TARGETS 64u
#define GW_OTA_SITE_MAX 48u

/* Log levels as gw_core (syslog). */
#define GW_OTA_LOG_ERR 3
#define GW_OTA_LOG_WARN 4
#define GW_OTA_LOG_INFO 6
#define GW_OTA_LOG_DEBUG 7

typedef struct gw_ota_io {
    void *user;
    /* Publish under the full topic; the payload is copied before return. 0 or negative. */
    int (*publish)(void *user, const char *topic, const char *payload, size_t len, int retain);
    /* Queue one CAN frame: 0, or a negative alfa_port_err_t (ALFA_PORT_E_FULL: try later). */
    int32_t (*can_send)(void *user, const alfa_can_frame_t *frame);
    /* Frames waiting in the transmit path now (adapter, serial buffer); NULL = unknown (then
     * only the bit budget paces). */
    uint32_t (*tx_backlog)(void *user);
    /* Files of the gateway's state directory, by name ("ota-session", "ota-image.img") or by an
     * absolute path (read only). read_file returns a malloc'd buffer (the caller frees) or NULL;
     * write_file replaces the file atomically: 0 or -1. Both may be NULL (nothing persists). */
    uint8_t *(*read_file)(void *user, const char *name, size_t *len);
    int (*write_file)(void *user, const char *name, const void *data, size_t len);
    /* One log line (no newline), syslog level. May be NULL. */
    void (*log)(void *user, int level, const char *msg);
} gw_ota_io_t;

typedef struct gw_ota_cfg {
    char site[GW_OTA_SITE_MAX];
    uint32_t bus_load_pct;       /* share of the bus the update frames may take (70) */
    uint32_t burst_frames;       /* update frames allowed to wait in the transmit path (4) */
    uint32_t wave_pct;           /* packs activated together after the canary, % of the targets (25) */
    uint32_t pack_timeout_ms;    /* a target silent this long is dropped (20000) */
    uint32_t confirm_timeout_ms; /* activation -> confirmed running, at most (240000) */
    uint32_t reply_timeout_ms;   /* waiting for STATUS before asking again (1000) */
} gw_ota_cfg_t;

void gw_ota_cfg_defaults(gw_ota_cfg_t *cfg);

/* The whole session's phase (published in ota/state). */
typedef enum gw_ota_phase {
    GW_OTA_IDLE = 0,
    GW_OTA_OFFER = 1,
    GW_OTA_TRANSFER = 2,
    GW_OTA_VERIFY = 3,
    GW_OTA_ACTIVATE = 4,
    GW_OTA_DONE = 5,
} gw_ota_phase_t;

/* One target pack as the gateway sees it (published in ota/pack/<serial>). */
typedef enum gw_ota_tstate {
    GW_T_WAITING = 0,     /* offered, no answer yet */
    GW_T_RECEIVING = 1,   /* accepted, chunks missing */
    GW_T_READY = 2,       /* verified image in its slot */
    GW_T_ACTIVATING = 3,  /* told to activate: restarting */
    GW_T_TRIAL = 4,       /* runs the new image, self-test running */
    GW_T_CONFIRMED = 5,   /* runs the new image, confirmed: done */
    GW_T_REFUSED = 6,     /* refused the image (error says why) */
    GW_T_FAILED = 7,      /* transfer or verification failed */
    GW_T_DROPPED = 8,     /* stopped answering */
    GW_T_ROLLED_BACK = 9, /* the new image did not confirm: the old one runs */
    GW_T_SKIPPED = 10,    /* not activated: the roll-out stopped, or cancelled */
    GW_T_COUNT
} gw_ota_tstate_t;

const char *gw_ota_tstate_name(uint8_t st);
const char *gw_ota_phase_name(uint8_t ph);

typedef struct gw_ota_target {
    uint64_t serial;
    char hex[13];
    uint8_t node;                /* current node ID (0 = not heard) */
    uint8_t st;                  /* gw_ota_tstate_t */
    uint8_t pack_state, pack_result; /* the pack's last STATUS */
    uint16_t detail;
    char error[48];              /* refusal / failure reason, "" when none */
    uint32_t missing;            /* chunks missing as last reported (or assumed) */
    uint32_t nack_out;           /* chunks it reported missing (NACKs) in this session, in all */
    uint32_t resumed_from;       /* chunks it already had when it resumed (0 = fresh) */
    uint32_t last_heard_ms, asked_ms;
    uint8_t tries;
    uint8_t answered;            /* STATUS of the current poll round arrived */
    uint8_t wave;                /* activation wave (0 = canary) */
    uint8_t activations;         /* ACTIVATE orders given (a pack that came back on the old image gets a second) */
    uint32_t activated_ms;       /* when it was told to activate */
    uint8_t came_back;           /* restarted (CLAIMING heartbeat) since it was told to activate */
    uint8_t online, restarted;   /* from heartbeats: heard recently; seen CLAIMING since asked */
    uint8_t run_major, run_minor, run_patch;
    uint32_t hb_ms;
    uint32_t published_ms;
    uint8_t dirty;               /* publish its progress */
} gw_ota_target_t;

typedef struct gw_ota_stats {
    uint64_t frames_sent, data_frames, repair_frames, parity_frames, ctrl_frames, manifest_frames;
    uint64_t bytes_sent;         /* data bytes of every update frame sent (payload of the CAN frames) */
    uint64_t reply_frames, reply_bytes, nack_frames;
    uint64_t tx_full;
    uint64_t publish_fail;       /* MQTT messages the io refused (the next change publishes again) */
    uint32_t rounds;
} gw_ota_stats_t;

typedef struct gw_ota gw_ota_t; /* opaque: gw_ota_new / gw_ota_free */

/* Make a sender (NULL when out of memory). `cfg` and `io` are copied; io->user must outlive it. */
gw_ota_t *gw_ota_new(const gw_ota_cfg_t *cfg, const gw_ota_io_t *io);
void gw_ota_free(gw_ota_t *o);

/* Start an update of `image` (manifest + payload, copied) to the packs of `serials` (n > 0), or to
 * every pack heard on the bus (n = 0). `force` lets packs accept a version that is not newer. 0,
 * or -1 with `why` filled: a session is running, the image is malformed or its payload does not
 * match its header, no packs. The gateway does not judge signatures: packs do (they hold the
 * keys), and their refusals are reported per pack. */
int gw_ota_start(gw_ota_t *o, const uint8_t *image, size_t len, const uint64_t *serials, size_t n, int force,
                 uint32_t now_ms, char *why, size_t why_cap);
/* Cancel the running session: packs are told, targets not done are "skipped". */
void gw_ota_cancel(gw_ota_t *o, uint32_t now_ms);

/* A received CAN frame (every frame: heartbeats and update replies are read, the rest ignored). */
void gw_ota_on_can(gw_ota_t *o, const alfa_can_frame_t *f, uint32_t now_ms);
/* An MQTT message: returns 1 when the topic was an ota/ topic (handled), 0 otherwise. */
int gw_ota_on_mqtt(gw_ota_t *o, const char *topic, const void *payload, size_t len, uint32_t now_ms);
/* The broker connection is (back) up: publish the session and every target again (retained). */
void gw_ota_on_connect(gw_ota_t *o);
/* Send what the budget allows, run timers. Call every millisecond or two while
 * gw_ota_active(); otherwise every 100 ms is enough. */
void gw_ota_process(gw_ota_t *o, uint32_t now_ms);
/* Milliseconds the caller may sleep before the next gw_ota_process. */
uint32_t gw_ota_wait_ms(const gw_ota_t *o);

/* Take up the session saved in the state directory (after a restart). 1 when one was resumed,
 * 0 when there was none or it had ended, -1 when the file or its image is unreadable (logged). */
int gw_ota_restore(gw_ota_t *o, uint32_t now_ms);

/* Introspection (tests, simulator, benchmark). */
int gw_ota_active(const gw_ota_t *o);
gw_ota_phase_t gw_ota_phase(const gw_ota_t *o);
uint32_t gw_ota_session(const gw_ota_t *o);
size_t gw_ota_targets(const gw_ota_t *o, const gw_ota_target_t **out);
const gw_ota_target_t *gw_ota_target(const gw_ota_t *o, uint64_t serial);
const gw_ota_stats_t *gw_ota_stats(const gw_ota_t *o);
/* Image bytes (payload) of the session, 0 when none. */
uint32_t gw_ota_image_size(const gw_ota_t *o);

#endif
