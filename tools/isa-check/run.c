/* The isa-check day loop: a 10-ms world grid, pack wake-ups every 50 ms and on CAN and UART events, scripted events, expectations, one line per hour. */
#include "isa.h"

static isa_world_t world; /* one world per run; zeroed by the loader on every platform */

static void boot(isa_world_t *w)
{
    w->boots++;
    w->reboot_req = 0;
    w->rxq_tail = w->rxq_head; /* a controller that restarts loses what its CAN FIFO held */
    isa_fw_boot(w);            /* the 2nd-stage bootloader picks the slot */
    alfa_err_t rc = alfa_pack_init(&w->pack, &w->port, &w->cfg);
    if (rc != ALFA_OK) {
        isa_world_fail(w, "alfa_pack_init", rc, ALFA_OK);
    }
}

static void expect_eq(isa_world_t *w, const char *what, int32_t got, int32_t want)
{
    if (got != want) {
        isa_world_fail(w, what, got, want);
    }
}

static void apply(isa_world_t *w, const isa_event_t *ev)
{
    const alfa_telemetry_t *t = &w->telem;
    switch (ev->kind) {
    case ISA_EV_CMD:
        isa_world_command(w, ev);
        break;
    case ISA_EV_BMS_ALARMS:
        w->bms.alarms = (uint16_t)ev->a;
        break;
    case ISA_EV_BMS_WARNINGS:
        w->bms.warnings = (uint16_t)ev->a;
        break;
    case ISA_EV_BMS_SILENT:
        w->bms.silent = (uint8_t)ev->a;
        break;
    case ISA_EV_BMS_SLOW:
        w->bms.slow_ms = (uint32_t)ev->a;
        break;
    case ISA_EV_EXPECT_RELAY:
        expect_eq(w, "relay closed", (int32_t)((t->relays_closed >> ev->a) & 1u), ev->b);
        break;
    case ISA_EV_EXPECT_FAULT:
        expect_eq(w, "fault active", (int32_t)((t->faults >> ev->a) & 1u), ev->b);
        break;
    case ISA_EV_EXPECT_WARNING:
        expect_eq(w, "warning active", (int32_t)((t->warnings >> ev->a) & 1u), ev->b);
        break;
    case ISA_EV_EXPECT_MODE:
        expect_eq(w, "mode", t->mode, ev->a);
        break;
    case ISA_EV_EXPECT_BOOT:
        expect_eq(w, "boot state", (int32_t)alfa_pack_boot_state(&w->pack), ev->a);
        expect_eq(w, "boots", (int32_t)w->boots, ev->b);
        break;
    case ISA_EV_EXPECT_SETTING:
        expect_eq(w, "setting read back", ev->a >= 0 && ev->a < (int32_t)ALFA_SET_COUNT ? w->settings_read[ev->a] : 0,
                  ev->b);
        break;
    case ISA_EV_FW_UPDATE:
        isa_fw_start(w);
        break;
    case ISA_EV_EXPECT_FW:
        expect_eq(w, "firmware version (heartbeat)", (int32_t)w->hb_version, ev->a);
        expect_eq(w, "update sender phase", w->send.phase, ev->b);
        break;
    case ISA_EV_EXPECT_IMPORT:
        if ((int32_t)t->grid_import_today_wh < ev->a || (int32_t)t->grid_import_today_wh > ev->b) {
            isa_world_fail(w, "grid import today", (int32_t)t->grid_import_today_wh, ev->a);
        }
        break;
    default:
        isa_world_fail(w, "unknown event", ev->kind, 0);
        break;
    }
}

