/* Names of the core's error codes, for logs, probes and MQTT results. */
#include "alfa/err.h"

const char *alfa_err_name(int err)
{
    switch (err) {
    case ALFA_OK: return "ok";
    case ALFA_E_INVAL: return "invalid";
    case ALFA_E_RANGE: return "out_of_range";
    case ALFA_E_STATE: return "not_allowed_now";
    case ALFA_E_IO: return "io";
    case ALFA_E_CRC: return "crc";
    case ALFA_E_TIMEOUT: return "timeout";
    case ALFA_E_CORRUPT: return "corrupt";
    case ALFA_E_NOSPACE: return "no_space";
    case ALFA_E_NOENT: return "not_found";
    case ALFA_E_PROTO: return "protocol";
    case ALFA_E_EXCEPTION: return "exception";
    case ALFA_E_BUSY: return "busy";
    case ALFA_E_AGAIN: return "again";
    default: return "unknown";
    }
}
