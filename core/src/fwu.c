/* Firmware update, the session: frames from the sender, manifest checks, activation, STATUS replies, the per-call scheduler. */
#include "alfa/bytes.h"
#include "fwu_internal.h"

static bool geometry_usable(const alfa_port_t *p)
{
    const alfa_slot_geom_t *g = p->slot_geom;
    if (g == 0 || p->slot_begin == 0 || p->slot_erase == 0 || p->slot_write == 0 || p->slot_read == 0 ||
        p->slot_set_boot == 0 || p->slot_confirm == 0 || p->slot_state == 0 || p->fw_verify == 0) {
        return false;
    }
    bool prog_ok = g->prog_size == 1u || g->prog_size == 2u || g->prog_size == 4u || g->prog_size == 8u ||
                   g->prog_size == 16u;
    return prog_ok && g->sector_size >= 512u && g->sector_size <= 65536u && g->sector_size % 16u == 0u &&
           g->slot_size % g->sector_size == 0u && g->slot_size / g->sector_size >= 2u;
}

alfa_err_t alfa_fwu_init(alfa_fwu_t *u, const alfa_port_t *port, alfa_core_t *core, const alfa_node_t *node,
                         const alfa_fwu_config_t *cfg)
{
    if (u == 0 || port == 0 || core == 0 || node == 0 || cfg == 0 || port->now_ms == 0 || port->can_send == 0) {
        return ALFA_E_INVAL;
    }
    alfa_memset(u, 0, sizeof(*u));
    u->port = port;
    u->core = core;
    u->node = node;
    u->cfg = *cfg;
    if (u->cfg.device_type == 0u) {
        u->cfg.device_type = ALFA_DEV_PACK;
    }
    u->now_ms = port->now_ms(port->user);
    u->state = ALFA_FWU_ST_IDLE;
    u->sender = ALFA_FWU_SENDER;
    u->has_slots = geometry_usable(port) ? 1u : 0u;
    if (u->has_slots) {
        fwu_boot(u);
    }
    return ALFA_OK;
}

/* ---------------------------------------------------------------- state and replies */

static bool updating(uint8_t st)
{
    return st == ALFA_FWU_ST_MANIFEST || st == ALFA_FWU_ST_RECEIVING || st == ALFA_FWU_ST_RESUMING ||
           st == ALFA_FWU_ST_VERIFYING || st == ALFA_FWU_ST_READY || st == ALFA_FWU_ST_ACTIVATING ||
           st == ALFA_FWU_ST_TRIAL;
}

/* A session the sender is still driving (frames of it are taken). */
static bool in_transfer(uint8_t st)
{
    return st == ALFA_FWU_ST_MANIFEST || st == ALFA_FWU_ST_RECEIVING || st == ALFA_FWU_ST_RESUMING ||
           st == ALFA_FWU_ST_VERIFYING || st == ALFA_FWU_ST_READY;
}

void fwu_set_state(alfa_fwu_t *u, uint8_t state, uint8_t result)
{
    bool was = updating(u->state);
    u->state = state;
    u->result = result;
    if (updating(state) != was) {
        alfa_core_set_fw_update(u->core, updating(state)); /* red LED blinks, heartbeat says UPDATING */
    }
}

void fwu_report(alfa_fwu_t *u) { u->status_due = 1; }

static void send_status(alfa_fwu_t *u)
{
    uint8_t me = alfa_node_id(u->node);
    if (me == 0u) {
        return; /* no node ID yet: owed until we have one */
    }
    alfa_fwu_reply_t r;
    alfa_memset(&r, 0, sizeof(r));
    r.op = ALFA_FWU_REP_STATUS;
    r.src = me;
    r.dst = u->sender;
    r.session = u->session;
    r.state = u->state;
    r.result = u->result;
    if (u->state == ALFA_FWU_ST_MANIFEST) {
        r.missing = (uint16_t)~u->parts;
    } else if (u->state == ALFA_FWU_ST_RECEIVING || u->state == ALFA_FWU_ST_VERIFYING) {
        uint32_t m = fwu_missing_chunks(u);
        r.missing = (uint16_t)(m > 0xFFFFu ? 0xFFFFu : m);
    } else if (u->state == ALFA_FWU_ST_RESUMING) {
        r.missing = 0xFFFFu;
    } else {
        r.missing = u->detail;
    }
    alfa_can_frame_t f;
    if (alfa_fwu_reply_encode(&r, &f) < 0) {
        u->status_due = 0; /* cannot happen with the fields above; never retry forever */
        return;
    }
    int32_t rc = u->port->can_send(u->port->user, &f);
    if (rc < 0) {
        u->stats.tx_fail++;
        return; /* retried at the next call */
    }
    u->stats.status_frames++;
    u->status_due = 0;
}

