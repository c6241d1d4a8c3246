/* Composition of one pack controller: boot from the settings store, then BMS, CAN duties, core, firmware update and store each call. */
#include "alfa/pack.h"
#include "alfa/bytes.h"

/* Flash operations a commanded reboot may spend writing the pending record (a record is a few
 * programs plus at most one erase; this bound only guards against broken flash). */
#define PACK_REBOOT_FLUSH_OPS 64u
/* Frames taken from the receive queue per call (a full 500 kbit/s bus brings ~4 per ms). */
#define PACK_RX_PER_CALL 512u

static void pack_boot_settings(alfa_pack_t *p, alfa_settings_t *s, bool *use_loaded)
{
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    uint32_t len = 0;
    uint16_t format = 0;
    alfa_store_found_t found = ALFA_STORE_FOUND_BLANK;

    *use_loaded = false;
    p->boot = ALFA_PACK_BOOT_NO_FLASH;
    if (p->port->flash_geom == 0) {
        return;
    }
    int rc = alfa_store_init(&p->store, p->port, blob, sizeof blob, &len, &format, &found);
    if (rc < 0 && rc != ALFA_E_NOSPACE) {
        p->store_err = rc;
        return; /* geometry the store cannot use: run without persistence */
    }
    p->has_store = 1;
    p->boot = ALFA_PACK_BOOT_DEFAULTS;
    if (rc == ALFA_OK && found == ALFA_STORE_FOUND_RECORD && format == ALFA_SETTINGS_BLOB_VERSION) {
        const char *reason = 0;
        if (alfa_settings_decode(s, blob, len, &reason) >= 0) {
            *use_loaded = true;
            p->boot = ALFA_PACK_BOOT_RESTORED;
        } else {
            p->settings_unreadable = 1;
        }
    } else if (rc == ALFA_OK && found == ALFA_STORE_FOUND_RECORD) {
        p->settings_unreadable = 1; /* a settings format this image does not know (self-test) */
    } else if (rc == ALFA_OK && found == ALFA_STORE_FOUND_RESET) {
        p->boot = ALFA_PACK_BOOT_FACTORY;
    }
}

alfa_err_t alfa_pack_init(alfa_pack_t *p, const alfa_port_t *port, const alfa_pack_config_t *cfg)
{
    if (p == 0 || port == 0 || cfg == 0 || port->now_ms == 0) {
        return ALFA_E_INVAL;
    }
    alfa_memset(p, 0, sizeof *p);
    p->port = port;

    alfa_settings_t settings;
    bool use_loaded = false;
    pack_boot_settings(p, &settings, &use_loaded);
    bool corrupt = p->boot == ALFA_PACK_BOOT_DEFAULTS || p->boot == ALFA_PACK_BOOT_NO_FLASH;

    alfa_core_config_t core_cfg = {
        .serial = cfg->serial,
        .settings = use_loaded ? &settings : 0,
        .settings_corrupt = corrupt,
    };
    alfa_err_t rc = alfa_core_init(&p->core, port, &core_cfg);
    if (rc < 0) {
        return rc;
    }
    p->corrupt_pending = corrupt ? 1u : 0u;
    p->settings_gen_saved = alfa_core_settings_generation(&p->core);

    alfa_bms_config_t bms_cfg;
    if (cfg->bms != 0) {
        bms_cfg = *cfg->bms;
    } else {
        alfa_bms_config_default(&bms_cfg);
    }
    uint32_t now_ms = port->now_ms(port->user);
    p->bms_external = cfg->bms_external ? 1u : 0u;
    if (!p->bms_external && alfa_bms_init(&p->bms, port, &bms_cfg, now_ms) < 0) {
        return ALFA_E_INVAL;
    }
    alfa_node_config_t node_cfg = {
        .serial = cfg->serial,
        .device_type = cfg->device_type != 0 ? cfg->device_type : (uint8_t)ALFA_DEV_PACK,
    };
    rc = alfa_node_init(&p->node, port, &p->core, &node_cfg);
    if (rc < 0) {
        return rc;
    }
    rc = alfa_site_init(&p->site, &p->node, &p->core);
    if (rc < 0) {
        return rc;
    }
    rc = alfa_tlm_init(&p->tlm, &p->node, &p->core);
    if (rc < 0) {
        return rc;
    }
    rc = alfa_dispatch_init(&p->dispatch, &p->node, &p->core, port);
    if (rc < 0) {
        return rc;
    }
    alfa_fwu_config_t fwu_cfg = {.device_type = node_cfg.device_type,
                                 .hw_class = cfg->hw_class != 0u ? cfg->hw_class : (uint8_t)ALFA_HW_CLASS_DEFAULT};
    return alfa_fwu_init(&p->fwu, port, &p->core, &p->node, &fwu_cfg);
}

