/* The update sender's state, shared by gw_ota.c (session, packs, CAN replies), gw_ota_io.c (MQTT, persistence),
 * gw_ota_phase.c (timers, phases, waves) and gw_ota_tx.c (rounds, pacing, frames). */
#ifndef GW_OTA_INTERNAL_H
#define GW_OTA_INTERNAL_H

#include "alfa/gw_ota.h"
#include "alfa/proto.h"

#define GW_OTA_CTRLQ 128u
#define GW_OTA_BITS_DATA 150u       /* wire bits of an 8-byte extended frame with typical stuffing */
#define GW_OTA_HB_ONLINE_MS 3000u
#define GW_OTA_PUBLISH_MS 1000u     /* a pack's progress at most this often */
#define GW_OTA_SESSION_FILE "ota-session"
#define GW_OTA_IMAGE_FILE "ota-image.img"

/* Transfer sub-states. */
#define GW_TX_SEND 0u
#define GW_TX_POLL 1u

struct gw_ota {
    gw_ota_cfg_t cfg;
    gw_ota_io_t io;
    uint8_t phase;
    uint32_t now_ms;

    /* the image */
    uint8_t *image;                  /* manifest + payload */
    size_t image_len;
    alfa_fwimg_hdr_t hdr;
    uint32_t session;
    uint8_t force;
    uint32_t wave_pct;
    uint32_t n_chunks, n_blocks;
    char id_json[80];                /* the start request's "id", as JSON ("null" when none) */
    char result[96];                 /* how the session ended */

    /* packs heard on the bus */
    uint64_t node_serial[ALFA_NODE_MAX + 1u];
    uint32_t node_hb_ms[ALFA_NODE_MAX + 1u];
    uint8_t node_state[ALFA_NODE_MAX + 1u];
    uint8_t node_ver[ALFA_NODE_MAX + 1u][3];
    uint8_t node_type[ALFA_NODE_MAX + 1u];

    gw_ota_target_t t[GW_OTA_MAX_TARGETS];
    size_t nt;

    /* transfer */
    uint8_t *need;                   /* chunks to send in this round */
    uint8_t *urgent;                 /* NACKed during a full round: re-sent ahead of new data */
    uint32_t urgent_count, urgent_cursor;
    uint32_t cursor;
    uint8_t round_full;              /* every chunk is sent: parity frames and block POLLs */
    uint8_t sub;
    uint32_t poll_ms;
    uint8_t parity[8];
    uint8_t parity_due;
    uint32_t parity_group;
    uint8_t xfer;                    /* some accepted pack still misses chunks: rounds run */
    uint32_t phase_ms;               /* when the phase began */

    /* control frames wait here, ahead of data */
    alfa_can_frame_t ctrlq[GW_OTA_CTRLQ];
    uint32_t cq_head, cq_count;

    /* pacing */
    int64_t tokens;
    uint32_t tokens_ms;
    uint8_t tokens_init;

    /* activation */
    uint8_t wave;                    /* the wave being activated (0 = canary) */
    uint8_t waves_started;

    uint8_t state_dirty, save_dirty;
    uint32_t state_published_ms;
    uint8_t connected_once;
    gw_ota_stats_t stats;
};

/* gw_ota.c */
void gw_ota_log(gw_ota_t *o, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void gw_ota_set_target(gw_ota_t *o, gw_ota_target_t *t, uint8_t st, const char *error);
void gw_ota_queue_ctrl(gw_ota_t *o, const alfa_can_frame_t *f);
void gw_ota_send_ctrl(gw_ota_t *o, uint8_t dst, uint8_t op, uint16_t first, uint16_t last, uint8_t want);
void gw_ota_send_manifest(gw_ota_t *o, uint8_t dst, uint16_t parts);   /* the manifest parts set in `parts` */
int gw_ota_image_check(const uint8_t *img, size_t len, alfa_fwimg_hdr_t *h, char *why, size_t cap);
int gw_ota_load_image(gw_ota_t *o, const uint8_t *image, size_t len, char *why, size_t cap);
void gw_ota_reset_session(gw_ota_t *o);
void gw_ota_target_add(gw_ota_t *o, uint64_t serial);
int gw_ota_is_final(uint8_t st);
int gw_ota_runs_new(const gw_ota_t *o, const gw_ota_target_t *t);  /* its heartbeat shows the image's version */
void gw_ota_finish(gw_ota_t *o, const char *result);

/* gw_ota_io.c */
void gw_ota_publish_target(gw_ota_t *o, gw_ota_target_t *t);
void gw_ota_publish_state(gw_ota_t *o);
void gw_ota_publish_result(gw_ota_t *o, const char *id_json, const char *result, const char *detail);
void gw_ota_save(gw_ota_t *o);

/* gw_ota_tx.c */
int gw_ota_tx_alloc(gw_ota_t *o);                 /* bitmaps for n_chunks: 0 or -1 */
void gw_ota_tx_free(gw_ota_t *o);
void gw_ota_tx_begin(gw_ota_t *o, int full);      /* a new round: everything (full) or the need map */
void gw_ota_tx_on_nack(gw_ota_t *o, gw_ota_target_t *t, const alfa_fwu_reply_t *r);
void gw_ota_tx_pump(gw_ota_t *o);                 /* send what budget and backlog allow */
void gw_ota_tx_step(gw_ota_t *o);                 /* round logic: poll, next round, completion */
int gw_ota_tx_idle(const gw_ota_t *o);            /* nothing queued to send */

static inline int gw_ota_bit(const uint8_t *m, uint32_t i) { return (m[i >> 3] >> (i & 7u)) & 1u; }
static inline void gw_ota_bit_set(uint8_t *m, uint32_t i) { m[i >> 3] = (uint8_t)(m[i >> 3] | (1u << (i & 7u))); }
static inline void gw_ota_bit_clr(uint8_t *m, uint32_t i) { m[i >> 3] = (uint8_t)(m[i >> 3] & ~(1u << (i & 7u))); }

#endif
