/* Modbus RTU master: request framing, response search and checks, timeouts, retries, back-off. */
#include "alfa/modbus.h"
#include "alfa/bytes.h"
#include "alfa/err.h"

enum { ST_IDLE = 0, ST_SEND, ST_WAIT, ST_BACKOFF };

/* CRC-16/Modbus, one table step per byte: reflected polynomial 0xA001. */
static const uint16_t crc_table[256] = {
    0x0000, 0xC0C1, 0xC181, 0x0140, 0xC301, 0x03C0, 0x0280, 0xC241,
    0xC601, 0x06C0, 0x0780, 0xC741, 0x0500, 0xC5C1, 0xC481, 0x0440,
    0xCC01, 0x0CC0, 0x0D80, 0xCD41, 0x0F00, 0xCFC1, 0xCE81, 0x0E40,
    0x0A00, 0xCAC1, 0xCB81, 0x0B40, 0xC901, 0x09C0, 0x0880, 0xC841,
    0xD801, 0x18C0, 0x1980, 0xD941, 0x1B00, 0xDBC1, 0xDA81, 0x1A40,
    0x1E00, 0xDEC1, 0xDF81, 0x1F40, 0xDD01, 0x1DC0, 0x1C80, 0xDC41,
    0x1400, 0xD4C1, 0xD581, 0x1540, 0xD701, 0x17C0, 0x1680, 0xD641,
    0xD201, 0x12C0, 0x1380, 0xD341, 0x1100, 0xD1C1, 0xD081, 0x1040,
    0xF001, 0x30C0, 0x3180, 0xF141, 0x3300, 0xF3C1, 0xF281, 0x3240,
    0x3600, 0xF6C1, 0xF781, 0x3740, 0xF501, 0x35C0, 0x3480, 0xF441,
    0x3C00, 0xFCC1, 0xFD81, 0x3D40, 0xFF01, 0x3FC0, 0x3E80, 0xFE41,
    0xFA01, 0x3AC0, 0x3B80, 0xFB41, 0x3900, 0xF9C1, 0xF881, 0x3840,
    0x2800, 0xE8C1, 0xE981, 0x2940, 0xEB01, 0x2BC0, 0x2A80, 0xEA41,
    0xEE01, 0x2EC0, 0x2F80, 0xEF41, 0x2D00, 0xEDC1, 0xEC81, 0x2C40,
    0xE401, 0x24C0, 0x2580, 0xE541, 0x2700, 0xE7C1, 0xE681, 0x2640,
    0x2200, 0xE2C1, 0xE381, 0x2340, 0xE101, 0x21C0, 0x2080, 0xE041,
    0xA001, 0x60C0, 0x6180, 0xA141, 0x6300, 0xA3C1, 0xA281, 0x6240,
    0x6600, 0xA6C1, 0xA781, 0x6740, 0xA501, 0x65C0, 0x6480, 0xA441,
    0x6C00, 0xACC1, 0xAD81, 0x6D40, 0xAF01, 0x6FC0, 0x6E80, 0xAE41,
    0xAA01, 0x6AC0, 0x6B80, 0xAB41, 0x6900, 0xA9C1, 0xA881, 0x6840,
    0x7800, 0xB8C1, 0xB981, 0x7940, 0xBB01, 0x7BC0, 0x7A80, 0xBA41,
    0xBE01, 0x7EC0, 0x7F80, 0xBF41, 0x7D00, 0xBDC1, 0xBC81, 0x7C40,
    0xB401, 0x74C0, 0x7580, 0xB541, 0x7700, 0xB7C1, 0xB681, 0x7640,
    0x7200, 0xB2C1, 0xB381, 0x7340, 0xB101, 0x71C0, 0x7080, 0xB041,
    0x5000, 0x90C1, 0x9181, 0x5140, 0x9301, 0x53C0, 0x5280, 0x9241,
    0x9601, 0x56C0, 0x5780, 0x9741, 0x5500, 0x95C1, 0x9481, 0x5440,
    0x9C01, 0x5CC0, 0x5D80, 0x9D41, 0x5F00, 0x9FC1, 0x9E81, 0x5E40,
    0x5A00, 0x9AC1, 0x9B81, 0x5B40, 0x9901, 0x59C0, 0x5880, 0x9841,
    0x8801, 0x48C0, 0x4980, 0x8941, 0x4B00, 0x8BC1, 0x8A81, 0x4A40,
    0x4E00, 0x8EC1, 0x8F81, 0x4F40, 0x8D01, 0x4DC0, 0x4C80, 0x8C41,
    0x4400, 0x84C1, 0x8581, 0x4540, 0x8701, 0x47C0, 0x4680, 0x8641,
    0x8201, 0x42C0, 0x4380, 0x8341, 0x4100, 0x81C1, 0x8081, 0x4040,
};
_Static_assert(sizeof(crc_table) / sizeof(crc_table[0]) == 256, "one entry per byte value");

