/* Firmware slots of the Linux pack daemon: two executable files beside the binary, boot records, and the launcher that picks one (with rollback). */
#ifndef ALFA_SLOT_FILE_H
#define ALFA_SLOT_FILE_H

/*
 * The Linux side of port.h's "firmware slots" (docs/ota.md, "Linux"). In directory DIR, for the
 * installed program BASE (alfaspark-pack):
 *
 *   BASE.slot-a, BASE.slot-b                 the payload of each slot: an alfaspark-pack ELF written
 *                                             by an update (mode 0755), padded with 0xFF
 *   BASE.slot-a.trailer, BASE.slot-b.trailer the last sector of each slot (manifest and progress
 *                                             records): a file of its own, because a running
 *                                             executable cannot be opened for writing (ETXTBSY)
 *   BASE.boot                                 the boot records (ESP-IDF's otadata): per slot a sequence
 *                                             number and a state; replaced atomically (rename)
 *
 * The installed binary is the factory image and the launcher (the part an update never replaces,
 * like the ESP32's 2nd-stage bootloader): at start, alfa_slot_file_boot() picks the slot with the
 * highest sequence number whose state allows it and whose image verifies (trailer manifest,
 * SHA-256, signature by a trusted key), starts a NEW one as PENDING, turns a PENDING one (started
 * before and never confirmed: crash, watchdog, power cut, failed self-test) into ABORTED and takes
 * the previous one; the daemon then exec()s that slot's file with ALFASPARK_SLOT set. No usable
 * slot: the installed binary runs itself. A restart (port->reboot, or systemd's Restart=) goes
 * through the launcher again, so an unconfirmed image is rolled back at the next start.
 *
 * Every write is followed by fdatasync(): the core's ordering (data, then the progress record
 * that names it) holds across a power cut.
 */

#include <stddef.h>
#include <stdint.h>

#include "alfa/fw_verify.h"
#include "alfa/port.h"

#define ALFA_SLOT_FILE_SECTOR 4096u
#define ALFA_SLOT_FILE_SIZE (2u * 1024u * 1024u + ALFA_SLOT_FILE_SECTOR) /* a 2 MiB image + its trailer */
#define ALFA_SLOT_FILE_ENV "ALFASPARK_SLOT"           /* "a" or "b" in a started slot; unset in the factory binary */
#define ALFA_SLOT_FILE_LAUNCHER_ENV "ALFASPARK_LAUNCHER" /* the installed binary, for restarts */

typedef struct alfa_slot_file {
    char dir[200];
    char base[48];
    alfa_slot_geom_t geom;
    int running;                 /* -1 the factory binary, 0 slot a, 1 slot b */
    int fd[2], tfd[2];           /* payload and trailer files, opened when needed */
    const uint8_t (*keys)[ALFA_FW_KEY_SIZE];
    size_t nkeys;
} alfa_slot_file_t;

/* Set up for DIR/BASE; `running` as above (from ALFASPARK_SLOT); the trusted keys (borrowed). */
int alfa_slot_file_init(alfa_slot_file_t *s, const char *dir, const char *base, int running,
                        const uint8_t (*keys)[ALFA_FW_KEY_SIZE], size_t nkeys);
void alfa_slot_file_close(alfa_slot_file_t *s);

/* The launcher. Returns the slot to start (0/1) with its file's path in `path`, or -1 to run the
 * factory binary. `why` (may be NULL) gets one line for the log: a rollback or a slot refused on
 * the way, or why the installed binary runs; "" when a slot simply starts. */
int alfa_slot_file_boot(alfa_slot_file_t *s, char *path, size_t cap, char *why, size_t why_cap);
/* After a failed exec of slot `slot`: mark it ABORTED so the next start does not try it again.
 * ALFA_PORT_OK, or ALFA_PORT_E_IO when the boot records could not be written (the next start
 * tries the slot once more and fails the same way). */
int32_t alfa_slot_file_abort(alfa_slot_file_t *s, int slot);

/* The slot this process runs from: -1 the factory binary, 0 slot a, 1 slot b. */
int alfa_slot_file_running(const alfa_slot_file_t *s);
/* The slots' geometry for alfa_port_t.slot_geom (owned by `s`, valid while it lives). */
const alfa_slot_geom_t *alfa_slot_file_geom(const alfa_slot_file_t *s);

/* The port callbacks (see port.h for their ESP-IDF twins). */
int32_t alfa_slot_file_begin(alfa_slot_file_t *s, uint8_t resume);
int32_t alfa_slot_file_erase(alfa_slot_file_t *s, uint8_t which, uint32_t sector);
int32_t alfa_slot_file_write(alfa_slot_file_t *s, uint8_t which, uint32_t offset, const void *data, uint32_t len);
int32_t alfa_slot_file_read(alfa_slot_file_t *s, uint8_t which, uint32_t offset, void *buf, uint32_t len);
int32_t alfa_slot_file_end(alfa_slot_file_t *s, uint32_t image_size);
int32_t alfa_slot_file_set_boot(alfa_slot_file_t *s);
int32_t alfa_slot_file_confirm(alfa_slot_file_t *s);
alfa_slot_state_t alfa_slot_file_state(alfa_slot_file_t *s, uint8_t which);
int32_t alfa_slot_file_verify(alfa_slot_file_t *s, const uint8_t digest[32], const uint8_t sig[64]);

#endif
