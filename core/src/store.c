/* The settings store: an append-only, power-cut-safe log of one opaque blob over the port's flash blocks. */
#include "alfa/store.h"

#include <stddef.h>
#include "alfa/bytes.h"

/* On-flash constants (docs/store.md has the byte-by-byte layout). The magic bytes can equal
 * neither erased value, so a blank unit is never taken for a header. */
#define STORE_MAGIC0 0x53u /* 'S' */
#define STORE_MAGIC1 0x52u /* 'R' */
#define STORE_LAYOUT 1u    /* record layout version; a new layout gets a new number */
#define STORE_FLAG_RESET 0x01u
static const uint8_t store_commit_magic[4] = {0x43u, 0x4Du, 0x49u, 0x54u}; /* "CMIT" */

_Static_assert(ALFA_STORE_HEADER_SIZE == 16u, "header layout below is 16 bytes");
_Static_assert(ALFA_STORE_COMMIT_SIZE == 8u, "commit layout below is 8 bytes");
_Static_assert(ALFA_STORE_BLOB_MAX <= 0xFFFFu, "blob length travels in 16 bits");
_Static_assert(ALFA_STORE_BODY_MAX >= ALFA_STORE_HEADER_SIZE + ALFA_STORE_BLOB_MAX, "body buffer too small");
_Static_assert(ALFA_STORE_SCRATCH >= ALFA_STORE_HEADER_SIZE, "scratch must hold a header");

/* CRC-32 (IEEE 802.3, reflected, as in zlib) with a 16-entry nibble table: small and fast enough
 * for a few hundred bytes per write. */
static const uint32_t store_crc_table[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

static uint32_t crc_update(uint32_t crc, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ store_crc_table[crc & 0x0Fu];
        crc = (crc >> 4) ^ store_crc_table[crc & 0x0Fu];
    }
    return crc;
}

static uint32_t round_up(uint32_t v, uint32_t unit) { return ((v + unit - 1u) / unit) * unit; }

static uint32_t body_size(const alfa_flash_geom_t *g, uint32_t len)
{
    return round_up(ALFA_STORE_HEADER_SIZE + len, g->prog_size);
}

uint32_t alfa_store_record_size(const alfa_flash_geom_t *geom, uint32_t len)
{
    if (geom == NULL || geom->prog_size == 0u || len > ALFA_STORE_BLOB_MAX) {
        return 0u;
    }
    return body_size(geom, len) + round_up(ALFA_STORE_COMMIT_SIZE, geom->prog_size);
}

static uint32_t block_addr(const alfa_store_t *st, uint32_t block) { return block * st->geom.block_size; }

static int flash_read(alfa_store_t *st, uint32_t addr, uint8_t *buf, uint32_t len)
{
    int32_t rc = st->port->flash_read(st->port->user, addr, buf, len);
    return rc < 0 ? ALFA_E_IO : ALFA_OK;
}

/* 1 when [addr, addr+len) reads entirely as the erased value, 0 when not, ALFA_E_IO on a read error. */
static int range_blank(alfa_store_t *st, uint32_t addr, uint32_t len)
{
    while (len > 0u) {
        uint32_t n = len < ALFA_STORE_SCRATCH ? len : ALFA_STORE_SCRATCH;
        if (flash_read(st, addr, st->scratch, n) < 0) {
            return ALFA_E_IO;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (st->scratch[i] != st->geom.erased_value) {
                return 0;
            }
        }
        addr += n;
        len -= n;
    }
    return 1;
}

/* 1 when flash at `addr` holds exactly `len` bytes of `data`, 0 when not, ALFA_E_IO on a read error. */
static int range_equal(alfa_store_t *st, uint32_t addr, const uint8_t *data, uint32_t len)
{
    while (len > 0u) {
        uint32_t n = len < ALFA_STORE_SCRATCH ? len : ALFA_STORE_SCRATCH;
        if (flash_read(st, addr, st->scratch, n) < 0) {
            return ALFA_E_IO;
        }
        if (alfa_memcmp(st->scratch, data, n) != 0) {
            return 0;
        }
        addr += n;
        len -= n;
        data += n;
    }
    return 1;
}