uint16_t alfa_mb_crc16(const uint8_t *data, uint16_t len)
{
    uint16_t crc = 0xFFFFu;
    for (uint16_t i = 0; i < len; i++) {
        crc = (uint16_t)((crc >> 8) ^ crc_table[(uint8_t)(crc ^ data[i])]);
    }
    return crc;
}

/* True when the last two bytes of buf[0..len) are the CRC of the rest, low byte first. */
static int crc_ok(const uint8_t *buf, uint16_t len)
{
    if (len < 4u) {
        return 0;
    }
    return alfa_mb_crc16(buf, (uint16_t)(len - 2u)) == alfa_get_le16(buf + len - 2u);
}

void alfa_mb_config_default(alfa_mb_config_t *cfg)
{
    if (cfg == (void *)0) {
        return;
    }
    cfg->baud = 9600u;
    cfg->bits_per_char = 10u;
    cfg->retries = 3u;
    cfg->timeout_ms = 100u;
    cfg->timeout_cap_ms = 500u;
    cfg->backoff_ms = 100u;
    cfg->silence_ms = 0u;
}

uint32_t alfa_mb_wire_us(const alfa_mb_config_t *cfg, uint32_t bytes)
{
    if (cfg == (void *)0 || cfg->baud == 0u) {
        return 0u;
    }
    uint64_t us = (uint64_t)bytes * cfg->bits_per_char * 1000000u;
    return (uint32_t)((us + cfg->baud - 1u) / cfg->baud);
}

static uint32_t ceil_ms(uint32_t us) { return (us + 999u) / 1000u; }

int32_t alfa_mb_init(alfa_mb_t *mb, const alfa_port_t *port, const alfa_mb_config_t *cfg)
{
    if (mb == (void *)0 || port == (void *)0 || cfg == (void *)0) {
        return ALFA_E_INVAL;
    }
    alfa_memset(mb, 0, sizeof(*mb));
    if (port->serial_write == (void *)0 || port->serial_read == (void *)0 || cfg->baud == 0u ||
        (cfg->bits_per_char != 10u && cfg->bits_per_char != 11u) || cfg->retries > 3u ||
        cfg->timeout_ms == 0u || cfg->timeout_cap_ms < cfg->timeout_ms) {
        return ALFA_E_INVAL;
    }
    mb->port = port;
    mb->cfg = *cfg;
    if (cfg->silence_ms != 0u) {
        mb->silence_ms = cfg->silence_ms;
    } else {
        /* t3.5 per the Modbus serial-line spec (fixed 1750 us above 19200 baud), plus 1 ms
         * because the clock we are given ticks in whole milliseconds. */
        uint32_t t35_us = cfg->baud > 19200u ? 1750u : alfa_mb_wire_us(cfg, 1u) * 7u / 2u;
        mb->silence_ms = (uint16_t)(ceil_ms(t35_us) + 1u);
    }
    mb->timeout_cur_ms = cfg->timeout_ms;
    mb->state = ST_IDLE;
    return ALFA_OK;
}

