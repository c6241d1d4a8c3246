/* The BMS slave model: request framing by time, register image, answer pacing and fault injection. */
#include "alfa/bmsmodel.h"

#include <string.h>

#include "alfa/modbus.h"

static const char *const fault_names[ALFA_BMSM_FAULT_COUNT] = {
    "good", "no_answer", "late", "crc", "truncated", "wrong_address", "exception", "noise",
};

const char *alfa_bmsm_fault_name(int fault)
{
    return fault >= 0 && fault < (int)ALFA_BMSM_FAULT_COUNT ? fault_names[fault] : "?";
}

int alfa_bmsm_fault_parse(const char *name)
{
    for (int i = 0; name != NULL && i < (int)ALFA_BMSM_FAULT_COUNT; i++) {
        if (strcmp(name, fault_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void alfa_bmsm_config_default(alfa_bmsm_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->address = 1;
    cfg->baud = 9600;
    cfg->bits_per_char = 10;
    cfg->turnaround_us = 2000;
    cfg->late_us = 300000;
    cfg->exception_code = 4;
    cfg->seed = 1;
}

/* xorshift64*: small, fast, and the same sequence on every platform for a given seed. */
static uint32_t rnd(alfa_bmsm_t *m)
{
    m->rng ^= m->rng >> 12;
    m->rng ^= m->rng << 25;
    m->rng ^= m->rng >> 27;
    return (uint32_t)((m->rng * 2685821657736338717ull) >> 32);
}

static const alfa_bmsm_values_t healthy = {
    .v_pack_mv = 52000, .i_batt_ma = 0, .soc_pct = 35, .alarms = 0, .warnings = 0,
    .temp_max_dc = 250, .cell_min_mv = 3245, .cell_max_mv = 3255,
};

int alfa_bmsm_init(alfa_bmsm_t *m, const alfa_bmsm_config_t *cfg, const alfa_bmsm_values_t *v)
{
    if (m == NULL || cfg == NULL || cfg->address == 0 || cfg->address > 247 || cfg->baud == 0 ||
        (cfg->bits_per_char != 10 && cfg->bits_per_char != 11)) {
        return -1;
    }
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    m->char_us = (uint32_t)(((uint64_t)cfg->bits_per_char * 1000000u + cfg->baud - 1) / cfg->baud);
    m->t35_us = cfg->baud > 19200 ? 1750u : m->char_us * 7u / 2u;
    m->rng = ((uint64_t)cfg->seed << 1) | 0x9E3779B97F4A7C15ull; /* never zero */
    alfa_bmsm_set_values(m, v != NULL ? v : &healthy);
    return 0;
}

void alfa_bmsm_encode(const alfa_bmsm_values_t *v, uint16_t regs[8])
{
    regs[0] = (uint16_t)(v->v_pack_mv / 100u);
    regs[1] = (uint16_t)(int16_t)(v->i_batt_ma / 10);
    regs[2] = v->soc_pct;
    regs[3] = v->alarms;
    regs[4] = v->warnings;
    regs[5] = (uint16_t)v->temp_max_dc;
    regs[6] = v->cell_min_mv;
    regs[7] = v->cell_max_mv;
}

void alfa_bmsm_set_values(alfa_bmsm_t *m, const alfa_bmsm_values_t *v)
{
    m->values = *v;
    m->script = NULL;
    m->script_len = 0;
    m->raw_regs = 0;
    alfa_bmsm_encode(v, m->regs);
}

void alfa_bmsm_set_script(alfa_bmsm_t *m, const alfa_bmsm_point_t *points, size_t n, uint64_t t0_us)
{
    m->script = n > 0 ? points : NULL;
    m->script_len = points != NULL ? n : 0;
    m->script_t0_us = t0_us;
    m->raw_regs = 0;
}

static int64_t lerp(int64_t a, int64_t b, uint64_t num, uint64_t den)
{
    return a + (b - a) * (int64_t)num / (int64_t)den;
}

alfa_bmsm_values_t alfa_bmsm_values_at(const alfa_bmsm_t *m, uint64_t now_us)
{
    if (m->script == NULL) {
        return m->values;
    }
    uint64_t t_ms = now_us >= m->script_t0_us ? (now_us - m->script_t0_us) / 1000u : 0;
    const alfa_bmsm_point_t *p = m->script;
    size_t n = m->script_len;
    if (t_ms <= p[0].t_ms) {
        return p[0].v;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        if (t_ms < p[i + 1].t_ms) {
            const alfa_bmsm_values_t *a = &p[i].v, *b = &p[i + 1].v;
            uint64_t num = t_ms - p[i].t_ms, den = p[i + 1].t_ms - p[i].t_ms;
            alfa_bmsm_values_t v = *a;
            v.v_pack_mv = (uint32_t)lerp(a->v_pack_mv, b->v_pack_mv, num, den);
            v.i_batt_ma = (int32_t)lerp(a->i_batt_ma, b->i_batt_ma, num, den);
            v.soc_pct = (uint8_t)lerp(a->soc_pct, b->soc_pct, num, den);
            v.temp_max_dc = (int16_t)lerp(a->temp_max_dc, b->temp_max_dc, num, den);
            v.cell_min_mv = (uint16_t)lerp(a->cell_min_mv, b->cell_min_mv, num, den);
            v.cell_max_mv = (uint16_t)lerp(a->cell_max_mv, b->cell_max_mv, num, den);
            return v;
        }
    }
    return p[n - 1].v;
}

int alfa_bmsm_set_reg(alfa_bmsm_t *m, uint16_t reg, uint16_t value)
{
    if (reg >= ALFA_BMSM_REGS) {
        return -1;
    }
    if (!m->raw_regs && m->script != NULL) {
        alfa_bmsm_encode(&m->values, m->regs);
    }
    m->script = NULL;
    m->script_len = 0;
    m->raw_regs = 1;
    m->regs[reg] = value;
    return 0;
}

void alfa_bmsm_force(alfa_bmsm_t *m, alfa_bmsm_fault_t fault, uint32_t n)
{
    m->forced_fault = (uint8_t)fault;
    m->forced_left = n;
}

static int tx_pending(const alfa_bmsm_t *m) { return m->tx_off < m->tx_len; }

void alfa_bmsm_rx(alfa_bmsm_t *m, const uint8_t *data, size_t n, uint64_t now_us)
{
    for (size_t i = 0; i < n; i++) {
        if (tx_pending(m) || m->rx_len >= sizeof(m->rx)) {
            m->dropped_bytes++; /* half duplex: we are (about to be) talking */
            continue;
        }
        if (m->rx_len == 0) {
            m->rx_first_us = now_us;
        }
        m->rx[m->rx_len++] = data[i];
        m->rx_last_us = now_us;
    }
}

/* When the request in rx[] is complete: t3.5 after its last byte left the wire. */
static uint64_t rx_done_us(const alfa_bmsm_t *m)
{
    uint64_t wire_end = m->rx_first_us + (uint64_t)m->rx_len * m->char_us;
    uint64_t end = m->rx_last_us > wire_end ? m->rx_last_us : wire_end;
    return end + m->t35_us;
}

static uint8_t pick_fault(alfa_bmsm_t *m)
{
    if (m->forced_left > 0) {
        m->forced_left--;
        return m->forced_fault;
    }
    uint32_t r = rnd(m) % 1000000u, acc = 0;
    for (uint8_t k = 1; k < ALFA_BMSM_FAULT_COUNT; k++) {
        acc += m->cfg.rate_ppm[k];
        if (r < acc) {
            return k;
        }
    }
    return ALFA_BMSM_GOOD;
}

static void put_crc(uint8_t *f, uint16_t len)
{
    uint16_t c = alfa_mb_crc16(f, len);
    f[len] = (uint8_t)c;
    f[len + 1] = (uint8_t)(c >> 8);
}

static void log_event(alfa_bmsm_t *m, const alfa_bmsm_event_t *ev)
{
    uint32_t slot = (m->ev_head + m->ev_count) % ALFA_BMSM_EVENTS;
    if (m->ev_count == ALFA_BMSM_EVENTS) {
        m->ev_head = (m->ev_head + 1) % ALFA_BMSM_EVENTS; /* oldest dropped */
    } else {
        m->ev_count++;
    }
    m->events[slot] = *ev;
}

int alfa_bmsm_take_event(alfa_bmsm_t *m, alfa_bmsm_event_t *ev)
{
    if (m->ev_count == 0) {
        return 0;
    }
    *ev = m->events[m->ev_head];
    m->ev_head = (m->ev_head + 1) % ALFA_BMSM_EVENTS;
    m->ev_count--;
    return 1;
}

/* Build the answer to the request in rx[] (ended at `end_us`), with its fault, and schedule it. */
static void handle_request(alfa_bmsm_t *m, uint64_t end_us)
{
    const uint8_t *q = m->rx;
    uint16_t n = m->rx_len;
    m->rx_len = 0;
    if (n < 4 || alfa_mb_crc16(q, (uint16_t)(n - 2)) != (uint16_t)(q[n - 2] | (q[n - 1] << 8)) ||
        q[0] != m->cfg.address) {
        m->ignored_frames++; /* corrupt, broadcast or for another slave: a slave stays silent */
        return;
    }
    alfa_bmsm_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.function = q[1];
    ev.request_end_us = end_us;
    uint8_t *f = m->tx;
    uint16_t len;
    uint8_t exc = 0;
    uint16_t start = 0, count = 0;
    if (q[1] != 0x03 && q[1] != 0x04) {
        exc = 1; /* illegal function */
    } else if (n != 8) {
        exc = 3; /* illegal data value: malformed request */
    } else {
        start = (uint16_t)((q[2] << 8) | q[3]);
        count = (uint16_t)((q[4] << 8) | q[5]);
        if (count == 0 || count > 125) {
            exc = 3;
        } else if ((uint32_t)start + count > ALFA_BMSM_REGS) {
            exc = 2; /* illegal data address */
        }
    }
    ev.start = start;
    ev.count = count;
    if (!m->raw_regs) {
        m->values = alfa_bmsm_values_at(m, end_us);
        alfa_bmsm_encode(&m->values, m->regs);
    }
    ev.values = m->values;
    uint8_t fault = pick_fault(m);
    if (fault == ALFA_BMSM_EXCEPTION && exc == 0) {
        exc = m->cfg.exception_code;
    }
    if (exc != 0) {
        f[0] = m->cfg.address;
        f[1] = (uint8_t)(q[1] | 0x80);
        f[2] = exc;
        put_crc(f, 3);
        len = 5;
    } else {
        f[0] = m->cfg.address;
        f[1] = q[1];
        f[2] = (uint8_t)(2 * count);
        for (uint16_t i = 0; i < count; i++) {
            f[3 + 2 * i] = (uint8_t)(m->regs[start + i] >> 8);
            f[4 + 2 * i] = (uint8_t)m->regs[start + i];
        }
        put_crc(f, (uint16_t)(3 + 2 * count));
        len = (uint16_t)(5 + 2 * count);
    }
    ev.exception = exc;
    uint64_t at = end_us + m->t35_us + m->cfg.turnaround_us;
    switch (fault) {
    case ALFA_BMSM_NO_ANSWER:
        len = 0;
        break;
    case ALFA_BMSM_LATE:
        at += m->cfg.late_us;
        break;
    case ALFA_BMSM_CRC: {
        uint32_t bit = rnd(m) % (uint32_t)(len * 8u);
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        break;
    }
    case ALFA_BMSM_TRUNCATED:
        len = (uint16_t)(1 + rnd(m) % (uint32_t)(len - 1));
        break;
    case ALFA_BMSM_WRONG_ADDRESS:
        f[0] = (uint8_t)(m->cfg.address % 247 + 1);
        put_crc(f, (uint16_t)(len - 2));
        break;
    case ALFA_BMSM_NOISE: {
        uint16_t k = (uint16_t)(1 + rnd(m) % 3);
        memmove(f + k, f, len);
        for (uint16_t i = 0; i < k; i++) {
            f[i] = (uint8_t)rnd(m);
        }
        len = (uint16_t)(len + k);
        break;
    }
    default:
        break;
    }
    ev.fault = fault;
    ev.seq = ++m->seq;
    log_event(m, &ev);
    m->tx_len = len;
    m->tx_off = 0;
    m->tx_start_us = at;
}

size_t alfa_bmsm_tx(alfa_bmsm_t *m, uint64_t now_us, uint8_t *out, size_t cap)
{
    if (!tx_pending(m) && m->rx_len > 0 && now_us >= rx_done_us(m)) {
        handle_request(m, rx_done_us(m) - m->t35_us);
    }
    size_t k = 0;
    while (tx_pending(m) && k < cap &&
           m->tx_start_us + (uint64_t)(m->tx_off + 1u) * m->char_us <= now_us) {
        out[k++] = m->tx[m->tx_off++];
    }
    if (!tx_pending(m)) {
        m->tx_len = 0;
        m->tx_off = 0;
    }
    return k;
}

uint64_t alfa_bmsm_next_us(const alfa_bmsm_t *m)
{
    if (tx_pending(m)) {
        return m->tx_start_us + (uint64_t)(m->tx_off + 1u) * m->char_us;
    }
    if (m->rx_len > 0) {
        return rx_done_us(m);
    }
    return UINT64_MAX;
}

uint32_t alfa_bmsm_char_us(const alfa_bmsm_t *m) { return m->char_us; }