static int geom_usable(const alfa_flash_geom_t *g)
{
    if (g->prog_size == 0u || g->prog_size > ALFA_STORE_PROG_MAX || g->block_size < g->prog_size ||
        g->block_size % g->prog_size != 0u || g->block_count < 2u ||
        g->block_count > 0xFFFFFFFFu / g->block_size) {
        return 0;
    }
    if (g->erased_value != 0xFFu && g->erased_value != 0x00u) {
        return 0;
    }
    /* At least the smallest record (a factory reset) must fit in a block. */
    return alfa_store_record_size(g, 0u) <= g->block_size;
}

/* Scan result of one record slot. */
typedef struct scan_rec {
    uint32_t seq;
    uint32_t crc;
    uint16_t len;
    uint16_t format;
    uint8_t flags;
} scan_rec_t;

/* Examine the record at `off` of `block`. Returns 1 (valid record, *r filled, *size its size),
 * 0 (a header that parses but a bad CRC or no commit: *size lets the scan go on), or -1 (no
 * parsable header here: the block's log ends) or ALFA_E_IO. */
static int scan_one(alfa_store_t *st, uint32_t block, uint32_t off, scan_rec_t *r, uint32_t *size)
{
    const alfa_flash_geom_t *g = &st->geom;
    uint32_t addr = block_addr(st, block) + off;
    uint8_t hdr[ALFA_STORE_HEADER_SIZE];
    if (off + alfa_store_record_size(g, 0u) > g->block_size) {
        return -1;
    }
    if (flash_read(st, addr, hdr, ALFA_STORE_HEADER_SIZE) < 0) {
        return ALFA_E_IO;
    }
    if (hdr[0] != STORE_MAGIC0 || hdr[1] != STORE_MAGIC1 || hdr[2] != STORE_LAYOUT) {
        return -1;
    }
    r->flags = hdr[3];
    r->format = alfa_get_le16(&hdr[4]);
    r->len = alfa_get_le16(&hdr[6]);
    r->seq = alfa_get_le32(&hdr[8]);
    r->crc = alfa_get_le32(&hdr[12]);
    if (r->len > ALFA_STORE_BLOB_MAX || (r->flags & ~STORE_FLAG_RESET) != 0u ||
        ((r->flags & STORE_FLAG_RESET) != 0u && r->len != 0u)) {
        return -1;
    }
    *size = alfa_store_record_size(g, r->len);
    if (off + *size > g->block_size) {
        return -1;
    }
    uint32_t crc = crc_update(0xFFFFFFFFu, hdr, 12u);
    uint32_t left = r->len;
    uint32_t at = addr + ALFA_STORE_HEADER_SIZE;
    while (left > 0u) {
        uint32_t n = left < ALFA_STORE_SCRATCH ? left : ALFA_STORE_SCRATCH;
        if (flash_read(st, at, st->scratch, n) < 0) {
            return ALFA_E_IO;
        }
        crc = crc_update(crc, st->scratch, n);
        at += n;
        left -= n;
    }
    crc ^= 0xFFFFFFFFu;
    if (crc != r->crc) {
        return 0;
    }
    uint8_t commit[ALFA_STORE_COMMIT_SIZE];
    if (flash_read(st, addr + body_size(g, r->len), commit, ALFA_STORE_COMMIT_SIZE) < 0) {
        return ALFA_E_IO;
    }
    if (alfa_memcmp(commit, store_commit_magic, 4u) != 0 || alfa_get_le32(&commit[4]) != r->crc) {
        return 0;
    }
    return 1;
}

/* Read the whole region and set the newest record and the append position from it. Returns 1
 * when anything but blank flash was seen (records, garbage or unreadable blocks), else 0. */