/* Read and throw away whatever the port has; returns 1 if anything came (a value, not an error:
 * a read failure is counted in stats.drain_errors here, and the next attempt's own read reports a
 * port that stays broken as ALFA_MB_IO). */
static int drain(alfa_mb_t *mb)
{
    uint8_t scratch[32];
    int any = 0;
    for (int guard = 0; guard < 64; guard++) {
        int32_t n = mb->port->serial_read(mb->port->user, scratch, (uint16_t)sizeof(scratch));
        if (n < 0) {
            mb->stats.drain_errors++;
            break;
        }
        if (n == 0) {
            break;
        }
        mb->stats.stray_bytes += (uint32_t)n;
        any = 1;
    }
    return any;
}

int32_t alfa_mb_read_start(alfa_mb_t *mb, uint8_t addr, uint8_t fc, uint16_t start, uint16_t count,
                           uint32_t now_ms)
{
    (void)now_ms;
    if (mb == (void *)0 || mb->port == (void *)0) {
        return ALFA_E_INVAL;
    }
    if (mb->state != ST_IDLE) {
        return ALFA_E_BUSY;
    }
    if (addr == 0u || addr > 247u || (fc != ALFA_MB_FC_READ_HOLDING && fc != ALFA_MB_FC_READ_INPUT) ||
        count == 0u || count > ALFA_MB_REGS_MAX || (uint32_t)start + count > 0x10000u) {
        return ALFA_E_INVAL;
    }
    (void)drain(mb); /* only whether stale bytes were there: they are counted, never answers */
    mb->addr = addr;
    mb->fc = fc;
    mb->count = count;
    mb->req[0] = addr;
    mb->req[1] = fc;
    alfa_put_be16(mb->req + 2, start);
    alfa_put_be16(mb->req + 4, count);
    alfa_put_le16(mb->req + 6, alfa_mb_crc16(mb->req, 6u));
    mb->attempt = 0u;
    mb->last_timed_out = 0u;
    mb->result.status = ALFA_MB_TIMEOUT;
    mb->result.exception_code = 0u;
    mb->result.attempts = 0u;
    mb->result.function = fc;
    mb->result.count = count;
    mb->tx_off = 0u;
    mb->state = ST_SEND;
    return ALFA_OK;
}

alfa_mb_status_t alfa_mb_find_response(const uint8_t *buf, uint16_t len, uint8_t addr, uint8_t fc,
                                       uint16_t count, uint16_t *regs, uint8_t *exc,
                                       uint16_t *end_off)
{
    if (buf == (void *)0 || count == 0u || count > ALFA_MB_REGS_MAX) {
        return ALFA_MB_TIMEOUT;
    }
    const uint16_t full = (uint16_t)(5u + 2u * count);
    for (uint16_t i = 0; (uint32_t)i + 5u <= len; i++) {
        const uint8_t *f = buf + i;
        const uint16_t avail = (uint16_t)(len - i);
        if (f[0] != addr) {
            continue;
        }
        if (f[1] == fc && f[2] == 2u * count && avail >= full && crc_ok(f, full)) {
            if (regs != (void *)0) {
                for (uint16_t r = 0; r < count; r++) {
                    regs[r] = alfa_get_be16(f + 3u + 2u * r);
                }
            }
            if (end_off != (void *)0) {
                *end_off = (uint16_t)(i + full);
            }
            return ALFA_MB_OK;
        }
        if (f[1] == (uint8_t)(fc | 0x80u) && crc_ok(f, 5u)) {
            if (exc != (void *)0) {
                *exc = f[2];
            }
            if (end_off != (void *)0) {
                *end_off = (uint16_t)(i + 5u);
            }
            return ALFA_MB_EXCEPTION;
        }
    }
    return ALFA_MB_TIMEOUT;
}

