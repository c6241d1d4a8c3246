/* A site for firmware-update tests and benchmarks: real packs with firmware slots, BMS models and the real sender on the timed bus. */
#include "alfa/otasite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/bmsmodel.h"
#include "alfa/flash_sim.h"
#include "alfa/fw_verify.h"
#include "alfa/memdir.h"
#include "alfa/sim_rng.h"

#define SERIAL_BUF 512u
#define MAX_CMDS 4096u

typedef struct ota_pack {
    ota_site_t *site;
    uint32_t idx;
    uint64_t serial;
    alfa_port_t port;
    alfa_pack_t *pack;              /* heap: large */
    alfa_slot_sim_t slots;
    alfa_flash_sim_t store;
    alfa_canbus_node_t *can;
    alfa_bmsm_t bms;
    uint8_t hold[SERIAL_BUF], rx[SERIAL_BUF];
    uint16_t hold_len, rx_len;
    uint8_t powered, booted, reboot_req, selftest_fail;
    uint32_t loss_ppm;
    uint32_t clock_origin_ms;
    alfa_rng_t rng;
} ota_pack_t;

typedef struct cmd {
    uint8_t seq, dst, acks_wanted, acks;
    uint64_t sent_us;
} cmd_t;

struct ota_site {
    ota_site_cfg_t cfg;
    alfa_canbus_t bus;
    ota_pack_t packs[OTA_SITE_MAX_PACKS];
    uint32_t n;
    alfa_canbus_node_t *gw_node;
    gw_ota_t *gw;
    uint32_t next_hb_ms;
    alfa_memdir_t state_dir; /* the gateway's */
    cmd_t cmds[64];
    uint8_t cmd_seq;
    uint32_t *lat;
    size_t n_lat, cap_lat;
    void (*tap)(void *ctx, const alfa_can_frame_t *f);
    void *tap_ctx;
    ota_site_stats_t stats;
};

static uint32_t now_ms_of(const ota_site_t *s) { return (uint32_t)(alfa_canbus_now_us(&s->bus) / 1000u); }

/* ---------------------------------------------------------------- a pack's port */

static ota_pack_t *P(void *u) { return u; }
static uint32_t p_now(void *u) { return now_ms_of(P(u)->site) + P(u)->clock_origin_ms; }
static void p_relays(void *u, uint8_t m) { (void)u; (void)m; }
static void p_leds(void *u, uint8_t m) { (void)u; (void)m; }

static int bms_silent(ota_pack_t *p)
{
    /* A new image on trial that cannot talk to its BMS (injected): its self-test fails. */
    return p->selftest_fail && alfa_slot_sim_state_of(&p->slots, ALFA_SLOT_RUNNING) == ALFA_SLOT_PENDING;
}

static int32_t p_serial_write(void *u, const uint8_t *d, uint16_t n)
{
    ota_pack_t *p = u;
    if (!bms_silent(p)) {
        alfa_bmsm_rx(&p->bms, d, n, alfa_canbus_now_us(&p->site->bus));
    }
    return n;
}

static int32_t p_serial_read(void *u, uint8_t *d, uint16_t cap)
{
    ota_pack_t *p = u;
    uint16_t n = p->rx_len < cap ? p->rx_len : cap;
    memcpy(d, p->rx, n);
    memmove(p->rx, p->rx + n, (size_t)(p->rx_len - n));
    p->rx_len = (uint16_t)(p->rx_len - n);
    return n;
}

static int32_t p_can_send(void *u, const alfa_can_frame_t *f) { return alfa_canbus_send(P(u)->can, f); }

static int32_t p_can_recv(void *u, alfa_can_frame_t *f)
{
    ota_pack_t *p = u;
    for (;;) {
        int32_t rc = alfa_canbus_recv(p->can, f);
        if (rc != 1) {
            return rc;
        }
        uint8_t cls = ALFA_PROTO_ID_CLASS(f->id);
        if (p->loss_ppm != 0u && (f->flags & ALFA_CAN_FLAG_EXT) && cls >= ALFA_CLS_FW_FIRST && cls <= ALFA_CLS_FW_LAST &&
            ALFA_PROTO_ID_SRC(f->id) == ALFA_NODE_LINUX_GATEWAY && alfa_rng_chance_ppm(&p->rng, p->loss_ppm)) {
            p->site->stats.frames_lost++;
            continue; /* this pack missed it (e.g. its receive queue overflowed during a flash write) */
        }
        return 1;
    }
}

