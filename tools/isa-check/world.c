/* The isa-check world seen by the pack: its port callbacks, a rule-keeping NOR flash and the scripted gateway on the CAN bus. */
#include "isa.h"

static isa_world_t *W(void *user) { return (isa_world_t *)user; }

void isa_world_sum_tag(isa_world_t *w, uint8_t tag)
{
    isa_sum_bytes(&w->sum, &tag, 1u);
    isa_sum_u32(&w->sum, w->t_ms);
}

/* ---------------------------------------------------------------- outputs */

static uint32_t cb_now(void *user) { return ISA_NOW_ORIGIN_MS + W(user)->t_ms; }

static void cb_relays(void *user, uint8_t mask)
{
    isa_world_t *w = W(user);
    CB_BEGIN(w);
    w->coils = mask;
    isa_world_sum_tag(w, 'R');
    isa_sum_bytes(&w->sum, &mask, 1u);
    CB_END(w);
}

static void cb_pixels(void *user, const alfa_rgb_t *px, uint8_t count)
{
    isa_world_t *w = W(user);
    CB_BEGIN(w);
    isa_world_sum_tag(w, 'P');
    uint8_t lit = 0;
    for (uint8_t i = 0; i < count; i++) {
        uint8_t rgb[3] = {px[i].r, px[i].g, px[i].b};
        isa_sum_bytes(&w->sum, rgb, 3u);
        lit = (uint8_t)(lit + ((rgb[0] | rgb[1] | rgb[2]) != 0u ? 1u : 0u));
    }
    w->pixels_lit = lit;
    CB_END(w);
}

static void cb_segments(void *user, const uint8_t seg[ALFA_SEG_DIGITS])
{
    isa_world_t *w = W(user);
    CB_BEGIN(w);
    isa_world_sum_tag(w, 'S');
    isa_sum_bytes(&w->sum, seg, ALFA_SEG_DIGITS);
    for (uint32_t i = 0; i < ALFA_SEG_DIGITS; i++) {
        w->segments[i] = seg[i];
    }
    CB_END(w);
}

static void cb_leds(void *user, uint8_t mask)
{
    isa_world_t *w = W(user);
    CB_BEGIN(w);
    w->leds = mask;
    isa_world_sum_tag(w, 'L');
    isa_sum_bytes(&w->sum, &mask, 1u);
    CB_END(w);
}

static const uint16_t *cb_adc(void *user, uint8_t ct, uint16_t *count, uint16_t *rate_hz)
{
    isa_world_t *w = W(user);
    if (ct >= ALFA_CT_COUNT) {
        return 0;
    }
    CB_BEGIN(w);
    isa_plant_ct_block(&w->plant, ct, w->ct_block[ct]);
    *count = ISA_CT_SAMPLES;
    *rate_hz = ISA_CT_RATE_HZ;
    CB_END(w);
    return w->ct_block[ct];
}

static void cb_watchdog(void *user)
{
    isa_world_t *w = W(user);
    w->watchdog_feeds++;
    isa_world_sum_tag(w, 'D');
}

static void cb_reboot(void *user) { W(user)->reboot_req = 1; }

/* ---------------------------------------------------------------- RS-485 to the BMS */

static int32_t cb_serial_write(void *user, const uint8_t *data, uint16_t len)
{
    isa_world_t *w = W(user);
    CB_BEGIN(w);
    isa_world_sum_tag(w, 'W');
    isa_sum_bytes(&w->sum, data, len);
    isa_bms_rx(&w->bms, &w->plant, data, len, w->t_ms);
    CB_END(w);
    return len;
}

static int32_t cb_serial_read(void *user, uint8_t *data, uint16_t cap)
{
    isa_world_t *w = W(user);
    isa_bms_t *b = &w->bms;
    if (b->resp_len == 0u || w->t_ms < b->resp_ready_t) {
        return 0;
    }
    uint16_t n = 0;
    while (n < cap && b->resp_off < b->resp_len) {
        data[n++] = b->resp[b->resp_off++];
    }
    if (b->resp_off == b->resp_len) {
        b->resp_len = 0;
        b->resp_ready_t = 0;
    }
    return n;
}

/* ---------------------------------------------------------------- NOR regions */

