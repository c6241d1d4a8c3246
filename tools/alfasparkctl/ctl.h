/* alfasparkctl's shared parts: the context, the command table row, the MQTT session and the JSON reader every subcommand uses. */
#ifndef ALFA_CTL_H
#define ALFA_CTL_H

/*
 * alfasparkctl is one table of subcommands (ctl_main.c, `commands[]`). A row names the
 * subcommand, its arguments and a line of help, and points at the function that runs it. A run
 * function checks its own arguments first (ctl_usage_error names the bad one and exits 2 before
 * anything touches the network), then opens the session (ctl_connect), then talks to the gateway.
 *
 * Adding a subcommand: write `int ctl_<name>(ctl_t *, const ctl_cmd_t *, int, char **)` in its
 * own file tools/alfasparkctl/ctl_<name>.c (the build picks up every ctl_*.c), declare it below,
 * and add one row to commands[]. It may set `on_message` to see the site's other topics.
 *
 * Exit statuses (every run function returns one): CTL_OK, CTL_FAILED (a refusal, a pack that did
 * not answer ok, a timeout), CTL_USAGE (bad arguments, no broker, login refused), CTL_NO_GATEWAY
 * (no gateway for the site on this broker, or it is offline).
 *
 * The session keeps a view of the site from its retained topics (gateway/status, site/state,
 * every pack's status, state and settings), complete once ctl_connect returns and kept current
 * by every ctl_loop. Only packs the gateway published a status, state or settings for are in it.
 */

#include <mosquitto.h>
#include <stddef.h>
#include <stdint.h>

enum { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2, CTL_NO_GATEWAY = 3 };

#define CTL_MAX_PACKS 64
#define CTL_DOC_MAX 2048 /* a state or settings document of one pack */
#define CTL_MAX_SITES 16

typedef struct ctl_pack {
    char serial[16];
    char status[16];               /* "online", "offline" or "" (never published) */
    char state[CTL_DOC_MAX];       /* the retained state JSON, or "" */
    char settings[CTL_DOC_MAX];    /* the settings object of its last read_settings, or "" */
} ctl_pack_t;

struct ctl;
typedef struct ctl_cmd ctl_cmd_t;

/* Called for every message of the site (topic without "alfaspark/<site>/"), after the view is updated. */
typedef void (*ctl_msg_fn)(struct ctl *c, const char *subtopic, const char *payload, size_t len);

typedef struct ctl {
    /* options (ctl_main.c) */
    const char *host, *site, *user, *password, *cafile, *pack;
    int port;
    long timeout_ms;
    int json;                      /* --json: machine-readable output */
    /* session */
    struct mosquitto *m;
    int connected;                 /* 1 after a CONNACK 0 */
    int connack;                   /* -1 until the CONNACK */
    int subacks;                   /* SUBACKs received */
    int site_refused;              /* the broker refused the site subscription (ACL) */
    int mid_site;                  /* message ID of that subscription */
    /* the view of the site */
    char gw_status[16];            /* "online", "offline", "" = nothing retained */
    char site_state[CTL_DOC_MAX];
    ctl_pack_t packs[CTL_MAX_PACKS];
    int n_packs;
    char sites[CTL_MAX_SITES][48]; /* other sites whose gateway/status this user can see */
    int n_sites;
    ctl_msg_fn on_message;         /* a subcommand's own hook, or NULL */
    void *user_data;               /* for that hook */
    ctl_msg_fn cmd_hook;           /* ctl_send's result collector while a command is in flight */
    void *cmd_state;
} ctl_t;

struct ctl_cmd {
    const char *name;              /* as typed: "set-mode" */
    const char *args;              /* argument synopsis: "MODE on|off" */
    const char *help;              /* one line */
    int (*run)(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv); /* argv[0] is the name */
    /* pack commands only: the JSON members of the MQTT command (without braces) from argv, or
     * CTL_USAGE after ctl_usage_error; run is then ctl_pack_command. */
    int (*build)(const ctl_cmd_t *cmd, int argc, char **argv, char *json, size_t cap);
    /* 1: every argument after the subcommand's name is its own, even one spelled like a global
     * option (update FILE --pack A --pack B); 0: global options may follow the name too. */
    int own_args;
};

/* ---- session (ctl_mqtt.c) ---- */