void fwu_flash_failed(alfa_fwu_t *u, int32_t rc)
{
    (void)rc; /* every port error means the same here: the slot cannot be trusted for this session */
    u->stats.flash_errors++;
    u->job = FWU_JOB_NONE;
    u->nack_active = 0;
    fwu_rx_drop_windows(u);
    fwu_set_state(u, ALFA_FWU_ST_FAILED, ALFA_FWU_R_FLASH);
    fwu_report(u);
}

void fwu_complete(alfa_fwu_t *u)
{
    if (u->state != ALFA_FWU_ST_RECEIVING) {
        return;
    }
    fwu_rx_drop_windows(u);
    alfa_sha256_init(&u->tab.sha);
    u->cursor = 0;
    fwu_set_state(u, ALFA_FWU_ST_VERIFYING, ALFA_FWU_R_OK);
}

/* ---------------------------------------------------------------- session start */

/* The checks of SPEC §11 and issue 11, signature first: nothing in an unauthenticated header is
 * acted on. */
static uint8_t check_manifest(alfa_fwu_t *u, const uint8_t m[ALFA_FWIMG_MANIFEST_SIZE], alfa_fwimg_hdr_t *h)
{
    if (alfa_fwimg_parse(m, h) < 0 || alfa_fwimg_session_id(m) != u->session) {
        return ALFA_FWU_R_BAD_MANIFEST;
    }
    uint8_t digest[ALFA_SHA256_SIZE];
    alfa_fwimg_signed_digest(m, digest);
    if (u->port->fw_verify(u->port->user, digest, &m[ALFA_FWIMG_HEADER_SIZE]) < 0) {
        return ALFA_FWU_R_BAD_SIGNATURE;
    }
    if (h->device_type != u->cfg.device_type) {
        return ALFA_FWU_R_WRONG_DEVICE;
    }
    if (h->hw_class != u->cfg.hw_class) {
        return ALFA_FWU_R_WRONG_HARDWARE;
    }
    if (h->image_size > fwu_trailer_offset(u)) {
        return ALFA_FWU_R_TOO_LARGE;
    }
    if (h->security_counter < (u->run_has_hdr ? u->run_counter : 0u)) {
        return ALFA_FWU_R_COUNTER;
    }
    alfa_fw_version_t v = alfa_core_fw_version(u->core);
    if (alfa_fwimg_version(h->major, h->minor, h->patch) <= alfa_fwimg_version(v.major, v.minor, v.patch) &&
        (u->flags & ALFA_FWU_BEGIN_FORCE) == 0u) {
        return ALFA_FWU_R_DOWNGRADE;
    }
    return ALFA_FWU_R_OK;
}

static void refuse(alfa_fwu_t *u, uint8_t result)
{
    fwu_set_state(u, ALFA_FWU_ST_REFUSED, result);
    fwu_report(u);
}

/* slot_begin: ALFA_PORT_E_STATE is the running image still on trial. */
static bool begin_slot(alfa_fwu_t *u, uint8_t resume)
{
    int32_t rc = u->port->slot_begin(u->port->user, resume);
    if (rc == ALFA_PORT_E_STATE) {
        refuse(u, ALFA_FWU_R_BUSY);
        return false;
    }
    if (rc < 0) {
        fwu_flash_failed(u, rc);
        return false;
    }
    return true;
}

/* Every manifest part is here: check it, then prepare the slot (the trailer is erased and the
 * manifest recorded by the next process calls; the STATUS "receiving" follows). */
