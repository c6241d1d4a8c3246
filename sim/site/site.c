/* The simulated site: answers every pack's port callbacks from the plant, BMS models and CAN bus. */
#include "site.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/bmsmodel.h"
#include "alfa/core.h"
#include "alfa/dayfig.h"
#include "alfa/slot_sim.h"
#include "alfa/node.h"
#include "alfa/pack.h"
#include "alfa/proto.h"
#include "alfa/settings.h"
#include "alfa/sim_rng.h"
#include "gwcmd.h"
#include "site_ota.h"

#define SITE_STALE_US 6000000ull  /* site totals older than 3 periods no longer count */
#define BOOT_SPREAD_MS 1000u      /* packs start within the first second, in a seeded order */
#define SINE_MAX 200u             /* 4 kHz: 50 Hz repeats every 80 samples, 60 Hz every 200 */
/* The plant moves slowly (sun, loads, SOC): it steps every 100 ms, and at once when a relay moved. */
#define PLANT_STEP_US 100000u

struct sim_pack {
    sim_site_t *site;
    uint8_t idx;
    uint64_t serial;
    alfa_port_t port;
    alfa_flash_geom_t geom;
    uint8_t flash[SIM_FLASH_BLOCK * SIM_FLASH_BLOCKS];

    /* the controller */
    alfa_pack_t pack;              /* core + settings store + BMS poller + CAN node */
    uint32_t pack_polls;           /* polls of the pack already counted */
    uint8_t powered;
    uint8_t booted;
    uint64_t boot_at_us;
    uint32_t clock_origin_ms;      /* each controller's monotonic clock has its own origin */
    uint8_t reboot_req;

    /* BMS and its serial line */
    alfa_bmsm_t bmsm;
    uint8_t bms_silent;
    int32_t bms_v_mv;              /* the voltage the BMS reports instead of the truth, -1 = truth */
    uint32_t noise_ppm;
    alfa_rng_t rng;
    uint8_t hold[SIM_SERIAL_BUF];  /* answer bytes on the wire, handed over when the frame ends */
    uint16_t hold_len;
    uint8_t rx[SIM_SERIAL_BUF];    /* bytes in the pack's UART receive buffer */
    uint16_t rx_len;

    /* CT sample blocks, regenerated only when the current changes */
    uint16_t adc[ALFA_CT_COUNT][SIM_ADC_BLOCK];
    uint32_t adc_ma[ALFA_CT_COUNT];
    uint8_t adc_ok[ALFA_CT_COUNT];

    alfa_canbus_node_t *can;
    uint8_t can_linked;
    uint64_t linked_us;            /* when it last joined the bus (power and link both on) */
    uint64_t booted_us;            /* when its controller last started */

    /* firmware slots (when the scenario updates firmware, or --ota-slots) */
    alfa_slot_sim_t slots;
    uint8_t has_slots;
    uint8_t selftest_fail;         /* its new images cannot reach the BMS: their self-test fails */
    uint32_t ota_loss_ppm;         /* update frames it misses */

    uint8_t coils;
    uint8_t leds;
    uint32_t wd_feeds;
    uint32_t last_cycle;
    uint8_t new_cycle;
};

static alfa_core_t *pcore(sim_pack_t *p) { return alfa_pack_core(&p->pack); }
static uint8_t pnode_id(const sim_pack_t *p) { return alfa_node_id(alfa_pack_node(&p->pack)); }

struct sim_site {
    const alfa_scn_t *scn;
    sim_options_t opt;
    uint64_t t_us;
    uint32_t step_us;
    alfa_plant_t plant;
    alfa_canbus_t *bus;
    uint8_t n;
    sim_pack_t *packs;
    int32_t sine[SINE_MAX];
    uint32_t sine_len;
    uint64_t plant_t_us;          /* simulated time the plant has reached */
    uint8_t plant_dirty;          /* a relay coil or a controller's power changed */

    /* the gateway role */
    alfa_canbus_node_t *gw;
    uint8_t gateway_on;
    uint64_t next_time_us;
    int64_t time_shift_s;              /* corrections of the gateway's clock (time_shift actions) */
    uint64_t next_hb_us;
    uint8_t cmd_seq;
    uint8_t node_pack[ALFA_NODE_MAX];  /* node ID -> pack index + 1, from heartbeats */
    alfa_dayfig_t *import_fig;         /* per pack: its grid import of site day import_day[i], as the
                                        * gateway keeps it (alfa/dayfig.h) */
    uint16_t *import_day;
    alfa_site_rx_t site_rx;
    alfa_site_totals_t site;
    uint64_t site_heard_us;
    uint8_t site_heard;

    sim_ota_t *ota;                    /* firmware update: trusted keys, images, the sender (site_ota.c) */

    alfa_scn_pack_obs_t *obs_packs;
    alfa_scn_obs_t obs;
    FILE *trace;
    sim_stats_t stats;
};

/* ------------------------------------------------------------------ port callbacks */

static uint32_t cb_now_ms(void *user)
{
    sim_pack_t *p = user;
    return (uint32_t)(p->site->t_us / 1000u) + p->clock_origin_ms;
}

static void cb_relays(void *user, uint8_t mask)
{
    sim_pack_t *p = user;
    if (p->coils != mask) {
        p->site->plant_dirty = 1;
    }
    p->coils = mask;
    alfa_plant_set_coils(&p->site->plant, p->idx, mask);
}

static void cb_leds(void *user, uint8_t mask)
{
    ((sim_pack_t *)user)->leds = mask;
}

