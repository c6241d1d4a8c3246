/* The gateway's MQTT command parser: topic + JSON payload -> a validated CAN command, or a reason. */
#include "alfa/gw_cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alfa/gw_json.h"
#include "alfa/names.h"
#include "alfa/settings.h"

static const char *const result_names[GW_R_COUNT] = {
    [GW_R_OK] = "ok",
    [GW_R_UNKNOWN_COMMAND] = "unknown_command",
    [GW_R_BAD_LENGTH] = "bad_length",
    [GW_R_OUT_OF_RANGE] = "out_of_range",
    [GW_R_NOT_ALLOWED] = "not_allowed",
    [GW_R_FAILED] = "failed",
    [GW_R_TIMEOUT] = "timeout",
    [GW_R_INVALID_JSON] = "invalid_json",
    [GW_R_BAD_VALUE] = "bad_value",
    [GW_R_UNKNOWN_PACK] = "unknown_pack",
    [GW_R_RATE_LIMITED] = "rate_limited",
    [GW_R_BUSY] = "busy",
    [GW_R_NO_PACKS] = "no_packs",
    [GW_R_BUS_ERROR] = "bus_error",
};
_Static_assert(sizeof result_names / sizeof result_names[0] == GW_R_COUNT, "result names");

const char *gw_result_name(gw_result_t r)
{
    if ((unsigned)r >= GW_R_COUNT || result_names[r] == NULL) return "?";
    return result_names[r];
}

gw_result_t gw_result_from_ack(uint8_t ack_result)
{
    switch (ack_result) {
    case ALFA_ACK_OK: return GW_R_OK;
    case ALFA_ACK_UNKNOWN_CMD: return GW_R_UNKNOWN_COMMAND;
    case ALFA_ACK_BAD_LENGTH: return GW_R_BAD_LENGTH;
    case ALFA_ACK_OUT_OF_RANGE: return GW_R_OUT_OF_RANGE;
    case ALFA_ACK_NOT_ALLOWED: return GW_R_NOT_ALLOWED;
    default: return GW_R_FAILED;
    }
}

/* The names are the protocol's one table (alfa/names.h); these wrappers keep the gateway's API. */
const char *gw_mode_name(uint32_t mode) { return alfa_mode_name(mode); }
const char *gw_relay_name(uint32_t relay) { return alfa_relay_name(relay); }
const char *gw_override_name(uint32_t ovr) { return alfa_override_name(ovr); }
const char *gw_fault_name(uint32_t bit) { return alfa_fault_name(bit); }
const char *gw_warning_name(uint32_t bit) { return alfa_warning_name(bit); }

void gw_serial_hex(uint64_t serial, char out[GW_SERIAL_HEX + 1u])
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned k = 0; k < GW_SERIAL_HEX; k++) {
        out[k] = hex[(serial >> (4u * (GW_SERIAL_HEX - 1u - k))) & 15u];
    }
    out[GW_SERIAL_HEX] = '\0';
}

/* ---------------------------------------------------------------- helpers */

typedef struct ctx {
    const gw_json_doc_t *doc;
    gw_cmd_req_t *req;
    uint32_t used; /* bit k: member k consumed by the command */
} ctx_t;

static int refuse(ctx_t *c, gw_result_t r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->req->detail, sizeof c->req->detail, fmt, ap);
    va_end(ap);
    return -(int)r;
}

static const gw_json_member_t *member(ctx_t *c, const char *key)
{
    for (uint32_t k = 0; k < c->doc->count; k++) {
        if (strcmp(c->doc->m[k].key, key) == 0) {
            c->used |= 1u << k;
            return &c->doc->m[k];
        }
    }
    return NULL;
}

/* Integer member in [min, max]. `req`: missing is an error; else *out keeps its default. */
static int get_int(ctx_t *c, const char *key, int required, int64_t min, int64_t max, const char *unit,
                   int64_t *out)
{
    const gw_json_member_t *m = member(c, key);
    if (m == NULL) {
        if (required) return refuse(c, GW_R_BAD_VALUE, "missing \"%s\"", key);
        return 0;
    }
    if (m->type != GW_JSON_INT) return refuse(c, GW_R_BAD_VALUE, "\"%s\" must be an integer", key);
    if (m->i < min || m->i > max) {
        return refuse(c, GW_R_OUT_OF_RANGE, "\"%s\" must be %lld..%lld%s%s", key, (long long)min,
                      (long long)max, unit && unit[0] ? " " : "", unit ? unit : "");
    }
    *out = m->i;
    return 0;
}

