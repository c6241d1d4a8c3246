/* Test harness for the gateway: a private mosquitto, the real gateway on a pty, fake packs, an MQTT client. */
#ifndef GW_HARNESS_H
#define GW_HARNESS_H

#include <mosquitto.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "alfa/proto.h"
#include "alfa/slcan.h"

/* ---- broker ---- */
typedef struct hx_broker {
    pid_t pid;
    int port;
    char dir[128];      /* temp dir with config, password and ACL files, log */
    int auth;           /* 1: password file + ACL, no anonymous */
    int tls_port;       /* > 0: a second listener with TLS (certificates from a test CA) */
    char ca_file[160];  /* that CA's certificate */
} hx_broker_t;

/* Start mosquitto on a free loopback port (or `port` when > 0). auth: users gw/site1/site2
 * (password "pw-<user>") with a per-site ACL. Returns 0 when it accepts connections. */
int hx_broker_start(hx_broker_t *b, int port, int auth);
/* Make a test CA and a server certificate for "localhost" in b->dir; the next hx_broker_start
 * adds a TLS listener on b->tls_port. Needs the openssl command. */
int hx_broker_enable_tls(hx_broker_t *b);
void hx_broker_stop(hx_broker_t *b);
/* Remove the broker's temporary directory (config, logs, gateway log). */
void hx_broker_cleanup(hx_broker_t *b);

/* ---- CAN side: the pty and the fake packs ---- */
#define HX_MAX_FRAMES 4096
typedef struct hx_bus {
    int master, slave;
    char path[64];
    alfa_slcan_t sl;
    alfa_can_frame_t seen[HX_MAX_FRAMES]; /* frames the gateway sent, in order */
    int n_seen;
} hx_bus_t;

int hx_bus_open(hx_bus_t *bus);
void hx_bus_close(hx_bus_t *bus);
void hx_bus_send(hx_bus_t *bus, const alfa_can_frame_t *f);
/* Read what the gateway sent (appended to seen[]); waits up to timeout_ms for at least one. */
int hx_bus_pump(hx_bus_t *bus, int timeout_ms);
/* Count of seen frames of a class (and command code when code >= 0). */
int hx_bus_count(const hx_bus_t *bus, int cls, int code);

typedef struct hx_pack {
    uint64_t serial;
    uint8_t node;
    uint32_t cycle;
    alfa_telemetry_t t;
    int auto_ack;        /* answer commands addressed to us / broadcast */
    uint8_t ack_result;
} hx_pack_t;

void hx_pack_init(hx_pack_t *p, uint64_t serial, uint8_t node);
void hx_pack_heartbeat(hx_bus_t *bus, const hx_pack_t *p);
void hx_pack_telemetry(hx_bus_t *bus, hx_pack_t *p);
/* Answer every command frame in bus->seen[from..] addressed to one of the packs; returns the
 * index to continue from. */
int hx_packs_answer(hx_bus_t *bus, hx_pack_t *packs, int n, int from);

/* ---- gateway ---- */
typedef struct hx_gw {
    pid_t pid;
    char log[160];
} hx_gw_t;
/* Start build/bin/alfaspark-gateway with --set options (NULL-terminated extra list). */
int hx_gw_start(hx_gw_t *g, const hx_broker_t *b, const char *site, const hx_bus_t *bus, const char *const *extra);
void hx_gw_kill(hx_gw_t *g, int sig);

/* ---- MQTT client ---- */
#define HX_MAX_MSGS 2048
typedef struct hx_msg {
    char topic[160];
    char payload[2048];
    int len;
    int retain;
} hx_msg_t;

typedef struct hx_client {
    struct mosquitto *m;
    pthread_mutex_t lock;
    hx_msg_t *msgs;
    int n;
    int connect_rc;   /* -1 until CONNACK */
} hx_client_t;

/* Connect (user NULL = anonymous). Returns the CONNACK code (0 = accepted) or -1. */
int hx_client_connect(hx_client_t *c, int port, const char *id, const char *user, const char *pass);
void hx_client_sub(hx_client_t *c, const char *topic);
void hx_client_pub(hx_client_t *c, const char *topic, const char *payload, int retain);
void hx_client_close(hx_client_t *c);
/* Wait until a message on `topic` whose payload contains `needle` (NULL = any) has arrived;
 * returns its index or -1 on timeout. Pumps `bus` meanwhile when not NULL, answering commands with
 * `packs` from bus->seen[*bus_from] on. */
int hx_wait(hx_client_t *c, const char *topic, const char *needle, int timeout_ms, hx_bus_t *bus, hx_pack_t *packs,
            int npacks, int *bus_from);
int hx_count(hx_client_t *c, const char *topic, const char *needle);
const hx_msg_t *hx_msg(hx_client_t *c, int i);

/* Run a program (argv[0] is looked up in ALFA_BIN_DIR) with stdout+stderr to `out`; wait for it
 * while pumping the bus and answering with packs; returns its exit status or -1 on timeout. */
int hx_run(const char *const *argv, const char *out, int timeout_ms, hx_bus_t *bus, hx_pack_t *packs, int npacks,
           int *bus_from);

uint32_t hx_ms(void);
void hx_settle(int ms, hx_bus_t *bus, hx_pack_t *packs, int npacks, int *bus_from);

#endif