static alfa_can_state_t p_can_state(void *u) { return alfa_canbus_state(P(u)->can); }
static void p_can_recover(void *u) { alfa_canbus_recover(P(u)->can); }
static int32_t p_flash_read(void *u, uint32_t a, void *b, uint32_t n) { return alfa_flash_sim_read(&P(u)->store, a, b, n); }
static int32_t p_flash_prog(void *u, uint32_t a, const void *b, uint32_t n) { return alfa_flash_sim_prog(&P(u)->store, a, b, n); }
static int32_t p_flash_erase(void *u, uint32_t b) { return alfa_flash_sim_erase(&P(u)->store, b); }
static void p_reboot(void *u) { P(u)->reboot_req = 1; }
static int32_t p_slot_begin(void *u, uint8_t r) { return alfa_slot_sim_begin(&P(u)->slots, r); }
static int32_t p_slot_erase(void *u, uint8_t w, uint32_t sec) { return alfa_slot_sim_erase(&P(u)->slots, w, sec); }
static int32_t p_slot_write(void *u, uint8_t w, uint32_t o, const void *d, uint32_t n) { return alfa_slot_sim_write(&P(u)->slots, w, o, d, n); }
static int32_t p_slot_read(void *u, uint8_t w, uint32_t o, void *b, uint32_t n) { return alfa_slot_sim_read(&P(u)->slots, w, o, b, n); }
static int32_t p_slot_set_boot(void *u) { return alfa_slot_sim_set_boot(&P(u)->slots); }
static int32_t p_slot_confirm(void *u) { return alfa_slot_sim_confirm(&P(u)->slots); }
static alfa_slot_state_t p_slot_state(void *u, uint8_t w) { return alfa_slot_sim_state_of(&P(u)->slots, w); }
static int32_t p_fw_verify(void *u, const uint8_t d[32], const uint8_t sig[64]) { return alfa_slot_sim_fw_verify(&P(u)->slots, d, sig); }

static int32_t verify_keys(void *ctx, const uint8_t d[32], const uint8_t sig[64])
{
    const ota_site_t *s = ctx;
    return alfa_fw_verify_any(s->cfg.keys, s->cfg.nkeys, d, sig) == 0 ? 0 : -1;
}

static const alfa_flash_geom_t store_geom = {4096u, 4u, 16u, 0xFFu};

static void pack_boot(ota_pack_t *p)
{
    if (alfa_slot_sim_boot(&p->slots) < 0) {
        fprintf(stderr, "otasite: pack %u: no bootable firmware slot\n", p->idx + 1u);
        p->booted = 0;
        return;
    }
    alfa_pack_config_t pc;
    memset(&pc, 0, sizeof(pc));
    pc.serial = p->serial;
    pc.device_type = ALFA_DEV_PACK;
    if (alfa_pack_init(p->pack, &p->port, &pc) < 0) {
        fprintf(stderr, "otasite: pack %u refused its configuration\n", p->idx + 1u);
        p->booted = 0;
        return;
    }
    p->booted = 1;
    p->rx_len = 0;
    p->hold_len = 0;
}

static void pack_connect(ota_pack_t *p)
{
    if (!p->powered) {
        alfa_canbus_node_power_off(p->can);
    }
    alfa_canbus_set_connected(p->can, p->powered);
}