static int scan(alfa_store_t *st)
{
    int any_data = 0;
    st->have_newest = 0u;
    st->stats.records_skipped = 0u;
    for (uint32_t b = 0; b < st->geom.block_count; b++) {
        uint32_t off = 0u;
        int unreadable = 0;
        for (;;) {
            scan_rec_t r;
            uint32_t size = 0u;
            int rc = scan_one(st, b, off, &r, &size);
            if (rc == ALFA_E_IO) {
                unreadable = 1;
                break;
            }
            if (rc < 0) {
                break;
            }
            any_data = 1;
            if (rc == 0) {
                st->stats.records_skipped++;
            } else if (!st->have_newest || r.seq > st->newest_seq) {
                /* Plain unsigned order: the renumbering in process() keeps sequence numbers from
                 * ever wrapping, so the highest is the newest even on crafted flash. */
                st->have_newest = 1u;
                st->newest_seq = r.seq;
                st->newest_block = b;
                st->newest_off = off;
                st->newest_crc = r.crc;
                st->newest_len = r.len;
                st->newest_format = r.format;
                st->newest_reset = (uint8_t)((r.flags & STORE_FLAG_RESET) != 0u);
            }
            off += size;
        }
        if (unreadable || range_blank(st, block_addr(st, b) + off, st->geom.block_size - off) != 1) {
            any_data = 1;
        }
    }
    if (st->have_newest) {
        /* Append after the newest record only if nothing (not even a torn record) follows it. */
        st->cur_block = st->newest_block;
        st->cur_off = st->newest_off + alfa_store_record_size(&st->geom, st->newest_len);
        st->append_ok = (uint8_t)(range_blank(st, block_addr(st, st->cur_block) + st->cur_off,
                                              st->geom.block_size - st->cur_off) == 1);
    } else {
        /* The first write erases block 0. */
        st->cur_block = st->geom.block_count - 1u;
        st->cur_off = st->geom.block_size;
        st->append_ok = 0u;
    }
    return any_data;
}

int alfa_store_init(alfa_store_t *st, const alfa_port_t *port, uint8_t *blob, uint32_t cap, uint32_t *len,
                    uint16_t *format, alfa_store_found_t *found)
{
    if (st == NULL || port == NULL || blob == NULL || len == NULL || format == NULL || port->flash_geom == NULL ||
        port->flash_read == NULL || port->flash_prog == NULL || port->flash_erase == NULL) {
        return ALFA_E_INVAL;
    }
    alfa_memset(st, 0, sizeof(*st));
    st->port = port;
    st->geom = *port->flash_geom;
    *len = 0u;
    *format = 0u;
    if (found != NULL) {
        *found = ALFA_STORE_FOUND_CORRUPT;
    }
    if (!geom_usable(&st->geom)) {
        st->port = NULL; /* every later call refuses with ALFA_E_INVAL */
        return ALFA_E_RANGE;
    }

    int any_data = scan(st);
    if (st->have_newest) {
        st->found = st->newest_reset ? ALFA_STORE_FOUND_RESET : ALFA_STORE_FOUND_RECORD;
    } else {
        st->found = any_data ? ALFA_STORE_FOUND_CORRUPT : ALFA_STORE_FOUND_BLANK;
    }
    if (st->found == ALFA_STORE_FOUND_RECORD) {
        *len = st->newest_len;
        *format = st->newest_format;
        if (cap < st->newest_len) {
            if (found != NULL) {
                *found = ALFA_STORE_FOUND_RECORD;
            }
            return ALFA_E_NOSPACE;
        }
        if (flash_read(st, block_addr(st, st->newest_block) + st->newest_off + ALFA_STORE_HEADER_SIZE, blob,
                       st->newest_len) < 0) {
            /* The scan read it a moment ago; failing now means a failing part: trust nothing. */
            st->found = ALFA_STORE_FOUND_CORRUPT;
            *len = 0u;
            *format = 0u;
        }
    }
    if (found != NULL) {
        *found = (alfa_store_found_t)st->found;
    }
    return ALFA_OK;
}

alfa_store_found_t alfa_store_found(const alfa_store_t *st)
{
    return st == NULL ? ALFA_STORE_FOUND_CORRUPT : (alfa_store_found_t)st->found;
}

/* Does the flash's newest record hold exactly this content? */
static int newest_matches(alfa_store_t *st, uint8_t reset, uint16_t format, const uint8_t *blob, uint32_t len)
{
    if (!st->have_newest || st->newest_reset != reset) {
        return 0;
    }
    if (reset) {
        return 1;
    }
    if (st->newest_format != format || st->newest_len != len) {
        return 0;
    }
    return range_equal(st, block_addr(st, st->newest_block) + st->newest_off + ALFA_STORE_HEADER_SIZE, blob, len) ==
           1;
}

