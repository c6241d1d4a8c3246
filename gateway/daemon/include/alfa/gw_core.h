/* The gateway's logic without I/O: CAN frames and MQTT messages in, MQTT publishes and CAN frames out. */
#ifndef ALFA_GW_CORE_H
#define ALFA_GW_CORE_H

/*
 * gw_core_t is the whole CAN <-> MQTT bridge (SPEC.md §9) as a state machine: the daemon
 * (gw_main.c) feeds it received CAN frames, received MQTT messages and the passing of time, and
 * it answers through two callbacks (publish, can_send). Tests and benchmarks drive it the same
 * way. Nothing here blocks, allocates or reads a clock: every entry point takes a gw_now_t.
 *
 * What it does:
 *  - pack table from heartbeats (serial <-> node ID, firmware, online = heartbeat heard within
 *    offline_ms); retained pack/<serial>/status "online"/"offline" on every change;
 *  - telemetry reassembly per node; ONE retained pack/<serial>/state JSON per completed cycle;
 *    "event" messages when a fault or warning bit changes;
 *  - site totals -> retained site/state;
 *  - today's energy counters made monotonic within a day (a rebooted pack that restarts from 0
 *    never makes Home Assistant see a dip) and kept per pack, so the gateway answers a rebooted
 *    pack's grid-import request (class 0x06) with today's value;
 *  - commands: parse + validate (gw_cmd.h), rate limit per client and per site, send with a
 *    sequence number, collect acks, one cmd/result per command and pack, "timeout" after
 *    cmd_timeout_ms; read_settings results carry the settings;
 *  - its own heartbeat every second (device type 3, node 126: keeps the ID reserved in every
 *    pack's node table; packs never elect it);
 *  - time broadcast at start and every time_period_ms;
 *  - smart sockets (Tasmota-style command topics) switched on the site's solar surplus;
 *  - Home Assistant discovery for every pack and the site, re-sent when homeassistant/status
 *    says "online" and after every (re)connect.
 */

#include <stddef.h>
#include <stdint.h>

#include "alfa/gw_clock.h"
#include "alfa/gw_cmd.h"
#include "alfa/dayfig.h"
#include "alfa/proto.h"
#include "alfa/settings.h"

#define GW_MAX_PACKS 64u
#define GW_MAX_PENDING 32u
#define GW_MAX_CLIENTS 16u
#define GW_SITE_MAX 48u
#define GW_PREFIX_MAX 64u

enum gw_log_level { GW_LOG_ERR = 3, GW_LOG_WARN = 4, GW_LOG_INFO = 6, GW_LOG_DEBUG = 7 };

struct gw_pack;

typedef struct gw_io {
    void *user;
    /* Publish (QoS is the daemon's mqtt.qos); returns 0 or negative. The
     * payload is copied by the callee before it returns. Required. */
    int (*publish)(void *user, const char *topic, const char *payload, size_t len, int retain);
    /* Queue one CAN frame: 0 or a negative alfa_port_err_t. Required. */
    int32_t (*can_send)(void *user, const alfa_can_frame_t *frame);
    /* One log line without trailing newline, syslog level. May be NULL. */
    void (*log)(void *user, int level, const char *msg);
} gw_io_t;

/* Receives every completed record, stamped with the packs' time (gw_clock.h): a pack's
 * telemetry (`pack` and `t` set, energies already monotonic) or the master's site totals
 * (`pack` NULL, `s` set). The daemon gives them to the history (gw_history.h). */
typedef void (*gw_record_fn)(void *user, const struct gw_pack *pack, const alfa_telemetry_t *t,
                             const alfa_site_totals_t *s, int64_t packs_unix_s);

