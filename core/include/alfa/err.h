/* The firmware core's one error enum: every fallible core function returns one of these. */
#ifndef ALFA_ERR_H
#define ALFA_ERR_H

/* Zero is success; every error is negative, so `if (rc < 0)` is always the check. Codes are
 * stable (they travel in CAN acknowledgements and MQTT results): append, never renumber. */
typedef enum alfa_err {
    ALFA_OK = 0,
    ALFA_E_INVAL = -1,      /* an argument is malformed (NULL, wrong length, bad enum value) */
    ALFA_E_RANGE = -2,      /* a value is outside its allowed range: nothing was changed */
    ALFA_E_STATE = -3,      /* not allowed in the current state (e.g. busy, not yet started) */
    ALFA_E_IO = -4,         /* a port callback failed */
    ALFA_E_CRC = -5,        /* a checksum did not match */
    ALFA_E_TIMEOUT = -6,    /* no answer in time */
    ALFA_E_CORRUPT = -7,    /* stored or received data is inconsistent */
    ALFA_E_NOSPACE = -8,    /* a fixed-size table or buffer is full */
    ALFA_E_NOENT = -9,      /* no such item (setting id, command, node) */
    ALFA_E_PROTO = -10,     /* a peer broke the protocol (bad address, function, byte count...) */
    ALFA_E_EXCEPTION = -11, /* a Modbus slave answered with an exception response */
    ALFA_E_BUSY = -12,      /* an operation is already in progress; try later */
    ALFA_E_AGAIN = -13,     /* nothing to do yet (non-blocking call found no data) */
} alfa_err_t;

/* Short lower-case name of an error ("range", "crc"...), never NULL. */
const char *alfa_err_name(int err);

#endif