static const uint16_t *cb_adc(void *user, uint8_t ct, uint16_t *count, uint16_t *rate_hz)
{
    sim_pack_t *p = user;
    sim_site_t *s = p->site;
    if (ct >= ALFA_CT_COUNT) {
        return NULL;
    }
    uint32_t ma = alfa_plant_out(&s->plant, p->idx)->ct_ma[ct];
    if (!p->adc_ok[ct] || p->adc_ma[ct] != ma || s->opt.adc_noise_counts) {
        /* The CT's physical ratio is the factory calibration: counts = I / gain. Peak = RMS x
         * sqrt(2), in milli-counts so small currents keep their shape. */
        int64_t amp_mc = (int64_t)ma * 1414214 / ALFA_CT_GAIN_DEFAULT_UA;
        uint16_t *b = p->adc[ct];
        for (uint32_t k = 0; k < SIM_ADC_BLOCK; k++) {
            /* Rounded to the nearest count: truncation would shave every sample towards the
             * bias and read ~1 % low, a bias no real ADC has. */
            int64_t x = amp_mc * s->sine[k % s->sine_len];
            int64_t half = 32768 * 1000 / 2;
            int64_t v = 2048 + (x >= 0 ? (x + half) : (x - half)) / (32768 * 1000);
            if (s->opt.adc_noise_counts) {
                v += (int64_t)alfa_rng_below(&p->rng, 2u * s->opt.adc_noise_counts + 1u) -
                     (int64_t)s->opt.adc_noise_counts;
            }
            b[k] = (uint16_t)(v < 0 ? 0 : v > 4095 ? 4095 : v);
        }
        p->adc_ma[ct] = ma;
        p->adc_ok[ct] = 1;
    }
    *count = SIM_ADC_BLOCK;
    *rate_hz = SIM_ADC_RATE_HZ;
    return p->adc[ct];
}

static uint8_t line_noise(sim_pack_t *p, uint8_t b)
{
    if (p->noise_ppm && alfa_rng_chance_ppm(&p->rng, p->noise_ppm)) {
        b ^= (uint8_t)(1u << alfa_rng_below(&p->rng, 8));
    }
    return b;
}

/* The BMS is silent for this controller: injected, or a new image on trial that cannot reach it. */
static int bms_silent(sim_pack_t *p)
{
    return p->bms_silent ||
           (p->selftest_fail && p->has_slots && alfa_slot_sim_state_of(&p->slots, ALFA_SLOT_RUNNING) == ALFA_SLOT_PENDING);
}

static int32_t cb_serial_write(void *user, const uint8_t *data, uint16_t len)
{
    sim_pack_t *p = user;
    if (bms_silent(p)) {
        return len; /* the bytes go out; nobody listens */
    }
    uint8_t buf[SIM_SERIAL_BUF];
    uint16_t n = len > SIM_SERIAL_BUF ? SIM_SERIAL_BUF : len;
    for (uint16_t i = 0; i < n; i++) {
        buf[i] = line_noise(p, data[i]);
    }
    alfa_bmsm_rx(&p->bmsm, buf, n, p->site->t_us);
    return len;
}

static int32_t cb_serial_read(void *user, uint8_t *data, uint16_t cap)
{
    sim_pack_t *p = user;
    if (p->rx_len == 0) {
        return 0; /* the usual answer: the master asks every call */
    }
    uint16_t n = p->rx_len < cap ? p->rx_len : cap;
    memcpy(data, p->rx, n);
    memmove(p->rx, p->rx + n, (size_t)(p->rx_len - n));
    p->rx_len = (uint16_t)(p->rx_len - n);
    return n;
}

static int32_t cb_can_send(void *user, const alfa_can_frame_t *f)
{
    return alfa_canbus_send(((sim_pack_t *)user)->can, f);
}

static int32_t cb_can_recv(void *user, alfa_can_frame_t *f)
{
    sim_pack_t *p = user;
    for (;;) {
        int32_t rc = alfa_canbus_recv(p->can, f);
        uint8_t cls = ALFA_PROTO_ID_CLASS(f->id);
        if (rc == 1 && p->ota_loss_ppm != 0u && (f->flags & ALFA_CAN_FLAG_EXT) && cls >= ALFA_CLS_FW_FIRST &&
            cls <= ALFA_CLS_FW_LAST && ALFA_PROTO_ID_SRC(f->id) == ALFA_NODE_LINUX_GATEWAY &&
            alfa_rng_chance_ppm(&p->rng, p->ota_loss_ppm)) {
            continue; /* this pack missed it (injected: ota_loss) */
        }
        return rc;
    }
}

/* Firmware slots on the slot simulator (port/test/slot_sim.h: flash rules, boot records, rollback). */
static alfa_slot_sim_t *SLOTS(void *user) { return &((sim_pack_t *)user)->slots; }
static int32_t cb_slot_begin(void *u, uint8_t r) { return alfa_slot_sim_begin(SLOTS(u), r); }
static int32_t cb_slot_erase(void *u, uint8_t w, uint32_t sec) { return alfa_slot_sim_erase(SLOTS(u), w, sec); }
static int32_t cb_slot_write(void *u, uint8_t w, uint32_t o, const void *d, uint32_t n) { return alfa_slot_sim_write(SLOTS(u), w, o, d, n); }
static int32_t cb_slot_read(void *u, uint8_t w, uint32_t o, void *b, uint32_t n) { return alfa_slot_sim_read(SLOTS(u), w, o, b, n); }
static int32_t cb_slot_set_boot(void *u) { return alfa_slot_sim_set_boot(SLOTS(u)); }
static int32_t cb_slot_confirm(void *u) { return alfa_slot_sim_confirm(SLOTS(u)); }
static alfa_slot_state_t cb_slot_state(void *u, uint8_t w) { return alfa_slot_sim_state_of(SLOTS(u), w); }
static int32_t cb_fw_verify(void *u, const uint8_t d[32], const uint8_t sig[64]) { return alfa_slot_sim_fw_verify(SLOTS(u), d, sig); }

