/* Firmware slots as files beside the Linux daemon: payload and trailer files, atomic boot records, the launcher with rollback. */
#include "alfa/slot_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alfa/fwu.h"

typedef struct rec {
    uint32_t seq;
    uint32_t state;
} rec_t;

static const char slot_letter[2] = {'a', 'b'};

static void path_of(const alfa_slot_file_t *s, int slot, const char *suffix, char *out, size_t cap)
{
    if (slot < 0) {
        snprintf(out, cap, "%s/%s%s", s->dir, s->base, suffix);
    } else {
        snprintf(out, cap, "%s/%s.slot-%c%s", s->dir, s->base, slot_letter[slot], suffix);
    }
}

int alfa_slot_file_init(alfa_slot_file_t *s, const char *dir, const char *base, int running,
                        const uint8_t (*keys)[ALFA_FW_KEY_SIZE], size_t nkeys)
{
    memset(s, 0, sizeof(*s));
    if (strlen(dir) >= sizeof(s->dir) || strlen(base) >= sizeof(s->base) || running < -1 || running > 1) {
        return -1;
    }
    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    snprintf(s->base, sizeof(s->base), "%s", base);
    s->geom = (alfa_slot_geom_t){ALFA_SLOT_FILE_SIZE, ALFA_SLOT_FILE_SECTOR, 16u, 0xFFu};
    s->running = running;
    s->fd[0] = s->fd[1] = s->tfd[0] = s->tfd[1] = -1;
    s->keys = keys;
    s->nkeys = nkeys;
    return 0;
}

void alfa_slot_file_close(alfa_slot_file_t *s)
{
    for (int k = 0; k < 2; k++) {
        if (s->fd[k] >= 0) close(s->fd[k]);
        if (s->tfd[k] >= 0) close(s->tfd[k]);
        s->fd[k] = s->tfd[k] = -1;
    }
}

/* ---------------------------------------------------------------- boot records */

static void read_recs(const alfa_slot_file_t *s, rec_t r[2])
{
    char path[300], buf[128];
    memset(r, 0, 2 * sizeof(*r));
    path_of(s, -1, ".boot", path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return; /* no records: the factory image */
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1u, f);
    fclose(f);
    buf[n] = '\0';
    unsigned v, sa, sb;
    uint32_t qa, qb;
    if (sscanf(buf, "alfaspark-boot %u\na %u %u\nb %u %u", &v, &qa, &sa, &qb, &sb) == 5 && v == 1u &&
        sa <= ALFA_SLOT_ABORTED && sb <= ALFA_SLOT_ABORTED) {
        r[0] = (rec_t){qa, sa};
        r[1] = (rec_t){qb, sb};
    }
}

/* Replace the records atomically: a power cut leaves the old or the new file, never half. */
static int32_t write_recs(const alfa_slot_file_t *s, const rec_t r[2])
{
    char path[300], tmp[310], buf[128];
    path_of(s, -1, ".boot", path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int n = snprintf(buf, sizeof(buf), "alfaspark-boot 1\na %u %u\nb %u %u\n", r[0].seq, r[0].state, r[1].seq,
                     r[1].state);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return ALFA_PORT_E_IO;
    }
    int ok = write(fd, buf, (size_t)n) == n && fsync(fd) == 0;
    ok &= close(fd) == 0;
    ok = ok && rename(tmp, path) == 0;
    int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ok &= fsync(dfd) == 0;
        close(dfd);
    }
    return ok ? ALFA_PORT_OK : ALFA_PORT_E_IO;
}

static int update_slot(const alfa_slot_file_t *s) { return s->running == 0 ? 1 : 0; }
static int slot_of(const alfa_slot_file_t *s, uint8_t which)
{
    return which == ALFA_SLOT_RUNNING ? s->running : update_slot(s);
}

/* ---------------------------------------------------------------- files */

static uint32_t trailer_off(const alfa_slot_file_t *s) { return s->geom.slot_size - s->geom.sector_size; }

/* The payload or trailer file of a slot: the running slot's payload read-only (it is the
 * executable that runs), everything else read-write. */