/* Boolean member (true/false; 0/1 accepted as well). */
static int get_bool(ctx_t *c, const char *key, int required, int *out)
{
    const gw_json_member_t *m = member(c, key);
    if (m == NULL) {
        if (required) return refuse(c, GW_R_BAD_VALUE, "missing \"%s\"", key);
        return 0;
    }
    if ((m->type == GW_JSON_BOOL) || (m->type == GW_JSON_INT && (m->i == 0 || m->i == 1))) {
        *out = (int)m->i;
        return 0;
    }
    if (m->type == GW_JSON_STRING && (strcmp(m->s, "on") == 0 || strcmp(m->s, "off") == 0)) {
        *out = m->s[1] == 'n';
        return 0;
    }
    return refuse(c, GW_R_BAD_VALUE, "\"%s\" must be true or false", key);
}

/* Enum member: one of names[first..count-1], or its number. */
static int get_enum(ctx_t *c, const char *key, const char *(*name)(uint32_t), uint32_t first, uint32_t count,
                    int64_t *out)
{
    const gw_json_member_t *m = member(c, key);
    if (m == NULL) return refuse(c, GW_R_BAD_VALUE, "missing \"%s\"", key);
    if (m->type == GW_JSON_STRING) {
        for (uint32_t k = first; k < count; k++) {
            if (strcmp(m->s, name(k)) == 0) {
                *out = k;
                return 0;
            }
        }
    } else if (m->type == GW_JSON_INT) {
        if (m->i >= first && m->i < count) {
            *out = m->i;
            return 0;
        }
        return refuse(c, GW_R_OUT_OF_RANGE, "\"%s\" must be %u..%u", key, first, count - 1u);
    }
    char list[96];
    size_t n = 0;
    list[0] = '\0';
    for (uint32_t k = first; k < count && n < sizeof list; k++) {
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", k > first ? ", " : "", name(k));
    }
    return refuse(c, m->type == GW_JSON_STRING ? GW_R_OUT_OF_RANGE : GW_R_BAD_VALUE,
                  "\"%s\" must be one of: %s", key, list);
}

/* Integer member checked against a row of the shared settings table. */
static int get_setting(ctx_t *c, const char *key, uint32_t id, int64_t *out)
{
    const alfa_setting_desc_t *d = alfa_settings_desc(id);
    if (d == NULL) return refuse(c, GW_R_FAILED, "settings table has no id %u", id);
    return get_int(c, key, 1, d->min, d->max, d->unit, out);
}

/* ---------------------------------------------------------------- topic */