void isa_nor_init(isa_nor_t *f, uint8_t *mem, uint8_t *map, uint32_t size, uint32_t block, uint8_t tag_prog,
                  uint8_t tag_erase)
{
    *f = (isa_nor_t){.mem = mem, .map = map, .size = size, .block = block, .tag_prog = tag_prog, .tag_erase = tag_erase};
    for (uint32_t i = 0; i < size; i++) {
        mem[i] = 0xFFu;
    }
    for (uint32_t i = 0; i < size / ISA_FLASH_PROG / 8u; i++) {
        map[i] = 0;
    }
}

int32_t isa_nor_read(isa_world_t *w, isa_nor_t *f, uint32_t addr, void *buf, uint32_t len)
{
    (void)w; /* reads change nothing and are not summed */
    if (addr > f->size || len > f->size - addr) {
        f->rule_breaks++;
        return ALFA_PORT_E_RANGE;
    }
    uint8_t *o = buf;
    for (uint32_t i = 0; i < len; i++) {
        o[i] = f->mem[addr + i];
    }
    return ALFA_PORT_OK;
}

int32_t isa_nor_prog(isa_world_t *w, isa_nor_t *f, uint32_t addr, const void *buf, uint32_t len)
{
    int32_t rc = ALFA_PORT_OK;
    if (len == 0u || addr % ISA_FLASH_PROG != 0u || len % ISA_FLASH_PROG != 0u || addr > f->size || len > f->size - addr) {
        rc = ALFA_PORT_E_RANGE;
    }
    for (uint32_t u = addr / ISA_FLASH_PROG; rc == ALFA_PORT_OK && u < (addr + len) / ISA_FLASH_PROG; u++) {
        if (f->map[u / 8u] & (1u << (u % 8u))) {
            rc = ALFA_PORT_E_REPROG;  /* a unit is programmed once between erases */
        }
    }
    if (rc != ALFA_PORT_OK) {
        f->rule_breaks++;
        return rc;
    }
    const uint8_t *in = buf;
    for (uint32_t i = 0; i < len; i++) {
        f->mem[addr + i] = in[i];
    }
    for (uint32_t u = addr / ISA_FLASH_PROG; u < (addr + len) / ISA_FLASH_PROG; u++) {
        f->map[u / 8u] = (uint8_t)(f->map[u / 8u] | (1u << (u % 8u)));
    }
    f->progs++;
    isa_world_sum_tag(w, f->tag_prog);
    isa_sum_u32(&w->sum, addr);
    isa_sum_bytes(&w->sum, buf, len);
    return ALFA_PORT_OK;
}

int32_t isa_nor_erase(isa_world_t *w, isa_nor_t *f, uint32_t block)
{
    if (block >= f->size / f->block) {
        f->rule_breaks++;
        return ALFA_PORT_E_RANGE;
    }
    for (uint32_t i = 0; i < f->block; i++) {
        f->mem[block * f->block + i] = 0xFFu;
    }
    for (uint32_t u = block * (f->block / ISA_FLASH_PROG); u < (block + 1u) * (f->block / ISA_FLASH_PROG); u++) {
        f->map[u / 8u] = (uint8_t)(f->map[u / 8u] & ~(1u << (u % 8u)));
    }
    f->erases++;
    isa_world_sum_tag(w, f->tag_erase);
    isa_sum_u32(&w->sum, block);
    return ALFA_PORT_OK;
}

/* The settings store's region: 4 x 4 KiB, 16-byte units, erased 0xFF. */
static int32_t cb_flash_read(void *user, uint32_t addr, void *buf, uint32_t len)
{
    isa_world_t *w = W(user);
    return isa_nor_read(w, &w->store, addr, buf, len);
}

static int32_t cb_flash_prog(void *user, uint32_t addr, const void *buf, uint32_t len)
{
    isa_world_t *w = W(user);
    CB_BEGIN(w);
    int32_t rc = isa_nor_prog(w, &w->store, addr, buf, len);
    CB_END(w);
    return rc;
}

static int32_t cb_flash_erase(void *user, uint32_t block)
{
    isa_world_t *w = W(user);
    CB_BEGIN(w);
    int32_t rc = isa_nor_erase(w, &w->store, block);
    CB_END(w);
    return rc;
}

