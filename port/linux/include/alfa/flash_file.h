/* File-backed flash for the Linux daemon: the settings store's region kept in one ordinary file. */
#ifndef ALFA_FLASH_FILE_H
#define ALFA_FLASH_FILE_H

/*
 * The file holds block_size * block_count bytes, exactly the region's raw contents, so it can be
 * inspected with a hex dump and copied between machines. The same rules as a real part apply:
 * aligned programs of whole units, a unit is programmed only while it reads entirely as the
 * erased value (else ALFA_PORT_E_REPROG), erase of whole blocks. Every program and erase is
 * followed by fsync(), so what the call reported done survives the machine losing power.
 */

#include <stdint.h>
#include "alfa/port.h"

typedef struct alfa_flash_file {
    int fd; /* -1 when closed */
    alfa_flash_geom_t geom;
} alfa_flash_file_t;

/*
 * Open (or create, filled with the erased value) the flash file at `path` with geometry `geom`
 * (copied). Returns ALFA_PORT_OK, ALFA_PORT_E_RANGE when the geometry is unusable or an existing
 * file has another size (it is left untouched: a geometry change needs a deliberate delete), or
 * ALFA_PORT_E_IO when the file cannot be opened, created or filled. On failure `ff->fd` is -1.
 */
int alfa_flash_file_open(alfa_flash_file_t *ff, const char *path, const alfa_flash_geom_t *geom);

/* Close the file (safe on a closed one). */
void alfa_flash_file_close(alfa_flash_file_t *ff);

/* Point `port`'s flash callbacks, geometry and `user` at `ff` (other callbacks untouched). */
void alfa_flash_file_port(alfa_flash_file_t *ff, alfa_port_t *port);

/* The port callbacks (`user` is the alfa_flash_file_t), for a port that forwards to them. */
int32_t alfa_flash_file_read(void *user, uint32_t addr, void *buf, uint32_t len);
int32_t alfa_flash_file_prog(void *user, uint32_t addr, const void *buf, uint32_t len);
int32_t alfa_flash_file_erase(void *user, uint32_t block);

#endif
