// Unit tests of command validation against the schema generated from the C settings table (never retyped ranges).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import schemaJson from 'alfaspark-schema';
import { hhmmToMinutes, minutesToHhmm, parseSchema, setting, validateCommand, windowPieces } from '../../src/schema';

const schema = parseSchema(schemaJson);

test('the eco limit is checked against the table row, both ends', () => {
  const d = setting(schema, 'eco_limit_w');
  assert.equal(validateCommand(schema, 'set_eco_limit', { limit_w: d.min }).ok, true);
  assert.equal(validateCommand(schema, 'set_eco_limit', { limit_w: d.max }).ok, true);
  const lo = validateCommand(schema, 'set_eco_limit', { limit_w: d.min - 1 });
  assert.equal(lo.ok, false);
  assert.match(!lo.ok ? lo.errors.limit_w! : '', new RegExp(`${d.min}\\.\\.${d.max} W`));
  assert.equal(validateCommand(schema, 'set_eco_limit', { limit_w: d.max + 1 }).ok, false);
  assert.equal(validateCommand(schema, 'set_eco_limit', { limit_w: 2500.5 }).ok, false);
  assert.equal(validateCommand(schema, 'set_eco_limit', { limit_w: NaN }).ok, false);
});

test('self-consumption thresholds need the gap measured from the C rule', () => {
  const gap = schema.rules.sc_gap_pct;
  assert.ok(gap > 0);
  assert.equal(validateCommand(schema, 'set_sc_thresholds', { low_pct: 20, high_pct: 20 + gap }).ok, true);
  const r = validateCommand(schema, 'set_sc_thresholds', { low_pct: 20, high_pct: 20 + gap - 1 });
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.errors.high_pct);
});

test('grid limit kWh, TOU windows, modes, relays and overrides come from the schema', () => {
  const k = setting(schema, 'grid_limit_kwh');
  assert.equal(validateCommand(schema, 'set_grid_limit', { on: true, limit_kwh: k.max }).ok, true);
  assert.equal(validateCommand(schema, 'set_grid_limit', { on: true, limit_kwh: k.max + 1 }).ok, false);
  assert.equal(validateCommand(schema, 'set_tou_window', { index: schema.rules.tou_windows - 1, start_min: 1320, end_min: 360, enabled: true }).ok, true);
  assert.equal(validateCommand(schema, 'set_tou_window', { index: schema.rules.tou_windows, start_min: 0, end_min: 1, enabled: true }).ok, false);
  assert.equal(validateCommand(schema, 'set_tou_window', { index: 0, start_min: 1440, end_min: 1, enabled: true }).ok, false);
  const m = validateCommand(schema, 'set_mode', { mode: 'eco', on: true });
  assert.deepEqual(m, { ok: true, payload: { mode: 'eco', on: true } });
  assert.equal(validateCommand(schema, 'set_mode', { mode: 'none', on: true }).ok, false); // "none" is off, not a mode to turn on
  assert.equal(validateCommand(schema, 'set_relay_override', { relay: 'pool', override: 'closed' }).ok, true);
  assert.equal(validateCommand(schema, 'set_relay_override', { relay: 'pump', override: 'closed' }).ok, false);
  assert.equal(validateCommand(schema, 'factory_reset', {}).ok, false);
});

test('settings with holes in their range carry their allowed values (mains 50 or 60 Hz)', () => {
  assert.deepEqual(setting(schema, 'mains_hz').values, [50, 60]);
});

test('time of day helpers and windows across midnight', () => {
  assert.equal(minutesToHhmm(1320), '22:00');
  assert.equal(hhmmToMinutes('06:30'), 390);
  assert.equal(hhmmToMinutes('24:00'), undefined);
  assert.deepEqual(windowPieces(1320, 360), [[1320, 1440], [0, 360]]);
  assert.deepEqual(windowPieces(60, 120), [[60, 120]]);
  assert.deepEqual(windowPieces(60, 60), []);
});

test('a schema of the wrong shape is refused', () => {
  assert.throws(() => parseSchema({ settings: 'x' }));
  assert.throws(() => parseSchema({ ...(schemaJson as object), modes: [1, 2] }));
});
