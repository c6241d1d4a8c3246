/* The isa-check day script (21:00 to 21:00 local): commands, a settings write, BMS alarms, the 05:00 day change, a firmware update, a reboot, and what must be seen. */
#include "isa.h"

#define CMD(h, m, s, code_, exp_, a_, b_) \
    {.t_ms = ISA_T(h, m, s), .kind = ISA_EV_CMD, .code = (code_), .expect = (exp_), .a = (a_), .b = (b_)}
#define CMD4(h, m, s, code_, exp_, a_, b_, c_, d_)                                                      \
    {.t_ms = ISA_T(h, m, s), .kind = ISA_EV_CMD, .code = (code_), .expect = (exp_), .a = (a_), .b = (b_), \
     .c = (c_), .d = (d_)}
#define EV(h, m, s, kind_, a_, b_) {.t_ms = ISA_T(h, m, s), .kind = (kind_), .a = (a_), .b = (b_)}

#define OK ALFA_ACK_OK
#define GRID ALFA_RELAY_GRID
#define INVERTER ALFA_RELAY_INVERTER
#define POOL ALFA_RELAY_POOL
#define HEATER ALFA_RELAY_HEATER
#define OVER_TEMP_ALARM 0x0004  /* BMS alarm bit 2 (SPEC §5.1) */
#define EARLY_WARNING 0x0001    /* BMS warning bit 0 */