/* ---------------------------------------------------------------- CAN: the gateway's side of the bus */

void isa_world_fail(isa_world_t *w, const char *what, int32_t got, int32_t want)
{
    isa_line_t l = {0};
    isa_line_str(&l, "FAIL t=");
    isa_line_u32(&l, w->t_ms);
    isa_line_str(&l, " ");
    isa_line_str(&l, what);
    isa_line_str(&l, " got=");
    isa_line_i32(&l, got);
    isa_line_str(&l, " want=");
    isa_line_i32(&l, want);
    isa_line_end(&l);
    w->failures++;
}

void isa_world_to_pack(isa_world_t *w, const alfa_can_frame_t *f)
{
    if (w->rxq_head - w->rxq_tail >= ISA_RXQ) {
        w->rxq_drops++;
        return;
    }
    w->rxq[w->rxq_head % ISA_RXQ] = *f;
    w->rxq_head++;
}

static void sum_telemetry(isa_world_t *w, const alfa_telemetry_t *t)
{
    /* Field by field: struct padding differs between ISAs and must never reach the sum. */
    const uint32_t v[] = {
        t->cycle, (uint32_t)t->p_grid_w, (uint32_t)t->p_home_w, (uint32_t)t->p_pool_w,
        (uint32_t)t->p_heater_w, (uint32_t)t->p_batt_w, (uint32_t)t->p_solar_w, t->v_pack_mv,
        (uint32_t)t->i_batt_ma, t->soc_pct, t->relays_closed, t->mode, t->is_master, t->faults,
        t->warnings, t->grid_import_today_wh, t->solar_today_wh, t->batt_charge_today_wh,
        t->batt_discharge_today_wh,
    };
    isa_world_sum_tag(w, 'T');
    for (uint32_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        isa_sum_u32(&w->sum, v[i]);
    }
}

static void on_ack(isa_world_t *w, const alfa_can_frame_t *f)
{
    alfa_ack_t ack;
    if (alfa_proto_ack_decode(f, &ack) < 0 || ack.dst != ALFA_NODE_LINUX_GATEWAY) {
        return;
    }
    for (uint32_t i = 0; i < ISA_CMD_PENDING; i++) {
        isa_pending_cmd_t *p = &w->pending[i];
        if (p->used && p->seq == ack.seq && p->code == ack.code) {
            p->used = 0;
            if (ack.result != p->expect) {
                isa_world_fail(w, "ack result", ack.result, p->expect);
            }
            if (ack.result == ALFA_ACK_OK) {
                w->acks_ok++;
            } else {
                w->acks_refused++;
            }
            return;
        }
    }
    isa_world_fail(w, "unexpected ack", ack.seq, -1);
}

static int32_t cb_can_send(void *user, const alfa_can_frame_t *f)
{
    isa_world_t *w = W(user);
    CB_BEGIN(w);
    w->frames_from_pack++;
    isa_world_sum_tag(w, 'C');
    isa_sum_u32(&w->sum, f->id);
    uint8_t lf[2] = {f->len, f->flags};
    isa_sum_bytes(&w->sum, lf, 2u);
    isa_sum_bytes(&w->sum, f->data, f->len <= ALFA_CAN_MAX_DLC ? f->len : ALFA_CAN_MAX_DLC);

    int cls = alfa_proto_classify(f);
    if (cls == ALFA_CLS_HEARTBEAT) {
        alfa_heartbeat_t hb;
        if (alfa_proto_heartbeat_decode(f, &hb) == ALFA_PROTO_OK && hb.serial == ISA_SERIAL) {
            w->pack_node = hb.node_id;
            w->hb_version = alfa_fwimg_version(hb.fw_major, hb.fw_minor, hb.fw_patch);
        }
    } else if (cls == ALFA_CLS_FWU_REPLY) {
        isa_fw_on_reply(w, f);
    } else if (cls >= ALFA_CLS_TELEM_0 && cls < ALFA_CLS_TELEM_0 + (int)ALFA_TELEM_PARTS) {
        alfa_telemetry_t t;
        if (alfa_telem_rx_feed(&w->telem_rx, f, &t) == 1) {
            w->telem = t;
            w->telem_records++;
            sum_telemetry(w, &t);
        }
    } else if (cls == ALFA_CLS_IMPORT_REQ) {
        w->import_req_t = w->t_ms;
    } else if (cls == ALFA_CLS_ACK) {
        on_ack(w, f);
    } else if (cls == ALFA_CLS_SETTING) {
        alfa_setting_msg_t m;
        if (alfa_proto_setting_decode(f, &m) == ALFA_PROTO_OK && m.dst == ALFA_NODE_LINUX_GATEWAY &&
            m.id < ALFA_SET_COUNT) {
            w->settings_read[m.id] = m.value;
            w->settings_frames++;
        }
    }
    CB_END(w);
    return ALFA_PORT_OK;
}

