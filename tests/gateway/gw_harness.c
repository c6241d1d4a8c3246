/* Test harness for the gateway: a private mosquitto, the real gateway on a pty, fake packs, an MQTT client. */
#include "gw_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

uint32_t hx_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(s, (struct sockaddr *)&a, &l) < 0) {
        if (s >= 0) close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

static int port_open(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    if (s >= 0) close(s);
    return ok;
}

static int run(const char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int hx_broker_start(hx_broker_t *b, int port, int auth)
{
    char path[256];
    FILE *f;
    if (b->dir[0] == '\0') {
        snprintf(b->dir, sizeof b->dir, "/tmp/alfa-gwtest-XXXXXX");
        if (mkdtemp(b->dir) == NULL) return -1;
    }
    b->auth = auth;
    b->port = port > 0 ? port : free_port();
    if (auth) {
        static const char *users[] = {"gw", "site1", "site2"};
        snprintf(path, sizeof path, "%s/passwd", b->dir);
        unlink(path);
        for (int k = 0; k < 3; k++) {
            char pass[32];
            snprintf(pass, sizeof pass, "pw-%s", users[k]);
            const char *argv[] = {"mosquitto_passwd", k == 0 ? "-c" : "-b", path, users[k], pass, NULL};
            const char *argv_b[] = {"mosquitto_passwd", "-c", "-b", path, users[k], pass, NULL};
            if (run(k == 0 ? argv_b : argv) != 0) return -1;
        }
        chmod(path, 0600);
        snprintf(path, sizeof path, "%s/acl", b->dir);
        f = fopen(path, "w");
        if (!f) return -1;
        /* the rules of deploy/mosquitto/acl.example, with gateway user "gw" of site "site1" */
        fprintf(f, "user gw\ntopic readwrite alfaspark/site1/#\ntopic readwrite homeassistant/#\n\n"
                   "pattern read alfaspark/%%u/#\npattern write alfaspark/%%u/cmd/#\n"
                   "pattern write alfaspark/%%u/pack/+/cmd/#\n");
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/mosquitto.conf", b->dir);
    f = fopen(path, "w");
    if (!f) return -1;
    /* set_tcp_nodelay as in deploy/mosquitto/alfaspark.conf: a command must not wait for the
     * acknowledgement of the previous result (Nagle + delayed ACK = 40 ms) */
    fprintf(f, "per_listener_settings false\nlistener %d 127.0.0.1\npersistence false\nset_tcp_nodelay true\n", b->port);
    if (auth) {
        fprintf(f, "allow_anonymous false\npassword_file %s/passwd\nacl_file %s/acl\n", b->dir, b->dir);
    } else {
        fprintf(f, "allow_anonymous true\n");
    }
    if (b->tls_port > 0) {
        fprintf(f, "listener %d 127.0.0.1\ncafile %s\ncertfile %s/server.crt\nkeyfile %s/server.key\n", b->tls_port,
                b->ca_file, b->dir, b->dir);
    }
    fprintf(f, "log_dest file %s/mosquitto.log\n", b->dir);
    if (geteuid() == 0) fprintf(f, "user root\n"); /* do not drop to "mosquitto": our files are private */
    fclose(f);
    b->pid = fork();
    if (b->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("mosquitto", "mosquitto", "-c", path, (char *)NULL);
        _exit(127);
    }
    for (int k = 0; k < 250; k++) {
        if (port_open(b->port)) return 0;
        int st;
        if (waitpid(b->pid, &st, WNOHANG) == b->pid) return -1;
        nap_ms(20);
    }
    return -1;
}

int hx_broker_enable_tls(hx_broker_t *b)
{
    char ca_key[200], csr[200], key[200], crt[200], ext[200], serial[200];
    if (b->dir[0] == '\0') {
        snprintf(b->dir, sizeof b->dir, "/tmp/alfa-gwtest-XXXXXX");
        if (mkdtemp(b->dir) == NULL) return -1;
    }
    snprintf(b->ca_file, sizeof b->ca_file, "%s/ca.crt", b->dir);
    snprintf(ca_key, sizeof ca_key, "%s/ca.key", b->dir);
    snprintf(csr, sizeof csr, "%s/server.csr", b->dir);
    snprintf(key, sizeof key, "%s/server.key", b->dir);
    snprintf(crt, sizeof crt, "%s/server.crt", b->dir);
    snprintf(ext, sizeof ext, "%s/san.ext", b->dir);
    snprintf(serial, sizeof serial, "%s/ca.srl", b->dir);
    FILE *f = fopen(ext, "w");
    if (!f) return -1;
    fputs("subjectAltName=DNS:localhost,IP:127.0.0.1\n", f);
    fclose(f);
    const char *a1[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", ca_key, "-out", b->ca_file, "-days", "2", "-subj", "/CN=alfaspark-test-ca", NULL};
    const char *a2[] = {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", csr, "-subj", "/CN=localhost", NULL};
    const char *a3[] = {"openssl", "x509", "-req", "-in", csr, "-CA", b->ca_file, "-CAkey", ca_key, "-CAcreateserial",
                        "-CAserial", serial, "-out", crt, "-days", "2", "-extfile", ext, NULL};
    if (run(a1) != 0 || run(a2) != 0 || run(a3) != 0) return -1;
    chmod(key, 0644);
    b->tls_port = free_port();
    return b->tls_port > 0 ? 0 : -1;
}

void hx_broker_stop(hx_broker_t *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
}

void hx_broker_cleanup(hx_broker_t *b)
{
    if (b->dir[0] == '\0' || getenv("ALFA_KEEP_LOGS")) return;
    const char *argv[] = {"rm", "-rf", b->dir, NULL};
    run(argv);
    b->dir[0] = '\0';
}

int hx_bus_open(hx_bus_t *bus)
{
    memset(bus, 0, sizeof *bus);
    bus->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (bus->master < 0 || grantpt(bus->master) < 0 || unlockpt(bus->master) < 0) return -1;
    snprintf(bus->path, sizeof bus->path, "%s", ptsname(bus->master));
    /* keep the slave open ourselves: the master never sees a hang-up while the gateway restarts */
    bus->slave = open(bus->path, O_RDWR | O_NOCTTY);
    if (bus->slave < 0) return -1;
    struct termios tio;
    if (tcgetattr(bus->slave, &tio) < 0) return -1;
    cfmakeraw(&tio);
    if (tcsetattr(bus->slave, TCSANOW, &tio) < 0) return -1;
    return alfa_slcan_attach(&bus->sl, bus->master, 6u);
}

void hx_bus_close(hx_bus_t *bus)
{
    close(bus->master);
    close(bus->slave);
}

void hx_bus_send(hx_bus_t *bus, const alfa_can_frame_t *f)
{
    int32_t rc = ALFA_PORT_E_FULL;
    for (int k = 0; k < 100 && rc == ALFA_PORT_E_FULL; k++) {
        rc = alfa_slcan_send(&bus->sl, f);
        if (rc == ALFA_PORT_E_FULL) nap_ms(1);
    }
    if (rc < 0) {
        /* The test's own adapter failed: whatever the test checks next would mislead. */
        fprintf(stderr, "gw_harness: a frame could not be sent on the test bus (%d)\n", (int)rc);
        abort();
    }
}

int hx_bus_pump(hx_bus_t *bus, int timeout_ms)
{
    int got = 0;
    uint32_t t0 = hx_ms();
    for (;;) {
        alfa_can_frame_t f;
        int32_t rc;
        while ((rc = alfa_slcan_recv(&bus->sl, &f)) == 1) {
            if (bus->n_seen < HX_MAX_FRAMES) bus->seen[bus->n_seen++] = f;
            got++;
        }
        if (got || (int)(hx_ms() - t0) >= timeout_ms) return got;
        struct pollfd p = {bus->master, POLLIN, 0};
        poll(&p, 1, 5); /* only a pause: the reads above tell what came */
    }
}

int hx_bus_count(const hx_bus_t *bus, int cls, int code)
{
    int n = 0;
    for (int k = 0; k < bus->n_seen; k++) {
        const alfa_can_frame_t *f = &bus->seen[k];
        if (alfa_proto_classify(f) != cls) continue;
        if (code >= 0 && ALFA_PROTO_ID_AUX(f->id) != code) continue;
        n++;
    }
    return n;
}

void hx_pack_init(hx_pack_t *p, uint64_t serial, uint8_t node)
{
    memset(p, 0, sizeof *p);
    p->serial = serial;
    p->node = node;
    p->auto_ack = 1;
    p->t.p_grid_w = 1234;
    p->t.p_home_w = 2000;
    p->t.p_batt_w = -500;
    p->t.p_solar_w = 266;
    p->t.v_pack_mv = 52000;
    p->t.i_batt_ma = -9600;
    p->t.soc_pct = 56;
    p->t.relays_closed = 0x3;
    p->t.mode = ALFA_MODE_ECO;
    p->t.grid_import_today_wh = 4321;
}

void hx_pack_heartbeat(hx_bus_t *bus, const hx_pack_t *p)
{
    alfa_heartbeat_t hb = {p->node, ALFA_DEV_PACK, 0, p->serial, 2, 5, 0};
    alfa_can_frame_t f;
    if (alfa_proto_heartbeat_encode(&hb, &f) == 0) hx_bus_send(bus, &f);
}

void hx_pack_telemetry(hx_bus_t *bus, hx_pack_t *p)
{
    alfa_can_frame_t fr[ALFA_TELEM_PARTS];
    p->t.cycle = p->cycle++;
    if (alfa_proto_telem_encode(&p->t, p->node, fr) != 0) return;
    for (unsigned k = 0; k < ALFA_TELEM_PARTS; k++) hx_bus_send(bus, &fr[k]);
}

int hx_packs_answer(hx_bus_t *bus, hx_pack_t *packs, int n, int from)
{
    for (; from < bus->n_seen; from++) {
        alfa_cmd_t env;
        uint8_t pl[ALFA_CMD_PAYLOAD_MAX], plen;
        if (alfa_proto_cmd_envelope(&bus->seen[from], &env, pl, &plen) < 0) continue;
        for (int k = 0; k < n; k++) {
            hx_pack_t *p = &packs[k];
            if (!p->auto_ack || (env.dst != ALFA_NODE_BROADCAST && env.dst != p->node)) continue;
            alfa_ack_t a = {p->node, env.src, env.code, env.seq, p->ack_result};
            alfa_can_frame_t f;
            if (alfa_proto_ack_encode(&a, &f) == 0) hx_bus_send(bus, &f);
        }
    }
    return from;
}

int hx_gw_start(hx_gw_t *g, const hx_broker_t *b, const char *site, const hx_bus_t *bus, const char *const *extra)
{
    const char *bin = getenv("ALFA_BIN_DIR");
    char exe[256], port[16], can[96], sitearg[96];
    snprintf(exe, sizeof exe, "%s/alfaspark-gateway", bin ? bin : "build/bin");
    snprintf(port, sizeof port, "%d", b->port);
    snprintf(can, sizeof can, "slcan:%s", bus->path);
    snprintf(sitearg, sizeof sitearg, "%s", site);
    snprintf(g->log, sizeof g->log, "%s/gateway.log", b->dir);
    /* The test machines' clocks are right but not NTP-synchronized: the gateway is told to send
     * its time anyway (the unit tests cover the refusal of an unsynchronized clock). */
    const char *argv[48] = {exe, "--host", "127.0.0.1", "--port", port, "--site", sitearg, "--can", can, "-v",
                            "--set", "time.require_sync=false"};
    int n = 12;
    for (int k = 0; extra && extra[k] && n < 44; k++) argv[n++] = extra[k];
    argv[n] = NULL;
    g->pid = fork();
    if (g->pid == 0) {
        int fd = open(g->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    return g->pid > 0 ? 0 : -1;
}

void hx_gw_kill(hx_gw_t *g, int sig)
{
    if (g->pid > 0) {
        kill(g->pid, sig);
        waitpid(g->pid, NULL, 0);
        g->pid = 0;
    }
}

static void on_msg(struct mosquitto *m, void *user, const struct mosquitto_message *msg)
{
    (void)m;
    hx_client_t *c = user;
    pthread_mutex_lock(&c->lock);
    if (c->n < HX_MAX_MSGS) {
        hx_msg_t *x = &c->msgs[c->n++];
        snprintf(x->topic, sizeof x->topic, "%s", msg->topic);
        int len = msg->payloadlen < (int)sizeof x->payload - 1 ? msg->payloadlen : (int)sizeof x->payload - 1;
        memcpy(x->payload, msg->payload, (size_t)len);
        x->payload[len] = '\0';
        x->len = msg->payloadlen;
        x->retain = msg->retain;
    }
    pthread_mutex_unlock(&c->lock);
}

static void on_conn(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    hx_client_t *c = user;
    pthread_mutex_lock(&c->lock);
    c->connect_rc = rc;
    pthread_mutex_unlock(&c->lock);
}

int hx_client_connect(hx_client_t *c, int port, const char *id, const char *user, const char *pass)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->msgs = calloc(HX_MAX_MSGS, sizeof *c->msgs);
    c->connect_rc = -1;
    if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) return -1;
    c->m = mosquitto_new(id, true, c);
    if (!c->m || !c->msgs) return -1;
    mosquitto_message_callback_set(c->m, on_msg);
    mosquitto_connect_callback_set(c->m, on_conn);
    if (user && mosquitto_username_pw_set(c->m, user, pass) != MOSQ_ERR_SUCCESS) return -1;
    if (mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1) != MOSQ_ERR_SUCCESS) return -1;
    if (mosquitto_connect(c->m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) return -1;
    if (mosquitto_loop_start(c->m) != MOSQ_ERR_SUCCESS) return -1;
    for (int k = 0; k < 300; k++) {
        pthread_mutex_lock(&c->lock);
        int rc = c->connect_rc;
        pthread_mutex_unlock(&c->lock);
        if (rc >= 0) return rc;
        nap_ms(10);
    }
    return -1;
}

/* A test client that cannot subscribe or publish makes every later check mislead: stop there. */
static void client_check(int rc, const char *what, const char *topic)
{
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "gw_harness: %s %s: %s\n", what, topic, mosquitto_strerror(rc));
        abort();
    }
}

void hx_client_sub(hx_client_t *c, const char *topic) { client_check(mosquitto_subscribe(c->m, NULL, topic, 1), "subscribe", topic); }

void hx_client_pub(hx_client_t *c, const char *topic, const char *payload, int retain)
{
    client_check(mosquitto_publish(c->m, NULL, topic, (int)strlen(payload), payload, 1, retain != 0), "publish", topic);
}

void hx_client_close(hx_client_t *c)
{
    if (c->m) {
        mosquitto_disconnect(c->m);
        mosquitto_loop_stop(c->m, true);
        mosquitto_destroy(c->m);
        c->m = NULL;
    }
    free(c->msgs);
    c->msgs = NULL;
    pthread_mutex_destroy(&c->lock);
}

static int find_from(hx_client_t *c, const char *topic, const char *needle, int from)
{
    int found = -1;
    pthread_mutex_lock(&c->lock);
    for (int k = from; k < c->n; k++) {
        if (strcmp(c->msgs[k].topic, topic) == 0 && (needle == NULL || strstr(c->msgs[k].payload, needle))) {
            found = k;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

int hx_wait(hx_client_t *c, const char *topic, const char *needle, int timeout_ms, hx_bus_t *bus, hx_pack_t *packs,
            int npacks, int *bus_from)
{
    uint32_t t0 = hx_ms();
    for (;;) {
        int i = find_from(c, topic, needle, 0);
        if (i >= 0) return i;
        if ((int)(hx_ms() - t0) >= timeout_ms) return -1;
        if (bus) {
            hx_bus_pump(bus, 5);
            if (packs && bus_from) *bus_from = hx_packs_answer(bus, packs, npacks, *bus_from);
        } else {
            nap_ms(5);
        }
    }
}

int hx_count(hx_client_t *c, const char *topic, const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&c->lock);
    for (int k = 0; k < c->n; k++) {
        if (strcmp(c->msgs[k].topic, topic) == 0 && (needle == NULL || strstr(c->msgs[k].payload, needle))) n++;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

const hx_msg_t *hx_msg(hx_client_t *c, int i) { return (i >= 0 && i < c->n) ? &c->msgs[i] : NULL; }

void hx_settle(int ms, hx_bus_t *bus, hx_pack_t *packs, int npacks, int *bus_from)
{
    uint32_t t0 = hx_ms();
    while ((int)(hx_ms() - t0) < ms) {
        if (bus) {
            hx_bus_pump(bus, 5);
            if (packs && bus_from) *bus_from = hx_packs_answer(bus, packs, npacks, *bus_from);
        } else {
            nap_ms(5);
        }
    }
}

int hx_run(const char *const *argv, const char *out, int timeout_ms, hx_bus_t *bus, hx_pack_t *packs, int npacks,
           int *bus_from)
{
    const char *bin = getenv("ALFA_BIN_DIR");
    char exe[256];
    snprintf(exe, sizeof exe, "%s/%s", bin ? bin : "build/bin", argv[0]);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    uint32_t t0 = hx_ms();
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if ((int)(hx_ms() - t0) > timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        hx_settle(10, bus, packs, npacks, bus_from);
    }
}