static void accept_manifest(alfa_fwu_t *u)
{
    alfa_fwimg_hdr_t h;
    uint8_t r = check_manifest(u, fwu_manifest(u), &h);
    if (r != ALFA_FWU_R_OK) {
        refuse(u, r);
        return;
    }
    if (!begin_slot(u, 0)) {
        return;
    }
    u->image_size = h.image_size;
    u->upd_has_manifest = 0; /* the old trailer goes now */
    fwu_rx_start(u);
    u->job = FWU_JOB_ERASE_TRAILER;
    fwu_set_state(u, ALFA_FWU_ST_RECEIVING, ALFA_FWU_R_OK);
}

/* The update slot holds this session's image, partly: take it up where it is. */
static void resume(alfa_fwu_t *u)
{
    uint32_t session = 0, erased = 0, outcome = 0, detail = 0;
    uint8_t next_free = 0;
    alfa_fwimg_hdr_t h;
    if (fwu_trailer_head(u, ALFA_SLOT_UPDATE, fwu_manifest(u), &session) < 0 || session != u->session) {
        u->upd_has_manifest = 0;
        fwu_set_state(u, ALFA_FWU_ST_MANIFEST, ALFA_FWU_R_OK); /* unreadable now: start over */
        fwu_report(u);
        return;
    }
    uint8_t r = check_manifest(u, fwu_manifest(u), &h);
    if (r != ALFA_FWU_R_OK) {
        refuse(u, r);
        return;
    }
    if (!begin_slot(u, 1)) {
        return;
    }
    u->image_size = h.image_size;
    fwu_rx_start(u);
    fwu_trailer_walk(u, ALFA_SLOT_UPDATE, &erased, &outcome, &detail, &next_free);
    uint32_t need = (u->image_size + u->port->slot_geom->sector_size - 1u) / u->port->slot_geom->sector_size;
    u->erased = erased < need ? erased : need;
    u->recorded = u->erased;
    u->upd_records = next_free;
    u->parts = 0xFFFFu;
    fwu_set_state(u, ALFA_FWU_ST_RESUMING, ALFA_FWU_R_OK);
    fwu_report(u);
}

static void on_begin(alfa_fwu_t *u, const alfa_fwu_ctrl_t *c)
{
    if (!u->has_slots) {
        u->session = c->session;
        u->sender = c->src;
        refuse(u, ALFA_FWU_R_NO_SLOTS);
        return;
    }
    if (u->state == ALFA_FWU_ST_TRIAL || u->state == ALFA_FWU_ST_ACTIVATING) {
        /* The running image is not confirmed (or a restart is coming): not now. The state stays. */
        u->sender = c->src;
        u->result = ALFA_FWU_R_BUSY;
        fwu_report(u);
        return;
    }
    if (c->session == u->session && in_transfer(u->state)) {
        u->flags = c->flags;
        fwu_report(u); /* a repeated BEGIN: say where we are */
        return;
    }
    fwu_rx_drop_windows(u);
    u->nack_active = 0;
    u->job = FWU_JOB_NONE;
    u->session = c->session;
    u->sender = c->src;
    u->flags = c->flags;
    u->hash_failures = 0;
    u->detail = 0;
    if (u->upd_has_manifest && u->upd_session == c->session) {
        resume(u);
        return;
    }
    u->parts = 0;
    fwu_set_state(u, ALFA_FWU_ST_MANIFEST, ALFA_FWU_R_OK);
    fwu_report(u);
}

static void on_manifest_part(alfa_fwu_t *u, const alfa_can_frame_t *f)
{
    uint8_t src, dst, part;
    if (alfa_fwu_manifest_decode(f, &src, &dst, &part) < 0) {
        u->stats.frames_bad++;
        return;
    }
    if (u->state != ALFA_FWU_ST_MANIFEST || (dst != ALFA_NODE_BROADCAST && dst != alfa_node_id(u->node))) {
        return;
    }
    alfa_memcpy(&fwu_manifest(u)[part * 8u], f->data, 8u);
    u->parts = (uint16_t)(u->parts | (1u << part));
    if (u->parts == 0xFFFFu) {
        accept_manifest(u);
    }
}

/* ---------------------------------------------------------------- the other ops */

