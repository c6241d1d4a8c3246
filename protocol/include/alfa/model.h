/* The shared data model: enums and records that firmware, CAN protocol, gateway and simulator agree on. */
#ifndef ALFA_MODEL_H
#define ALFA_MODEL_H

#include <stdint.h>

/* Firmware identity (SPEC.md §3). */
#define ALFA_FW_NAME "Alfaspark"
#define ALFA_FW_VERSION_MAJOR 2u
#define ALFA_FW_VERSION_MINOR 5u
#define ALFA_FW_VERSION_PATCH 0u

/* The site day (SPEC.md §6.2, §5.5): the 05:00-05:00 local day every "today" figure belongs to,
 * numbered as the days since 1970-01-01 of (local time - 5 h); 2020..2100 is 18262..47481.
 * ALFA_DAY_NONE: no wall-clock time has ever reached this node (its "today" began at boot). */
#define ALFA_DAY_NONE 0u

/* Device types carried in heartbeats (SPEC.md §3). */
typedef enum alfa_device_type {
    ALFA_DEV_PACK = 1,          /* Energy-Pack: takes part in the election */
    ALFA_DEV_ENERGY_GATEWAY = 2, /* future ESP32 Energy-Gateway: always master when present */
    ALFA_DEV_LINUX_GATEWAY = 3,  /* the Linux CAN<->MQTT gateway: never takes part */
} alfa_device_type_t;

/* Energy modes (SPEC.md §6.1): exactly one active, or none. Values travel on CAN: never renumber. */
typedef enum alfa_mode {
    ALFA_MODE_NONE = 0,
    ALFA_MODE_SELF_CONSUMPTION = 1,
    ALFA_MODE_ECO = 2,
    ALFA_MODE_TOU = 3,
    ALFA_MODE_BACKUP = 4,
    ALFA_MODE_COUNT
} alfa_mode_t;

/* Manual relay override (SPEC.md §6.3 rank 3). */
typedef enum alfa_override {
    ALFA_OVR_AUTO = 0,
    ALFA_OVR_OPEN = 1,
    ALFA_OVR_CLOSED = 2,
} alfa_override_t;

/* Fault-table rows (SPEC.md §5.7): bit positions in alfa_telemetry_t.faults. Severity, debounce
 * and action of each row live in the core's fault table. */
typedef enum alfa_fault_bit {
    ALFA_FAULT_BMS_COMM_LOST = 0,
    ALFA_FAULT_CELL_OV = 1,          /* BMS alarm bit 0 */
    ALFA_FAULT_CELL_UV = 2,          /* BMS alarm bit 1 */
    ALFA_FAULT_OVER_TEMP = 3,        /* BMS alarm bit 2 */
    ALFA_FAULT_UNDER_TEMP = 4,       /* BMS alarm bit 3 */
    ALFA_FAULT_CHARGE_OC = 5,        /* BMS alarm bit 4 */
    ALFA_FAULT_DISCHARGE_OC = 6,     /* BMS alarm bit 5 */
    ALFA_FAULT_SHORT_CIRCUIT = 7,    /* BMS alarm bit 6 */
    ALFA_FAULT_BMS_INTERNAL = 8,     /* BMS alarm bit 7 */
    ALFA_FAULT_CT_RANGE = 9,         /* a CT reads beyond its rated current */
    ALFA_FAULT_TIME_NOT_SET = 10,    /* no wall-clock time received yet */
    ALFA_FAULT_SETTINGS_CORRUPT = 11, /* settings store blank or unreadable: defaults in use */
    ALFA_FAULT_CAN_BUS_OFF = 12,     /* CAN controller bus-off */
    ALFA_FAULT_COUNT
} alfa_fault_bit_t;