static int pack_setup(ota_site_t *s, ota_pack_t *p, uint32_t i)
{
    p->site = s;
    p->idx = i;
    p->serial = 0xA4CF12000000ull + i + 1u;
    p->pack = calloc(1, sizeof(*p->pack));
    if (p->pack == NULL || alfa_slot_sim_init(&p->slots, &s->cfg.geom, verify_keys, s) != 0 ||
        alfa_flash_sim_init(&p->store, &store_geom) != 0) {
        return -1;
    }
    if (s->cfg.factory_image != NULL && alfa_slot_sim_factory(&p->slots, 0, s->cfg.factory_image, s->cfg.factory_len) != 0) {
        return -1;
    }
    p->port = (alfa_port_t){
        .user = p, .now_ms = p_now, .relays_set = p_relays, .status_leds_set = p_leds,
        .serial_write = p_serial_write, .serial_read = p_serial_read,
        .can_send = p_can_send, .can_recv = p_can_recv, .can_state = p_can_state, .can_recover = p_can_recover,
        .flash_geom = &p->store.geom, .flash_read = p_flash_read, .flash_prog = p_flash_prog, .flash_erase = p_flash_erase,
        .slot_geom = &p->slots.geom, .slot_begin = p_slot_begin, .slot_erase = p_slot_erase, .slot_write = p_slot_write,
        .slot_read = p_slot_read, .slot_set_boot = p_slot_set_boot, .slot_confirm = p_slot_confirm,
        .slot_state = p_slot_state, .fw_verify = p_fw_verify, .reboot = p_reboot,
    };
    alfa_rng_t root;
    alfa_rng_seed(&root, s->cfg.seed);
    alfa_rng_split(&root, 100u + i, &p->rng);
    p->clock_origin_ms = (uint32_t)alfa_rng_below(&p->rng, 1000000u);
    p->loss_ppm = s->cfg.loss_ppm;
    alfa_bmsm_config_t mc;
    alfa_bmsm_config_default(&mc);
    mc.seed = (uint32_t)alfa_rng_next(&p->rng);
    if (alfa_bmsm_init(&p->bms, &mc, NULL) != 0) {
        return -1;
    }
    p->can = alfa_canbus_attach(&s->bus);
    if (p->can == NULL) {
        return -1;
    }
    p->powered = 1;
    pack_boot(p);
    return 0;
}

/* Move the BMS model's answer onto the pack's UART, whole, when its last byte has arrived. */
static void serial_pump(ota_pack_t *p, uint64_t now_us)
{
    uint8_t buf[SERIAL_BUF];
    if (alfa_bmsm_next_us(&p->bms) > now_us && p->hold_len == 0u) {
        return;
    }
    size_t n = alfa_bmsm_tx(&p->bms, now_us, buf, sizeof(buf));
    for (size_t k = 0; k < n && p->hold_len < SERIAL_BUF; k++) {
        p->hold[p->hold_len++] = buf[k];
    }
    if (p->hold_len && alfa_bmsm_next_us(&p->bms) == UINT64_MAX) {
        if (!bms_silent(p)) {
            uint16_t room = (uint16_t)(SERIAL_BUF - p->rx_len);
            uint16_t k = p->hold_len < room ? p->hold_len : room;
            memcpy(p->rx + p->rx_len, p->hold, k);
            p->rx_len = (uint16_t)(p->rx_len + k);
        }
        p->hold_len = 0;
    }
}

/* ---------------------------------------------------------------- the gateway's side */

static int g_publish(void *u, const char *t, const char *pl, size_t len, int retain)
{
    (void)u; (void)t; (void)pl; (void)len; (void)retain;
    return 0;
}
static int32_t g_send(void *u, const alfa_can_frame_t *f) { return alfa_canbus_send(((ota_site_t *)u)->gw_node, f); }
static uint32_t g_backlog(void *u) { return alfa_canbus_node_tx_backlog(((ota_site_t *)u)->gw_node); }

static uint8_t *g_read(void *u, const char *name, size_t *len)
{
    return alfa_memdir_read(&((ota_site_t *)u)->state_dir, name, len);
}

static int g_write(void *u, const char *name, const void *data, size_t len)
{
    return alfa_memdir_write(&((ota_site_t *)u)->state_dir, name, data, len);
}

static void g_log(void *u, int level, const char *msg)
{
    (void)u;
    if (getenv("OTA_SITE_LOG") != NULL && level <= atoi(getenv("OTA_SITE_LOG"))) {
        fprintf(stderr, "gw: %s\n", msg);
    }
}

static gw_ota_t *make_gw(ota_site_t *s)
{
    gw_ota_io_t io = {.user = s, .publish = g_publish, .can_send = g_send, .tx_backlog = g_backlog,
                      .read_file = g_read, .write_file = g_write, .log = g_log};
    return gw_ota_new(&s->cfg.gw, &io);
}

