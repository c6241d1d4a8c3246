/* Composition of one pack controller: boot from the settings store, then BMS, CAN node, core, firmware update and store each call. */
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
        p->settings_unreadable = 1; /* a settings format this image does not know */
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
    if (alfa_bms_init(&p->bms, port, &bms_cfg, now_ms) < 0) {
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
    alfa_fwu_config_t fwu_cfg = {.device_type = node_cfg.device_type, .hw_class = cfg->hw_class != 0u ? cfg->hw_class : (uint8_t)ALFA_HW_CLASS_DEFAULT};
    return alfa_fwu_init(&p->fwu, port, &p->core, &p->node, &fwu_cfg);
}

static void pack_store(alfa_pack_t *p, uint32_t now_ms)
{
    uint32_t gen = alfa_core_settings_generation(&p->core);
    if (gen != p->settings_gen_saved) {
        uint8_t blob[ALFA_SETTINGS_BLOB_SIZE];
        int len = alfa_settings_encode(alfa_core_settings(&p->core), blob, sizeof blob);
        /* The core only ever holds validated settings, so encoding cannot fail; if it ever did,
         * keep the generation unsaved so the next change tries again. */
        if (len > 0) {
            int rc = alfa_store_save(&p->store, ALFA_SETTINGS_BLOB_VERSION, blob, (uint32_t)len, now_ms);
            if (rc < 0) {
                p->store_err = rc;
            } else {
                p->settings_gen_saved = gen;
            }
        }
    }
    if (p->node.reboot_pending || p->fwu.reboot_pending) {
        /* A reboot is coming: what was acknowledged must be on flash first. */
        (void)alfa_store_flush(&p->store);
        for (uint32_t i = 0; i < PACK_REBOOT_FLUSH_OPS; i++) {
            int rc = alfa_store_process(&p->store, now_ms);
            if (rc <= 0) {
                if (rc < 0) {
                    p->store_err = rc;
                }
                break;
            }
        }
    } else {
        int rc = alfa_store_process(&p->store, now_ms);
        if (rc < 0) {
            p->store_err = rc;
        }
    }
    if (p->corrupt_pending && alfa_store_stats(&p->store)->records_written > 0 && !alfa_store_busy(&p->store)) {
        p->corrupt_pending = 0;
        (void)alfa_core_fault_report(&p->core, ALFA_FAULT_SETTINGS_CORRUPT, false);
    }
}

/* The pack owns the receive queue: every frame goes to the duty it belongs to. A bound per call
 * keeps one call short when a flood arrives (the rest waits in the port's queue). */
static void pack_receive(alfa_pack_t *p, uint32_t now_ms)
{
    alfa_can_frame_t f;
    for (uint32_t k = 0; k < PACK_RX_PER_CALL; k++) {
        int32_t rc = p->port->can_recv(p->port->user, &f);
        if (rc <= 0) {
            break; /* empty, or a port error: the node sees the controller state itself */
        }
        uint8_t cls = ALFA_PROTO_ID_CLASS(f.id);
        if ((f.flags & ALFA_CAN_FLAG_EXT) != 0u && cls >= ALFA_CLS_FW_FIRST && cls <= ALFA_CLS_FW_LAST) {
            alfa_fwu_on_frame(&p->fwu, &f, now_ms);
        } else {
            alfa_node_on_frame(&p->node, &f, now_ms);
        }
    }
}

/* The self-test of a new image (SPEC §11): the checks that hold now. */
static uint8_t pack_checks(alfa_pack_t *p)
{
    uint8_t ok = 0;
    if (!p->settings_unreadable) {
        ok |= ALFA_FWU_CHECK_SETTINGS;
    }
    if (p->bms_answered) {
        ok |= ALFA_FWU_CHECK_BMS;
        alfa_telemetry_t t;
        alfa_core_telemetry(&p->core, &t);
        if (t.cycle > p->cycle_at_bms) {
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
    if (alfa_bms_process(&p->bms, now_ms, &poll) == 1) {
        alfa_err_t in = alfa_core_bms_input(&p->core, poll.err == ALFA_OK ? &poll.reading : 0, poll.comm_lost != 0);
        if (poll.err == ALFA_OK && in == ALFA_OK && !p->bms_answered) {
            alfa_telemetry_t t;
            alfa_core_telemetry(&p->core, &t);
            p->bms_answered = 1;
            p->cycle_at_bms = t.cycle;
        }
        p->last_poll = poll;
        p->polls++;
    }
    pack_receive(p, now_ms);
    alfa_node_process(&p->node, now_ms);
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
