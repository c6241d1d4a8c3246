/* Telemetry and site-totals codecs: records split into 8-byte parts tied together by a cycle byte. */
#include "alfa/proto.h"
#include "alfa/bytes.h"
#include "proto_internal.h"

static int i24_ok(int32_t v) { return v >= ALFA_I24_MIN && v <= ALFA_I24_MAX; }
static int u24_ok(uint32_t v) { return v <= ALFA_U24_MAX; }

static int telem_ok(const alfa_telemetry_t *t)
{
    return i24_ok(t->p_grid_w) && i24_ok(t->p_home_w) && i24_ok(t->p_pool_w) &&
           i24_ok(t->p_heater_w) && i24_ok(t->p_batt_w) && i24_ok(t->p_solar_w) &&
           t->p_solar_w >= 0 && u24_ok(t->v_pack_mv) && i24_ok(t->i_batt_ma) &&
           t->soc_pct <= 100u && t->relays_closed <= 0x0Fu && t->mode < ALFA_MODE_COUNT &&
           t->is_master <= 1u && u24_ok(t->grid_import_today_wh) && u24_ok(t->solar_today_wh) &&
           u24_ok(t->batt_charge_today_wh) && u24_ok(t->batt_discharge_today_wh);
}

int alfa_proto_telem_encode(const alfa_telemetry_t *t, uint8_t src,
                            alfa_can_frame_t frames[ALFA_TELEM_PARTS])
{
    if (t == 0 || frames == 0 || !alfa_proto_valid_src(src)) {
        return ALFA_PROTO_E_INVAL;
    }
    if (!telem_ok(t)) {
        return ALFA_PROTO_E_RANGE;
    }
    for (uint8_t k = 0; k < ALFA_TELEM_PARTS; k++) {
        alfa_proto_frame_init(&frames[k],
                              ALFA_PROTO_ID(ALFA_CLS_TELEM_0 + k, ALFA_NODE_BROADCAST, 0, src), 8);
        frames[k].data[0] = (uint8_t)t->cycle;
    }
    uint8_t *d = frames[0].data;
    alfa_put_le24(&d[1], (uint32_t)t->p_grid_w);
    alfa_put_le24(&d[4], (uint32_t)t->p_home_w);
    d[7] = t->soc_pct;
    d = frames[1].data;
    alfa_put_le24(&d[1], (uint32_t)t->p_batt_w);
    alfa_put_le24(&d[4], (uint32_t)t->p_solar_w);
    d[7] = (uint8_t)(t->cycle >> 8);
    d = frames[2].data;
    alfa_put_le24(&d[1], (uint32_t)t->p_pool_w);
    alfa_put_le24(&d[4], (uint32_t)t->p_heater_w);
    d[7] = (uint8_t)(t->cycle >> 16);
    d = frames[3].data;
    alfa_put_le24(&d[1], t->v_pack_mv);
    alfa_put_le24(&d[4], (uint32_t)t->i_batt_ma);
    d[7] = (uint8_t)(t->cycle >> 24);
    d = frames[4].data;
    alfa_put_le32(&d[1], t->faults);
    alfa_put_le16(&d[5], t->warnings);
    d[7] = (uint8_t)(t->relays_closed | (t->is_master << 4) | (t->mode << 5));
    d = frames[5].data;
    alfa_put_le24(&d[1], t->grid_import_today_wh);
    alfa_put_le24(&d[4], t->solar_today_wh);
    d[7] = (uint8_t)t->day;
    d = frames[6].data;
    alfa_put_le24(&d[1], t->batt_charge_today_wh);
    alfa_put_le24(&d[4], t->batt_discharge_today_wh);
    d[7] = (uint8_t)(t->day >> 8);
    return ALFA_PROTO_OK;
}

void alfa_telem_rx_reset(alfa_telem_rx_t *rx)
{
    if (rx != 0) {
        alfa_memset(rx, 0, sizeof(*rx));
    }
}