alfa_mb_status_t alfa_mb_classify(const uint8_t *buf, uint16_t len, uint8_t addr, uint8_t fc,
                                  uint16_t count)
{
    if (buf == (void *)0 || len == 0u) {
        return ALFA_MB_TIMEOUT;
    }
    /* A frame with a valid CRC that ends where the bytes ended, after any stray prefix: the
     * line was clean, so the frame is well-formed but not the answer we asked for. */
    for (uint16_t i = 0; (uint32_t)i + 4u <= len; i++) {
        if (crc_ok(buf + i, (uint16_t)(len - i))) {
            if (buf[i] != addr) {
                return ALFA_MB_BAD_ADDRESS;
            }
            if ((uint8_t)(buf[i + 1u] & 0x7Fu) != fc) {
                return ALFA_MB_BAD_FUNCTION;
            }
            return ALFA_MB_BAD_BYTE_COUNT;
        }
    }
    /* Otherwise measure against the expected length from the first plausible start. */
    uint16_t start = 0u;
    for (uint16_t i = 0; (uint32_t)i + 1u < len; i++) {
        if (buf[i] == addr && (uint8_t)(buf[i + 1u] & 0x7Fu) == fc) {
            start = i;
            break;
        }
    }
    uint16_t expect = (uint16_t)(5u + 2u * count);
    if ((uint32_t)start + 1u < len && (buf[start + 1u] & 0x80u) != 0u) {
        expect = 5u;
    }
    return (uint16_t)(len - start) < expect ? ALFA_MB_TRUNCATED : ALFA_MB_CRC;
}

const char *alfa_mb_status_name(int status)
{
    switch (status) {
    case ALFA_MB_OK: return "ok";
    case ALFA_MB_TIMEOUT: return "timeout";
    case ALFA_MB_CRC: return "crc";
    case ALFA_MB_EXCEPTION: return "exception";
    case ALFA_MB_BAD_ADDRESS: return "bad_address";
    case ALFA_MB_BAD_FUNCTION: return "bad_function";
    case ALFA_MB_BAD_BYTE_COUNT: return "bad_byte_count";
    case ALFA_MB_TRUNCATED: return "truncated";
    case ALFA_MB_IO: return "io";
    case ALFA_MB_RANGE: return "range";
    default: return "unknown";
    }
}

int32_t alfa_mb_status_err(int status)
{
    switch (status) {
    case ALFA_MB_OK: return ALFA_OK;
    case ALFA_MB_TIMEOUT: return ALFA_E_TIMEOUT;
    case ALFA_MB_CRC: return ALFA_E_CRC;
    case ALFA_MB_EXCEPTION: return ALFA_E_EXCEPTION;
    case ALFA_MB_IO: return ALFA_E_IO;
    case ALFA_MB_RANGE: return ALFA_E_RANGE;
    default: return ALFA_E_PROTO;
    }
}

/* An answer arrived `latency_ms` after our request ended: keep the timeout at 1.5 x that,
 * within [timeout_ms, cap]; lower it only gradually so one quick answer does not undo it. */
static void adapt_timeout(alfa_mb_t *mb, uint32_t latency_ms)
{
    uint32_t want = latency_ms + latency_ms / 2u;
    if (want < mb->cfg.timeout_ms) {
        want = mb->cfg.timeout_ms;
    }
    if (want > mb->cfg.timeout_cap_ms) {
        want = mb->cfg.timeout_cap_ms;
    }
    uint32_t cur = mb->timeout_cur_ms;
    if (want >= cur) {
        cur = want;
    } else {
        cur -= (cur - want + 3u) / 4u;
    }
    mb->timeout_cur_ms = (uint16_t)cur;
}

static int elapsed(uint32_t now_ms, uint32_t since_ms, uint32_t span_ms)
{
    return (uint32_t)(now_ms - since_ms) >= span_ms && (int32_t)(now_ms - since_ms) >= 0;
}