static int32_t cb_can_recv(void *user, alfa_can_frame_t *f)
{
    isa_world_t *w = W(user);
    if (w->rxq_tail == w->rxq_head) {
        return 0;
    }
    *f = w->rxq[w->rxq_tail % ISA_RXQ];
    w->rxq_tail++;
    return 1;
}

static void gw_send_time(isa_world_t *w)
{
    alfa_time_msg_t tm = {
        .src = ALFA_NODE_LINUX_GATEWAY,
        .unix_s = ISA_START_UNIX_S + w->t_ms / 1000u,
        .utc_offset_min = ISA_UTC_OFFSET_MIN,
    };
    alfa_can_frame_t f;
    if (alfa_proto_time_encode(&tm, &f) == ALFA_PROTO_OK) {
        isa_world_to_pack(w, &f);
    }
}

void isa_world_gateway_tick(isa_world_t *w)
{
    alfa_can_frame_t f;
    if (w->t_ms % 1000u == 500u) {
        alfa_heartbeat_t hb = {
            .node_id = ALFA_NODE_LINUX_GATEWAY,
            .device_type = ALFA_DEV_LINUX_GATEWAY,
            .serial = ISA_GW_SERIAL,
            .fw_major = ALFA_FW_VERSION_MAJOR,
            .fw_minor = ALFA_FW_VERSION_MINOR,
            .fw_patch = ALFA_FW_VERSION_PATCH,
        };
        if (alfa_proto_heartbeat_encode(&hb, &f) == ALFA_PROTO_OK) {
            isa_world_to_pack(w, &f);
        }
    }
    if (w->t_ms % 60000u == 2000u) {
        gw_send_time(w);
    }
    if (w->import_req_t != 0u && w->t_ms >= w->import_req_t + ISA_TICK_MS && w->pack_node != 0u) {
        /* The gateway keeps each pack's last reported import and answers a rebooted pack. */
        alfa_import_msg_t m = {
            .src = ALFA_NODE_LINUX_GATEWAY,
            .dst = w->pack_node,
            .grid_import_today_wh = w->telem.grid_import_today_wh,
        };
        if (alfa_proto_import_resp_encode(&m, &f) == ALFA_PROTO_OK) {
            isa_world_to_pack(w, &f);
        }
        w->import_req_t = 0;
    }
    for (uint32_t i = 0; w->t_ms % 100u == 0u && i < ISA_CMD_PENDING; i++) {
        isa_pending_cmd_t *p = &w->pending[i];
        if (p->used && w->t_ms > p->deadline_t) {
            p->used = 0;
            isa_world_fail(w, "no ack for command", p->code, p->expect);
        }
    }
}