static void store_result(alfa_pack_t *p, int rc)
{
    if (rc < 0) {
        p->store_err = rc;
        p->stats.store_errors++;
    }
}

/* Write the pending record now, a flash operation at a time (bounded); every failure counted. */
static alfa_err_t pack_flush(alfa_pack_t *p, uint32_t now_ms)
{
    int rc = alfa_store_flush(&p->store);
    store_result(p, rc);
    for (uint32_t i = 0; rc >= 0 && i < PACK_REBOOT_FLUSH_OPS; i++) {
        rc = alfa_store_process(&p->store, now_ms);
        store_result(p, rc);
        if (rc == 0) {
            return ALFA_OK; /* nothing left to write */
        }
    }
    return rc < 0 ? (alfa_err_t)rc : ALFA_E_BUSY;
}

/* Not inlined (nor pack_receive): their buffers would sit in alfa_pack_process's frame, under the
 * signature check's deep stack too (scripts/size_esp32.sh). */
__attribute__((noinline)) static void pack_store(alfa_pack_t *p, uint32_t now_ms)
{
    uint32_t gen = alfa_core_settings_generation(&p->core);
    if (gen != p->settings_gen_saved) {
        uint8_t blob[ALFA_SETTINGS_BLOB_SIZE];
        int len = alfa_settings_encode(alfa_core_settings(&p->core), blob, sizeof blob);
        /* The core only ever holds validated settings, so encoding cannot fail; if it ever did,
         * keep the generation unsaved so the next change tries again. */
        if (len <= 0) {
            p->stats.encode_errors++;
        } else {
            int rc = alfa_store_save(&p->store, ALFA_SETTINGS_BLOB_VERSION, blob, (uint32_t)len, now_ms);
            store_result(p, rc);
            if (rc >= 0) {
                p->settings_gen_saved = gen;
            }
        }
    }
    if (alfa_dispatch_reboot_pending(&p->dispatch) || alfa_fwu_reboot_pending(&p->fwu)) {
        /* A reboot is coming: what was acknowledged must be on flash first. A failure is counted
         * (stats.store_errors, store_err) and the record stays pending: nothing more can be done
         * before a reboot the pack does not own, and the next call tries again. */
        if (pack_flush(p, now_ms) < 0) {
            p->stats.flush_failed++;
        }
    } else {
        store_result(p, alfa_store_process(&p->store, now_ms));
    }
    if (p->corrupt_pending && alfa_store_stats(&p->store)->records_written > 0 && !alfa_store_busy(&p->store)) {
        p->corrupt_pending = 0;
        alfa_core_settings_corrupt(&p->core, false);
    }
}

alfa_err_t alfa_pack_bms_to_core(alfa_core_t *c, const alfa_bms_result_t *r)
{
    alfa_core_bms_in_t in;
    alfa_memset(&in, 0, sizeof in);
    in.reading = r->reading;
    if (r->finished && r->err == ALFA_OK) {
        in.flags |= ALFA_CORE_BMS_VALUES;
    }
    if (r->finished && r->alarms_valid) {
        in.flags |= ALFA_CORE_BMS_ALARMS;
    }
    if (r->comm_lost) {
        in.flags |= ALFA_CORE_BMS_COMM_LOST;
    }
    if (r->degraded) {
        in.flags |= ALFA_CORE_BMS_DEGRADED;
    }
    alfa_err_t rc = alfa_core_bms_input(c, &in);
    if (rc == ALFA_E_RANGE) {
        /* The core judged the values implausible where the BMS layer did not (they share
         * ALFA_V_PACK_MAX_MV, so this is a mismatch): the rest of the event still acts. */
        alfa_core_bms_status(c, &in);
    }
    return rc;
}

void alfa_pack_bms_result(alfa_pack_t *p, const alfa_bms_result_t *r)
{
    if (alfa_pack_bms_to_core(&p->core, r) < 0) {
        p->stats.core_refused++;
    } else if (r->finished && r->err == ALFA_OK && !p->bms_answered) {
        p->bms_answered = 1; /* self-test of a new image: the BMS answered and the core took it */
        p->cycle_at_bms = alfa_core_cycles(&p->core);
    }
    if (r->finished) {
        p->last_poll = *r;
        p->polls++;
    }
}

/* The pack owns the receive queue: every frame goes to the node first (who is alive, heartbeats,
 * ID notices), then to the duty its class belongs to. A bound per call keeps one call short when
 * a flood arrives (the rest waits in the port's queue). */
