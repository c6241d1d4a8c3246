/* Checks of the machine a daemon is about to use (CAN adapter, serial device, directories, files), each failure with its reason and a fix. */
#ifndef ALFA_ENVCHECK_H
#define ALFA_ENVCHECK_H

/*
 * `--check-config` of alfaspark-gateway and alfaspark-pack, and their log lines when a device
 * cannot be opened, use these to tell an installer not only THAT something is wrong but WHY and
 * WHAT TO DO: "no network interface can0" + "plug in the adapter; `ip -br link` lists the
 * interfaces", rather than a bare "cannot open socketcan:can0".
 *
 * Every check opens what it checks exactly as the daemon would (read/write, non-blocking) and
 * closes it again at once: nothing is configured, nothing is sent. The checks run with the
 * rights of the calling process (run them as the service's user to check the service's rights).
 *
 * Each returns ALFA_PORT_OK, or ALFA_PORT_E_IO with `p` filled (p->why: what is wrong and why,
 * p->fix: what to do), or ALFA_PORT_E_RANGE for an argument that is malformed (also explained
 * in `p`). `p` is untouched on success.
 */

#include <stddef.h>
#include <stdint.h>

#include "alfa/port.h"

typedef struct alfa_env_problem {
    char why[224];
    char fix[288];
} alfa_env_problem_t;

/* A CAN interface in lincan's spelling (alfa/lincan.h): "slcan:/dev/ttyACM0", "/dev/ttyACM0",
 * "socketcan:can0", "can0". SLCAN: the device exists, is a serial device and opens read/write.
 * SocketCAN: the kernel has CAN sockets, the interface exists, is a CAN interface and is up. */
int alfa_env_check_can(const char *spec, alfa_env_problem_t *p);

/* A serial device (the BMS's RS-485 adapter): exists, is a tty, opens read/write. `role` names
 * it in the fix ("RS-485 adapter"). */
int alfa_env_check_serial(const char *path, const char *role, alfa_env_problem_t *p);

/* A directory the daemon writes into: exists, is a directory, writable and searchable. */
int alfa_env_check_dir_writable(const char *dir, alfa_env_problem_t *p);

/* A file the daemon writes (created on first start): when it exists it must be a regular file
 * that opens read/write and, when `size` > 0, has exactly `size` bytes; when it does not exist,
 * its directory must be writable. */
int alfa_env_check_file_writable(const char *path, uint64_t size, alfa_env_problem_t *p);

/* A file the daemon reads (password file, certificate): exists and opens for reading. */
int alfa_env_check_file_readable(const char *path, alfa_env_problem_t *p);

#endif
