/* Modbus RTU master for the BMS link: non-blocking, freestanding, on the port's serial callbacks. */
#ifndef ALFA_MODBUS_H
#define ALFA_MODBUS_H

/*
 * One transaction at a time: alfa_mb_read_start() queues a "read holding registers" (0x03) or
 * "read input registers" (0x04) request; alfa_mb_process() is then called as often as the
 * caller likes (every main-loop turn; at least every millisecond or two while a transaction is
 * open, since frame ends are measured with that resolution). It never blocks and never
 * sleeps: it reads what the port has, looks at the clock it is given, and returns.
 *
 * What the master checks in a response (SPEC.md §5.1):
 *  - CRC-16/Modbus (our own routine, low byte first on the wire);
 *  - slave address, function code, byte count (= 2 x requested registers);
 *  - exception responses (function | 0x80) are recognised and their code reported;
 *  - the frame ends either when the expected number of bytes is in (fast path) or after a
 *    3.5-character silence (t3.5; fixed 1.75 ms above 19200 baud), whichever comes first;
 *  - bytes before the response (line noise at DE turnaround, an adapter echoing our request,
 *    the end of a late answer to an earlier request) are skipped: a response is accepted only
 *    where address, function, byte count and CRC all agree, wherever it starts in the buffer.
 *    A frame that ended in silence without being a valid answer does not end the attempt: the
 *    master keeps listening until the response timeout has passed and the line is silent, then
 *    reports why what it got was not an answer (alfa_mb_classify).
 *
 * Timing:
 *  - response timeout: time from the end of our request (computed from the baud rate) to the
 *    first byte of the answer. It starts at `timeout_ms` (100 ms default) and adapts: an
 *    answer that arrives after the timeout ("late") or close to it raises it to 1.5 x the
 *    observed latency (at most `timeout_cap_ms`); answers well inside it bring it back down
 *    by a quarter of the gap per transaction, never below `timeout_ms`. A silent line does
 *    not raise it (a dead BMS is not a slow one).
 *  - retries: up to `retries` (3) more attempts after a failed one, after back-off delays of
 *    backoff_ms, 2 x backoff_ms, 4 x backoff_ms (100/200/400 ms). Exception responses are a
 *    definite answer and are not retried, except "acknowledge" (5) and "slave busy" (6).
 *
 * Memory: everything lives in alfa_mb_t (about 630 bytes), owned by the caller.
 */

#include <stdint.h>
#include "alfa/port.h"

#define ALFA_MB_ADU_MAX 256u  /* longest RTU frame (address + PDU 253 + CRC 2) */
#define ALFA_MB_REGS_MAX 125u /* most registers one 0x03/0x04 request may ask for */

#define ALFA_MB_FC_READ_HOLDING 0x03u
#define ALFA_MB_FC_READ_INPUT 0x04u

/* Outcome of one transaction (or one attempt). Values are stable (they are logged and sent
 * on): append, never renumber. */
typedef enum alfa_mb_status {
    ALFA_MB_OK = 0,
    ALFA_MB_TIMEOUT = 1,        /* no byte of an answer within the response timeout */
    ALFA_MB_CRC = 2,            /* a frame of the right length whose CRC does not match */
    ALFA_MB_EXCEPTION = 3,      /* the slave answered with an exception response */
    ALFA_MB_BAD_ADDRESS = 4,    /* a well-formed frame from another slave address */
    ALFA_MB_BAD_FUNCTION = 5,   /* a well-formed frame with another function code */
    ALFA_MB_BAD_BYTE_COUNT = 6, /* our address and function, valid CRC, wrong length */
    ALFA_MB_TRUNCATED = 7,      /* the answer stopped (t3.5 silence) before it was complete */
    ALFA_MB_IO = 8,             /* the port's serial callback reported an error */
    ALFA_MB_RANGE = 9,          /* (BMS layer) a decoded value is outside its allowed range */
    ALFA_MB_STATUS_COUNT
} alfa_mb_status_t;

typedef struct alfa_mb_config {
    uint32_t baud;           /* line rate, e.g. 9600 */
    uint8_t bits_per_char;   /* 10 for 8N1, 11 for 8E1/8O1/8N2 */
    uint8_t retries;         /* extra attempts after a failed one (0..3) */
    uint16_t timeout_ms;     /* base response timeout; also the floor of the adaptive one */
    uint16_t timeout_cap_ms; /* ceiling of the adaptive timeout (>= timeout_ms) */
    uint16_t backoff_ms;     /* first back-off delay; doubled for each further retry */
    uint8_t silence_ms;      /* end-of-frame silence; 0 = from the baud rate (t3.5 + 1 ms clock
                              * slack). USB adapters that deliver bytes in bursts need more. */
} alfa_mb_config_t;

/* SPEC.md §5.1 defaults: 9600 8N1, 100 ms timeout adapting up to 500 ms, 3 retries, 100 ms
 * first back-off. */
void alfa_mb_config_default(alfa_mb_config_t *cfg);

/* The outcome of the last finished transaction. */
typedef struct alfa_mb_result {
    uint8_t status;          /* alfa_mb_status_t of the last attempt */
    uint8_t exception_code;  /* when status == ALFA_MB_EXCEPTION */
    uint8_t attempts;        /* 1 .. retries + 1 */
    uint8_t function;        /* function code of the request */
    uint16_t count;          /* registers requested (and, on success, in regs) */
    uint16_t timeout_ms;     /* the adaptive response timeout after this transaction */
    uint32_t latency_ms;     /* end of request to first answer byte, last attempt */
    uint16_t regs[ALFA_MB_REGS_MAX]; /* register values, valid only when status == ALFA_MB_OK */
} alfa_mb_result_t;