static void hour_line(isa_world_t *w)
{
    const alfa_telemetry_t *t = &w->telem;
    uint32_t s = (ISA_START_LOCAL_S + w->t_ms / 1000u) % 86400u;
    isa_line_t l = {0};
    isa_line_2d(&l, s / 3600u);
    isa_line_str(&l, ":00 soc=");
    isa_line_u32(&l, t->soc_pct);
    isa_line_str(&l, " v=");
    isa_line_u32(&l, t->v_pack_mv);
    isa_line_str(&l, " i=");
    isa_line_i32(&l, t->i_batt_ma);
    isa_line_str(&l, " grid=");
    isa_line_i32(&l, t->p_grid_w);
    isa_line_str(&l, " home=");
    isa_line_i32(&l, t->p_home_w);
    isa_line_str(&l, " pool=");
    isa_line_i32(&l, t->p_pool_w);
    isa_line_str(&l, " heater=");
    isa_line_i32(&l, t->p_heater_w);
    isa_line_str(&l, " batt=");
    isa_line_i32(&l, t->p_batt_w);
    isa_line_str(&l, " solar=");
    isa_line_i32(&l, t->p_solar_w);
    isa_line_str(&l, " relays=");
    static const char up[] = "GIPH", lo[] = "giph";
    for (uint32_t r = 0; r < 4u; r++) {
        char c[2] = {((t->relays_closed >> r) & 1u) ? up[r] : lo[r], '\0'};
        isa_line_str(&l, c);
    }
    isa_line_str(&l, " mode=");
    isa_line_u32(&l, t->mode);
    isa_line_str(&l, " faults=");
    isa_line_hex(&l, t->faults, 4u);
    isa_line_str(&l, " warn=");
    isa_line_hex(&l, t->warnings, 1u);
    isa_line_str(&l, " import=");
    isa_line_u32(&l, t->grid_import_today_wh);
    isa_line_str(&l, " solar_wh=");
    isa_line_u32(&l, t->solar_today_wh);
    isa_line_str(&l, " chg=");
    isa_line_u32(&l, t->batt_charge_today_wh);
    isa_line_str(&l, " dis=");
    isa_line_u32(&l, t->batt_discharge_today_wh);
    isa_line_str(&l, " leds=");
    isa_line_u32(&l, w->leds);
    isa_line_str(&l, " bar=");
    isa_line_u32(&l, w->pixels_lit);
    isa_line_str(&l, " seg=");
    isa_line_hex(&l, (uint32_t)w->segments[0] << 16 | (uint32_t)w->segments[1] << 8 | w->segments[2], 6u);
    isa_line_str(&l, " fw=");
    isa_line_u32(&l, w->hb_version >> 16);
    isa_line_str(&l, ".");
    isa_line_u32(&l, (w->hb_version >> 8) & 0xFFu);
    isa_line_str(&l, ".");
    isa_line_u32(&l, w->hb_version & 0xFFu);
    isa_line_str(&l, " boots=");
    isa_line_u32(&l, w->boots);
    isa_line_str(&l, " acks=");
    isa_line_u32(&l, w->acks_ok);
    isa_line_str(&l, "/");
    isa_line_u32(&l, w->acks_refused);
    isa_line_str(&l, " flash=");
    isa_line_u32(&l, w->store.progs);
    isa_line_str(&l, "/");
    isa_line_u32(&l, w->store.erases);
    isa_line_str(&l, " telem=");
    isa_line_u32(&l, w->telem_records);
    isa_line_str(&l, " sum=");
    isa_line_hex(&l, w->sum.crc, 8u);
    isa_line_end(&l);
}

static uint32_t up_to(uint32_t t, uint32_t step) { return (t + step - 1u) / step * step; }

/* The next moment anything can happen, on the 10-ms world grid: a wake-up (plant steps and hour lines
 * fall on them too), a gateway frame, a scripted event, the BMS's answer (the UART's event, delivered on
 * the grid), a grid-import answer. Jumping there rather than stepping keeps the slow ISAs fast; the
 * moments are exactly those of a 10-ms stepper. */
static uint32_t next_time(const isa_world_t *w, uint32_t ev_t)
{
    uint32_t now = w->t_ms, t = up_to(now + 1u, ISA_WAKE_MS);
    uint32_t hb = up_to(now + 1u + 500u, 1000u) - 500u;           /* heartbeats at 500 ms past each second */
    uint32_t tf = up_to(now + 1u + 58000u, 60000u) - 58000u;      /* time frames at 2 s past each minute */
    t = hb < t ? hb : t;
    t = tf < t ? tf : t;
    if (ev_t > now && ev_t < t) {
        t = ev_t;
    }
    if (w->import_req_t != 0u && w->import_req_t + ISA_TICK_MS > now && w->import_req_t + ISA_TICK_MS < t) {
        t = w->import_req_t + ISA_TICK_MS;
    }
    if (isa_fw_active(w) && now + ISA_TICK_MS < t) {
        t = now + ISA_TICK_MS; /* the update sender works on the 10-ms grid */
    }
    if (w->bms.resp_len != 0u && !w->bms.resp_notified) {
        uint32_t r = up_to(w->bms.resp_ready_t, ISA_TICK_MS);
        t = r > now && r < t ? r : t;
    }
    return t;
}