static alfa_can_state_t cb_can_state(void *user)
{
    return alfa_canbus_state(((sim_pack_t *)user)->can);
}

static void cb_can_recover(void *user)
{
    alfa_canbus_recover(((sim_pack_t *)user)->can);
}

/* RAM flash with a real part's rules: aligned programs into erased units only. */
static int32_t cb_flash_read(void *user, uint32_t addr, void *buf, uint32_t len)
{
    sim_pack_t *p = user;
    if (addr > sizeof(p->flash) || len > sizeof(p->flash) - addr) {
        return ALFA_PORT_E_RANGE;
    }
    memcpy(buf, p->flash + addr, len);
    return ALFA_PORT_OK;
}

static int32_t cb_flash_prog(void *user, uint32_t addr, const void *buf, uint32_t len)
{
    sim_pack_t *p = user;
    if (addr > sizeof(p->flash) || len > sizeof(p->flash) - addr || addr % p->geom.prog_size ||
        len % p->geom.prog_size) {
        return ALFA_PORT_E_RANGE;
    }
    for (uint32_t i = 0; i < len; i++) {
        if (p->flash[addr + i] != p->geom.erased_value) {
            return ALFA_PORT_E_REPROG;
        }
    }
    memcpy(p->flash + addr, buf, len);
    return ALFA_PORT_OK;
}

static int32_t cb_flash_erase(void *user, uint32_t block)
{
    sim_pack_t *p = user;
    if (block >= SIM_FLASH_BLOCKS) {
        return ALFA_PORT_E_RANGE;
    }
    memset(p->flash + block * SIM_FLASH_BLOCK, p->geom.erased_value, SIM_FLASH_BLOCK);
    return ALFA_PORT_OK;
}

static void cb_watchdog(void *user)
{
    ((sim_pack_t *)user)->wd_feeds++;
}

static void cb_reboot(void *user)
{
    ((sim_pack_t *)user)->reboot_req = 1;
}

/* ------------------------------------------------------------------ the controller of one pack */


static int pack_boot(sim_pack_t *p)
{
    if (p->has_slots && alfa_slot_sim_boot(&p->slots) < 0) {
        fprintf(stderr, "alfaspark-sim: pack %u: no firmware slot holds a valid image\n", p->idx + 1u);
        return -1;
    }
    alfa_pack_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.serial = p->serial;
    cfg.device_type = ALFA_DEV_PACK;
    if (alfa_pack_init(&p->pack, &p->port, &cfg) < 0) {
        fprintf(stderr, "alfaspark-sim: pack %u: the controller refused its configuration\n", p->idx + 1u);
        return -1;
    }
    p->booted = 1;
    p->booted_us = p->site->t_us;
    p->pack_polls = 0;
    p->last_cycle = alfa_core_cycles(pcore(p));
    p->rx_len = 0;
    return 0;
}

static void pack_step(sim_pack_t *p)
{
    alfa_pack_process(&p->pack);
    uint32_t polls = alfa_pack_polls(&p->pack);
    if (polls != p->pack_polls) {
        p->site->stats.bms_polls += polls - p->pack_polls;
        if (alfa_pack_last_poll(&p->pack)->err != ALFA_OK) {
            p->site->stats.bms_failures++;
        }
        p->pack_polls = polls;
    }
}

static void pack_run(sim_pack_t *p)
{
    sim_site_t *s = p->site;
    if (!p->powered) {
        return;
    }
    if (!p->booted) {
        if (s->t_us < p->boot_at_us || pack_boot(p) < 0) {
            return;
        }
    }
    pack_step(p);
    if (p->reboot_req) {
        p->reboot_req = 0;
        s->stats.reboots++;
        p->booted = 0;
        p->boot_at_us = s->t_us;
    }
    if (p->booted && alfa_core_cycles(pcore(p)) != p->last_cycle) {
        p->last_cycle = alfa_core_cycles(pcore(p));
        p->new_cycle = 1;
        /* Like the Linux gateway (SPEC §9), the gateway role keeps each pack's import of its
         * site day for a rebooted pack; it is the value of the pack's telemetry of this cycle,
         * taken here rather than decoded again from the seven telemetry frames (2 % of the run
         * time). The day comes with it: a later day starts again, an earlier one never counts. */
        if (s->gateway_on && p->can_linked) {
            uint16_t day = alfa_core_day(pcore(p));
            uint32_t wh = alfa_core_grid_import_today_wh(pcore(p));
            bool recovering = (alfa_core_warnings(pcore(p)) & (1u << ALFA_WARN_IMPORT_RECOVERING)) != 0u;
            if (day != ALFA_DAY_NONE && day > s->import_day[p->idx]) {
                s->import_day[p->idx] = day;
                memset(&s->import_fig[p->idx], 0, sizeof(s->import_fig[p->idx]));
            }
            if (day != ALFA_DAY_NONE && day == s->import_day[p->idx]) {
                alfa_dayfig_report(&s->import_fig[p->idx], wh, recovering);
            }
        }
    }
}