static void gw_receive(ota_site_t *s, uint32_t now)
{
    alfa_can_frame_t f;
    while (alfa_canbus_recv(s->gw_node, &f) == 1) {
        if (s->tap != NULL) {
            s->tap(s->tap_ctx, &f);
        }
        gw_ota_on_can(s->gw, &f, now);
        alfa_ack_t a;
        if (alfa_proto_classify(&f) == ALFA_CLS_ACK && alfa_proto_ack_decode(&f, &a) == 0 &&
            a.dst == ALFA_NODE_LINUX_GATEWAY) {
            for (uint32_t k = 0; k < 64u; k++) {
                cmd_t *c = &s->cmds[k];
                if (c->acks_wanted == 0u || c->seq != a.seq) {
                    continue;
                }
                if (++c->acks >= c->acks_wanted) {
                    if (s->n_lat == s->cap_lat) {
                        size_t cap = s->cap_lat ? s->cap_lat * 2u : 256u;
                        uint32_t *nl = realloc(s->lat, cap * sizeof(*nl));
                        if (nl == NULL) {
                            c->acks_wanted = 0;
                            break;
                        }
                        s->lat = nl;
                        s->cap_lat = cap;
                    }
                    s->lat[s->n_lat++] = (uint32_t)(alfa_canbus_now_us(&s->bus) - c->sent_us);
                    c->acks_wanted = 0;
                }
                break;
            }
        }
    }
}

static void observer(void *ctx, const alfa_can_frame_t *f, uint8_t sender, uint64_t start_us, uint64_t end_us)
{
    (void)sender;
    ota_site_t *s = ctx;
    s->stats.busy_us += end_us - start_us;
    uint8_t cls = ALFA_PROTO_ID_CLASS(f->id);
    if ((f->flags & ALFA_CAN_FLAG_EXT) && cls >= ALFA_CLS_FW_FIRST && cls <= ALFA_CLS_FW_LAST) {
        s->stats.update_frames++;
        s->stats.update_bytes += f->len;
        s->stats.update_busy_us += end_us - start_us;
    }
}

/* ---------------------------------------------------------------- the site */

ota_site_t *ota_site_new(const ota_site_cfg_t *cfg)
{
    if (cfg->packs == 0u || cfg->packs > OTA_SITE_MAX_PACKS) {
        return NULL;
    }
    ota_site_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->cfg = *cfg;
    alfa_canbus_init(&s->bus, cfg->seed);
    alfa_canbus_set_observer(&s->bus, observer, s);
    for (uint32_t i = 0; i < cfg->packs; i++) {
        s->n = i + 1u;
        if (pack_setup(s, &s->packs[i], i) != 0) {
            ota_site_free(s);
            return NULL;
        }
    }
    s->gw_node = alfa_canbus_attach(&s->bus);
    s->gw = s->gw_node != NULL ? make_gw(s) : NULL;
    if (s->gw == NULL) {
        ota_site_free(s);
        return NULL;
    }
    return s;
}

void ota_site_free(ota_site_t *s)
{
    if (s == NULL) {
        return;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        free(s->packs[i].pack);
        alfa_slot_sim_free(&s->packs[i].slots);
        alfa_flash_sim_free(&s->packs[i].store);
    }
    alfa_memdir_clear(&s->state_dir);
    gw_ota_free(s->gw);
    free(s->lat);
    free(s);
}

void ota_site_run_ms(ota_site_t *s, uint32_t ms)
{
    for (uint32_t k = 0; k < ms; k++) {
        uint64_t t = alfa_canbus_now_us(&s->bus) + 1000u;
        alfa_canbus_run_until(&s->bus, t);
        uint32_t now = (uint32_t)(t / 1000u);
        for (uint32_t i = 0; i < s->n; i++) {
            ota_pack_t *p = &s->packs[i];
            if (!p->powered) {
                continue;
            }
            serial_pump(p, t);
            if (!p->booted) {
                continue;
            }
            alfa_pack_process(p->pack);
            if (p->reboot_req) {
                p->reboot_req = 0;
                alfa_canbus_node_clear_queues(p->can);
                pack_boot(p);
            }
        }
        gw_receive(s, now);
        if ((int32_t)(now - s->next_hb_ms) >= 0) {
            s->next_hb_ms = now + 1000u;
            alfa_heartbeat_t hb = {ALFA_NODE_LINUX_GATEWAY, ALFA_DEV_LINUX_GATEWAY, 0, 0x0000AA55AA55ull, 2, 5, 0};
            alfa_can_frame_t f;
            if (alfa_proto_heartbeat_encode(&hb, &f) != 0 || alfa_canbus_send(s->gw_node, &f) < 0) {
                s->stats.gw_hb_lost++;
            }
        }
        gw_ota_process(s->gw, now);
    }
}