/* Does the content the flash will hold once queued work is done equal this content? */
static int reference_matches(alfa_store_t *st, uint8_t reset, uint16_t format, const uint8_t *blob, uint32_t len)
{
    if (st->dirty) {
        if (st->pending_reset != reset) {
            return 0;
        }
        return reset || (st->pending_format == format && st->pending_len == len &&
                         alfa_memcmp(st->pending, blob, len) == 0);
    }
    if (st->step != ALFA_STORE_STEP_IDLE) {
        if (st->write_reset != reset) {
            return 0;
        }
        return reset || (st->write_format == format && st->write_len == len &&
                         alfa_memcmp(&st->body[ALFA_STORE_HEADER_SIZE], blob, len) == 0);
    }
    return newest_matches(st, reset, format, blob, len);
}

static int queue(alfa_store_t *st, uint8_t reset, uint16_t format, const uint8_t *blob, uint32_t len, uint32_t now_ms)
{
    if (reference_matches(st, reset, format, blob, len)) {
        st->stats.saves_ignored++;
        return ALFA_OK;
    }
    if (st->step == ALFA_STORE_STEP_IDLE && newest_matches(st, reset, format, blob, len)) {
        /* Changed and changed back before the write: flash already has it. */
        st->dirty = 0u;
        st->flush = 0u;
        st->stats.saves_ignored++;
        return ALFA_OK;
    }
    if (!st->dirty) {
        st->first_change_ms = now_ms;
    }
    st->last_change_ms = now_ms;
    st->dirty = 1u;
    st->stalled = 0u;
    st->pending_reset = reset;
    st->pending_format = format;
    st->pending_len = (uint16_t)len;
    if (len > 0u) {
        alfa_memcpy(st->pending, blob, len);
    }
    return ALFA_OK;
}

int alfa_store_save(alfa_store_t *st, uint16_t format, const uint8_t *blob, uint32_t len, uint32_t now_ms)
{
    if (st == NULL || st->port == NULL || blob == NULL || len == 0u) {
        return ALFA_E_INVAL;
    }
    if (len > ALFA_STORE_BLOB_MAX || alfa_store_record_size(&st->geom, len) > st->geom.block_size) {
        return ALFA_E_RANGE;
    }
    return queue(st, 0u, format, blob, len, now_ms);
}

int alfa_store_factory_reset(alfa_store_t *st, uint32_t now_ms)
{
    if (st == NULL || st->port == NULL) {
        return ALFA_E_INVAL;
    }
    int rc = queue(st, 1u, 0u, st->pending, 0u, now_ms);
    if (st->dirty) {
        st->flush = 1u;
    }
    return rc;
}

int alfa_store_flush(alfa_store_t *st)
{
    if (st == NULL || st->port == NULL) {
        return ALFA_E_INVAL;
    }
    if (st->dirty) {
        st->flush = 1u;
        st->stalled = 0u;
    }
    return ALFA_OK;
}

int alfa_store_busy(const alfa_store_t *st)
{
    return st != NULL && (st->dirty || st->step != ALFA_STORE_STEP_IDLE);
}

const alfa_store_stats_t *alfa_store_stats(const alfa_store_t *st) { return &st->stats; }

/* Lay out header + blob + padding in body[] and the commit marker in unit[]. */
static void build_record(alfa_store_t *st)
{
    const alfa_flash_geom_t *g = &st->geom;
    uint8_t *b = st->body;
    st->write_body_size = body_size(g, st->write_len);
    /* body[16..16+len) already holds the blob; pad after it with the erased value. */
    alfa_memset(&b[ALFA_STORE_HEADER_SIZE + st->write_len], g->erased_value,
                st->write_body_size - ALFA_STORE_HEADER_SIZE - st->write_len);
    b[0] = STORE_MAGIC0;
    b[1] = STORE_MAGIC1;
    b[2] = STORE_LAYOUT;
    b[3] = (uint8_t)(st->write_reset ? STORE_FLAG_RESET : 0u);
    alfa_put_le16(&b[4], st->write_format);
    alfa_put_le16(&b[6], st->write_len);
    alfa_put_le32(&b[8], st->write_seq);
    uint32_t crc = crc_update(0xFFFFFFFFu, b, 12u);
    crc = crc_update(crc, &b[ALFA_STORE_HEADER_SIZE], st->write_len) ^ 0xFFFFFFFFu;
    alfa_put_le32(&b[12], crc);
    st->write_crc = crc;
    uint32_t commit_size = round_up(ALFA_STORE_COMMIT_SIZE, g->prog_size);
    alfa_memset(st->unit, g->erased_value, commit_size);
    alfa_memcpy(st->unit, store_commit_magic, 4u);
    alfa_put_le32(&st->unit[4], crc);
}