static void pack_connect(sim_pack_t *p)
{
    int on = p->powered && p->can_linked;
    if (on && !alfa_canbus_node_connected(p->can)) {
        p->linked_us = p->site->t_us;
    }
    if (!p->powered) {
        /* A controller without power loses what its CAN controller held. */
        alfa_canbus_node_power_off(p->can);
    }
    alfa_canbus_set_connected(p->can, on);
}

static void pack_power(sim_pack_t *p, int on)
{
    sim_site_t *s = p->site;
    if (on && !p->powered) {
        p->powered = 1;
        p->booted = 0;
        p->boot_at_us = s->t_us;
        alfa_plant_set_controller(&s->plant, p->idx, 1);
        s->plant_dirty = 1;
    } else if (!on && p->powered) {
        p->powered = 0;
        p->booted = 0;
        p->rx_len = 0;
        p->hold_len = 0;
        alfa_plant_set_controller(&s->plant, p->idx, 0);
        s->plant_dirty = 1;
    }
    pack_connect(p);
}

/* ------------------------------------------------------------------ the gateway role */

/* The gateway's wall clock: the scenario's time, plus whatever corrections were applied to it. */
static int64_t gateway_unix_s(const sim_site_t *s)
{
    return s->scn->start_unix_s + (int64_t)(s->t_us / 1000000u) + s->time_shift_s;
}


/* The gateway role's frames are periodic or asked again: a full bus queue only delays one. */
static void gateway_send(sim_site_t *s, const alfa_can_frame_t *f)
{
    if (alfa_canbus_send(s->gw, f) != ALFA_PORT_OK) {
        s->stats.gw_tx_dropped++;
    }
}

static void gateway_send_time(sim_site_t *s)
{
    alfa_time_msg_t tm = {ALFA_NODE_LINUX_GATEWAY,
                          (uint32_t)(gateway_unix_s(s)),
                          s->scn->utc_offset_min};
    alfa_can_frame_t f;
    if (alfa_proto_time_encode(&tm, &f) == ALFA_PROTO_OK) {
        gateway_send(s, &f);
    }
}

/* Like the Linux gateway, the role says it is there every second (device type 3: it never takes
 * part in the election; packs hear it, so a pack cut off the bus knows it was the one cut off). */
static void gateway_send_heartbeat(sim_site_t *s)
{
    alfa_heartbeat_t hb = {.node_id = ALFA_NODE_LINUX_GATEWAY, .device_type = ALFA_DEV_LINUX_GATEWAY,
                           .serial = SIM_GATEWAY_SERIAL, .fw_major = ALFA_FW_VERSION_MAJOR,
                           .fw_minor = ALFA_FW_VERSION_MINOR, .fw_patch = ALFA_FW_VERSION_PATCH};
    alfa_can_frame_t f;
    if (alfa_proto_heartbeat_encode(&hb, &f) == ALFA_PROTO_OK) {
        gateway_send(s, &f);
    }
}

static void gateway_receive(sim_site_t *s)
{
    alfa_can_frame_t f;
    while (alfa_canbus_recv(s->gw, &f) == 1) {
        if (s->ota != NULL) {
            sim_ota_on_can(s->ota, &f, s->t_us);
        }
        int cls = alfa_proto_classify(&f);
        if (cls == ALFA_CLS_HEARTBEAT) {
            alfa_heartbeat_t hb;
            if (alfa_proto_heartbeat_decode(&f, &hb) == ALFA_PROTO_OK && hb.node_id < ALFA_NODE_MAX) {
                /* A node joining the bus gets the time at once, not at the next 60-s broadcast. */
                if ((hb.state & ALFA_HB_CLAIMING) && s->next_time_us > s->t_us + 100000u) {
                    s->next_time_us = s->t_us + 100000u;
                }
                s->node_pack[hb.node_id] = 0;
                for (unsigned i = 0; i < s->n; i++) {
                    if (s->packs[i].serial == hb.serial) {
                        s->node_pack[hb.node_id] = (uint8_t)(i + 1u);
                    }
                }
            }
        } else if (cls == ALFA_CLS_ACK) {
            alfa_ack_t ack;
            if (alfa_proto_ack_decode(&f, &ack) == ALFA_PROTO_OK && ack.dst == ALFA_NODE_LINUX_GATEWAY &&
                ack.src < ALFA_NODE_MAX && s->node_pack[ack.src]) {
                alfa_scn_pack_obs_t *o = &s->obs_packs[s->node_pack[ack.src] - 1u];
                o->last_ack = ack.result;
                o->acks++;
                s->stats.acks++;
            }
        } else if (cls == ALFA_CLS_IMPORT_REQ) {
            alfa_import_msg_t m;
            if (s->gateway_on && !s->opt.real_gateway && alfa_proto_import_decode(&f, &m) == ALFA_CLS_IMPORT_REQ &&
                m.day != ALFA_DAY_NONE) {
                /* Every pack's figure of the asker's day, as the Linux gateway answers. */
                for (unsigned i = 0; i < s->n; i++) {
                    if (s->import_day[i] != m.day) {
                        continue;
                    }
                    alfa_import_msg_t r = {.src = ALFA_NODE_LINUX_GATEWAY, .dst = m.src, .day = m.day,
                                           .serial24 = ALFA_SERIAL24(s->packs[i].serial),
                                           .grid_import_today_wh = alfa_dayfig_answer(&s->import_fig[i])};
                    alfa_can_frame_t out;
                    if (alfa_proto_import_resp_encode(&r, &out) == ALFA_PROTO_OK) {
                        gateway_send(s, &out);
                    }
                }
            }
        } else if (cls >= ALFA_CLS_SITE_0 && cls < ALFA_CLS_SITE_0 + (int)ALFA_SITE_PARTS) {
            alfa_site_totals_t st;
            if (alfa_site_rx_feed(&s->site_rx, &f, &st) == 1) {
                s->site = st;
                s->site_heard = 1;
                s->site_heard_us = s->t_us;
            }
        }
    }
}

