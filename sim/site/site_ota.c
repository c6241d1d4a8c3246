/* The simulated site's firmware-update side (site_ota.h). */
#include "site_ota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/fw_keys.h"
#include "alfa/fw_verify.h"
#include "alfa/fwimg.h"
#include "alfa/gw_ota.h"
#include "alfa/memdir.h"
#include "alfa/sha256.h"
#include "alfa/sim_rng.h"
#include "fwsign.h"

#define SIM_KEYS_MAX 16u
#define SIM_TEST_KEY_SEED 0x5A11u  /* the simulator's own test key: trusted by simulated packs only */
#define SIM_OTHER_KEY_SEED 0x0BADu /* a key no pack trusts (`other_key` images) */

struct sim_ota {
    const alfa_scn_t *scn;
    uint64_t seed;
    uint8_t keys[SIM_KEYS_MAX][ALFA_FW_KEY_SIZE];
    size_t nkeys;
    uint8_t *images[ALFA_SCN_OTA_IMAGES_MAX];
    uint32_t image_len[ALFA_SCN_OTA_IMAGES_MAX];
    gw_ota_t *gw_ota;
    alfa_canbus_node_t *node;
    alfa_memdir_t state_dir; /* the gateway's */
};

int32_t sim_ota_verify(void *ctx, const uint8_t digest[32], const uint8_t sig[64])
{
    sim_ota_t *o = ctx;
    return alfa_fw_verify_any((const uint8_t(*)[ALFA_FW_KEY_SIZE])o->keys, o->nkeys, digest, sig) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ the sender's I/O */

static int ota_publish(void *u, const char *topic, const char *payload, size_t len, int retain)
{
    (void)u; (void)topic; (void)payload; (void)len; (void)retain;
    return 0; /* no broker in the simulator: expectations read the packs themselves */
}
static int32_t ota_send(void *u, const alfa_can_frame_t *f) { return alfa_canbus_send(((sim_ota_t *)u)->node, f); }
static uint32_t ota_backlog(void *u) { return alfa_canbus_node_tx_backlog(((sim_ota_t *)u)->node); }

static uint8_t *ota_read(void *u, const char *name, size_t *len)
{
    return alfa_memdir_read(&((sim_ota_t *)u)->state_dir, name, len);
}

static int ota_write(void *u, const char *name, const void *data, size_t len)
{
    return alfa_memdir_write(&((sim_ota_t *)u)->state_dir, name, data, len);
}

static void ota_log(void *u, int level, const char *msg)
{
    (void)u;
    if (level <= GW_OTA_LOG_WARN || getenv("ALFASPARK_SIM_OTA_LOG") != NULL) {
        fprintf(stderr, "alfaspark-sim: gateway: %s\n", msg);
    }
}

static gw_ota_t *sender_new(sim_ota_t *o)
{
    gw_ota_cfg_t c;
    gw_ota_cfg_defaults(&c);
    c.wave_pct = 50;
    gw_ota_io_t io = {.user = o, .publish = ota_publish, .can_send = ota_send, .tx_backlog = ota_backlog,
                      .read_file = ota_read, .write_file = ota_write, .log = ota_log};
    return gw_ota_new(&c, &io);
}

/* ------------------------------------------------------------------ keys and images */

/* The scenario's images: payload from the seed, signed with the simulator's test key (or not,
 * or with a key no pack trusts, or altered after signing). */
static int make_images(sim_ota_t *o)
{
    alfa_fwsign_key_t test, other;
    if (alfa_fwsign_key_from_seed(SIM_TEST_KEY_SEED, &test) != 0 || alfa_fwsign_key_from_seed(SIM_OTHER_KEY_SEED, &other) != 0) {
        return -1;
    }
    memcpy(o->keys[o->nkeys++], test.point, ALFA_FW_KEY_SIZE);
    for (size_t k = 0; k < o->scn->ota_image_count; k++) {
        const alfa_scn_ota_image_t *im = &o->scn->ota_images[k];
        uint8_t *payload = malloc(im->size);
        o->images[k] = malloc(im->size + ALFA_FWIMG_MANIFEST_SIZE);
        if (payload == NULL || o->images[k] == NULL) {
            free(payload);
            return -1;
        }
        alfa_rng_t r;
        alfa_rng_seed(&r, o->seed ^ (0x9E3779B97F4A7C15ull * (k + 1u)));
        for (uint32_t i = 0; i < im->size; i++) {
            payload[i] = (uint8_t)alfa_rng_next(&r);
        }
        alfa_fwimg_hdr_t h;
        memset(&h, 0, sizeof(h));
        h.device_type = im->device_type;
        h.hw_class = im->hw_class;
        h.major = im->major;
        h.minor = im->minor;
        h.patch = im->patch;
        h.security_counter = im->counter;
        const alfa_fwsign_key_t *key = (im->flags & ALFA_SCN_OTA_UNSIGNED) ? NULL
                                       : (im->flags & ALFA_SCN_OTA_OTHER_KEY) ? &other : &test;
        int rc = alfa_fwsign_image(key, &h, payload, im->size, o->images[k]);
        free(payload);
        if (rc != 0) {
            return -1;
        }
        if (im->flags & ALFA_SCN_OTA_TAMPERED) {
            /* Altered after signing, the header's hash fixed up: only the signature tells. */
            o->images[k][ALFA_FWIMG_MANIFEST_SIZE + im->size / 2u] ^= 0x5Au;
            alfa_sha256(o->images[k] + ALFA_FWIMG_MANIFEST_SIZE, im->size, o->images[k] + 32);
        }
        o->image_len[k] = im->size + ALFA_FWIMG_MANIFEST_SIZE;
    }
    return 0;
}

sim_ota_t *sim_ota_new(const alfa_scn_t *scn, const sim_options_t *opt)
{
    sim_ota_t *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        fprintf(stderr, "alfaspark-sim: out of memory\n");
        return NULL;
    }
    o->scn = scn;
    o->seed = opt->seed;
    for (size_t k = 0; k < alfa_fw_key_count && o->nkeys < SIM_KEYS_MAX; k++) {
        memcpy(o->keys[o->nkeys++], alfa_fw_keys[k], ALFA_FW_KEY_SIZE);
    }
    for (unsigned k = 0; k < opt->n_ota_pub; k++) {
        if (o->nkeys == SIM_KEYS_MAX || alfa_fw_pub_load(opt->ota_pub[k], o->keys[o->nkeys]) != 0) {
            fprintf(stderr, "alfaspark-sim: %s is not a P-256 public key (or too many keys)\n", opt->ota_pub[k]);
            sim_ota_free(o);
            return NULL;
        }
        o->nkeys++;
    }
    if (make_images(o) != 0 || (o->gw_ota = sender_new(o)) == NULL) {
        fprintf(stderr, "alfaspark-sim: cannot make the scenario's firmware images\n");
        sim_ota_free(o);
        return NULL;
    }
    return o;
}