typedef struct gw_cfg {
    char site[GW_SITE_MAX];           /* topic root alfaspark/<site>/ */
    char ha_prefix[GW_PREFIX_MAX];    /* Home Assistant discovery prefix ("homeassistant") */
    int ha_enabled;
    uint32_t offline_ms;              /* pack offline after this long without a heartbeat (3000) */
    uint32_t cmd_timeout_ms;          /* ack timeout (1000) */
    uint32_t time_period_ms;          /* time broadcast period (60000) */
    int time_require_sync;            /* broadcast time only while the kernel clock is
                                       * synchronized (NTP, adjtimex): 1 by default; an Orange Pi
                                       * has no RTC and boots in 1970 or at the last shutdown */
    uint64_t serial;                  /* the gateway's own 48-bit serial, sent in its heartbeat */
    uint32_t rate_client_per_min;     /* commands a client may send per minute (60) */
    uint32_t rate_client_burst;       /* ... in a burst (10) */
    uint32_t rate_site_per_min;       /* all clients together (600) */
    uint32_t rate_site_burst;         /* (40) */
    /* Smart sockets switched on solar surplus (SPEC §9): surplus = site solar - site home power,
     * from the master's site totals. ON when surplus >= on_surplus_w, OFF when < off_surplus_w,
     * never two changes within min_switch_s. A socket without a topic is unused. */
    struct gw_socket_cfg {
        char topic[96];               /* e.g. "cmnd/pool-socket/POWER" (Tasmota); payload ON / OFF */
        int32_t on_surplus_w;
        int32_t off_surplus_w;
        uint32_t min_switch_s;
    } sockets[4];
} gw_cfg_t;

/* Defaults of every field above. */
void gw_cfg_defaults(gw_cfg_t *cfg);

/* The present moment, as the daemon sees it. */
typedef struct gw_now {
    uint32_t ms;            /* monotonic milliseconds (wraps) */
    int64_t unix_s;         /* wall clock, seconds since 1970 UTC */
    int16_t utc_offset_min; /* local time = UTC + offset */
    int clock_synced;       /* the kernel says the wall clock is synchronized (adjtimex) */
} gw_now_t;

#define GW_ENERGY_COUNTERS 4u /* grid import, solar, battery charge, battery discharge (today) */

typedef struct gw_pack {
    int used;
    uint64_t serial;
    char hex[GW_SERIAL_HEX + 1u];
    uint8_t node_id;
    uint8_t hb_state;               /* ALFA_HB_* of the last heartbeat */
    uint8_t fw_major, fw_minor, fw_patch;
    uint32_t last_hb_ms;
    int online;                     /* as last published */
    int status_published;
    int have_telem;
    alfa_telemetry_t telem;         /* last complete record (energies already monotonic) */
    int64_t telem_unix_s;           /* the gateway's wall clock when it came */
    /* "Today" as the pack counts it: the highest figures of the pack's own site day (its
     * telemetry says which). A lower figure within that day is a rebooted pack that has not
     * recovered yet (hidden); a later day starts again; an earlier one is never taken. The grid
     * import goes by alfa/dayfig.h: what a recovering pack counts since its boot is added to
     * what it had before, and that is what a pack asking for it is told. */
    int e_valid;
    uint16_t e_day;
    uint32_t e_max_wh[GW_ENERGY_COUNTERS];
    alfa_dayfig_t e_grid;
    int discovery_sent;
    /* read_settings answer being collected */
    uint8_t rs_seq;
    int rs_active;
    uint64_t rs_have;               /* bit id: value received */
    int32_t rs_value[ALFA_SET_COUNT];
} gw_pack_t;

typedef struct gw_pending {
    int used;
    uint8_t code, seq;
    uint32_t deadline_ms;
    char id_json[GW_ID_MAX + 1u];
    uint64_t targets;               /* bit = pack index */
    uint64_t acked;                 /* ack received (final unless awaiting settings) */
    uint64_t awaiting_settings;     /* read_settings: ok ack in, setting frames still coming */
} gw_pending_t;

typedef struct gw_bucket {
    char name[GW_CLIENT_MAX + 1u];
    uint32_t milli_tokens;
    uint32_t last_ms;
    int used;
} gw_bucket_t;

typedef struct gw_stats {
    uint32_t can_rx, can_rx_bad, telem_records, states_published, cmds_received, cmds_sent,
        cmds_refused, acks, results, timeouts, publish_errors, can_tx_errors;
} gw_stats_t;