static int gateway_command(sim_site_t *s, const alfa_scn_action_t *a)
{
    alfa_cmd_t cmd;
    char err[128];
    if (!s->gateway_on) {
        fprintf(stderr, "alfaspark-sim: %s:%u: the simulated gateway is off: command not sent\n",
                s->scn->file, a->line);
        return -1;
    }
    uint64_t serial = a->target.kind == ALFA_SCN_TGT_PACK ? s->packs[a->target.pack].serial : 0;
    if (sim_gwcmd_build(a->name, a->json, serial, gateway_unix_s(s),
                        s->scn->utc_offset_min, &cmd, err, sizeof(err)) < 0) {
        fprintf(stderr, "alfaspark-sim: %s:%u: %s\n", s->scn->file, a->line, err);
        return -1;
    }
    cmd.src = ALFA_NODE_LINUX_GATEWAY;
    cmd.seq = ++s->cmd_seq;
    cmd.dst = ALFA_NODE_BROADCAST;
    if (a->target.kind == ALFA_SCN_TGT_PACK) {
        sim_pack_t *p = &s->packs[a->target.pack];
        cmd.dst = p->booted ? pnode_id(p) : 0;
        if (cmd.dst == 0) {
            fprintf(stderr, "alfaspark-sim: %s:%u: pack %u has no node ID yet: command not sent\n",
                    s->scn->file, a->line, a->target.pack + 1u);
            return -1;
        }
    }
    alfa_can_frame_t f;
    if (alfa_proto_cmd_encode(&cmd, &f) != ALFA_PROTO_OK || alfa_canbus_send(s->gw, &f) != ALFA_PORT_OK) {
        fprintf(stderr, "alfaspark-sim: %s:%u: command could not be queued on the bus\n", s->scn->file,
                a->line);
        return -1;
    }
    s->stats.cmds_sent++;
    return 0;
}

static int ota_start(sim_site_t *s, const alfa_scn_action_t *a)
{
    if (s->ota == NULL || !s->gateway_on || s->opt.real_gateway) {
        fprintf(stderr, "alfaspark-sim: %s:%u: %s: the simulated gateway cannot start an update now\n", s->scn->file,
                a->line, a->name);
        return -1;
    }
    uint64_t serial = a->target.kind == ALFA_SCN_TGT_PACK ? s->packs[a->target.pack].serial : 0;
    return sim_ota_start(s->ota, a, serial, s->t_us);
}

/* ------------------------------------------------------------------ the site */

/* 0, or -1 when the pack's BMS model refuses its configuration. */
static int pack_setup(sim_site_t *s, sim_pack_t *p, unsigned i)
{
    p->site = s;
    p->idx = (uint8_t)i;
    p->serial = s->scn->packs[i].serial;
    p->bms_v_mv = -1;
    p->geom = (alfa_flash_geom_t){SIM_FLASH_BLOCK, SIM_FLASH_BLOCKS, 16u, 0xFFu};
    memset(p->flash, 0xFF, sizeof(p->flash));
    p->port = (alfa_port_t){
        .user = p,
        .now_ms = cb_now_ms,
        .relays_set = cb_relays,
        .status_leds_set = cb_leds,
        .adc_block = cb_adc,
        .serial_write = cb_serial_write,
        .serial_read = cb_serial_read,
        .can_send = cb_can_send,
        .can_recv = cb_can_recv,
        .can_state = cb_can_state,
        .can_recover = cb_can_recover,
        .flash_geom = &p->geom,
        .flash_read = cb_flash_read,
        .flash_prog = cb_flash_prog,
        .flash_erase = cb_flash_erase,
        .watchdog_feed = cb_watchdog,
        .reboot = cb_reboot,
    };
    if (p->has_slots) {
        p->port.slot_geom = &p->slots.geom;
        p->port.slot_begin = cb_slot_begin;
        p->port.slot_erase = cb_slot_erase;
        p->port.slot_write = cb_slot_write;
        p->port.slot_read = cb_slot_read;
        p->port.slot_set_boot = cb_slot_set_boot;
        p->port.slot_confirm = cb_slot_confirm;
        p->port.slot_state = cb_slot_state;
        p->port.fw_verify = cb_fw_verify;
    }
    alfa_rng_t root;
    alfa_rng_seed(&root, s->opt.seed);
    alfa_rng_split(&root, 1000u + i, &p->rng);
    p->clock_origin_ms = (uint32_t)alfa_rng_next(&p->rng);
    p->powered = 1;
    p->can_linked = 1;
    p->boot_at_us = alfa_rng_below(&p->rng, BOOT_SPREAD_MS) * 1000u;
    alfa_bmsm_config_t mc;
    alfa_bmsm_config_default(&mc);
    mc.seed = (uint32_t)alfa_rng_next(&p->rng);
    return alfa_bmsm_init(&p->bmsm, &mc, NULL);
}

