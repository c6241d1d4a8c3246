/* The fault table (SPEC.md §5.7): per fault a debounce, a severity and the action on the relays. */
#ifndef ALFA_FAULT_H
#define ALFA_FAULT_H

#include <stdbool.h>
#include <stdint.h>
#include "alfa/model.h"

typedef enum alfa_fault_severity {
    ALFA_SEV_WARNING = 1,  /* yellow LED blinks; control goes on */
    ALFA_SEV_CRITICAL = 2, /* red LED; the relays take the row's safe state */
} alfa_fault_severity_t;

/* What a critical fault does to the grid relay (SPEC.md §6.3 rank 2). */
typedef enum alfa_fault_action {
    ALFA_FACT_NONE = 0,
    ALFA_FACT_GRID_OPEN = 1,   /* stop charging from the grid (over-voltage, temperature...) */
    ALFA_FACT_GRID_CLOSED = 2, /* let the inverter charge / feed the home (under-voltage...) */
} alfa_fault_action_t;

typedef struct alfa_fault_row {
    uint8_t bit;             /* alfa_fault_bit_t */
    uint8_t severity;        /* alfa_fault_severity_t */
    uint8_t action;          /* alfa_fault_action_t */
    uint32_t set_ms;         /* the condition must hold this long before the fault is active */
    uint32_t clear_ms;       /* ... and be gone this long before it clears */
} alfa_fault_row_t;

/* The row of fault `bit`, or NULL when there is none. */
const alfa_fault_row_t *alfa_fault_row(uint32_t bit);

typedef struct alfa_faults {
    uint32_t raw;                          /* conditions as last reported */
    uint32_t active;                       /* debounced faults */
    uint32_t since_ms[ALFA_FAULT_COUNT];   /* when raw and active last started to differ */
} alfa_faults_t;

void alfa_fault_init(alfa_faults_t *f);
/* Report the condition of fault `bit` (ignored when `bit` is not a fault). */
void alfa_fault_input(alfa_faults_t *f, uint32_t bit, bool condition, uint32_t now_ms);
/* Apply the debounces at `now_ms`; returns true when the active set changed. */
bool alfa_fault_process(alfa_faults_t *f, uint32_t now_ms);
/* The active (debounced) faults, bit i = alfa_fault_bit_t i. */
static inline uint32_t alfa_fault_active(const alfa_faults_t *f) { return f->active; }
/* Any active critical fault. */
bool alfa_fault_critical(const alfa_faults_t *f);
/* Any active warning-severity fault. */
bool alfa_fault_warning(const alfa_faults_t *f);
/* The grid-relay safe state the active faults call for. When faults disagree, OPEN wins: charging
 * an over-voltage or over-temperature pack is worse than not charging a low one. */
alfa_fault_action_t alfa_fault_grid_action(const alfa_faults_t *f);

#endif