const isa_event_t isa_day[] = {
    /* 21:00 boot at 27 % SOC; the gateway's time frame arrives 2 s in. Self-consumption with the
     * daily grid-import limit at 3 kWh; a refused out-of-range limit; a burst of two settings
     * changes (one flash write after the store's quiet period). */
    CMD(21, 0, 30, ALFA_CMD_SET_MODE, OK, ALFA_MODE_SELF_CONSUMPTION, 1),
    CMD(21, 1, 0, ALFA_CMD_SET_GRID_LIMIT, OK, 1, 3),
    CMD(21, 1, 10, ALFA_CMD_SET_GRID_LIMIT, ALFA_ACK_OUT_OF_RANGE, 1, 40),
    CMD(21, 2, 0, ALFA_CMD_SET_SETTING, OK, ALFA_SET_ECO_LIMIT_W, 2500),
    CMD(21, 2, 1, ALFA_CMD_SET_SC_THRESHOLDS, OK, 15, 60),
    EV(21, 5, 0, ISA_EV_EXPECT_MODE, ALFA_MODE_SELF_CONSUMPTION, 0),
    /* Between the thresholds self-consumption keeps the grid relay as it was: closed (boot). */
    EV(21, 5, 0, ISA_EV_EXPECT_RELAY, GRID, 1),
    EV(21, 5, 0, ISA_EV_EXPECT_FAULT, ALFA_FAULT_TIME_NOT_SET, 0),
    EV(21, 5, 0, ISA_EV_EXPECT_FAULT, ALFA_FAULT_SETTINGS_CORRUPT, 0), /* cleared by the first write */
    /* The grid charges the battery and feeds the evening: 3 kWh are reached before 23:00, and the
     * grid relay stays open, against the mode, until 05:00. */
    EV(23, 0, 0, ISA_EV_EXPECT_WARNING, ALFA_WARN_GRID_LIMIT_REACHED, 1),
    EV(23, 0, 0, ISA_EV_EXPECT_RELAY, GRID, 0),
    EV(23, 0, 0, ISA_EV_EXPECT_IMPORT, 3000, 3100),
    /* A slow BMS (answers after 180 ms, beyond the 100-ms timeout) is polled through, not lost. */
    EV(2, 0, 0, ISA_EV_BMS_SLOW, 180, 0),
    EV(2, 5, 0, ISA_EV_EXPECT_FAULT, ALFA_FAULT_BMS_COMM_LOST, 0),
    EV(2, 10, 0, ISA_EV_BMS_SLOW, 0, 0),
    EV(4, 59, 50, ISA_EV_EXPECT_RELAY, GRID, 0),
    EV(4, 59, 50, ISA_EV_EXPECT_WARNING, ALFA_WARN_GRID_LIMIT_REACHED, 1),
    /* 05:00: a new day; the latch ends, today's import restarts from 0, the mode closes the grid. */
    EV(5, 0, 10, ISA_EV_EXPECT_WARNING, ALFA_WARN_GRID_LIMIT_REACHED, 0),
    EV(5, 0, 10, ISA_EV_EXPECT_RELAY, GRID, 1),
    EV(5, 0, 10, ISA_EV_EXPECT_IMPORT, 0, 20),
    /* An early warning from the BMS: "BMS degraded", nothing else. */
    EV(6, 0, 0, ISA_EV_BMS_WARNINGS, EARLY_WARNING, 0),
    EV(6, 1, 0, ISA_EV_EXPECT_WARNING, ALFA_WARN_BMS_DEGRADED, 1),
    EV(6, 5, 0, ISA_EV_BMS_WARNINGS, 0, 0),
    EV(6, 6, 0, ISA_EV_EXPECT_WARNING, ALFA_WARN_BMS_DEGRADED, 0),
    /* Manual override of the pool pump, then back to auto. */
    CMD(8, 0, 0, ALFA_CMD_SET_RELAY_OVERRIDE, OK, POOL, ALFA_OVR_OPEN),
    EV(8, 0, 10, ISA_EV_EXPECT_RELAY, POOL, 0),
    CMD(9, 0, 0, ALFA_CMD_SET_GRID_LIMIT, OK, 0, 3),
    EV(9, 0, 10, ISA_EV_EXPECT_WARNING, ALFA_WARN_GRID_LIMIT_REACHED, 0),
    /* 10:00: a firmware update from the gateway (fwsend.c): 6,000 bytes received, hashed, activated;
     * the pack restarts into 2.6.0, which confirms itself after its self-test. */
    EV(9, 59, 0, ISA_EV_EXPECT_FW, 0x020500, ISA_FW_IDLE),
    EV(10, 0, 0, ISA_EV_FW_UPDATE, 0, 0),
    EV(10, 5, 0, ISA_EV_EXPECT_FW, ISA_FW_NEW_VERSION, ISA_FW_DONE),
    EV(10, 5, 0, ISA_EV_EXPECT_BOOT, ALFA_PACK_BOOT_RESTORED, 2),
    EV(10, 5, 0, ISA_EV_EXPECT_MODE, ALFA_MODE_SELF_CONSUMPTION, 0),
    CMD(11, 0, 0, ALFA_CMD_SET_RELAY_OVERRIDE, OK, POOL, ALFA_OVR_AUTO),
    EV(11, 0, 10, ISA_EV_EXPECT_RELAY, POOL, 1),
    /* Eco from noon, with the 2,500 W limit written last night. */
    CMD(12, 0, 0, ALFA_CMD_SET_MODE, OK, ALFA_MODE_ECO, 1),
    EV(12, 0, 10, ISA_EV_EXPECT_MODE, ALFA_MODE_ECO, 0),
    /* A BMS over-temperature alarm: the grid relay opens at once (critical fault), then recovers. */
    EV(13, 0, 0, ISA_EV_BMS_ALARMS, OVER_TEMP_ALARM, 0),
    EV(13, 0, 10, ISA_EV_EXPECT_FAULT, ALFA_FAULT_OVER_TEMP, 1),
    EV(13, 0, 10, ISA_EV_EXPECT_RELAY, GRID, 0),
    EV(13, 5, 0, ISA_EV_BMS_ALARMS, 0, 0),
    EV(13, 5, 20, ISA_EV_EXPECT_FAULT, ALFA_FAULT_OVER_TEMP, 0),
    EV(13, 5, 20, ISA_EV_EXPECT_RELAY, GRID, 1),
    /* The BMS goes silent for 30 s: "comm lost" after five failed polls, cleared by the next answer. */
    EV(14, 0, 0, ISA_EV_BMS_SILENT, 1, 0),
    EV(14, 0, 28, ISA_EV_EXPECT_FAULT, ALFA_FAULT_BMS_COMM_LOST, 1),
    EV(14, 0, 30, ISA_EV_BMS_SILENT, 0, 0),
    EV(14, 0, 40, ISA_EV_EXPECT_FAULT, ALFA_FAULT_BMS_COMM_LOST, 0),
    /* Time-of-use 15:30-16:30 on the inverter output relay. */
    CMD4(15, 0, 0, ALFA_CMD_SET_TOU_WINDOW, OK, 0, 15 * 60 + 30, 16 * 60 + 30, 1),
    CMD(15, 0, 1, ALFA_CMD_SET_MODE, OK, ALFA_MODE_TOU, 1),
    EV(15, 10, 0, ISA_EV_EXPECT_RELAY, INVERTER, 0),
    EV(15, 31, 0, ISA_EV_EXPECT_RELAY, INVERTER, 1),
    CMD(16, 45, 0, ALFA_CMD_IDENTIFY, OK, 3, 0),
    EV(16, 45, 0, ISA_EV_EXPECT_RELAY, INVERTER, 0),
    /* Eco again: at 18:00 the evening load plus the water heater pass 2,500 W, the heater is shed. */
    CMD(17, 0, 0, ALFA_CMD_SET_MODE, OK, ALFA_MODE_ECO, 1),
    EV(17, 0, 10, ISA_EV_EXPECT_RELAY, INVERTER, 1),
    EV(18, 1, 0, ISA_EV_EXPECT_RELAY, HEATER, 0),
    EV(18, 1, 0, ISA_EV_EXPECT_WARNING, ALFA_WARN_LOADS_LIMIT, 0),
    /* Read the settings back, reboot, and read them again: what was written survived. */
    CMD(19, 0, 0, ALFA_CMD_READ_SETTINGS, OK, 0, 0),
    EV(19, 0, 5, ISA_EV_EXPECT_SETTING, ALFA_SET_ECO_LIMIT_W, 2500),
    EV(19, 0, 5, ISA_EV_EXPECT_SETTING, ALFA_SET_SC_LOW_PCT, 15),
    EV(19, 0, 5, ISA_EV_EXPECT_SETTING, ALFA_SET_SC_HIGH_PCT, 60),
    EV(19, 0, 5, ISA_EV_EXPECT_SETTING, ALFA_SET_MODE, ALFA_MODE_ECO),
    EV(19, 0, 5, ISA_EV_EXPECT_SETTING, ALFA_SET_TOU0_START_MIN, 15 * 60 + 30),
    CMD(19, 30, 0, ALFA_CMD_REBOOT, OK, 0, 0),
    EV(19, 30, 30, ISA_EV_EXPECT_BOOT, ALFA_PACK_BOOT_RESTORED, 3),
    EV(19, 31, 0, ISA_EV_EXPECT_FW, ISA_FW_NEW_VERSION, ISA_FW_DONE), /* a restart keeps the confirmed image */
    CMD(19, 31, 0, ALFA_CMD_READ_SETTINGS, OK, 0, 0),
    EV(19, 31, 5, ISA_EV_EXPECT_SETTING, ALFA_SET_ECO_LIMIT_W, 2500),
    EV(19, 31, 5, ISA_EV_EXPECT_SETTING, ALFA_SET_SC_LOW_PCT, 15),
    EV(19, 31, 5, ISA_EV_EXPECT_SETTING, ALFA_SET_MODE, ALFA_MODE_ECO),
    EV(19, 31, 5, ISA_EV_EXPECT_SETTING, ALFA_SET_GRID_LIMIT_ON, 0),
    EV(19, 31, 5, ISA_EV_EXPECT_MODE, ALFA_MODE_ECO, 0),
    /* A factory reset with the wrong confirmation is refused; a calibration write is taken. */
    CMD(20, 0, 0, ALFA_CMD_FACTORY_RESET, ALFA_ACK_NOT_ALLOWED, 0x12345678, 0),
    CMD4(20, 30, 0, ALFA_CMD_SET_CALIBRATION, OK, ALFA_CT_HEATER, 23000, 0, 0),
    EV(20, 59, 0, ISA_EV_EXPECT_FAULT, ALFA_FAULT_SETTINGS_CORRUPT, 0),
    EV(20, 59, 0, ISA_EV_EXPECT_FAULT, ALFA_FAULT_BMS_COMM_LOST, 0),
};

const uint32_t isa_day_count = (uint32_t)(sizeof isa_day / sizeof isa_day[0]);