sim_site_t *sim_site_new(const alfa_scn_t *scn, const sim_options_t *opt)
{
    if (scn->pack_count > SIM_MAX_PACKS) {
        fprintf(stderr, "alfaspark-sim: at most %u packs on one bus\n", SIM_MAX_PACKS);
        return NULL;
    }
    sim_site_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->scn = scn;
    s->opt = *opt;
    if (!opt->seed_given) {
        s->opt.seed = scn->seed;
    }
    s->step_us = opt->step_us ? opt->step_us : scn->step_us;
    s->n = scn->pack_count;
    s->gateway_on = scn->gateway_on && opt->gateway_sim;
    alfa_plant_cfg_t pc = scn->plant;
    pc.seed = s->opt.seed;
    if (alfa_plant_init(&s->plant, &pc) < 0) {
        fprintf(stderr, "alfaspark-sim: the plant description is inconsistent\n");
        free(s);
        return NULL;
    }
    /* One mains period (or three, at 60 Hz) of the sine at 4 kHz: exact and repeating. */
    s->sine_len = SIM_ADC_RATE_HZ % 50u == 0 ? SIM_ADC_RATE_HZ / 50u : SINE_MAX;
    for (uint32_t k = 0; k < s->sine_len; k++) {
        s->sine[k] = (int32_t)lround(32768.0 * sin(2.0 * M_PI * 50.0 * k / SIM_ADC_RATE_HZ));
    }
    s->bus = calloc(1, sizeof(*s->bus));
    s->packs = calloc(s->n, sizeof(*s->packs));
    s->obs_packs = calloc(s->n, sizeof(*s->obs_packs));
    s->import_fig = calloc(s->n, sizeof(*s->import_fig));
    s->import_day = calloc(s->n, sizeof(*s->import_day));
    if (s->bus == NULL || s->packs == NULL || s->obs_packs == NULL || s->import_fig == NULL || s->import_day == NULL) {
        sim_site_free(s);
        return NULL;
    }
    alfa_canbus_init(s->bus, s->opt.seed);
    /* Firmware slots when the scenario updates firmware, a real gateway may (--can-pty), or asked. */
    int slots = scn->ota_image_count > 0u || opt->real_gateway || opt->ota_slots;
    if (slots && (s->ota = sim_ota_new(scn, &s->opt)) == NULL) {
        sim_site_free(s);
        return NULL;
    }
    const alfa_slot_geom_t sg = {SIM_SLOT_SIZE, SIM_SLOT_SECTOR, 16u, 0xFFu};
    for (unsigned i = 0; i < s->n; i++) {
        sim_pack_t *p = &s->packs[i];
        if (slots) {
            if (alfa_slot_sim_init(&p->slots, &sg, sim_ota_verify, s->ota) != 0) {
                fprintf(stderr, "alfaspark-sim: out of memory for firmware slots\n");
                sim_site_free(s);
                return NULL;
            }
            p->has_slots = 1;
        }
        if (pack_setup(s, p, i) < 0) {
            fprintf(stderr, "alfaspark-sim: pack %u: the BMS model refuses its configuration\n", i + 1u);
            sim_site_free(s);
            return NULL;
        }
        p->can = alfa_canbus_attach(s->bus);
        s->obs_packs[i].last_ack = 255;
    }
    s->gw = alfa_canbus_attach(s->bus);
    if (s->ota != NULL) {
        sim_ota_attach(s->ota, s->gw);
    }
    s->obs.pack_count = s->n;
    s->obs.packs = s->obs_packs;
    s->obs.site = &s->site;
    return s;
}

void sim_site_free(sim_site_t *s)
{
    if (s == NULL) {
        return;
    }
    for (unsigned i = 0; s->packs != NULL && i < s->n; i++) {
        alfa_slot_sim_free(&s->packs[i].slots);
    }
    sim_ota_free(s->ota);
    free(s->bus);
    free(s->packs);
    free(s->obs_packs);
    free(s->import_fig);
    free(s->import_day);
    free(s);
}

uint64_t sim_site_now_us(const sim_site_t *s) { return s->t_us; }
alfa_canbus_t *sim_site_bus(sim_site_t *s) { return s->bus; }
const alfa_plant_t *sim_site_plant(const sim_site_t *s) { return &s->plant; }
const sim_stats_t *sim_site_stats(const sim_site_t *s) { return &s->stats; }
int sim_site_new_cycle(const sim_site_t *s, unsigned i) { return i < s->n && s->packs[i].new_cycle; }

