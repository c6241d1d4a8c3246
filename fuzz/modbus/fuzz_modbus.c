/* libFuzzer: arbitrary bytes as a BMS answer, through the pure parser and through the master's receive path with arbitrary timing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/bms.h"
#include "alfa/modbus.h"

typedef struct feed {
    const uint8_t *data;
    size_t len;
    size_t off;
    uint32_t now_ms;
    uint32_t avail_ms; /* bytes become readable from this time on */
} feed_t;

static uint32_t f_now(void *user) { return ((feed_t *)user)->now_ms; }
static int32_t f_write(void *user, const uint8_t *d, uint16_t n)
{
    (void)user;
    (void)d;
    return n;
}
/* Hands out the input in chunks: each chunk is preceded by a control byte (size and delay). */
static int32_t f_read(void *user, uint8_t *d, uint16_t cap)
{
    feed_t *f = user;
    if (f->off >= f->len || f->now_ms < f->avail_ms) {
        return 0;
    }
    uint8_t ctl = f->data[f->off++];
    size_t n = (size_t)(ctl & 0x1Fu) + 1u;
    if (n > cap) {
        n = cap;
    }
    if (n > f->len - f->off) {
        n = f->len - f->off;
    }
    memcpy(d, f->data + f->off, n);
    f->off += n;
    f->avail_ms = f->now_ms + (ctl >> 5) * 3u; /* 0..21 ms gap before the next chunk */
    return (int32_t)n;
}

/* True when buf holds, at some offset, a CRC-valid answer carrying exactly `regs`. */
static int really_there(const uint8_t *buf, size_t len, uint8_t addr, uint8_t fc, uint16_t count, const uint16_t *regs)
{
    size_t full = 5u + 2u * count;
    for (size_t i = 0; i + full <= len; i++) {
        const uint8_t *p = buf + i;
        if (p[0] != addr || p[1] != fc || p[2] != 2 * count) {
            continue;
        }
        uint16_t c = alfa_mb_crc16(p, (uint16_t)(full - 2));
        if ((uint16_t)(p[full - 2] | (p[full - 1] << 8)) != c) {
            continue;
        }
        int same = 1;
        for (uint16_t r = 0; r < count; r++) {
            if (regs[r] != (uint16_t)((p[3 + 2 * r] << 8) | p[4 + 2 * r])) {
                same = 0;
            }
        }
        if (same) {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    const uint16_t count = (uint16_t)(data[0] % ALFA_MB_REGS_MAX + 1u);
    const uint8_t fc = (data[1] & 1u) ? ALFA_MB_FC_READ_INPUT : ALFA_MB_FC_READ_HOLDING;
    const uint8_t addr = (uint8_t)((data[1] >> 1) % 247u + 1u);
    const uint8_t *body = data + 2;
    size_t blen = size - 2;
    if (blen > 400) {
        blen = 400;
    }

    /* 1. the pure parser */
    uint16_t regs[ALFA_MB_REGS_MAX];
    uint8_t exc = 0;
    uint16_t end = 0;
    uint16_t plen = (uint16_t)(blen > ALFA_MB_ADU_MAX ? ALFA_MB_ADU_MAX : blen);
    alfa_mb_status_t st = alfa_mb_find_response(body, plen, addr, fc, count, regs, &exc, &end);
    if (st == ALFA_MB_OK && (end > plen || !really_there(body, end, addr, fc, count, regs))) {
        abort();
    }
    if (st != ALFA_MB_OK && st != ALFA_MB_EXCEPTION && st != ALFA_MB_TIMEOUT) {
        abort();
    }
    alfa_mb_status_t cl = alfa_mb_classify(body, plen, addr, fc, count);
    if (cl == ALFA_MB_OK || cl >= ALFA_MB_STATUS_COUNT) {
        abort();
    }

    /* 2. the whole receive path of the BMS poller, with the default profile (8 registers) */
    feed_t f = {.data = body, .len = blen, .off = 0, .now_ms = 5000, .avail_ms = 5000};
    alfa_port_t port;
    memset(&port, 0, sizeof(port));
    port.user = &f;
    port.now_ms = f_now;
    port.serial_write = f_write;
    port.serial_read = f_read;
    alfa_bms_config_t bc;
    alfa_bms_config_default(&bc);
    bc.modbus.retries = 0;
    bc.address = addr;
    alfa_bms_t bms;
    if (alfa_bms_init(&bms, &port, &bc, f.now_ms) != 0) {
        abort();
    }
    alfa_bms_result_t r;
    int done = 0;
    for (int step = 0; step < 3000 && !done; step++) {
        done = alfa_bms_process(&bms, f.now_ms, &r);
        /* The master may be called at any time: jump to the next chunk, or in 7-ms strides once
         * the input is used up and only silences and timeouts are left to run. */
        if (f.off >= f.len) {
            f.now_ms += 7u;
        } else {
            f.now_ms = f.avail_ms > f.now_ms ? f.avail_ms : f.now_ms + 1u;
        }
    }
    if (!done) {
        abort(); /* a poll always ends: by an answer or by its timeout */
    }
    if (r.err == 0) {
        /* accepted only if the delivered bytes really held that answer */
        if (!really_there(body, f.off, addr, ALFA_MB_FC_READ_HOLDING, 8, alfa_mb_result(alfa_bms_link(&bms))->regs)) {
            abort();
        }
    } else if (r.reading.v_pack_mv != 0 || r.reading.i_batt_ma != 0 || r.reading.present != 0) {
        abort(); /* nothing of a failed poll is handed out */
    }
    return 0;
}