static void activate(alfa_fwu_t *u)
{
    int32_t rc = u->port->slot_end != 0 ? u->port->slot_end(u->port->user, u->image_size) : 0;
    if (rc >= 0) {
        rc = u->port->slot_set_boot(u->port->user);
    }
    if (rc < 0) {
        fwu_flash_failed(u, rc);
        return;
    }
    fwu_set_state(u, ALFA_FWU_ST_ACTIVATING, ALFA_FWU_R_OK);
    fwu_report(u);
    u->reboot_pending = 1;
    u->reboot_at_ms = u->now_ms + ALFA_FWU_REBOOT_DELAY_MS;
}

static void on_ctrl(alfa_fwu_t *u, const alfa_can_frame_t *f)
{
    alfa_fwu_ctrl_t c;
    if (alfa_fwu_ctrl_decode(f, &c) < 0) {
        u->stats.frames_bad++;
        return;
    }
    uint8_t me = alfa_node_id(u->node);
    bool to_me = me != 0u && c.dst == me;
    if (me == 0u || (!to_me && c.dst != ALFA_NODE_BROADCAST)) {
        return;
    }
    bool ours = c.session == u->session && in_transfer(u->state);
    switch (c.op) {
    case ALFA_FWU_OP_BEGIN:
        if (to_me) {
            on_begin(u, &c);
        }
        return;
    case ALFA_FWU_OP_POLL:
        if (!ours) {
            if (to_me && c.want_status) {
                fwu_report(u);
            }
            return;
        }
        if (u->state == ALFA_FWU_ST_RECEIVING && u->job == FWU_JOB_NONE) {
            fwu_nack_start(u, &c);
        } else if (c.want_status) {
            fwu_report(u);
        }
        return;
    case ALFA_FWU_OP_VERIFY:
        if (ours && u->state == ALFA_FWU_ST_RECEIVING && u->job == FWU_JOB_NONE && u->missing == 0u) {
            fwu_complete(u);
            return; /* the STATUS comes with the verdict */
        }
        if (ours || to_me) {
            fwu_report(u);
        }
        return;
    case ALFA_FWU_OP_ACTIVATE:
        if (!to_me) {
            return;
        }
        if (ours && u->state == ALFA_FWU_ST_READY) {
            activate(u);
            return;
        }
        u->result = ours ? ALFA_FWU_R_NOT_READY : ALFA_FWU_R_SESSION;
        fwu_report(u);
        return;
    case ALFA_FWU_OP_CANCEL:
        if (in_transfer(u->state) && (c.session == 0u || c.session == u->session)) {
            /* What is on flash stays: a later BEGIN of the same image resumes from it. */
            fwu_rx_drop_windows(u);
            u->nack_active = 0;
            u->job = FWU_JOB_NONE;
            fwu_set_state(u, ALFA_FWU_ST_IDLE, ALFA_FWU_R_OK);
            fwu_report(u);
        }
        return;
    case ALFA_FWU_OP_QUERY:
        fwu_report(u);
        return;
    default:
        return;
    }
}

void alfa_fwu_on_frame(alfa_fwu_t *u, const alfa_can_frame_t *f, uint32_t now_ms)
{
    if (u == 0 || f == 0) {
        return;
    }
    u->now_ms = now_ms;
    u->stats.frames++;
    int cls = alfa_proto_classify(f);
    if (cls < (int)ALFA_CLS_FW_FIRST || cls > (int)ALFA_CLS_FW_LAST) {
        u->stats.frames_bad++;
        return;
    }
    if (ALFA_PROTO_ID_SRC(f->id) != ALFA_FWU_SENDER) {
        return; /* other packs' replies; nobody else may drive an update */
    }
    u->last_rx_ms = now_ms;
    if (cls == (int)ALFA_CLS_FWU_CTRL) {
        on_ctrl(u, f);
    } else if (cls == (int)ALFA_CLS_FWU_MANIFEST) {
        on_manifest_part(u, f);
    } else if (cls == (int)ALFA_CLS_FWU_PARITY || cls >= (int)ALFA_CLS_FWU_DATA) {
        uint8_t src;
        uint32_t index;
        int rc = cls == (int)ALFA_CLS_FWU_PARITY ? alfa_fwu_parity_decode(f, &src, &index)
                                                  : alfa_fwu_data_decode(f, &src, &index);
        if (rc < 0) {
            u->stats.frames_bad++;
            return;
        }
        if (u->state != ALFA_FWU_ST_RECEIVING || u->job != FWU_JOB_NONE) {
            return; /* not taking data now: it will be asked for again */
        }
        if (cls == (int)ALFA_CLS_FWU_PARITY) {
            if ((u->flags & ALFA_FWU_BEGIN_FEC) != 0u) {
                fwu_rx_parity(u, index, f->data);
            }
        } else {
            fwu_rx_data(u, index, f->data);
        }
    }
}