/* Next block a record may start in: round robin from the current one, never the block holding
 * the newest committed record (erasing it would leave nothing to fall back on). */
static uint32_t next_block(const alfa_store_t *st, uint32_t from)
{
    uint32_t b = (from + 1u) % st->geom.block_count;
    if (st->have_newest && b == st->newest_block) {
        b = (b + 1u) % st->geom.block_count;
    }
    return b;
}

/* A program, erase or read-back failed: give up on the current block and try a fresh one. */
static int write_failed(alfa_store_t *st)
{
    st->stats.write_failures++;
    st->append_ok = 0u;
    uint32_t candidates = st->geom.block_count - (st->have_newest ? 1u : 0u);
    if (st->attempts >= candidates || st->wrap) {
        /* Every candidate failed: keep the blob pending (unless a newer one came meanwhile) and
         * wait for the caller, so broken flash is not erased over and over. */
        if (!st->dirty) {
            st->dirty = 1u;
            st->pending_reset = st->write_reset;
            st->pending_format = st->write_format;
            st->pending_len = st->write_len;
            alfa_memcpy(st->pending, &st->body[ALFA_STORE_HEADER_SIZE], st->write_len);
        }
        st->stalled = 1u;
        st->step = ALFA_STORE_STEP_IDLE;
        st->wrap = 0u;
        return ALFA_E_IO;
    }
    st->erase_block = next_block(st, st->cur_block);
    st->step = ALFA_STORE_STEP_ERASE;
    return 1;
}

/* Erase `block` and check it reads blank. */
static int erase_block(alfa_store_t *st, uint32_t block)
{
    st->stats.erases++;
    if (st->port->flash_erase(st->port->user, block) < 0) {
        return ALFA_E_IO;
    }
    return range_blank(st, block_addr(st, block), st->geom.block_size) == 1 ? ALFA_OK : ALFA_E_IO;
}

static int program_verify(alfa_store_t *st, uint32_t addr, const uint8_t *data, uint32_t len)
{
    st->stats.bytes_programmed += len;
    if (st->port->flash_prog(st->port->user, addr, data, len) < 0) {
        return ALFA_E_IO;
    }
    return range_equal(st, addr, data, len) == 1 ? ALFA_OK : ALFA_E_IO;
}

/* Start the due write: freeze pending into body[], pick where it goes. */
static void start_write(alfa_store_t *st)
{
    st->write_reset = st->pending_reset;
    st->write_format = st->pending_format;
    st->write_len = st->pending_len;
    if (st->write_len > 0u) {
        alfa_memcpy(&st->body[ALFA_STORE_HEADER_SIZE], st->pending, st->write_len);
    }
    st->dirty = 0u;
    st->flush = 0u;
    st->attempts = 0u;
    if (st->have_newest && st->newest_seq == 0xFFFFFFFFu) {
        /* Sequence exhausted (only crafted or rotten flash gets here: 50 writes a day take
         * 235 million years). Renumber: erase every other block, write the record as number 1
         * in one of them, then erase the old record's block. A cut before that last erase
         * boots the old record, after it the new one. */
        st->wrap = 1u;
        st->write_seq = 1u;
        st->wipe_block = next_block(st, st->newest_block);
        st->step = ALFA_STORE_STEP_WIPE;
        build_record(st);
        return;
    }
    st->write_seq = st->have_newest ? st->newest_seq + 1u : 1u;
    build_record(st);
    if (st->append_ok && st->cur_off + alfa_store_record_size(&st->geom, st->write_len) <= st->geom.block_size) {
        st->step = ALFA_STORE_STEP_BODY;
    } else {
        st->erase_block = next_block(st, st->cur_block);
        st->step = ALFA_STORE_STEP_ERASE;
    }
}