/* Warnings that are conditions of control, not faults: bit positions in alfa_telemetry_t.warnings. */
typedef enum alfa_warning_bit {
    ALFA_WARN_LOADS_LIMIT = 0,        /* Eco: load over limit with every sheddable relay open */
    ALFA_WARN_GRID_LIMIT_REACHED = 1, /* daily grid-import limit reached: grid relay held open */
    ALFA_WARN_BMS_DEGRADED = 2,       /* BMS answered with warning bits, or only after retries */
    ALFA_WARN_NODE_ID_CONFLICT = 3,   /* another node claimed our node ID; we moved */
    ALFA_WARN_IMPORT_RECOVERING = 4,  /* today's grid import counts since the last boot: the figure
                                       * of before it is not back yet (alfa/dayfig.h) */
    ALFA_WARN_COUNT
} alfa_warning_bit_t;
/* The warnings the pack shows (yellow LED, heartbeat WARNING); the others are information. */
#define ALFA_WARN_SHOWN_MASK ((uint16_t)(((1u << ALFA_WARN_COUNT) - 1u) & ~(1u << ALFA_WARN_IMPORT_RECOVERING)))

/* A pack voltage of 0 or above this is not a reading but a broken BMS or link (32 cells x 3.9 V is
 * 124.8 V): the poll counts as failed. */
#define ALFA_V_PACK_MAX_MV 150000u

/* One BMS poll's decoded values (SPEC.md §5.1): what the Modbus/BMS layer hands the core. */
#define ALFA_BMS_HAS_SOC 0x01u
#define ALFA_BMS_HAS_TEMP 0x02u
#define ALFA_BMS_HAS_CELLS 0x04u
typedef struct alfa_bms_reading {
    uint32_t v_pack_mv;   /* pack voltage */
    int32_t i_batt_ma;    /* battery current, + = charging */
    uint16_t alarms;      /* BMS alarm bits (SPEC.md §5.1 default profile numbering) */
    uint16_t warnings;    /* BMS warning bits */
    uint8_t present;      /* ALFA_BMS_HAS_* for the optional fields below */
    uint8_t soc_pct;      /* BMS's own SOC, when present */
    int16_t temp_max_dc;  /* highest temperature, 0.1 degC */
    uint16_t cell_min_mv;
    uint16_t cell_max_mv;
} alfa_bms_reading_t;

/* Relay state bits in telemetry: bit i = relay i closed (ALFA_RELAY_* order: grid, inverter,
 * pool, heater). Closed means current can flow, whatever the board's coil polarity. */

/* One pack's telemetry for one 2-s cycle (SPEC.md §8.5): the content of the telemetry frames,
 * of the gateway's per-pack state JSON and of the simulator's trace. */
typedef struct alfa_telemetry {
    uint32_t cycle;               /* the pack's 2-s cycle counter: ties the frames of one cycle together */
    int32_t p_grid_w;             /* grid input power (CT magnitude x nominal voltage) */
    int32_t p_home_w;             /* inverter output power */
    int32_t p_pool_w;
    int32_t p_heater_w;
    int32_t p_batt_w;             /* + = charging */
    int32_t p_solar_w;            /* by energy balance, never negative */
    uint32_t v_pack_mv;           /* 0 = battery unknown (BMS lost or not read yet): v, i, p_batt are 0 */
    int32_t i_batt_ma;            /* + = charging */
    uint8_t soc_pct;              /* 0..100 (the last known value while the battery is unknown) */
    uint8_t relays_closed;        /* bit i = relay i closed */
    uint8_t mode;                 /* alfa_mode_t */
    uint8_t is_master;            /* 1 when this pack is the site master */
    uint32_t faults;              /* active fault bits (alfa_fault_bit_t) */
    uint16_t warnings;            /* active warning bits (alfa_warning_bit_t) */
    uint16_t day;                 /* the site day the four "today" counters belong to (ALFA_DAY_*) */
    uint32_t grid_import_today_wh;
    uint32_t solar_today_wh;
    uint32_t batt_charge_today_wh;
    uint32_t batt_discharge_today_wh;
} alfa_telemetry_t;

/* Site totals the master broadcasts every 2 s (SPEC.md §8.4). */
typedef struct alfa_site_totals {
    uint8_t packs_online;
    uint8_t soc_avg_pct;
    uint8_t grid_limit_reached;   /* 1 once the site's import reached the daily limit */
    uint16_t day;                 /* the site day the import and the flag belong to (ALFA_DAY_*) */
    int32_t p_batt_w;
    int32_t p_solar_w;
    int32_t p_home_w;
    int32_t p_grid_w;
    uint32_t grid_import_today_wh;
    uint64_t master_serial;       /* 48-bit hardware serial of the master */
} alfa_site_totals_t;

#endif
