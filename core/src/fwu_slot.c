/* Firmware update, the slots' side: trailers (manifest and progress records), boot analysis, hashing, the new image's trial. */
#include "alfa/bytes.h"
#include "fwu_internal.h"

/*
 * Trailer = the last sector of a slot:
 *   0..127   the signed manifest (header + signature) of the image in this slot
 *   128..143 magic "AFT1" u32, session u32, CRC-32 of bytes 0..135 u32, reserved u32 (0)
 *   144..    16-byte records, appended in order, each programmed once:
 *            0xA7, type u8, reserved u16, a u32, b u32, CRC-32 of bytes 0..11 u32
 * A record that fails its CRC (a program cut by power loss) is skipped; the next record goes
 * after it, since a unit is never programmed twice.
 */

#define REC_MARK 0xA7u

uint32_t fwu_trailer_offset(const alfa_fwu_t *u)
{
    return u->port->slot_geom->slot_size - u->port->slot_geom->sector_size;
}

uint32_t fwu_trailer_records(const alfa_fwu_t *u)
{
    uint32_t n = (u->port->slot_geom->sector_size - ALFA_FWU_TRAILER_HEAD) / ALFA_FWU_RECORD;
    return n > 255u ? 255u : n;
}

int alfa_fwu_trailer_check(const uint8_t b[ALFA_FWU_TRAILER_HEAD], alfa_fwimg_hdr_t *hdr)
{
    alfa_fwimg_hdr_t h;
    if (alfa_get_le32(&b[128]) != ALFA_FWU_TRAILER_MAGIC || alfa_crc32(0, b, 136u) != alfa_get_le32(&b[136]) ||
        alfa_fwimg_parse(b, &h) < 0 || alfa_fwimg_session_id(b) != alfa_get_le32(&b[132])) {
        return -1;
    }
    if (hdr != 0) {
        *hdr = h;
    }
    return 0;
}

void alfa_fwu_trailer_make(const uint8_t manifest[ALFA_FWIMG_MANIFEST_SIZE], uint8_t b[ALFA_FWU_TRAILER_HEAD])
{
    alfa_memcpy(b, manifest, ALFA_FWIMG_MANIFEST_SIZE);
    alfa_put_le32(&b[128], ALFA_FWU_TRAILER_MAGIC);
    alfa_put_le32(&b[132], alfa_fwimg_session_id(manifest));
    alfa_put_le32(&b[136], alfa_crc32(0, b, 136u));
    alfa_put_le32(&b[140], 0);
}

int fwu_trailer_head(alfa_fwu_t *u, uint8_t which, uint8_t head[ALFA_FWU_TRAILER_HEAD], uint32_t *session)
{
    if (u->port->slot_read(u->port->user, which, fwu_trailer_offset(u), head, ALFA_FWU_TRAILER_HEAD) < 0) {
        u->stats.flash_errors++;
        return -1;
    }
    if (alfa_fwu_trailer_check(head, 0) < 0) {
        return -1;
    }
    *session = alfa_get_le32(&head[132]);
    return 0;
}

static bool all_erased(const uint8_t *p, uint32_t n, uint8_t ev)
{
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] != ev) {
            return false;
        }
    }
    return true;
}

void fwu_trailer_walk(alfa_fwu_t *u, uint8_t which, uint32_t *erased, uint32_t *outcome, uint32_t *detail,
                      uint8_t *next_free)
{
    const uint8_t ev = u->port->slot_geom->erased_value;
    uint32_t base = fwu_trailer_offset(u) + ALFA_FWU_TRAILER_HEAD;
    *erased = 0;
    *outcome = 0;
    *detail = 0;
    *next_free = 0;
    uint32_t n = fwu_trailer_records(u);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t r[ALFA_FWU_RECORD];
        if (u->port->slot_read(u->port->user, which, base + i * ALFA_FWU_RECORD, r, sizeof(r)) < 0) {
            u->stats.flash_errors++;
            *next_free = (uint8_t)n; /* unreadable: append nothing more */
            return;
        }
        if (all_erased(r, sizeof(r), ev)) {
            continue;
        }
        *next_free = (uint8_t)(i + 1u);
        if (r[0] != REC_MARK || alfa_crc32(0, r, 12u) != alfa_get_le32(&r[12])) {
            continue; /* torn by a power cut: ignored */
        }
        if (r[1] == ALFA_FWU_REC_ERASED && alfa_get_le32(&r[4]) > *erased) {
            *erased = alfa_get_le32(&r[4]);
        } else if (r[1] == ALFA_FWU_REC_OUTCOME) {
            *outcome = alfa_get_le32(&r[4]);
            *detail = alfa_get_le32(&r[8]);
        }
    }
}

