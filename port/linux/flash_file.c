/* File-backed flash for the Linux daemon: the settings store's region kept in one ordinary file. */
#include "alfa/flash_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t region_size(const alfa_flash_geom_t *g) { return (uint64_t)g->block_size * g->block_count; }

static int full_pread(int fd, uint8_t *buf, size_t len, off_t off)
{
    while (len > 0u) {
        ssize_t n = pread(fd, buf, len, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

static int full_pwrite(int fd, const uint8_t *buf, size_t len, off_t off)
{
    while (len > 0u) {
        ssize_t n = pwrite(fd, buf, len, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* Fill [off, off+len) with the erased value. */
static int fill_erased(int fd, uint8_t erased, uint64_t off, uint64_t len)
{
    uint8_t chunk[4096];
    memset(chunk, erased, sizeof(chunk));
    while (len > 0u) {
        size_t n = len < sizeof(chunk) ? (size_t)len : sizeof(chunk);
        if (full_pwrite(fd, chunk, n, (off_t)off) < 0) {
            return -1;
        }
        off += n;
        len -= n;
    }
    return 0;
}

int alfa_flash_file_open(alfa_flash_file_t *ff, const char *path, const alfa_flash_geom_t *geom)
{
    if (ff == NULL) {
        return ALFA_PORT_E_RANGE;
    }
    ff->fd = -1;
    if (path == NULL || geom == NULL || geom->block_size == 0u || geom->block_count == 0u || geom->prog_size == 0u ||
        geom->block_size % geom->prog_size != 0u || (geom->erased_value != 0xFFu && geom->erased_value != 0x00u) ||
        region_size(geom) > 0x7FFFFFFFu) {
        return ALFA_PORT_E_RANGE;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return ALFA_PORT_E_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        close(fd);
        return ALFA_PORT_E_IO;
    }
    if (sb.st_size == 0) {
        if (fill_erased(fd, geom->erased_value, 0u, region_size(geom)) < 0 || fsync(fd) < 0) {
            close(fd);
            return ALFA_PORT_E_IO;
        }
    } else if ((uint64_t)sb.st_size != region_size(geom)) {
        close(fd);
        return ALFA_PORT_E_RANGE;
    }
    ff->fd = fd;
    ff->geom = *geom;
    return ALFA_PORT_OK;
}

void alfa_flash_file_close(alfa_flash_file_t *ff)
{
    if (ff != NULL && ff->fd >= 0) {
        close(ff->fd); /* every program and erase was fsynced: close has nothing left to report */
        ff->fd = -1;
    }
}

void alfa_flash_file_port(alfa_flash_file_t *ff, alfa_port_t *port)
{
    port->user = ff;
    port->flash_geom = &ff->geom;
    port->flash_read = alfa_flash_file_read;
    port->flash_prog = alfa_flash_file_prog;
    port->flash_erase = alfa_flash_file_erase;
}

int32_t alfa_flash_file_read(void *user, uint32_t addr, void *buf, uint32_t len)
{
    alfa_flash_file_t *ff = user;
    if (ff == NULL || ff->fd < 0) {
        return ALFA_PORT_E_IO;
    }
    if (buf == NULL || (uint64_t)addr + len > region_size(&ff->geom)) {
        return ALFA_PORT_E_RANGE;
    }
    return full_pread(ff->fd, buf, len, (off_t)addr) < 0 ? ALFA_PORT_E_IO : ALFA_PORT_OK;
}

int32_t alfa_flash_file_prog(void *user, uint32_t addr, const void *buf, uint32_t len)
{
    alfa_flash_file_t *ff = user;
    if (ff == NULL || ff->fd < 0) {
        return ALFA_PORT_E_IO;
    }
    const alfa_flash_geom_t *g = &ff->geom;
    if (buf == NULL || len == 0u || addr % g->prog_size != 0u || len % g->prog_size != 0u ||
        (uint64_t)addr + len > region_size(g)) {
        return ALFA_PORT_E_RANGE;
    }
    /* A unit may be programmed only while it is blank: check the whole range first, in chunks. */
    uint8_t chunk[512];
    for (uint32_t done = 0; done < len;) {
        uint32_t n = len - done < sizeof(chunk) ? len - done : (uint32_t)sizeof(chunk);
        if (full_pread(ff->fd, chunk, n, (off_t)(addr + done)) < 0) {
            return ALFA_PORT_E_IO;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (chunk[i] != g->erased_value) {
                return ALFA_PORT_E_REPROG;
            }
        }
        done += n;
    }
    if (full_pwrite(ff->fd, buf, len, (off_t)addr) < 0 || fsync(ff->fd) < 0) {
        return ALFA_PORT_E_IO;
    }
    return ALFA_PORT_OK;
}

int32_t alfa_flash_file_erase(void *user, uint32_t block)
{
    alfa_flash_file_t *ff = user;
    if (ff == NULL || ff->fd < 0) {
        return ALFA_PORT_E_IO;
    }
    if (block >= ff->geom.block_count) {
        return ALFA_PORT_E_RANGE;
    }
    uint64_t off = (uint64_t)block * ff->geom.block_size;
    if (fill_erased(ff->fd, ff->geom.erased_value, off, ff->geom.block_size) < 0 || fsync(ff->fd) < 0) {
        return ALFA_PORT_E_IO;
    }
    return ALFA_PORT_OK;
}
