/* The update sender's state directory in memory for the simulators: a few named files, each written whole. */
#include "alfa/memdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static alfa_memdir_file_t *find(alfa_memdir_t *d, const char *name)
{
    for (unsigned k = 0; k < ALFA_MEMDIR_FILES; k++) {
        if (d->files[k].data != NULL && strcmp(d->files[k].name, name) == 0) {
            return &d->files[k];
        }
    }
    return NULL;
}

uint8_t *alfa_memdir_read(const alfa_memdir_t *d, const char *name, size_t *len)
{
    const alfa_memdir_file_t *f = find((alfa_memdir_t *)d, name);
    uint8_t *b = f != NULL ? malloc(f->len + 1u) : NULL; /* + 1: an empty file is still a copy */
    if (b != NULL) {
        memcpy(b, f->data, f->len);
        *len = f->len;
    }
    return b;
}

int alfa_memdir_write(alfa_memdir_t *d, const char *name, const void *data, size_t len)
{
    alfa_memdir_file_t *f = find(d, name);
    for (unsigned k = 0; f == NULL && k < ALFA_MEMDIR_FILES; k++) {
        if (d->files[k].data == NULL) {
            f = &d->files[k];
        }
    }
    uint8_t *b = f != NULL && strlen(name) < sizeof(f->name) ? malloc(len + 1u) : NULL;
    if (b == NULL) {
        return -1;
    }
    if (len != 0u) {
        memcpy(b, data, len);
    }
    free(f->data);
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->data = b;
    f->len = len;
    return 0;
}

void alfa_memdir_clear(alfa_memdir_t *d)
{
    for (unsigned k = 0; k < ALFA_MEMDIR_FILES; k++) {
        free(d->files[k].data);
        d->files[k].data = NULL;
        d->files[k].len = 0;
    }
}