typedef struct gw_core {
    gw_cfg_t cfg;
    gw_io_t io;
    gw_pack_t packs[GW_MAX_PACKS];
    int8_t node_pack[ALFA_NODE_MAX + 1u];  /* node ID -> pack index, -1 none */
    alfa_telem_rx_t telem_rx[ALFA_NODE_MAX + 1u];
    alfa_site_rx_t site_rx;
    int have_site;
    alfa_site_totals_t site;
    int site_e_valid;               /* the site's import, by the master's day (as per pack) */
    uint16_t site_e_day;
    uint32_t site_e_max_wh;
    int64_t site_unix_s;            /* the packs' time of the last site totals */
    gw_pending_t pending[GW_MAX_PENDING];
    uint8_t next_seq;
    gw_bucket_t clients[GW_MAX_CLIENTS];
    gw_bucket_t site_bucket;
    uint32_t last_hb_ms;
    int hb_sent;
    int time_sent;
    uint32_t last_time_ms;
    int time_state;                 /* as last published on gateway/time: -1 none yet, 0 waiting
                                     * for a synchronized clock, 1 broadcasting */
    int connected;
    struct gw_socket_state {
        int known;                  /* a command was sent since start */
        int on;
        uint32_t last_switch_ms;
    } sockets[4];
    gw_clock_t clock;               /* the packs' time (ts_s of states, site state and events) */
    int16_t packs_offset_min;       /* the packs' UTC offset (with their time) */
    gw_record_fn record;            /* gw_core_set_record(), NULL = none */
    void *record_user;
    int ha_due;                     /* discovery re-send scheduled */
    uint32_t ha_due_ms;
    gw_stats_t stats;
} gw_core_t;

/* Start with `cfg` (copied) and `io` (copied; io->user must outlive the core). */
void gw_core_init(gw_core_t *gw, const gw_cfg_t *cfg, const gw_io_t *io, const gw_now_t *now);

/* Every completed record from now on goes to `fn` (NULL: none) with `user`. */
void gw_core_set_record(gw_core_t *gw, gw_record_fn fn, void *user);

/* The packs' UTC offset (gw_clock.h), as last stamped. */
int16_t gw_core_utc_offset(const gw_core_t *gw);

/* One received CAN frame. Malformed and foreign frames are counted and ignored. */
void gw_core_on_can(gw_core_t *gw, const alfa_can_frame_t *frame, const gw_now_t *now);

/* One received MQTT message (command topics and homeassistant/status). */
void gw_core_on_mqtt(gw_core_t *gw, const char *topic, const void *payload, size_t len, const gw_now_t *now);

/* The broker connection came up: publish gateway online, statuses, states, site, discovery. */
void gw_core_on_connect(gw_core_t *gw, const gw_now_t *now);
/* The broker connection went down: nothing is published until the next on_connect. */
void gw_core_on_disconnect(gw_core_t *gw);

/* Timers: pack offline detection, command timeouts, time broadcast (only while the clock is
 * synchronized, unless time_require_sync is 0; the state goes to the log and, retained, to
 * gateway/time), scheduled discovery. Call at least every 100 ms. */
void gw_core_process(gw_core_t *gw, const gw_now_t *now);

/* Topic helpers: writes "alfaspark/<site>/<suffix>" into out; returns length or -1. */
int gw_topic(const gw_core_t *gw, char *out, size_t cap, const char *suffix);


/* Build the state JSON of a pack (what pack/<serial>/state carries). Returns length or -1. */
int gw_pack_state_json(const gw_core_t *gw, const gw_pack_t *p, char *out, size_t cap);

/* The pack of a serial, or NULL. */
const gw_pack_t *gw_core_pack(const gw_core_t *gw, uint64_t serial);
/* A pack's 48-bit serial. */
uint64_t gw_pack_serial(const gw_pack_t *p);
/* What the gateway publishes as the pack's "today": its last record (the today counters never
 * lower within a day) into *out and the packs' site day they belong to into *day. 0 (nothing
 * written) before a record with a day came; 1 otherwise. */
int gw_pack_today(const gw_pack_t *p, alfa_telemetry_t *out, uint16_t *day);
/* Counters since init (owned by `gw`). */
const gw_stats_t *gw_core_stats(const gw_core_t *gw);

#endif