/* Validate one part and store its fields into `w`; nothing is written when the part is bad. */
static int telem_part_apply(uint8_t part, const uint8_t *d, void *work)
{
    alfa_telemetry_t *w = work;
    switch (part) {
    case 0:
        if (d[7] > 100u) {
            return ALFA_PROTO_E_RANGE;
        }
        w->p_grid_w = alfa_get_le24s(&d[1]);
        w->p_home_w = alfa_get_le24s(&d[4]);
        w->soc_pct = d[7];
        break;
    case 1: {
        int32_t solar = alfa_get_le24s(&d[4]);
        if (solar < 0) {
            return ALFA_PROTO_E_RANGE;
        }
        w->p_batt_w = alfa_get_le24s(&d[1]);
        w->p_solar_w = solar;
        w->cycle = (w->cycle & ~0x0000FF00u) | ((uint32_t)d[7] << 8);
        break;
    }
    case 2:
        w->p_pool_w = alfa_get_le24s(&d[1]);
        w->p_heater_w = alfa_get_le24s(&d[4]);
        w->cycle = (w->cycle & ~0x00FF0000u) | ((uint32_t)d[7] << 16);
        break;
    case 3:
        w->v_pack_mv = alfa_get_le24(&d[1]);
        w->i_batt_ma = alfa_get_le24s(&d[4]);
        w->cycle = (w->cycle & ~0xFF000000u) | ((uint32_t)d[7] << 24);
        break;
    case 4: {
        uint8_t mode = (uint8_t)(d[7] >> 5);
        if (mode >= ALFA_MODE_COUNT) {
            return ALFA_PROTO_E_RANGE;
        }
        w->faults = alfa_get_le32(&d[1]);
        w->warnings = alfa_get_le16(&d[5]);
        w->relays_closed = (uint8_t)(d[7] & 0x0Fu);
        w->is_master = (uint8_t)((d[7] >> 4) & 1u);
        w->mode = mode;
        break;
    }
    case 5:
        w->grid_import_today_wh = alfa_get_le24(&d[1]);
        w->solar_today_wh = alfa_get_le24(&d[4]);
        w->day = (uint16_t)((w->day & 0xFF00u) | d[7]);
        break;
    default:
        w->batt_charge_today_wh = alfa_get_le24(&d[1]);
        w->batt_discharge_today_wh = alfa_get_le24(&d[4]);
        w->day = (uint16_t)((w->day & 0x00FFu) | ((uint32_t)d[7] << 8));
        break;
    }
    w->cycle = (w->cycle & ~0xFFu) | d[0];
    return ALFA_PROTO_OK;
}

/* ---------------------------------------------------------------- multi-part reassembly */

/* One kind of multi-part record (telemetry, site totals): its classes, size and part decoder. */
typedef struct multipart_kind {
    uint8_t first_cls;
    uint8_t parts;
    uint32_t size;                                               /* of the record */
    int (*apply)(uint8_t part, const uint8_t *d, void *work);    /* validate and store one part */
} multipart_kind_t;

/* Where a reassembler keeps its progress (the public rx structs share this shape). */
typedef struct multipart_state {
    uint8_t *have;
    uint8_t *cycle8;
    uint8_t *src;
    void *work;
} multipart_state_t;

/* Scratch large enough for any record kind. */
typedef union multipart_scratch {
    alfa_telemetry_t telem;
    alfa_site_totals_t site;
} multipart_scratch_t;

/* Feed one part: a part with another cycle byte or sender restarts the collection, so values of
 * two records never mix; a bad part changes nothing. 1 and *out when complete, 0, or an error. */
static int multipart_feed(const multipart_kind_t *k, const multipart_state_t *st,
                          const alfa_can_frame_t *frame, void *out)
{
    int cls = alfa_proto_classify(frame);
    if (cls < 0) {
        return cls;
    }
    if (cls < k->first_cls || cls >= k->first_cls + (int)k->parts) {
        return ALFA_PROTO_E_ID;
    }
    uint8_t src, dst;
    int rc = alfa_proto_check_addr(frame, (uint8_t)cls, 8, ALFA_PROTO_TO_ALL, 0, &src, &dst);
    if (rc < 0) {
        return rc;
    }
    uint8_t part = (uint8_t)(cls - k->first_cls);
    /* Decode into a scratch copy first so that a bad part leaves the collection unchanged. */
    multipart_scratch_t w;
    int restart = (*st->have == 0 || *st->src != src || *st->cycle8 != frame->data[0]);
    if (restart) {
        alfa_memset(&w, 0, k->size);
    } else {
        alfa_memcpy(&w, st->work, k->size);
    }
    rc = k->apply(part, frame->data, &w);
    if (rc < 0) {
        return rc;
    }
    if (restart) {
        *st->have = 0;
        *st->src = src;
        *st->cycle8 = frame->data[0];
    }
    alfa_memcpy(st->work, &w, k->size);
    *st->have = (uint8_t)(*st->have | (1u << part));
    if (*st->have != (uint8_t)((1u << k->parts) - 1u)) {
        return 0;
    }
    alfa_memcpy(out, st->work, k->size);
    *st->have = 0;
    return 1;
}

static const multipart_kind_t telem_kind = {ALFA_CLS_TELEM_0, ALFA_TELEM_PARTS, sizeof(alfa_telemetry_t),
                                            telem_part_apply};
_Static_assert(ALFA_TELEM_PARTS <= 8u && ALFA_SITE_PARTS <= 8u, "one `have` bit per part");

