/* alfasparkctl update: the firmware-update command (its own file; alfasparkctl.c only dispatches to it). */
#ifndef CTL_UPDATE_H
#define CTL_UPDATE_H

typedef struct ctl_conn {
    const char *host;
    int port;
    const char *site, *user, *pass, *cafile;
    const char *pack;   /* a --pack given before the command (more may follow it) */
} ctl_conn_t;

/* argv[0] is "update". Returns the exit status (0 every pack confirmed, 1 a failure, 2 usage). */
int ctl_update(int argc, char **argv, const ctl_conn_t *conn);

#endif