int alfa_store_process(alfa_store_t *st, uint32_t now_ms)
{
    if (st == NULL || st->port == NULL) {
        return ALFA_E_INVAL;
    }
    if (st->step == ALFA_STORE_STEP_IDLE) {
        if (!st->dirty || st->stalled) {
            return 0;
        }
        int due = st->flush || st->pending_reset || (uint32_t)(now_ms - st->last_change_ms) >= ALFA_STORE_QUIET_MS ||
                  (uint32_t)(now_ms - st->first_change_ms) >= ALFA_STORE_MAX_DELAY_MS;
        if (!due) {
            return 0;
        }
        start_write(st);
    }

    const alfa_flash_geom_t *g = &st->geom;
    switch ((alfa_store_step_t)st->step) {
    case ALFA_STORE_STEP_WIPE: {
        if (erase_block(st, st->wipe_block) < 0) {
            return write_failed(st);
        }
        uint32_t next = next_block(st, st->wipe_block);
        if (next == next_block(st, st->newest_block)) {
            /* Every other block is blank now: write into the first of them. */
            st->cur_block = next;
            st->cur_off = 0u;
            st->append_ok = 1u;
            st->step = ALFA_STORE_STEP_BODY;
        } else {
            st->wipe_block = next;
        }
        return 1;
    }
    case ALFA_STORE_STEP_ERASE:
        st->attempts++;
        if (erase_block(st, st->erase_block) < 0) {
            st->cur_block = st->erase_block;
            return write_failed(st);
        }
        st->cur_block = st->erase_block;
        st->cur_off = 0u;
        st->append_ok = 1u;
        st->step = ALFA_STORE_STEP_BODY;
        return 1;
    case ALFA_STORE_STEP_BODY:
        if (program_verify(st, block_addr(st, st->cur_block) + st->cur_off, st->body, st->write_body_size) < 0) {
            return write_failed(st);
        }
        st->step = ALFA_STORE_STEP_COMMIT;
        return 1;
    case ALFA_STORE_STEP_COMMIT: {
        uint32_t commit_size = round_up(ALFA_STORE_COMMIT_SIZE, g->prog_size);
        if (program_verify(st, block_addr(st, st->cur_block) + st->cur_off + st->write_body_size, st->unit,
                           commit_size) < 0) {
            return write_failed(st);
        }
        uint32_t old_block = st->newest_block;
        st->have_newest = 1u;
        st->newest_seq = st->write_seq;
        st->newest_block = st->cur_block;
        st->newest_off = st->cur_off;
        st->newest_crc = st->write_crc;
        st->newest_len = st->write_len;
        st->newest_format = st->write_format;
        st->newest_reset = st->write_reset;
        st->cur_off += st->write_body_size + commit_size;
        st->stats.records_written++;
        if (st->wrap) {
            st->wipe_block = old_block;
            st->step = ALFA_STORE_STEP_WIPE_OLD;
        } else {
            st->step = ALFA_STORE_STEP_IDLE;
        }
        return 1;
    }
    case ALFA_STORE_STEP_WIPE_OLD:
        /* A failure here leaves the old record readable and winning at boot; the new one is
         * still pending in spirit, so report it like any failed write. */
        if (erase_block(st, st->wipe_block) < 0) {
            /* Flash now holds the old record (still winning) and maybe the new one: learn the
             * truth from flash, keep the blob pending, and wait for the caller. */
            (void)scan(st); /* its result says only whether any data is on flash, which boot needs */
            st->wrap = 0u;
            st->step = ALFA_STORE_STEP_IDLE;
            st->stats.write_failures++;
            if (!st->dirty) {
                st->dirty = 1u;
                st->pending_reset = st->write_reset;
                st->pending_format = st->write_format;
                st->pending_len = st->write_len;
                alfa_memcpy(st->pending, &st->body[ALFA_STORE_HEADER_SIZE], st->write_len);
            }
            st->stalled = 1u;
            return ALFA_E_IO;
        }
        st->wrap = 0u;
        st->step = ALFA_STORE_STEP_IDLE;
        return 1;
    case ALFA_STORE_STEP_IDLE:
    default:
        st->step = ALFA_STORE_STEP_IDLE;
        return 0;
    }
}