int32_t fwu_trailer_append(alfa_fwu_t *u, uint8_t which, uint8_t *next_free, uint8_t type, uint32_t a, uint32_t b)
{
    if (*next_free >= fwu_trailer_records(u)) {
        return ALFA_PORT_E_RANGE;
    }
    uint8_t r[ALFA_FWU_RECORD];
    alfa_memset(r, 0, sizeof(r));
    r[0] = REC_MARK;
    r[1] = type;
    alfa_put_le32(&r[4], a);
    alfa_put_le32(&r[8], b);
    alfa_put_le32(&r[12], alfa_crc32(0, r, 12u));
    uint32_t off = fwu_trailer_offset(u) + ALFA_FWU_TRAILER_HEAD + (uint32_t)*next_free * ALFA_FWU_RECORD;
    (*next_free)++; /* even when it fails: a half-programmed record may not be programmed again */
    u->stats.writes++;
    return u->port->slot_write(u->port->user, which, off, r, sizeof(r));
}

int32_t fwu_trailer_write_head(alfa_fwu_t *u)
{
    uint8_t b[ALFA_FWU_TRAILER_HEAD];
    alfa_fwu_trailer_make(fwu_manifest(u), b);
    u->stats.writes++;
    return u->port->slot_write(u->port->user, ALFA_SLOT_UPDATE, fwu_trailer_offset(u), b, sizeof(b));
}

/* What the slots say at boot: the running image's identity and trial, a rollback to report, or
 * an interrupted transfer to resume. */
void fwu_boot(alfa_fwu_t *u)
{
    const alfa_port_t *port = u->port;
    uint8_t *m = fwu_manifest(u); /* no window yet */
    alfa_fwimg_hdr_t rh;
    uint32_t session = 0, run_session = 0, erased = 0, outcome = 0, detail = 0;
    uint8_t next_free = 0;
    if (fwu_trailer_head(u, ALFA_SLOT_RUNNING, m, &session) == 0 && alfa_fwimg_parse(m, &rh) == 0) {
        u->run_has_hdr = 1;
        u->run_counter = rh.security_counter;
        run_session = session;
        alfa_fw_version_t v = {rh.major, rh.minor, rh.patch};
        /* The header parser only accepts versions within the wire widths. */
        (void)alfa_core_set_fw_version(u->core, v);
        fwu_trailer_walk(u, ALFA_SLOT_RUNNING, &erased, &outcome, &detail, &next_free);
        u->run_records = next_free;
    }
    if (fwu_trailer_head(u, ALFA_SLOT_UPDATE, m, &session) == 0) {
        u->upd_has_manifest = 1;
        u->upd_session = session;
        fwu_trailer_walk(u, ALFA_SLOT_UPDATE, &erased, &outcome, &detail, &u->upd_records);
    }
    alfa_slot_state_t run = port->slot_state != 0 ? port->slot_state(port->user, ALFA_SLOT_RUNNING) : ALFA_SLOT_VALID;
    alfa_slot_state_t upd = port->slot_state != 0 ? port->slot_state(port->user, ALFA_SLOT_UPDATE) : ALFA_SLOT_EMPTY;
    if (run == ALFA_SLOT_PENDING || run == ALFA_SLOT_NEW) {
        /* A new image on trial: it must prove itself before it is confirmed. */
        u->session = run_session;
        u->trial_start_ms = u->now_ms;
        fwu_set_state(u, ALFA_FWU_ST_TRIAL, ALFA_FWU_R_OK);
        return;
    }
    if (u->upd_has_manifest && (upd == ALFA_SLOT_INVALID || upd == ALFA_SLOT_ABORTED)) {
        /* The bootloader came back to us: the other image was not confirmed. Its trailer says
         * whether it failed its self-test (and which checks); otherwise it was reset first. */
        u->session = u->upd_session;
        u->detail = outcome == ALFA_FWU_R_SELFTEST ? (uint16_t)detail : 0u;
        fwu_set_state(u, ALFA_FWU_ST_ROLLED_BACK,
                      outcome == ALFA_FWU_R_SELFTEST ? ALFA_FWU_R_SELFTEST : ALFA_FWU_R_NOT_CONFIRMED);
        u->upd_has_manifest = 0; /* a rolled-back image is never resumed into */
    }
}

