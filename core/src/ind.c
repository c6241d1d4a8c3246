/* Indicator frames: LED-bar pixels with the charging sweep, TM1637 digits with the low-SOC blink, status LEDs. */
#include "alfa/ind.h"
#include "alfa/bytes.h"

static const uint8_t digits[10] = {0x3Fu, 0x06u, 0x5Bu, 0x4Fu, 0x66u,
                                   0x6Du, 0x7Du, 0x07u, 0x7Fu, 0x6Fu};
_Static_assert(sizeof digits == 10u, "one segment pattern per decimal digit");

uint8_t alfa_ind_digit(uint32_t d) { return d < 10u ? digits[d] : ALFA_SEG_BLANK; }

static bool blink_on(uint32_t t_ms, uint32_t half_period_ms)
{
    return ((t_ms / half_period_ms) & 1u) == 0u;
}

static void bar(const alfa_ind_input_t *in, alfa_ind_frame_t *out)
{
    static const alfa_rgb_t green = ALFA_IND_GREEN_RGB, red = ALFA_IND_RED_RGB,
                            blue = ALFA_IND_BLUE_RGB;
    uint32_t n = in->pixel_count;
    uint32_t lit = 0;
    if (in->soc_valid) {
        /* Round up: any charge at all lights one pixel (SPEC.md §7). */
        lit = ((uint32_t)in->soc_pct * n + 99u) / 100u;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (i < lit) {
            out->px[i] = in->soc_pct <= ALFA_IND_RED_MAX_PCT ? red : green;
        }
    }
    if (in->soc_valid && in->charging) {
        uint32_t span = lit > 0u ? lit : 1u;
        out->px[(in->t_ms / ALFA_IND_SWEEP_STEP_MS) % span] = blue;
    }
}

static void segments(const alfa_ind_input_t *in, alfa_ind_frame_t *out)
{
    if (!in->soc_valid) {
        out->seg[0] = out->seg[1] = out->seg[2] = ALFA_SEG_DASH;
        return;
    }
    uint32_t v = in->soc_pct > 100u ? 100u : in->soc_pct;
    if (v < ALFA_IND_SEG_BLINK_BELOW && !blink_on(in->t_ms, ALFA_IND_BLINK_MS)) {
        return; /* the dark half of the 1 Hz blink */
    }
    out->seg[2] = digits[v % 10u];
    out->seg[1] = v >= 10u ? digits[(v / 10u) % 10u] : ALFA_SEG_BLANK;
    out->seg[0] = v >= 100u ? digits[1] : ALFA_SEG_BLANK;
}

static uint8_t leds(const alfa_ind_input_t *in)
{
    bool slow = blink_on(in->t_ms, ALFA_IND_BLINK_MS);
    uint8_t m = 0;
    if (!in->is_master || slow) {
        m |= ALFA_LED_GREEN;
    }
    if (in->warning && slow) {
        m |= ALFA_LED_YELLOW;
    }
    if (in->critical || (in->fw_update && slow)) {
        m |= ALFA_LED_RED;
    }
    return m;
}

void alfa_ind_compute(const alfa_ind_input_t *in, alfa_ind_frame_t *out)
{
    alfa_memset(out, 0, sizeof *out);
    uint8_t n = in->pixel_count > ALFA_PIXELS_MAX ? (uint8_t)ALFA_PIXELS_MAX : in->pixel_count;
    alfa_ind_input_t fixed = *in;
    fixed.pixel_count = n;
    out->px_count = n;
    segments(&fixed, out);
    if (fixed.identify) {
        static const alfa_rgb_t white = ALFA_IND_WHITE_RGB;
        if (blink_on(fixed.t_ms, ALFA_IND_IDENTIFY_MS)) {
            for (uint32_t i = 0; i < n; i++) {
                out->px[i] = white;
            }
            out->leds = ALFA_LED_GREEN | ALFA_LED_YELLOW | ALFA_LED_RED;
        }
        return;
    }
    bar(&fixed, out);
    out->leds = leds(&fixed);
}