int isa_run(void)
{
    isa_world_t *w = &world;
    isa_world_init(w);
    boot(w);
    uint64_t pack_instr = 0;
    uint32_t pack_calls = 0;
    uint32_t ev = 0;
    uint32_t last_t = 0;
    for (;;) {
        while (ev < isa_day_count && isa_day[ev].t_ms <= w->t_ms) {
            apply(w, &isa_day[ev]);
            ev++;
        }
        isa_world_gateway_tick(w);
        if (isa_fw_active(w)) {
            (void)isa_fw_tick(w); /* whether it goes on is asked again by next_time */
        }
        if (w->t_ms % ISA_PLANT_MS == 0u) {
            isa_plant_step(&w->plant, w->t_ms, w->t_ms - last_t, w->coils);
            last_t = w->t_ms;
        }
        /* The board's pack task wakes every 50 ms, when the CAN ISR queued a frame and when the
         * UART driver reports the BMS's answer (its receive timeout after the last byte). */
        bool uart_event = w->bms.resp_len != 0u && w->t_ms >= w->bms.resp_ready_t && !w->bms.resp_notified;
        if (uart_event) {
            w->bms.resp_notified = 1;
        }
        if (w->t_ms % ISA_WAKE_MS == 0u || w->rxq_head != w->rxq_tail || uart_event) {
            uint64_t cb0 = w->cb_instr;
            uint64_t i0 = isa_instret();
            alfa_pack_process(&w->pack);
            pack_instr += isa_instret() - i0 - (w->cb_instr - cb0);
            pack_calls++;
            if (w->reboot_req) {
                boot(w);
            }
        }
        if (w->t_ms % 3600000u == 0u && w->t_ms != 0u) {
            hour_line(w);
        }
        if (w->t_ms >= ISA_DAY_MS) {
            break;
        }
        w->t_ms = next_time(w, ev < isa_day_count ? isa_day[ev].t_ms : ISA_DAY_MS);
    }

    if (w->store.rule_breaks != 0u || w->fw.nor.rule_breaks != 0u) {
        isa_world_fail(w, "flash rule breaks", (int32_t)(w->store.rule_breaks + w->fw.nor.rule_breaks), 0);
    }
    if (w->rxq_drops != 0u) {
        isa_world_fail(w, "CAN receive queue overflow", (int32_t)w->rxq_drops, 0);
    }
    isa_line_t l = {0};
    isa_line_str(&l, "day telem=");
    isa_line_u32(&l, w->telem_records);
    isa_line_str(&l, " cycles=");
    isa_line_u32(&l, w->watchdog_feeds);
    isa_line_str(&l, " frames=");
    isa_line_u32(&l, w->frames_from_pack);
    isa_line_str(&l, " modbus=");
    isa_line_u32(&l, w->bms.requests);
    isa_line_str(&l, "/");
    isa_line_u32(&l, w->bms.answers);
    isa_line_str(&l, " update=");
    isa_line_u32(&l, w->send.frames);
    isa_line_str(&l, "/");
    isa_line_u32(&l, w->send.statuses);
    isa_line_str(&l, "/");
    isa_line_u32(&l, w->fw.nor.progs);
    isa_line_str(&l, "/");
    isa_line_u32(&l, w->fw.nor.erases);
    isa_line_str(&l, " failures=");
    isa_line_u32(&l, (uint32_t)w->failures);
    isa_line_str(&l, " sum=");
    isa_line_hex(&l, w->sum.crc, 8u);
    isa_line_end(&l);
    /* Per-platform figures: not part of the compared output. */
    isa_line_str(&l, "# instr pack=");
    isa_line_u64(&l, pack_instr);
    isa_line_str(&l, " callbacks=");
    isa_line_u64(&l, w->cb_instr);
    isa_line_str(&l, " calls=");
    isa_line_u32(&l, pack_calls);
    isa_line_str(&l, " per_cycle=");
    isa_line_u64(&l, w->watchdog_feeds != 0u ? pack_instr / w->watchdog_feeds : 0u);
    isa_line_end(&l);
    return w->failures;
}