int sim_site_apply(sim_site_t *s, const alfa_scn_action_t *a)
{
    unsigned first = 0, last = s->n;
    if (a->target.kind == ALFA_SCN_TGT_PACK) {
        first = a->target.pack;
        last = first + 1u;
    }
    switch (a->kind) {
    case ALFA_SCN_ACT_COMMAND:
        return gateway_command(s, a);
    case ALFA_SCN_ACT_CAN_ERRORS:
        alfa_canbus_inject_errors(s->bus, (uint32_t)a->value);
        return 0;
    case ALFA_SCN_ACT_GATEWAY:
        s->gateway_on = (uint8_t)(a->value && s->opt.gateway_sim);
        if (s->gateway_on) {
            s->next_time_us = s->t_us;
        }
        return 0;
    case ALFA_SCN_ACT_TIME_SHIFT:
        /* A correction of the gateway's clock: broadcast at once, as NTP stepping the clock would
         * be followed by the next broadcast. */
        s->time_shift_s += a->value / 1000;
        s->next_time_us = s->t_us;
        return 0;
    case ALFA_SCN_ACT_OTA_START:
        return ota_start(s, a);
    case ALFA_SCN_ACT_OTA_CANCEL:
        if (s->ota == NULL) {
            fprintf(stderr, "alfaspark-sim: %s:%u: no update to cancel\n", s->scn->file, a->line);
            return -1;
        }
        return sim_ota_cancel(s->ota, a, s->t_us);
    case ALFA_SCN_ACT_OTA_GW_RESTART:
        return s->ota != NULL ? sim_ota_gateway_restart(s->ota, s->t_us) : -1;
    default:
        break;
    }
    for (unsigned i = first; i < last && i < s->n; i++) {
        sim_pack_t *p = &s->packs[i];
        switch (a->kind) {
        case ALFA_SCN_ACT_BMS_SILENT:
            p->bms_silent = (uint8_t)a->value;
            break;
        case ALFA_SCN_ACT_BMS_VOLTAGE:
            p->bms_v_mv = (int32_t)a->value;
            s->plant_dirty = 1;
            break;
        case ALFA_SCN_ACT_BMS_ALARM:
            alfa_plant_set_alarms(&s->plant, p->idx, (uint16_t)a->value);
            s->plant_dirty = 1;
            break;
        case ALFA_SCN_ACT_MODBUS_NOISE:
            p->noise_ppm = (uint32_t)a->value;
            break;
        case ALFA_SCN_ACT_POWER:
            pack_power(p, (int)a->value);
            break;
        case ALFA_SCN_ACT_CAN_LINK:
            p->can_linked = (uint8_t)a->value;
            pack_connect(p);
            break;
        case ALFA_SCN_ACT_OTA_LOSS:
            p->ota_loss_ppm = (uint32_t)a->value;
            break;
        case ALFA_SCN_ACT_OTA_SELFTEST_FAIL:
            p->selftest_fail = (uint8_t)a->value;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* Move the BMS model's answer bytes onto the pack's serial line. A frame is handed over whole
 * once its last byte is on the wire: the step is longer than the 3.5-character silence that
 * ends a Modbus frame, so delivering a frame in pieces one step apart would split it. */
static void serial_pump(sim_pack_t *p, uint64_t now_us)
{
    uint8_t buf[SIM_SERIAL_BUF];
    if (alfa_bmsm_next_us(&p->bmsm) > now_us && p->hold_len == 0) {
        return; /* the BMS is neither answering nor finishing a request */
    }
    size_t n = alfa_bmsm_tx(&p->bmsm, now_us, buf, sizeof(buf));
    for (size_t i = 0; i < n && p->hold_len < SIM_SERIAL_BUF; i++) {
        p->hold[p->hold_len++] = line_noise(p, buf[i]);
    }
    if (p->hold_len && alfa_bmsm_next_us(&p->bmsm) == UINT64_MAX) {
        if (!bms_silent(p) && p->powered) {
            uint16_t room = (uint16_t)(SIM_SERIAL_BUF - p->rx_len);
            uint16_t k = p->hold_len < room ? p->hold_len : room;
            memcpy(p->rx + p->rx_len, p->hold, k);
            p->rx_len = (uint16_t)(p->rx_len + k);
        }
        p->hold_len = 0;
    }
}

static void bms_values(sim_site_t *s, sim_pack_t *p)
{
    const alfa_plant_pack_out_t *o = alfa_plant_out(&s->plant, p->idx);
    uint8_t cells = s->scn->plant.packs[p->idx].battery.cells; /* the plant was built from it */
    alfa_bmsm_values_t v = {
        .v_pack_mv = p->bms_v_mv >= 0 ? (uint32_t)p->bms_v_mv : o->v_pack_mv,
        .i_batt_ma = o->i_batt_ma,
        .soc_pct = o->bms_soc_pct,
        .alarms = o->bms_alarms,
        .warnings = 0,
        .temp_max_dc = 250,
        .cell_min_mv = (uint16_t)(o->v_pack_mv / cells - 5u),
        .cell_max_mv = (uint16_t)(o->v_pack_mv / cells + 5u),
    };
    alfa_bmsm_set_values(&p->bmsm, &v);
}

void sim_site_step(sim_site_t *s)
{
    s->t_us += s->step_us;
    s->stats.steps++;
    int plant_moved = 0;
    if (s->plant_dirty || s->t_us - s->plant_t_us >= PLANT_STEP_US) {
        int64_t local_ms = (int64_t)(s->t_us / 1000u) + s->scn->start_tod_ms;
        uint32_t day = (uint32_t)(local_ms / ALFA_SCN_DAY_MS) + 1u;
        uint32_t tod = (uint32_t)(local_ms % ALFA_SCN_DAY_MS);
        alfa_plant_step(&s->plant, day, tod, (uint32_t)((s->t_us - s->plant_t_us) / 1000u));
        s->plant_t_us = s->t_us;
        s->plant_dirty = 0;
        plant_moved = 1;
    }
    for (unsigned i = 0; i < s->n; i++) {
        sim_pack_t *p = &s->packs[i];
        p->new_cycle = 0;
        if (plant_moved) {
            bms_values(s, p);
        }
        serial_pump(p, s->t_us);
        pack_run(p);
    }
    alfa_canbus_run_until(s->bus, s->t_us);
    gateway_receive(s);
    if (s->ota != NULL && s->gateway_on) {
        sim_ota_process(s->ota, s->t_us);
    }
    if (s->gateway_on && s->t_us >= s->next_time_us) {
        gateway_send_time(s);
        s->next_time_us = s->t_us + SIM_GATEWAY_TIME_MS * 1000ull;
    }
    if (alfa_canbus_state(s->gw) == ALFA_CAN_BUS_OFF) {
        alfa_canbus_recover(s->gw); /* a USB-CAN adapter recovers from bus-off by itself */
    }
    if (s->gateway_on && !s->opt.real_gateway && s->t_us >= s->next_hb_us) {
        gateway_send_heartbeat(s);
        s->next_hb_us = s->t_us + 1000000u;
    }
    if (s->trace) {
        for (unsigned i = 0; i < s->n; i++) {
            if (s->packs[i].new_cycle) {
                alfa_telemetry_t t;
                alfa_core_telemetry(pcore(&s->packs[i]), &t);
                char when[40];
                alfa_scn_format_time(s->scn, (int64_t)(s->t_us / 1000u), when, sizeof(when));
                fprintf(s->trace,
                        "%.3f,%s,%u,%012" PRIX64 ",%" PRIu32 ",%" PRId32 ",%" PRId32 ",%" PRId32 ",%" PRId32
                        ",%" PRId32 ",%" PRId32 ",%" PRIu32 ",%" PRId32 ",%u,%u,%s,%u,%" PRIu32 ",%u,%" PRIu32
                        ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%u\n",
                        (double)s->t_us / 1e6, when, i + 1u, s->packs[i].serial, t.cycle, t.p_grid_w,
                        t.p_home_w, t.p_pool_w, t.p_heater_w, t.p_batt_w, t.p_solar_w, t.v_pack_mv,
                        t.i_batt_ma, t.soc_pct, t.relays_closed, alfa_scn_mode_name(t.mode), t.is_master,
                        t.faults, t.warnings, t.grid_import_today_wh, t.solar_today_wh,
                        t.batt_charge_today_wh, t.batt_discharge_today_wh,
                        alfa_plant_soc_pct(&s->plant, (uint8_t)i));
            }
        }
    }
}

void sim_site_trace(sim_site_t *s, FILE *f)
{
    s->trace = f;
    if (f != NULL) {
        fprintf(f, "t_s,local,pack,serial,cycle,p_grid_w,p_home_w,p_pool_w,p_heater_w,p_batt_w,"
                   "p_solar_w,v_pack_mv,i_batt_ma,soc_pct,relays_closed,mode,is_master,faults,warnings,"
                   "grid_import_today_wh,solar_today_wh,batt_charge_today_wh,batt_discharge_today_wh,"
                   "true_soc_pct\n");
    }
}

int sim_site_pack_info(const sim_site_t *s, unsigned i, sim_pack_info_t *out)
{
    if (i >= s->n) {
        return -1;
    }
    const sim_pack_t *p = &s->packs[i];
    memset(out, 0, sizeof(*out));
    out->serial = p->serial;
    out->powered = p->powered;
    out->booted = p->powered && p->booted;
    out->bus = p->powered && p->can_linked;
    out->booted_us = p->booted_us;
    out->linked_us = p->linked_us;
    out->grid_closed = (uint8_t)(alfa_plant_relays_closed(&s->plant, (uint8_t)i) & 1u);
    out->grid_import_mj = alfa_plant_grid_import_mj(&s->plant, (uint8_t)i);
    out->bms_alarms = alfa_plant_out(&s->plant, (uint8_t)i)->bms_alarms;
    out->bms_answering = !p->bms_silent && p->noise_ppm == 0 && p->bms_v_mv < 0;
    if (out->booted) {
        const alfa_core_t *c = alfa_pack_core_const(&p->pack);
        out->why_grid = (uint8_t)alfa_core_relay_why(c, ALFA_RELAY_GRID);
        out->faults = alfa_core_faults(c);
        out->is_master = alfa_node_is_master(alfa_pack_node(&p->pack));
        out->node_id = alfa_node_id(alfa_pack_node(&p->pack));
        out->master_id = alfa_node_master_id(alfa_pack_node(&p->pack));
        out->day = alfa_core_day(c);
        out->grid_import_today_wh = alfa_core_grid_import_today_wh(c);
        out->stored_busy = (uint8_t)alfa_store_busy(alfa_pack_store(&p->pack));
    }
    return 0;
}

int64_t sim_site_gateway_unix_s(const sim_site_t *s) { return gateway_unix_s(s); }

int sim_site_gateway_on(const sim_site_t *s) { return s->gateway_on; }

const alfa_scn_obs_t *sim_site_observe(sim_site_t *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        sim_pack_t *p = &s->packs[i];
        alfa_scn_pack_obs_t *o = &s->obs_packs[i];
        o->powered = p->powered;
        o->valid = p->powered && p->booted && alfa_core_cycles(pcore(p)) > 0u;
        if (o->valid) {
            alfa_core_telemetry(pcore(p), &o->t); /* live values: flags like is_master move between cycles */
        }
        o->settings_valid = p->powered && p->booted;
        if (o->settings_valid) {
            const alfa_settings_t *set = alfa_core_settings(pcore(p));
            for (uint32_t id = 0; id < (uint32_t)ALFA_SET_COUNT; id++) {
                int32_t v = 0;
                o->settings[id] = alfa_settings_get(set, id, &v) == 0 ? v : 0;
            }
        }
        o->node_id = p->booted ? pnode_id(p) : 0;
        if (p->powered && p->booted) {
            alfa_fw_version_t v = alfa_core_fw_version(pcore(p));
            o->fw_version = ALFA_FW_VERSION_WIRE(v.major, v.minor, v.patch);
            if (p->has_slots) {
                const alfa_fwu_t *u = alfa_pack_fwu(&p->pack);
                o->ota_state = (uint8_t)alfa_fwu_state(u);
                o->ota_missing = alfa_fwu_missing_chunks(u);
            }
        } else {
            o->fw_version = 0;
            o->ota_state = 0;
            o->ota_missing = 0;
        }
    }
    s->obs.site_valid = s->site_heard && s->t_us - s->site_heard_us <= SITE_STALE_US;
    return &s->obs;
}
