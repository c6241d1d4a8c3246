/* libFuzzer target: arbitrary bytes from a USB-CAN adapter into the SLCAN line parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alfa/slcan.h"

static alfa_slcan_t s;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    alfa_slcan_init(&s);
    /* In two pieces, so that lines split across reads are exercised too. */
    size_t cut = size > 0 ? data[0] % (size + 1u) : 0;
    alfa_slcan_feed(&s, data, cut);
    alfa_slcan_feed(&s, data + cut, size - cut);
    alfa_can_frame_t f;
    int32_t rc;
    while ((rc = alfa_slcan_recv(&s, &f)) == 1) {
        /* Every frame that came out is valid and survives a format/parse round trip. */
        if (f.len > 8u || f.id > ((f.flags & ALFA_CAN_FLAG_EXT) ? 0x1FFFFFFFu : 0x7FFu)) {
            __builtin_trap();
        }
        char line[ALFA_SLCAN_LINE_MAX];
        int n = alfa_slcan_format(&f, line, sizeof(line));
        alfa_can_frame_t g;
        if (n < 2 || alfa_slcan_parse(line, (size_t)n - 1u, &g) != 1 || g.id != f.id || g.len != f.len ||
            g.flags != f.flags || ((f.flags & ALFA_CAN_FLAG_RTR) == 0 && memcmp(g.data, f.data, f.len) != 0)) {
            __builtin_trap();
        }
    }
    if (rc != ALFA_PORT_E_IO) {
        __builtin_trap(); /* the queue ran dry: only then does recv look for the (absent) device */
    }
    return 0;
}