uint32_t ota_site_now_ms(const ota_site_t *s) { return now_ms_of(s); }
gw_ota_t *ota_site_gw(ota_site_t *s) { return s->gw; }
alfa_canbus_t *ota_site_bus(ota_site_t *s) { return &s->bus; }
uint32_t ota_site_packs(const ota_site_t *s) { return s->n; }
uint64_t ota_site_serial(const ota_site_t *s, uint32_t i) { return s->packs[i].serial; }
const alfa_pack_t *ota_site_pack(const ota_site_t *s, uint32_t i)
{
    return s->packs[i].powered && s->packs[i].booted ? s->packs[i].pack : NULL;
}
alfa_slot_sim_t *ota_site_slots(ota_site_t *s, uint32_t i) { return &s->packs[i].slots; }
alfa_fw_version_t ota_site_version(const ota_site_t *s, uint32_t i)
{
    alfa_fw_version_t none = {0, 0, 0};
    const alfa_pack_t *p = ota_site_pack(s, i);
    return p != NULL ? alfa_core_fw_version(alfa_pack_core_const(p)) : none;
}

void ota_site_power(ota_site_t *s, uint32_t i, int on)
{
    ota_pack_t *p = &s->packs[i];
    if (on && !p->powered) {
        p->powered = 1;
        alfa_flash_sim_power_on(&p->slots.flash);
        pack_boot(p);
    } else if (!on && p->powered) {
        p->powered = 0;
        p->booted = 0;
    }
    pack_connect(p);
}

void ota_site_loss(ota_site_t *s, uint32_t i, uint32_t ppm) { s->packs[i].loss_ppm = ppm; }
void ota_site_selftest_fail(ota_site_t *s, uint32_t i, int on) { s->packs[i].selftest_fail = (uint8_t)(on != 0); }

int ota_site_gateway_restart(ota_site_t *s)
{
    gw_ota_free(s->gw);
    alfa_canbus_node_clear_tx(s->gw_node); /* the adapter's queue goes with the process */
    s->gw = make_gw(s);
    if (s->gw == NULL) {
        return -1;
    }
    return gw_ota_restore(s->gw, now_ms_of(s));
}

void ota_site_command(ota_site_t *s, uint32_t i)
{
    alfa_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.code = ALFA_CMD_IDENTIFY;
    c.src = ALFA_NODE_LINUX_GATEWAY;
    c.seq = ++s->cmd_seq;
    c.u.identify.seconds = 0;
    uint8_t want = 0;
    if (i == UINT32_MAX) {
        c.dst = ALFA_NODE_BROADCAST;
        for (uint32_t k = 0; k < s->n; k++) {
            want = (uint8_t)(want + (ota_site_pack(s, k) != NULL ? 1u : 0u));
        }
    } else {
        const alfa_pack_t *p = ota_site_pack(s, i);
        c.dst = p != NULL ? alfa_node_id(alfa_pack_node(p)) : 0u;
        want = 1;
    }
    alfa_can_frame_t f;
    if (c.dst == 0u || want == 0u || alfa_proto_cmd_encode(&c, &f) != 0 || alfa_canbus_send(s->gw_node, &f) != 0) {
        return;
    }
    cmd_t *slot = &s->cmds[c.seq % 64u];
    slot->seq = c.seq;
    slot->acks_wanted = want;
    slot->acks = 0;
    slot->sent_us = alfa_canbus_now_us(&s->bus);
}

size_t ota_site_latencies(const ota_site_t *s, const uint32_t **us)
{
    *us = s->lat;
    return s->n_lat;
}

const ota_site_stats_t *ota_site_stats(const ota_site_t *s) { return &s->stats; }

int32_t ota_site_send(ota_site_t *s, const alfa_can_frame_t *f) { return alfa_canbus_send(s->gw_node, f); }

void ota_site_tap(ota_site_t *s, void (*fn)(void *ctx, const alfa_can_frame_t *f), void *ctx)
{
    s->tap = fn;
    s->tap_ctx = ctx;
}