/* One attempt ended with `status`: finish, or schedule a retry after its back-off. */
static int32_t attempt_done(alfa_mb_t *mb, uint8_t status, uint8_t exc, uint32_t now_ms)
{
    mb->stats.attempts[status < ALFA_MB_STATUS_COUNT ? status : ALFA_MB_IO]++;
    mb->result.status = status;
    mb->result.exception_code = exc;
    mb->result.attempts = mb->attempt;
    mb->last_timed_out = status == ALFA_MB_TIMEOUT ? 1u : 0u;
    int retry = status != ALFA_MB_OK && mb->attempt <= mb->cfg.retries;
    if (status == ALFA_MB_EXCEPTION && exc != 5u && exc != 6u) {
        retry = 0;
    }
    if (retry) {
        mb->t_backoff_end_ms = now_ms + ((uint32_t)mb->cfg.backoff_ms << (mb->attempt - 1u));
        mb->state = ST_BACKOFF;
        return 0;
    }
    mb->result.timeout_ms = mb->timeout_cur_ms;
    mb->state = ST_IDLE;
    return 1;
}

/* Late bytes after a timed-out attempt: the BMS is slow, not absent. */
static void learn_late(alfa_mb_t *mb, uint32_t now_ms)
{
    if (mb->last_timed_out) {
        adapt_timeout(mb, now_ms - mb->t_tx_end_ms);
        mb->last_timed_out = 0u;
    }
}

static int32_t send_step(alfa_mb_t *mb, uint32_t now_ms)
{
    if (mb->tx_off == 0u) {
        (void)drain(mb); /* only whether stale bytes were there: they are counted, never answers */
        mb->attempt++;
        mb->rx_len = 0u;
        mb->got_any = 0u;
    }
    int32_t n = mb->port->serial_write(mb->port->user, mb->req + mb->tx_off,
                                       (uint16_t)(sizeof(mb->req) - mb->tx_off));
    if (n < 0 || n > (int32_t)(sizeof(mb->req) - mb->tx_off)) {
        mb->tx_off = 0u;
        return attempt_done(mb, ALFA_MB_IO, 0u, now_ms);
    }
    mb->tx_off = (uint8_t)(mb->tx_off + n);
    if (mb->tx_off < sizeof(mb->req)) {
        return 0;
    }
    mb->tx_off = 0u;
    mb->t_tx_end_ms = now_ms + ceil_ms(alfa_mb_wire_us(&mb->cfg, sizeof(mb->req)));
    mb->state = ST_WAIT;
    return 0;
}

/* Our own request echoed back by the adapter (receiver left enabled while we talk). */
static uint16_t echo_len(const alfa_mb_t *mb)
{
    if (mb->rx_len >= sizeof(mb->req) && alfa_memcmp(mb->rx, mb->req, sizeof(mb->req)) == 0) {
        return (uint16_t)sizeof(mb->req);
    }
    return 0u;
}