/* Hash the received payload a slice per call; compare with the header's hash, read back from
 * the trailer (the session's manifest, checked when it was accepted; its CRC guards it on flash). */
void fwu_hash_step(alfa_fwu_t *u)
{
    uint8_t *buf = u->win.data; /* the window is written before hashing starts */
    uint32_t left = u->image_size - u->cursor;
    uint32_t n = left < ALFA_FWU_READ_PER_CALL ? left : ALFA_FWU_READ_PER_CALL;
    if (n > 0u) {
        int32_t rc = u->port->slot_read(u->port->user, ALFA_SLOT_UPDATE, u->cursor, buf, n);
        if (rc < 0) {
            fwu_flash_failed(u, rc);
            return;
        }
        alfa_sha256_update(&u->tab.sha, buf, n);
        u->cursor += n;
    }
    if (u->cursor < u->image_size) {
        return;
    }
    uint8_t d[ALFA_SHA256_SIZE];
    alfa_sha256_final(&u->tab.sha, d);
    uint8_t *m = fwu_manifest(u);
    uint32_t session = 0;
    alfa_fwimg_hdr_t h;
    if (fwu_trailer_head(u, ALFA_SLOT_UPDATE, m, &session) < 0 || session != u->session || alfa_fwimg_parse(m, &h) < 0) {
        /* The trailer no longer holds the session's manifest: ask for it again. */
        u->upd_has_manifest = 0;
        u->parts = 0;
        fwu_set_state(u, ALFA_FWU_ST_MANIFEST, ALFA_FWU_R_OK);
        fwu_report(u);
        return;
    }
    if (alfa_memcmp(d, h.sha256, ALFA_SHA256_SIZE) == 0) {
        fwu_set_state(u, ALFA_FWU_ST_READY, ALFA_FWU_R_OK);
        fwu_report(u);
        return;
    }
    /* Data that passed every chunk check is still wrong: a program cut by power loss left a unit
     * torn. The slot cannot say which: start the transfer of this image again (the manifest for
     * the new trailer head is the one just read). */
    u->stats.hash_failures++;
    u->hash_failures++;
    if (u->hash_failures > ALFA_FWU_HASH_RETRIES) {
        fwu_set_state(u, ALFA_FWU_ST_FAILED, ALFA_FWU_R_HASH);
        fwu_report(u);
        return;
    }
    fwu_rx_start(u);
    u->job = FWU_JOB_ERASE_TRAILER;
    fwu_set_state(u, ALFA_FWU_ST_RECEIVING, ALFA_FWU_R_HASH);
    fwu_report(u);
}

/* The new image proves itself: every check held -> confirmed; too late -> say why and restart
 * unconfirmed, so the bootloader boots the previous image. */
void fwu_trial_step(alfa_fwu_t *u)
{
    if (u->reboot_pending) {
        return;
    }
    if ((u->checks & ALFA_FWU_CHECK_ALL) == ALFA_FWU_CHECK_ALL) {
        int32_t rc = u->port->slot_confirm != 0 ? u->port->slot_confirm(u->port->user) : ALFA_PORT_E_IO;
        if (rc == 0) {
            fwu_set_state(u, ALFA_FWU_ST_CONFIRMED, ALFA_FWU_R_OK);
            fwu_report(u);
            return;
        }
        u->stats.flash_errors++; /* not confirmed: the deadline below restarts into the old image */
    }
    if (u->now_ms - u->trial_start_ms < ALFA_FWU_SELFTEST_MS) {
        return;
    }
    uint32_t failed = ALFA_FWU_CHECK_ALL & ~(uint32_t)u->checks;
    /* The reason goes to this image's own trailer, where the previous image will read it. A
     * failed write only loses the reason (it reports "not confirmed"): the rollback happens. */
    if (fwu_trailer_append(u, ALFA_SLOT_RUNNING, &u->run_records, ALFA_FWU_REC_OUTCOME, ALFA_FWU_R_SELFTEST, failed) < 0) {
        u->stats.flash_errors++;
    }
    u->detail = (uint16_t)failed;
    fwu_set_state(u, ALFA_FWU_ST_TRIAL, ALFA_FWU_R_SELFTEST);
    fwu_report(u);
    u->reboot_pending = 1;
    u->reboot_at_ms = u->now_ms + ALFA_FWU_REBOOT_DELAY_MS;
}