int alfa_telem_rx_feed(alfa_telem_rx_t *rx, const alfa_can_frame_t *frame, alfa_telemetry_t *out)
{
    if (rx == 0 || frame == 0 || out == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    const multipart_state_t st = {&rx->have, &rx->cycle8, &rx->src, &rx->work};
    return multipart_feed(&telem_kind, &st, frame, out);
}

/* ---------------------------------------------------------------- site totals */

int alfa_proto_site_encode(const alfa_site_totals_t *s, uint8_t src, uint32_t cycle,
                           alfa_can_frame_t frames[ALFA_SITE_PARTS])
{
    if (s == 0 || frames == 0 || !alfa_proto_valid_src(src)) {
        return ALFA_PROTO_E_INVAL;
    }
    if (s->soc_avg_pct > 100u || s->grid_limit_reached > 1u || !i24_ok(s->p_batt_w) ||
        !i24_ok(s->p_solar_w) || s->p_solar_w < 0 || !i24_ok(s->p_home_w) ||
        !i24_ok(s->p_grid_w) || (s->master_serial >> 48) != 0) {
        return ALFA_PROTO_E_RANGE;
    }
    for (uint8_t k = 0; k < ALFA_SITE_PARTS; k++) {
        alfa_proto_frame_init(&frames[k],
                              ALFA_PROTO_ID(ALFA_CLS_SITE_0 + k, ALFA_NODE_BROADCAST, 0, src), 8);
        frames[k].data[0] = (uint8_t)cycle;
    }
    uint8_t *d = frames[0].data;
    d[1] = s->packs_online;
    d[2] = s->soc_avg_pct;
    d[3] = s->grid_limit_reached;
    alfa_put_le32(&d[4], s->grid_import_today_wh);
    d = frames[1].data;
    alfa_put_le24(&d[1], (uint32_t)s->p_batt_w);
    alfa_put_le24(&d[4], (uint32_t)s->p_solar_w);
    d[7] = (uint8_t)s->day;
    d = frames[2].data;
    alfa_put_le24(&d[1], (uint32_t)s->p_home_w);
    alfa_put_le24(&d[4], (uint32_t)s->p_grid_w);
    d[7] = (uint8_t)(s->day >> 8);
    d = frames[3].data;
    alfa_put_le32(&d[1], (uint32_t)s->master_serial);
    alfa_put_le16(&d[5], (uint16_t)(s->master_serial >> 32));
    return ALFA_PROTO_OK;
}

void alfa_site_rx_reset(alfa_site_rx_t *rx)
{
    if (rx != 0) {
        alfa_memset(rx, 0, sizeof(*rx));
    }
}

static int site_part_apply(uint8_t part, const uint8_t *d, void *work)
{
    alfa_site_totals_t *w = work;
    switch (part) {
    case 0:
        if (d[2] > 100u || d[3] > 1u) {
            return ALFA_PROTO_E_RANGE;
        }
        w->packs_online = d[1];
        w->soc_avg_pct = d[2];
        w->grid_limit_reached = d[3];
        w->grid_import_today_wh = alfa_get_le32(&d[4]);
        break;
    case 1: {
        int32_t solar = alfa_get_le24s(&d[4]);
        if (solar < 0) {
            return ALFA_PROTO_E_RANGE;
        }
        w->p_batt_w = alfa_get_le24s(&d[1]);
        w->p_solar_w = solar;
        w->day = (uint16_t)((w->day & 0xFF00u) | d[7]);
        break;
    }
    case 2:
        w->p_home_w = alfa_get_le24s(&d[1]);
        w->p_grid_w = alfa_get_le24s(&d[4]);
        w->day = (uint16_t)((w->day & 0x00FFu) | ((uint32_t)d[7] << 8));
        break;
    default:
        if (d[7] != 0) {
            return ALFA_PROTO_E_RANGE;
        }
        w->master_serial = (uint64_t)alfa_get_le32(&d[1]) | ((uint64_t)alfa_get_le16(&d[5]) << 32);
        break;
    }
    return ALFA_PROTO_OK;
}

static const multipart_kind_t site_kind = {ALFA_CLS_SITE_0, ALFA_SITE_PARTS, sizeof(alfa_site_totals_t),
                                           site_part_apply};

int alfa_site_rx_feed(alfa_site_rx_t *rx, const alfa_can_frame_t *frame, alfa_site_totals_t *out)
{
    if (rx == 0 || frame == 0 || out == 0) {
        return ALFA_PROTO_E_INVAL;
    }
    const multipart_state_t st = {&rx->have, &rx->cycle8, &rx->src, &rx->work};
    return multipart_feed(&site_kind, &st, frame, out);
}
