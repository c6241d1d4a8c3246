/* The fault table and its debounce: which condition becomes which fault, how fast, and what it does. */
#include "alfa/fault.h"

#define W ALFA_SEV_WARNING
#define C ALFA_SEV_CRITICAL

/* BMS alarms are already debounced inside the BMS: they act at once and clear only after 4 s of
 * good readings (two polls), so one flickering bit cannot toggle the grid relay. CT range needs
 * three bad cycles: an inrush peak is not a fault. */
static const alfa_fault_row_t rows[ALFA_FAULT_COUNT] = {
    {ALFA_FAULT_BMS_COMM_LOST, C, ALFA_FACT_GRID_CLOSED, 0, 0},
    {ALFA_FAULT_CELL_OV, C, ALFA_FACT_GRID_OPEN, 0, 4000},
    {ALFA_FAULT_CELL_UV, C, ALFA_FACT_GRID_CLOSED, 0, 4000},
    {ALFA_FAULT_OVER_TEMP, C, ALFA_FACT_GRID_OPEN, 0, 4000},
    {ALFA_FAULT_UNDER_TEMP, C, ALFA_FACT_GRID_OPEN, 0, 4000},
    {ALFA_FAULT_CHARGE_OC, C, ALFA_FACT_GRID_OPEN, 0, 4000},
    {ALFA_FAULT_DISCHARGE_OC, C, ALFA_FACT_GRID_CLOSED, 0, 4000},
    {ALFA_FAULT_SHORT_CIRCUIT, C, ALFA_FACT_GRID_OPEN, 0, 4000},
    {ALFA_FAULT_BMS_INTERNAL, C, ALFA_FACT_GRID_CLOSED, 0, 4000},
    {ALFA_FAULT_CT_RANGE, W, ALFA_FACT_NONE, 6000, 10000},
    {ALFA_FAULT_TIME_NOT_SET, W, ALFA_FACT_NONE, 0, 0},
    {ALFA_FAULT_SETTINGS_CORRUPT, W, ALFA_FACT_NONE, 0, 0},
    {ALFA_FAULT_CAN_BUS_OFF, W, ALFA_FACT_NONE, 0, 0},
};
_Static_assert(sizeof rows / sizeof rows[0] == ALFA_FAULT_COUNT, "one row per fault bit");
_Static_assert(ALFA_FAULT_COUNT <= 32, "faults fit a 32-bit mask");

#undef W
#undef C

const alfa_fault_row_t *alfa_fault_row(uint32_t bit)
{
    return bit < ALFA_FAULT_COUNT ? &rows[bit] : (const alfa_fault_row_t *)0;
}

void alfa_fault_init(alfa_faults_t *f)
{
    alfa_faults_t z = {0};
    *f = z;
}

void alfa_fault_input(alfa_faults_t *f, uint32_t bit, bool condition, uint32_t now_ms)
{
    if (bit >= ALFA_FAULT_COUNT) {
        return;
    }
    uint32_t m = 1u << bit;
    bool was = (f->raw & m) != 0u;
    if (was == condition) {
        return;
    }
    f->raw ^= m;
    /* The debounce clock starts when the condition changes; a bounce back restarts it. */
    f->since_ms[bit] = now_ms;
}

bool alfa_fault_process(alfa_faults_t *f, uint32_t now_ms)
{
    uint32_t before = f->active;
    for (uint32_t bit = 0; bit < ALFA_FAULT_COUNT; bit++) {
        uint32_t m = 1u << bit;
        bool raw = (f->raw & m) != 0u;
        bool act = (f->active & m) != 0u;
        if (raw == act) {
            continue;
        }
        uint32_t need = raw ? rows[bit].set_ms : rows[bit].clear_ms;
        if ((uint32_t)(now_ms - f->since_ms[bit]) >= need) {
            f->active ^= m;
        }
    }
    return f->active != before;
}

static uint32_t mask_of(uint8_t severity)
{
    uint32_t m = 0;
    for (uint32_t bit = 0; bit < ALFA_FAULT_COUNT; bit++) {
        if (rows[bit].severity == severity) {
            m |= 1u << bit;
        }
    }
    return m;
}

bool alfa_fault_critical(const alfa_faults_t *f)
{
    return (f->active & mask_of(ALFA_SEV_CRITICAL)) != 0u;
}

bool alfa_fault_warning(const alfa_faults_t *f)
{
    return (f->active & mask_of(ALFA_SEV_WARNING)) != 0u;
}

alfa_fault_action_t alfa_fault_grid_action(const alfa_faults_t *f)
{
    alfa_fault_action_t a = ALFA_FACT_NONE;
    for (uint32_t bit = 0; bit < ALFA_FAULT_COUNT; bit++) {
        if ((f->active & (1u << bit)) == 0u) {
            continue;
        }
        if (rows[bit].action == ALFA_FACT_GRID_OPEN) {
            return ALFA_FACT_GRID_OPEN;
        }
        if (rows[bit].action == ALFA_FACT_GRID_CLOSED) {
            a = ALFA_FACT_GRID_CLOSED;
        }
    }
    return a;
}