void isa_world_command(isa_world_t *w, const isa_event_t *ev)
{
    alfa_cmd_t c = {.code = ev->code, .seq = ++w->gw_seq, .src = ALFA_NODE_LINUX_GATEWAY,
                    .dst = ALFA_NODE_BROADCAST};
    switch (ev->code) {
    case ALFA_CMD_SET_MODE:
        c.u.set_mode.mode = (uint8_t)ev->a;
        c.u.set_mode.on = (uint8_t)ev->b;
        break;
    case ALFA_CMD_SET_SC_THRESHOLDS:
        c.u.sc_thresholds.low_pct = (uint8_t)ev->a;
        c.u.sc_thresholds.high_pct = (uint8_t)ev->b;
        break;
    case ALFA_CMD_SET_ECO_LIMIT:
        c.u.eco_limit.limit_w = (uint32_t)ev->a;
        break;
    case ALFA_CMD_SET_TOU_WINDOW:
        c.u.tou_window.index = (uint8_t)ev->a;
        c.u.tou_window.start_min = (uint16_t)ev->b;
        c.u.tou_window.end_min = (uint16_t)ev->c;
        c.u.tou_window.enabled = (uint8_t)ev->d;
        break;
    case ALFA_CMD_SET_GRID_LIMIT:
        c.u.grid_limit.on = (uint8_t)ev->a;
        c.u.grid_limit.limit_kwh = (uint8_t)ev->b;
        break;
    case ALFA_CMD_SET_RELAY_OVERRIDE:
        c.u.relay_override.relay = (uint8_t)ev->a;
        c.u.relay_override.override = (uint8_t)ev->b;
        break;
    case ALFA_CMD_SET_CALIBRATION:
        c.u.calibration.ct = (uint8_t)ev->a;
        c.u.calibration.gain_ua = (uint32_t)ev->b;
        c.u.calibration.offset_ma = (int16_t)ev->c;
        break;
    case ALFA_CMD_IDENTIFY:
        c.u.identify.seconds = (uint8_t)ev->a;
        break;
    case ALFA_CMD_FACTORY_RESET:
        c.u.factory_reset.confirm = (uint32_t)ev->a;
        break;
    case ALFA_CMD_SET_SETTING:
        c.u.set_setting.id = (uint16_t)ev->a;
        c.u.set_setting.value = ev->b;
        break;
    case ALFA_CMD_READ_SETTINGS:
        for (uint32_t i = 0; i < ALFA_SET_COUNT; i++) {
            w->settings_read[i] = INT32_MIN;
        }
        w->settings_frames = 0;
        break;
    default:
        break;
    }
    alfa_can_frame_t f;
    if (alfa_proto_cmd_encode(&c, &f) != ALFA_PROTO_OK) {
        isa_world_fail(w, "command encode", ev->code, 0);
        return;
    }
    for (uint32_t i = 0; i < ISA_CMD_PENDING; i++) {
        isa_pending_cmd_t *p = &w->pending[i];
        if (!p->used) {
            *p = (isa_pending_cmd_t){.used = 1, .code = c.code, .seq = c.seq, .expect = ev->expect,
                                     .deadline_t = w->t_ms + 2000u};
            break;
        }
    }
    isa_world_to_pack(w, &f);
}

/* ---------------------------------------------------------------- the port */

void isa_world_init(isa_world_t *w)
{
    isa_sum_init(&w->sum);
    isa_plant_init(&w->plant);
    isa_bms_init(&w->bms);
    alfa_telem_rx_reset(&w->telem_rx);
    isa_nor_init(&w->store, w->flash, w->flash_prog_map, ISA_FLASH_SIZE, ISA_FLASH_BLOCK, 'F', 'E');
    w->geom = (alfa_flash_geom_t){.block_size = ISA_FLASH_BLOCK, .block_count = ISA_FLASH_BLOCKS,
                                  .prog_size = ISA_FLASH_PROG, .erased_value = 0xFFu};
    w->port = (alfa_port_t){
        .user = w,
        .now_ms = cb_now,
        .relays_set = cb_relays,
        .pixels_set = cb_pixels,
        .segments_set = cb_segments,
        .status_leds_set = cb_leds,
        .adc_block = cb_adc,
        .serial_write = cb_serial_write,
        .serial_read = cb_serial_read,
        .can_send = cb_can_send,
        .can_recv = cb_can_recv,
        .flash_geom = &w->geom,
        .flash_read = cb_flash_read,
        .flash_prog = cb_flash_prog,
        .flash_erase = cb_flash_erase,
        .watchdog_feed = cb_watchdog,
        .reboot = cb_reboot,
    };
    w->cfg = (alfa_pack_config_t){.serial = ISA_SERIAL, .device_type = ALFA_DEV_PACK, .hw_class = ALFA_HW_CLASS_DEFAULT};
    isa_fw_init(w);
    isa_fw_make_image(w);
}