static int parse_topic(const char *site, const char *topic, size_t tlen, gw_cmd_req_t *req)
{
    size_t slen = strlen(site);
    static const char root[] = "alfaspark/";
    const size_t rlen = sizeof root - 1u;
    if (tlen < rlen + slen + 1u || memcmp(topic, root, rlen) != 0 ||
        memcmp(topic + rlen, site, slen) != 0 || topic[rlen + slen] != '/') {
        return GW_CMD_NOT_A_COMMAND;
    }
    const char *p = topic + rlen + slen + 1u;
    const char *end = topic + tlen;
    if ((size_t)(end - p) > 5u && memcmp(p, "pack/", 5) == 0) {
        p += 5;
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if (slash == NULL || (size_t)(end - slash) < 5u || memcmp(slash, "/cmd/", 5) != 0) {
            return GW_CMD_NOT_A_COMMAND;
        }
        req->for_pack = 1;
        size_t n = (size_t)(slash - p);
        uint64_t v = 0;
        int ok = n == GW_SERIAL_HEX;
        for (size_t k = 0; ok && k < n; k++) {
            char ch = p[k];
            int h = (ch >= '0' && ch <= '9') ? ch - '0'
                    : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                    : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10 : -1;
            if (h < 0) ok = 0;
            else v = (v << 4) | (uint64_t)h;
        }
        if (!ok) {
            size_t shown = n < GW_SERIAL_HEX ? n : GW_SERIAL_HEX;
            memcpy(req->serial_hex, p, shown);
            req->serial_hex[shown] = '\0';
            for (size_t k = 0; k < shown; k++) {
                if ((unsigned char)req->serial_hex[k] < 0x20u || req->serial_hex[k] == '"') req->serial_hex[k] = '?';
            }
            snprintf(req->detail, sizeof req->detail, "a pack serial is 12 hex digits");
            return -(int)GW_R_UNKNOWN_PACK;
        }
        req->serial = v;
        gw_serial_hex(v, req->serial_hex);
        p = slash + 5;
    } else if ((size_t)(end - p) > 4u && memcmp(p, "cmd/", 4) == 0) {
        p += 4;
    } else {
        return GW_CMD_NOT_A_COMMAND;
    }
    size_t nlen = (size_t)(end - p);
    if (nlen == 6u && memcmp(p, "result", 6) == 0) return GW_CMD_NOT_A_COMMAND; /* our own output */
    if (memchr(p, '/', nlen) != NULL) return GW_CMD_NOT_A_COMMAND;
    if (nlen >= sizeof req->name) {
        snprintf(req->detail, sizeof req->detail, "unknown command");
        return -(int)GW_R_UNKNOWN_COMMAND;
    }
    memcpy(req->name, p, nlen);
    req->name[nlen] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- commands */

static int parse_fields(ctx_t *c, alfa_cmd_t *cmd)
{
    gw_cmd_req_t *req = c->req;
    int64_t a = 0, b = 0, d = 0;
    int on = 0, rc;
    switch (cmd->code) {
    case ALFA_CMD_SET_MODE:
        if ((rc = get_enum(c, "mode", alfa_mode_name, 1, ALFA_MODE_COUNT, &a)) < 0) return rc;
        if ((rc = get_bool(c, "on", 0, &on)) < 0) return rc;
        if (member(c, "on") == NULL) on = 1;
        cmd->u.set_mode.mode = (uint8_t)a;
        cmd->u.set_mode.on = (uint8_t)on;
        return 0;
    case ALFA_CMD_SET_SC_THRESHOLDS: {
        alfa_settings_t s;
        const char *why = NULL;
        if ((rc = get_setting(c, "low_pct", ALFA_SET_SC_LOW_PCT, &a)) < 0) return rc;
        if ((rc = get_setting(c, "high_pct", ALFA_SET_SC_HIGH_PCT, &b)) < 0) return rc;
        alfa_settings_defaults(&s);
        if (alfa_settings_check(&s, ALFA_SET_SC_LOW_PCT, (int32_t)a, &why) < 0) {
            return refuse(c, GW_R_OUT_OF_RANGE, "%s", why ? why : "low_pct out of range");
        }
        s.sc_low_pct = (int32_t)a;
        if (alfa_settings_check(&s, ALFA_SET_SC_HIGH_PCT, (int32_t)b, &why) < 0) {
            return refuse(c, GW_R_OUT_OF_RANGE, "%s", why ? why : "high_pct out of range");
        }
        cmd->u.sc_thresholds.low_pct = (uint8_t)a;
        cmd->u.sc_thresholds.high_pct = (uint8_t)b;
        return 0;
    }
    case ALFA_CMD_SET_ECO_LIMIT:
        if ((rc = get_setting(c, "limit_w", ALFA_SET_ECO_LIMIT_W, &a)) < 0) return rc;
        cmd->u.eco_limit.limit_w = (uint32_t)a;
        return 0;
    case ALFA_CMD_SET_TOU_WINDOW:
        if ((rc = get_int(c, "index", 1, 0, ALFA_TOU_WINDOWS - 1, "", &a)) < 0) return rc;
        if ((rc = get_setting(c, "start_min", ALFA_SET_TOU0_START_MIN, &b)) < 0) return rc;
        if ((rc = get_setting(c, "end_min", ALFA_SET_TOU0_END_MIN, &d)) < 0) return rc;
        on = 1;
        if ((rc = get_bool(c, "enabled", 0, &on)) < 0) return rc;
        cmd->u.tou_window.index = (uint8_t)a;
        cmd->u.tou_window.start_min = (uint16_t)b;
        cmd->u.tou_window.end_min = (uint16_t)d;
        cmd->u.tou_window.enabled = (uint8_t)on;
        return 0;
    case ALFA_CMD_SET_GRID_LIMIT:
        if ((rc = get_bool(c, "on", 1, &on)) < 0) return rc;
        if ((rc = get_setting(c, "limit_kwh", ALFA_SET_GRID_LIMIT_KWH, &a)) < 0) return rc;
        cmd->u.grid_limit.on = (uint8_t)on;
        cmd->u.grid_limit.limit_kwh = (uint8_t)a;
        return 0;
    case ALFA_CMD_SET_RELAY_OVERRIDE:
        if ((rc = get_enum(c, "relay", alfa_relay_name, 0, 4, &a)) < 0) return rc;
        if ((rc = get_enum(c, "override", alfa_override_name, 0, 3, &b)) < 0) return rc;
        cmd->u.relay_override.relay = (uint8_t)a;
        cmd->u.relay_override.override = (uint8_t)b;
        return 0;
    case ALFA_CMD_SET_CALIBRATION: {
        if ((rc = get_enum(c, "ct", alfa_relay_name, 0, 4, &a)) < 0) return rc;
        uint32_t gain_id = ALFA_SET_CT_GRID_GAIN_UA + 2u * (uint32_t)a;
        if ((rc = get_setting(c, "gain_ua", gain_id, &b)) < 0) return rc;
        if ((rc = get_setting(c, "offset_ma", gain_id + 1u, &d)) < 0) return rc;
        if (d < INT16_MIN || d > INT16_MAX) return refuse(c, GW_R_OUT_OF_RANGE, "\"offset_ma\" does not fit the frame");
        cmd->u.calibration.ct = (uint8_t)a;
        cmd->u.calibration.gain_ua = (uint32_t)b;
        cmd->u.calibration.offset_ma = (int16_t)d;
        return 0;
    }
    case ALFA_CMD_SET_TIME:
        req->time_from_gateway = member(c, "unix_s") == NULL;
        req->offset_from_gateway = member(c, "utc_offset_min") == NULL;
        if ((rc = get_int(c, "unix_s", 0, 0, UINT32_MAX, "s", &a)) < 0) return rc;
        if ((rc = get_int(c, "utc_offset_min", 0, ALFA_PROTO_UTC_OFFSET_MIN, ALFA_PROTO_UTC_OFFSET_MAX, "min",
                          &b)) < 0) {
            return rc;
        }
        cmd->u.set_time.unix_s = (uint32_t)a;
        cmd->u.set_time.utc_offset_min = (int16_t)b;
        return 0;
    case ALFA_CMD_IDENTIFY:
        a = 10;
        if ((rc = get_int(c, "seconds", 0, 0, 255, "s", &a)) < 0) return rc;
        cmd->u.identify.seconds = (uint8_t)a;
        return 0;
    case ALFA_CMD_READ_SETTINGS:
    case ALFA_CMD_REBOOT:
        return 0;
    case ALFA_CMD_FACTORY_RESET: {
        const gw_json_member_t *m = member(c, "confirm");
        if (m == NULL ||
            !((m->type == GW_JSON_STRING && strcmp(m->s, "factory_reset") == 0) ||
              (m->type == GW_JSON_INT && m->i == (int64_t)ALFA_FACTORY_RESET_CODE))) {
            return refuse(c, GW_R_BAD_VALUE, "factory_reset needs \"confirm\":\"factory_reset\"");
        }
        cmd->u.factory_reset.confirm = ALFA_FACTORY_RESET_CODE;
        return 0;
    }
    case ALFA_CMD_SET_SETTING: {
        const gw_json_member_t *m = member(c, "setting");
        const alfa_setting_desc_t *desc = NULL;
        if (m != NULL && m->type == GW_JSON_STRING) {
            int id = alfa_settings_find(m->s, m->s_len);
            if (id >= 0) desc = alfa_settings_desc((uint32_t)id);
            if (desc == NULL) return refuse(c, GW_R_OUT_OF_RANGE, "no setting called \"%s\"", m->s);
        } else if (m != NULL && m->type == GW_JSON_INT) {
            if (m->i >= 0 && m->i < ALFA_SET_COUNT) desc = alfa_settings_desc((uint32_t)m->i);
            if (desc == NULL) return refuse(c, GW_R_OUT_OF_RANGE, "no setting with id %lld", (long long)m->i);
        } else {
            return refuse(c, GW_R_BAD_VALUE, "\"setting\" must be a setting name or id");
        }
        if (desc->id == ALFA_SET_NODE_ID) {
            return refuse(c, GW_R_NOT_ALLOWED, "node_id is claimed on the bus, not set over MQTT");
        }
        if ((rc = get_int(c, "value", 1, desc->min, desc->max, desc->unit, &a)) < 0) return rc;
        if (desc->id != ALFA_SET_SC_LOW_PCT && desc->id != ALFA_SET_SC_HIGH_PCT) {
            /* cross-field rules that do not depend on the pack's other values (mains 50/60) */
            alfa_settings_t s;
            const char *why = NULL;
            alfa_settings_defaults(&s);
            if (alfa_settings_check(&s, desc->id, (int32_t)a, &why) < 0) {
                return refuse(c, GW_R_OUT_OF_RANGE, "%s", why ? why : "out of range");
            }
        }
        cmd->u.set_setting.id = desc->id;
        cmd->u.set_setting.value = (int32_t)a;
        return 0;
    }
    default:
        return refuse(c, GW_R_UNKNOWN_COMMAND, "unknown command \"%s\"", req->name);
    }
}

int gw_cmd_parse(const char *site, const char *topic, size_t topic_len, const char *payload,
                 size_t payload_len, gw_cmd_req_t *req)
{
    memset(req, 0, sizeof *req);
    strcpy(req->id_json, "null");
    if (site == NULL || topic == NULL) return GW_CMD_NOT_A_COMMAND;
    int rc = parse_topic(site, topic, topic_len, req);
    if (rc != 0) return rc;

    gw_json_doc_t doc;
    ctx_t c = {&doc, req, 0};
    if (gw_json_parse(&doc, payload, payload_len) < 0) {
        return refuse(&c, GW_R_INVALID_JSON, "invalid JSON: %s at byte %zu", doc.error, doc.error_at);
    }
    const gw_json_member_t *id = member(&c, "id");
    if (id != NULL) {
        if ((id->type != GW_JSON_STRING && id->type != GW_JSON_INT) || id->raw_len > GW_ID_MAX) {
            return refuse(&c, GW_R_BAD_VALUE, "\"id\" must be a string or an integer (at most %u characters)",
                          GW_ID_MAX);
        }
        if (id->type == GW_JSON_STRING) {
            /* re-encode so that what we echo is our own well-formed JSON */
            gw_jw_t w;
            gw_jw_init(&w, req->id_json, sizeof req->id_json);
            gw_jw_strn(&w, id->s, id->s_len);
            if (gw_jw_finish(&w) < 0) {
                strcpy(req->id_json, "null");
                return refuse(&c, GW_R_BAD_VALUE, "\"id\" too long");
            }
        } else {
            memcpy(req->id_json, id->raw, id->raw_len);
            req->id_json[id->raw_len] = '\0';
        }
    }
    const gw_json_member_t *cl = member(&c, "client");
    if (cl != NULL) {
        if (cl->type != GW_JSON_STRING || cl->s_len == 0 || cl->s_len > GW_CLIENT_MAX ||
            strlen(cl->s) != cl->s_len) {
            return refuse(&c, GW_R_BAD_VALUE, "\"client\" must be a string of 1..%u characters", GW_CLIENT_MAX);
        }
        memcpy(req->client, cl->s, cl->s_len + 1u);
    }
    int code = alfa_cmd_from_name(req->name);
    if (code < 0) return refuse(&c, GW_R_UNKNOWN_COMMAND, "unknown command \"%s\"", req->name);
    memset(&req->cmd, 0, sizeof req->cmd);
    req->cmd.code = (uint8_t)code;
    rc = parse_fields(&c, &req->cmd);
    if (rc < 0) return rc;
    for (uint32_t k = 0; k < doc.count; k++) {
        if (!(c.used & (1u << k))) {
            return refuse(&c, GW_R_BAD_VALUE, "unknown member \"%.40s\" for %s", doc.m[k].key, req->name);
        }
    }
    return 0;
}
