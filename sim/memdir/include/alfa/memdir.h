/* A few named files in memory standing in for the update sender's state directory (gw_ota_io_t's read_file and write_file) in the simulators. */
#ifndef ALFA_SIM_MEMDIR_H
#define ALFA_SIM_MEMDIR_H

#include <stddef.h>
#include <stdint.h>

#define ALFA_MEMDIR_FILES 4u
#define ALFA_MEMDIR_NAME_MAX 32u

typedef struct alfa_memdir_file {
    char name[ALFA_MEMDIR_NAME_MAX];
    uint8_t *data; /* owned; NULL = the slot is free */
    size_t len;
} alfa_memdir_file_t;

/* Zero-initialised = empty. */
typedef struct alfa_memdir {
    alfa_memdir_file_t files[ALFA_MEMDIR_FILES];
} alfa_memdir_t;

/* A copy of the file `name` (the caller frees it) and its length in *len; NULL when there is no
 * such file or no memory for the copy. */
uint8_t *alfa_memdir_read(const alfa_memdir_t *d, const char *name, size_t *len);

/* Replaces (or creates) the file `name` with a copy of `len` bytes: whole or not at all. -1 (the
 * old content stays) when every slot is taken by other names or there is no memory. */
int alfa_memdir_write(alfa_memdir_t *d, const char *name, const void *data, size_t len);

/* Frees every file; the directory is empty afterwards. */
void alfa_memdir_clear(alfa_memdir_t *d);

#endif