static int32_t wait_step(alfa_mb_t *mb, uint32_t now_ms)
{
    int fresh = 0;
    for (int guard = 0; guard < 16; guard++) {
        if (mb->rx_len == sizeof(mb->rx)) {
            /* A chattering line: forget the oldest quarter, a valid answer may still follow. */
            const uint16_t drop = (uint16_t)(sizeof(mb->rx) / 4u);
            for (uint16_t i = drop; i < mb->rx_len; i++) {
                mb->rx[i - drop] = mb->rx[i];
            }
            mb->rx_len = (uint16_t)(mb->rx_len - drop);
            mb->stats.stray_bytes += drop;
        }
        uint16_t room = (uint16_t)(sizeof(mb->rx) - mb->rx_len);
        int32_t n = mb->port->serial_read(mb->port->user, mb->rx + mb->rx_len, room);
        if (n < 0 || n > (int32_t)room) {
            return attempt_done(mb, ALFA_MB_IO, 0u, now_ms);
        }
        if (n == 0) {
            break;
        }
        mb->rx_len = (uint16_t)(mb->rx_len + n);
        fresh = 1;
    }
    if (fresh) {
        if (!mb->got_any) {
            mb->got_any = 1u;
            mb->t_first_rx_ms = now_ms;
        }
        mb->t_last_rx_ms = now_ms;
        uint16_t end = 0u;
        uint8_t exc = 0u;
        alfa_mb_status_t st = alfa_mb_find_response(mb->rx, mb->rx_len, mb->addr, mb->fc, mb->count,
                                                     mb->result.regs, &exc, &end);
        if (st == ALFA_MB_OK || st == ALFA_MB_EXCEPTION) {
            /* Latency is measured to the first byte of the frame itself, not of any noise. */
            uint32_t frame_ms = alfa_mb_wire_us(&mb->cfg, st == ALFA_MB_OK ? 5u + 2u * mb->count : 5u) / 1000u;
            uint32_t lat = 0u;
            if ((int32_t)(now_ms - mb->t_tx_end_ms) > (int32_t)frame_ms) {
                lat = now_ms - mb->t_tx_end_ms - frame_ms;
            }
            mb->stats.stray_bytes += (uint32_t)(end - (st == ALFA_MB_OK ? 5u + 2u * mb->count : 5u));
            mb->result.latency_ms = lat;
            adapt_timeout(mb, lat);
            return attempt_done(mb, (uint8_t)st, exc, now_ms);
        }
        return 0;
    }
    /* No valid answer yet. Frames that ended in a t3.5 silence without being one (noise, an
     * echo, a corrupt or foreign frame) do not end the attempt: a valid answer may follow
     * within the response timeout. The attempt fails once the timeout has passed and the line
     * is silent (or has chattered for longer than the longest frame). */
    if (!elapsed(now_ms, mb->t_tx_end_ms, mb->timeout_cur_ms)) {
        return 0;
    }
    if (mb->got_any) {
        uint32_t longest_ms = ceil_ms(alfa_mb_wire_us(&mb->cfg, ALFA_MB_ADU_MAX)) + mb->silence_ms;
        if (!elapsed(now_ms, mb->t_last_rx_ms, mb->silence_ms) &&
            !elapsed(now_ms, mb->t_first_rx_ms, longest_ms + mb->timeout_cur_ms)) {
            return 0;
        }
    }
    uint16_t skip = echo_len(mb);
    alfa_mb_status_t st = alfa_mb_classify(mb->rx + skip, (uint16_t)(mb->rx_len - skip), mb->addr, mb->fc,
                                           mb->count);
    mb->stats.stray_bytes += skip;
    mb->result.latency_ms = st == ALFA_MB_TIMEOUT ? 0u : now_ms - mb->t_tx_end_ms;
    return attempt_done(mb, (uint8_t)st, 0u, now_ms);
}

int32_t alfa_mb_process(alfa_mb_t *mb, uint32_t now_ms)
{
    if (mb == (void *)0 || mb->port == (void *)0) {
        return 0;
    }
    switch (mb->state) {
    case ST_SEND:
        return send_step(mb, now_ms);
    case ST_WAIT:
        return wait_step(mb, now_ms);
    case ST_BACKOFF:
        if (drain(mb)) {
            learn_late(mb, now_ms);
        }
        if (elapsed(now_ms, mb->t_backoff_end_ms, 0u)) {
            mb->state = ST_SEND;
            return send_step(mb, now_ms);
        }
        return 0;
    default:
        if (drain(mb)) {
            learn_late(mb, now_ms);
        }
        return 0;
    }
}

int alfa_mb_busy(const alfa_mb_t *mb) { return mb != (void *)0 && mb->state != ST_IDLE; }

const alfa_mb_result_t *alfa_mb_result(const alfa_mb_t *mb) { return mb != (void *)0 ? &mb->result : (void *)0; }

const alfa_mb_stats_t *alfa_mb_stats(const alfa_mb_t *mb) { return mb != (void *)0 ? &mb->stats : (void *)0; }