/* Per-status counters since init, for diagnostics (index: alfa_mb_status_t of each attempt). */
typedef struct alfa_mb_stats {
    uint32_t attempts[ALFA_MB_STATUS_COUNT];
    uint32_t stray_bytes; /* bytes discarded: before a response, while idle, in back-off */
    uint32_t drain_errors; /* serial_read failed while discarding them (a failure during an
                            * attempt's own reading is an ALFA_MB_IO attempt instead) */
} alfa_mb_stats_t;

typedef struct alfa_mb {
    const alfa_port_t *port;
    alfa_mb_config_t cfg;
    uint16_t silence_ms;
    uint16_t timeout_cur_ms;
    uint8_t state;
    uint8_t addr;
    uint8_t fc;
    uint8_t attempt;
    uint8_t req[8];
    uint8_t tx_off;
    uint8_t got_any;
    uint8_t last_timed_out; /* the last attempt ended in a timeout: late bytes are evidence */
    uint16_t count;
    uint16_t rx_len;
    uint32_t t_tx_end_ms;
    uint32_t t_first_rx_ms;
    uint32_t t_last_rx_ms;
    uint32_t t_backoff_end_ms;
    uint8_t rx[ALFA_MB_ADU_MAX];
    alfa_mb_result_t result;
    alfa_mb_stats_t stats;
} alfa_mb_t;

/* CRC-16/Modbus (poly 0xA001 reflected, init 0xFFFF) of `len` bytes. On the wire the low byte
 * goes first. */
uint16_t alfa_mb_crc16(const uint8_t *data, uint16_t len);

/* Prepare `mb` on `port` (serial_write, serial_read and now_ms used). Copies `cfg`.
 * ALFA_E_INVAL for NULL pointers, a missing serial callback, baud 0, bits_per_char not 10/11,
 * retries > 3, timeout_ms 0 or cap below timeout_ms: `mb` is then left unusable. */
int32_t alfa_mb_init(alfa_mb_t *mb, const alfa_port_t *port, const alfa_mb_config_t *cfg);

/* Begin reading `count` registers from `start` of slave `addr` with `fc` (0x03 or 0x04).
 * Pending received bytes are discarded first. ALFA_E_BUSY while a transaction is open;
 * ALFA_E_INVAL for addr 0 (broadcast has no answer) or > 247, fc not 3/4, count 0 or > 125,
 * or start + count beyond 0x10000. The request is sent from alfa_mb_process(). */
int32_t alfa_mb_read_start(alfa_mb_t *mb, uint8_t addr, uint8_t fc, uint16_t start, uint16_t count,
                           uint32_t now_ms);

/* Advance the open transaction at time `now_ms`. Returns 1 when it finished during this call
 * (its outcome is then in alfa_mb_result()), 0 when still in progress or idle. While idle it
 * drains and discards received bytes (and learns from a late answer). Never negative: port
 * errors become ALFA_MB_IO attempts. */
int32_t alfa_mb_process(alfa_mb_t *mb, uint32_t now_ms);

/* 1 while a transaction is open. */
int alfa_mb_busy(const alfa_mb_t *mb);

/* The last finished transaction's outcome; owned by `mb`, overwritten by the next one. */
const alfa_mb_result_t *alfa_mb_result(const alfa_mb_t *mb);

/* Counters since init. */
const alfa_mb_stats_t *alfa_mb_stats(const alfa_mb_t *mb);

/* Look for a valid answer to (addr, fc, count) anywhere in buf[0..len): on success returns
 * ALFA_MB_OK (registers copied to regs[0..count)) or ALFA_MB_EXCEPTION (*exc set), and
 * *end_off is the offset just past the frame. Returns ALFA_MB_TIMEOUT when no complete valid
 * answer is there (yet). Pure function: the master's parser, exposed for tests and fuzzing. */
alfa_mb_status_t alfa_mb_find_response(const uint8_t *buf, uint16_t len, uint8_t addr, uint8_t fc,
                                       uint16_t count, uint16_t *regs, uint8_t *exc,
                                       uint16_t *end_off);

/* Why a received byte sequence that ended (by silence) is not a valid answer: ALFA_MB_TIMEOUT
 * for no bytes, else BAD_ADDRESS / BAD_FUNCTION / BAD_BYTE_COUNT (a CRC-valid frame, possibly
 * after stray bytes, that is not ours), TRUNCATED or CRC. Pure function. */
alfa_mb_status_t alfa_mb_classify(const uint8_t *buf, uint16_t len, uint8_t addr, uint8_t fc,
                                  uint16_t count);

/* Short name ("ok", "timeout", "crc", "exception", "bad_address", "bad_function",
 * "bad_byte_count", "truncated", "io", "range"), never NULL. */
const char *alfa_mb_status_name(int status);

/* The alfa_err_t that stands for a status (ALFA_OK, ALFA_E_TIMEOUT, ALFA_E_CRC,
 * ALFA_E_EXCEPTION, ALFA_E_PROTO, ALFA_E_IO, ALFA_E_RANGE). */
int32_t alfa_mb_status_err(int status);

/* Wire time of `bytes` characters in microseconds at the configured line settings. */
uint32_t alfa_mb_wire_us(const alfa_mb_config_t *cfg, uint32_t bytes);

#endif