/* Connect, subscribe to the site and wait until every retained message of it has arrived.
 * CTL_OK, or CTL_USAGE with the reason printed. */
int ctl_connect(ctl_t *c);
/* CTL_OK when the site's gateway is online; else CTL_NO_GATEWAY with "no gateway for site ..."
 * or "the gateway of site ... is offline" printed (with the sites this broker does have). */
int ctl_require_gateway(ctl_t *c);
/* Serve the connection for up to `ms` (returns earlier on nothing; call in a loop). 0, or -1
 * when the connection is lost. */
int ctl_loop(ctl_t *c, int ms);
/* Publish `payload` on alfaspark/<site>/<subtopic> (QoS 1). 0 or -1 (reason printed). */
int ctl_publish(ctl_t *c, const char *subtopic, const char *payload);
/* The same for `len` bytes of any content (a firmware image). */
int ctl_publish_bytes(ctl_t *c, const char *subtopic, const void *data, size_t len);
/* Let queued messages leave, disconnect, free. 0, or -1 when a message may not have left (the
 * reason printed). Safe without a session. */
int ctl_disconnect(ctl_t *c);
/* The view's pack with this serial, or NULL. */
const ctl_pack_t *ctl_find_pack(const ctl_t *c, const char *serial);

/* ---- commands to the packs (ctl_cmds.c) ---- */

/* One cmd/result that answers the command in flight (ours by id, or an id-less refusal of it). */
typedef struct ctl_result {
    char pack[24];                 /* serial, or "all" for a refusal before anything reached CAN */
    char result[32];               /* "ok", "timeout", "out_of_range"... */
    char detail[160];
    const char *settings;          /* read_settings: the settings object's JSON text, else NULL */
    size_t settings_len;
    const char *raw;               /* the whole result message (valid during the callback) */
} ctl_result_t;
typedef void (*ctl_result_fn)(ctl_t *c, const ctl_result_t *r, void *user);

/* Send `command` (MQTT name, "set_mode") with JSON `members` to --pack or to every pack, and
 * collect the results: `each` sees every one as it arrives. Ends at once on a refusal that
 * concerns the whole command, else when every addressed pack answered or after --timeout-ms.
 * CTL_OK when every answer was ok, CTL_FAILED otherwise (the reason printed). */
int ctl_send(ctl_t *c, const char *command, const char *members, ctl_result_fn each, void *user);
/* The run function of every pack command row: build, connect, send, one line per result. */
int ctl_pack_command(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv);
/* Print "alfasparkctl: <name>: <what is wrong>" and the row's synopsis to stderr; CTL_USAGE. */
int ctl_usage_error(const ctl_cmd_t *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* the builders of the pack command rows */
int ctl_b_set_mode(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_set_sc_thresholds(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_set_eco_limit(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_set_tou_window(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_set_grid_limit(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_set_relay_override(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_set_calibration(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_set_time(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_identify(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_none(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_set_setting(const ctl_cmd_t *, int, char **, char *, size_t);
int ctl_b_factory_reset(const ctl_cmd_t *, int, char **, char *, size_t);

/* ---- views (ctl_view.c) ---- */

int ctl_status(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv);
int ctl_watch(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv);
int ctl_read_settings(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv);

/* ---- firmware update (ctl_update.c) ---- */

int ctl_update(ctl_t *c, const ctl_cmd_t *cmd, int argc, char **argv);

/* ---- the gateway's JSON documents (ctl_json.c) ---- */

/* The raw text of top-level member `key` of the JSON object `json` (strings with their quotes),
 * or NULL when absent or the text is not an object. `*len` gets its length. */
const char *ctl_json_raw(const char *json, const char *key, size_t *len);
/* Integer member (`*ok` 0 when absent or not an integer; then 0 is returned). */
long long ctl_json_int(const char *json, const char *key, int *ok);
/* Boolean member: 1 true, 0 false or absent. */
int ctl_json_true(const char *json, const char *key);
/* String member copied (unescaped, \u escapes outside ASCII as '?') into buf; "" when absent. */
const char *ctl_json_str(const char *json, const char *key, char *buf, size_t cap);
/* A JSON array of strings as "a, b, c" into buf; "" when absent or empty. */
const char *ctl_json_list(const char *json, const char *key, char *buf, size_t cap);

#endif