__attribute__((noinline)) static void pack_receive(alfa_pack_t *p, uint32_t now_ms)
{
    alfa_can_frame_t f;
    for (uint32_t k = 0; k < PACK_RX_PER_CALL; k++) {
        if (p->port->can_recv(p->port->user, &f) <= 0) {
            break; /* empty, or a port error: the node watches the controller state itself */
        }
        uint8_t cls = ALFA_PROTO_ID_CLASS(f.id);
        if ((f.flags & ALFA_CAN_FLAG_EXT) != 0u && cls >= ALFA_CLS_FW_FIRST && cls <= ALFA_CLS_FW_LAST) {
            alfa_fwu_on_frame(&p->fwu, &f, now_ms); /* the update's own identifier layout */
            continue;
        }
        if (!alfa_node_on_frame(&p->node, &f, now_ms)) {
            continue;
        }
        if (cls >= ALFA_CLS_TELEM_0 && cls < ALFA_CLS_TELEM_0 + ALFA_TELEM_PARTS) {
            alfa_telemetry_t t;
            if (alfa_tlm_on_frame(&p->tlm, &f, now_ms, &t) == 1) {
                alfa_site_on_telemetry(&p->site, ALFA_PROTO_ID_SRC(f.id), &t, now_ms);
            }
        } else if ((cls >= ALFA_CLS_SITE_0 && cls < ALFA_CLS_SITE_0 + ALFA_SITE_PARTS) || cls == ALFA_CLS_TIME ||
                   cls == ALFA_CLS_IMPORT_REQ || cls == ALFA_CLS_IMPORT_RESP) {
            alfa_site_on_frame(&p->site, &f, now_ms);
        } else if (cls == ALFA_CLS_CMD) {
            alfa_dispatch_on_frame(&p->dispatch, &f, now_ms);
        }
        /* acks and setting values are for the gateway */
    }
}

/* The self-test of a new image (SPEC §11): the checks that hold now. */
static uint8_t pack_checks(const alfa_pack_t *p)
{
    uint8_t ok = 0;
    if (!p->settings_unreadable) {
        ok |= ALFA_FWU_CHECK_SETTINGS;
    }
    if (p->bms_answered) {
        ok |= ALFA_FWU_CHECK_BMS;
        if (alfa_core_cycles(&p->core) > p->cycle_at_bms) {
            ok |= ALFA_FWU_CHECK_CYCLE; /* a whole control cycle ran with a BMS reading */
        }
    }
    if (alfa_node_phase(&p->node) == ALFA_NODE_PHASE_RUN &&
        (alfa_core_faults(&p->core) & (1u << ALFA_FAULT_CAN_BUS_OFF)) == 0u) {
        ok |= ALFA_FWU_CHECK_CAN;
    }
    return ok;
}

void alfa_pack_process(alfa_pack_t *p)
{
    uint32_t now_ms = p->port->now_ms(p->port->user);
    alfa_bms_result_t poll;
    if (!p->bms_external && alfa_bms_process(&p->bms, now_ms, &poll) == 1) {
        alfa_pack_bms_result(p, &poll);
    }
    pack_receive(p, now_ms);
    alfa_node_process(&p->node, now_ms);
    alfa_site_process(&p->site, now_ms);
    alfa_tlm_process(&p->tlm, now_ms);
    alfa_dispatch_process(&p->dispatch, now_ms);
    alfa_core_process(&p->core);
    if (alfa_fwu_on_trial(&p->fwu)) {
        alfa_fwu_selftest(&p->fwu, pack_checks(p));
    }
    alfa_fwu_process(&p->fwu, now_ms);
    if (p->has_store) {
        pack_store(p, now_ms);
    }
    if (!p->fw_rebooted && alfa_fwu_reboot_due(&p->fwu, now_ms) && p->port->reboot != 0) {
        p->fw_rebooted = 1; /* into the new image, or back to the old one after a failed trial */
        p->port->reboot(p->port->user);
    }
}

alfa_pack_boot_t alfa_pack_boot_state(const alfa_pack_t *p)
{
    return (alfa_pack_boot_t)p->boot;
}

alfa_err_t alfa_pack_flush(alfa_pack_t *p)
{
    if (!p->has_store) {
        return ALFA_OK; /* nothing is kept: nothing can be left unwritten */
    }
    alfa_err_t rc = pack_flush(p, p->port->now_ms(p->port->user));
    if (rc < 0) {
        p->stats.flush_failed++;
    }
    return rc;
}

const alfa_pack_stats_t *alfa_pack_stats(const alfa_pack_t *p) { return &p->stats; }

uint32_t alfa_pack_polls(const alfa_pack_t *p) { return p->polls; }

const alfa_bms_result_t *alfa_pack_last_poll(const alfa_pack_t *p) { return &p->last_poll; }