/* ---------------------------------------------------------------- the scheduler */

static void job_step(alfa_fwu_t *u)
{
    int32_t rc;
    if (u->job == FWU_JOB_ERASE_TRAILER) {
        u->stats.erases++;
        rc = u->port->slot_erase(u->port->user, ALFA_SLOT_UPDATE, fwu_trailer_offset(u) / u->port->slot_geom->sector_size);
        if (rc < 0) {
            fwu_flash_failed(u, rc);
            return;
        }
        u->job = FWU_JOB_WRITE_HEAD;
        return;
    }
    rc = fwu_trailer_write_head(u);
    if (rc < 0) {
        fwu_flash_failed(u, rc);
        return;
    }
    u->job = FWU_JOB_NONE;
    u->upd_has_manifest = 1;
    u->upd_session = u->session;
    fwu_report(u); /* "receiving": the sender may stream */
}

void alfa_fwu_process(alfa_fwu_t *u, uint32_t now_ms)
{
    if (u == 0) {
        return;
    }
    u->now_ms = now_ms;
    if (u->has_slots && !u->reboot_pending) {
        switch (u->state) {
        case ALFA_FWU_ST_TRIAL:
            fwu_trial_step(u);
            break;
        case ALFA_FWU_ST_RESUMING:
            fwu_scan_step(u);
            break;
        case ALFA_FWU_ST_RECEIVING:
            if (u->job != FWU_JOB_NONE) {
                job_step(u);
            } else {
                (void)fwu_rx_step(u); /* whether it wrote or not, nothing else waits on it */
            }
            break;
        case ALFA_FWU_ST_VERIFYING:
            fwu_hash_step(u);
            break;
        default:
            break;
        }
        if (in_transfer(u->state) && now_ms - u->last_rx_ms >= ALFA_FWU_SESSION_IDLE_MS) {
            /* The sender is gone: stop blinking. The slot keeps what it has for a later resume. */
            fwu_rx_drop_windows(u);
            u->nack_active = 0;
            u->job = FWU_JOB_NONE;
            fwu_set_state(u, ALFA_FWU_ST_IDLE, ALFA_FWU_R_OK);
        }
    }
    if (u->nack_active) {
        fwu_nack_step(u);
    }
    if (u->status_due) {
        send_status(u);
    }
}

void alfa_fwu_selftest(alfa_fwu_t *u, uint8_t checks_passed)
{
    if (u != 0 && u->state == ALFA_FWU_ST_TRIAL) {
        u->checks = (uint8_t)(u->checks | (checks_passed & ALFA_FWU_CHECK_ALL));
    }
}

bool alfa_fwu_reboot_due(const alfa_fwu_t *u, uint32_t now_ms)
{
    /* After the STATUS went out; without it (a dead bus is one reason to roll back) a second later. */
    return u != 0 && u->reboot_pending && fwu_due(now_ms, u->reboot_at_ms) &&
           (!u->status_due || fwu_due(now_ms, u->reboot_at_ms + 1000u));
}

bool alfa_fwu_reboot_pending(const alfa_fwu_t *u) { return u != 0 && u->reboot_pending; }

alfa_fwu_state_t alfa_fwu_state(const alfa_fwu_t *u) { return (alfa_fwu_state_t)u->state; }
alfa_fwu_result_t alfa_fwu_result(const alfa_fwu_t *u) { return (alfa_fwu_result_t)u->result; }
uint32_t alfa_fwu_missing_chunks(const alfa_fwu_t *u) { return u->state == ALFA_FWU_ST_IDLE ? 0u : fwu_missing_chunks(u); }
bool alfa_fwu_on_trial(const alfa_fwu_t *u) { return u->state == ALFA_FWU_ST_TRIAL; }
const alfa_fwu_stats_t *alfa_fwu_stats(const alfa_fwu_t *u) { return &u->stats; }