static int file(alfa_slot_file_t *s, int slot, int trailer)
{
    int *fd = trailer ? &s->tfd[slot] : &s->fd[slot];
    if (*fd >= 0) {
        return *fd;
    }
    char path[300];
    path_of(s, slot, trailer ? ".trailer" : "", path, sizeof(path));
    int rw = trailer || slot != s->running;
    *fd = open(path, (rw ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, trailer ? 0644 : 0755);
    return *fd;
}

/* pread that reads missing bytes (past the end of a short file) as erased. */
static int32_t read_at(alfa_slot_file_t *s, int slot, uint32_t off, void *buf, uint32_t len)
{
    memset(buf, s->geom.erased_value, len);
    int trailer = off >= trailer_off(s);
    if (trailer && off + len > s->geom.slot_size) {
        return ALFA_PORT_E_RANGE;
    }
    int fd = file(s, slot, trailer);
    if (fd < 0) {
        return errno == ENOENT ? ALFA_PORT_OK : ALFA_PORT_E_IO;
    }
    uint32_t at = trailer ? off - trailer_off(s) : off;
    ssize_t got = pread(fd, buf, len, (off_t)at);
    return got < 0 ? ALFA_PORT_E_IO : ALFA_PORT_OK;
}

static int32_t write_at(alfa_slot_file_t *s, int slot, uint32_t off, const void *data, uint32_t len)
{
    int trailer = off >= trailer_off(s);
    if ((!trailer && off + len > trailer_off(s)) || off + len > s->geom.slot_size) {
        return ALFA_PORT_E_RANGE;
    }
    int fd = file(s, slot, trailer);
    if (fd < 0) {
        return ALFA_PORT_E_IO;
    }
    uint32_t at = trailer ? off - trailer_off(s) : off;
    if (pwrite(fd, data, len, (off_t)at) != (ssize_t)len || fdatasync(fd) != 0) {
        return ALFA_PORT_E_IO;
    }
    return ALFA_PORT_OK;
}

/* The slot holds a complete image signed by a trusted key (the launcher's and set_boot's check). */
static int image_valid(alfa_slot_file_t *s, int slot)
{
    uint8_t head[ALFA_FWU_TRAILER_HEAD];
    alfa_fwimg_hdr_t h;
    if (read_at(s, slot, trailer_off(s), head, sizeof(head)) < 0 || alfa_fwu_trailer_check(head, &h) < 0 ||
        h.image_size > trailer_off(s)) {
        return 0;
    }
    static uint8_t buf[65536]; /* host code; one launcher per process */
    alfa_sha256_t sha;
    alfa_sha256_init(&sha);
    for (uint32_t off = 0; off < h.image_size;) {
        uint32_t n = h.image_size - off < sizeof(buf) ? h.image_size - off : (uint32_t)sizeof(buf);
        if (read_at(s, slot, off, buf, n) < 0) {
            return 0;
        }
        alfa_sha256_update(&sha, buf, n);
        off += n;
    }
    uint8_t d[ALFA_SHA256_SIZE];
    alfa_sha256_final(&sha, d);
    if (memcmp(d, h.sha256, sizeof(d)) != 0) {
        return 0;
    }
    alfa_fwimg_signed_digest(head, d);
    return alfa_fw_verify_any(s->keys, s->nkeys, d, head + ALFA_FWIMG_HEADER_SIZE) == 0;
}

/* ---------------------------------------------------------------- the launcher */

int alfa_slot_file_boot(alfa_slot_file_t *s, char *path, size_t cap, char *why, size_t why_cap)
{
    rec_t r[2];
    read_recs(s, r);
    int order[2] = {0, 1};
    if (r[1].seq > r[0].seq) {
        order[0] = 1;
        order[1] = 0;
    }
    if (why != NULL) {
        why[0] = '\0';
    }
    for (int i = 0; i < 2; i++) {
        int k = order[i];
        if (r[k].seq == 0u || (r[k].state != ALFA_SLOT_NEW && r[k].state != ALFA_SLOT_PENDING &&
                               r[k].state != ALFA_SLOT_VALID)) {
            continue;
        }
        if (r[k].state == ALFA_SLOT_PENDING) {
            /* Started before and never confirmed: roll back. */
            r[k].state = ALFA_SLOT_ABORTED;
            if (write_recs(s, r) < 0) {
                return -1;
            }
            if (why != NULL) {
                snprintf(why, why_cap, "slot %c was not confirmed: rolled back", slot_letter[k]);
            }
            continue;
        }
        if (!image_valid(s, k)) {
            if (why != NULL) {
                snprintf(why, why_cap, "slot %c does not hold a valid signed image: not started", slot_letter[k]);
            }
            continue;
        }
        if (r[k].state == ALFA_SLOT_NEW) {
            r[k].state = ALFA_SLOT_PENDING;
            if (write_recs(s, r) < 0) {
                return -1;
            }
        }
        path_of(s, k, "", path, cap);
        return k;
    }
    if (why != NULL && why[0] == '\0') {
        snprintf(why, why_cap, "no firmware slot in use: the installed binary runs");
    }
    return -1;
}

int32_t alfa_slot_file_abort(alfa_slot_file_t *s, int slot)
{
    rec_t r[2];
    read_recs(s, r);
    r[slot].state = ALFA_SLOT_ABORTED;
    return write_recs(s, r);
}

int alfa_slot_file_running(const alfa_slot_file_t *s) { return s->running; }

const alfa_slot_geom_t *alfa_slot_file_geom(const alfa_slot_file_t *s) { return &s->geom; }

/* ---------------------------------------------------------------- port callbacks */

alfa_slot_state_t alfa_slot_file_state(alfa_slot_file_t *s, uint8_t which)
{
    int k = slot_of(s, which);
    if (k < 0) {
        return ALFA_SLOT_VALID; /* the factory binary */
    }
    rec_t r[2];
    read_recs(s, r);
    return r[k].seq != 0u ? (alfa_slot_state_t)r[k].state : ALFA_SLOT_EMPTY;
}

int32_t alfa_slot_file_begin(alfa_slot_file_t *s, uint8_t resume)
{
    if (alfa_slot_file_state(s, ALFA_SLOT_RUNNING) == ALFA_SLOT_PENDING) {
        return ALFA_PORT_E_STATE;
    }
    if (resume) {
        return ALFA_PORT_OK;
    }
    rec_t r[2];
    read_recs(s, r);
    int k = update_slot(s);
    if (r[k].seq == 0u && r[k].state == 0u) {
        return ALFA_PORT_OK;
    }
    r[k].state = ALFA_SLOT_EMPTY; /* not bootable while it is being written */
    return write_recs(s, r);
}

int32_t alfa_slot_file_erase(alfa_slot_file_t *s, uint8_t which, uint32_t sector)
{
    if (which != ALFA_SLOT_UPDATE || sector >= s->geom.slot_size / s->geom.sector_size) {
        return ALFA_PORT_E_RANGE;
    }
    static uint8_t ff[ALFA_SLOT_FILE_SECTOR];
    memset(ff, s->geom.erased_value, sizeof(ff));
    return write_at(s, update_slot(s), sector * s->geom.sector_size, ff, s->geom.sector_size);
}

int32_t alfa_slot_file_write(alfa_slot_file_t *s, uint8_t which, uint32_t offset, const void *data, uint32_t len)
{
    int k = slot_of(s, which);
    if (k < 0 || (which == ALFA_SLOT_RUNNING && offset < trailer_off(s))) {
        return ALFA_PORT_E_RANGE; /* the running executable is never written */
    }
    return write_at(s, k, offset, data, len);
}

int32_t alfa_slot_file_read(alfa_slot_file_t *s, uint8_t which, uint32_t offset, void *buf, uint32_t len)
{
    int k = slot_of(s, which);
    if (offset > s->geom.slot_size || len > s->geom.slot_size - offset) {
        return ALFA_PORT_E_RANGE;
    }
    if (k < 0) {
        memset(buf, s->geom.erased_value, len); /* the factory binary has no trailer */
        return ALFA_PORT_OK;
    }
    if (offset < trailer_off(s) && offset + len > trailer_off(s)) {
        uint32_t first = trailer_off(s) - offset;
        int32_t rc = read_at(s, k, offset, buf, first);
        return rc < 0 ? rc : read_at(s, k, trailer_off(s), (uint8_t *)buf + first, len - first);
    }
    return read_at(s, k, offset, buf, len);
}

int32_t alfa_slot_file_end(alfa_slot_file_t *s, uint32_t image_size)
{
    uint8_t magic[4];
    if (image_size < 4u || read_at(s, update_slot(s), 0, magic, 4) < 0 || memcmp(magic, "\177ELF", 4) != 0) {
        return ALFA_PORT_E_IO; /* esp_ota_end: not an image this platform can start */
    }
    return ALFA_PORT_OK;
}

int32_t alfa_slot_file_set_boot(alfa_slot_file_t *s)
{
    int k = update_slot(s);
    if (!image_valid(s, k)) {
        return ALFA_PORT_E_IO;
    }
    rec_t r[2];
    read_recs(s, r);
    r[k].seq = (r[0].seq > r[1].seq ? r[0].seq : r[1].seq) + 1u;
    r[k].state = ALFA_SLOT_NEW;
    return write_recs(s, r);
}

int32_t alfa_slot_file_confirm(alfa_slot_file_t *s)
{
    if (s->running < 0) {
        return ALFA_PORT_E_STATE;
    }
    rec_t r[2];
    read_recs(s, r);
    if (r[s->running].state == ALFA_SLOT_VALID) {
        return ALFA_PORT_OK;
    }
    r[s->running].state = ALFA_SLOT_VALID;
    return write_recs(s, r);
}

int32_t alfa_slot_file_verify(alfa_slot_file_t *s, const uint8_t digest[32], const uint8_t sig[64])
{
    return alfa_fw_verify_any(s->keys, s->nkeys, digest, sig) == 0 ? ALFA_PORT_OK : ALFA_PORT_E_IO;
}