void sim_ota_free(sim_ota_t *o)
{
    if (o == NULL) {
        return;
    }
    for (unsigned k = 0; k < ALFA_SCN_OTA_IMAGES_MAX; k++) {
        free(o->images[k]);
    }
    alfa_memdir_clear(&o->state_dir);
    gw_ota_free(o->gw_ota);
    free(o);
}

void sim_ota_attach(sim_ota_t *o, alfa_canbus_node_t *gw) { o->node = gw; }

/* ------------------------------------------------------------------ the gateway role */

void sim_ota_on_can(sim_ota_t *o, const alfa_can_frame_t *f, uint64_t t_us)
{
    if (o->gw_ota != NULL) {
        gw_ota_on_can(o->gw_ota, f, (uint32_t)(t_us / 1000u));
    }
}

void sim_ota_process(sim_ota_t *o, uint64_t t_us)
{
    if (o->gw_ota != NULL) {
        gw_ota_process(o->gw_ota, (uint32_t)(t_us / 1000u));
    }
}

int sim_ota_start(sim_ota_t *o, const alfa_scn_action_t *a, uint64_t serial, uint64_t t_us)
{
    size_t k = 0;
    while (k < o->scn->ota_image_count && strcmp(o->scn->ota_images[k].name, a->name)) {
        k++;
    }
    char why[160];
    if (o->gw_ota == NULL || k == o->scn->ota_image_count ||
        gw_ota_start(o->gw_ota, o->images[k], o->image_len[k], serial ? &serial : NULL, serial ? 1u : 0u,
                     (int)a->value, (uint32_t)(t_us / 1000u), why, sizeof(why)) != 0) {
        fprintf(stderr, "alfaspark-sim: %s:%u: update refused by the gateway: %s\n", o->scn->file, a->line,
                o->gw_ota == NULL ? "no sender" : k == o->scn->ota_image_count ? "no such image" : why);
        return -1;
    }
    return 0;
}

int sim_ota_cancel(sim_ota_t *o, const alfa_scn_action_t *a, uint64_t t_us)
{
    if (o->gw_ota == NULL || !gw_ota_active(o->gw_ota)) {
        fprintf(stderr, "alfaspark-sim: %s:%u: no update to cancel\n", o->scn->file, a->line);
        return -1;
    }
    gw_ota_cancel(o->gw_ota, (uint32_t)(t_us / 1000u));
    return 0;
}

/* The gateway process restarts: its queued frames are gone, a new sender takes the session up
 * from its state file. */
int sim_ota_gateway_restart(sim_ota_t *o, uint64_t t_us)
{
    gw_ota_free(o->gw_ota);
    if (o->node != NULL) {
        alfa_canbus_node_clear_tx(o->node);
    }
    o->gw_ota = sender_new(o);
    return o->gw_ota != NULL && gw_ota_restore(o->gw_ota, (uint32_t)(t_us / 1000u)) >= 0 ? 0 : -1;
}
