// Unit tests of the site picture: freshness (live / last known), availability, the site clock, events and command lives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ageS, ageText, apply, commandDone, isLive, lifeRows, newStore, onlinePacks, siteNow, startCommand, type Store,
} from '../../src/state';

const SER = 'a4cf12000001';
const root = 'alfaspark/demo/';

function state(ts: number, cycle: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    serial: SER, node_id: 51, fw_version: '2.5.0', master: true, cycle, ts_s: ts, utc_offset_min: 120, p_grid_w: 10, p_home_w: 400,
    p_pool_w: 0, p_heater_w: 0, p_batt_w: -390, p_solar_w: 0, v_pack_mv: 52000, i_batt_ma: -7500, soc_pct: 61, mode: 'eco',
    relay_grid_closed: true, relay_inverter_closed: true, relay_pool_closed: false, relay_heater_closed: false, faults: [],
    warnings: ['loads_limit'], grid_import_today_wh: 100, solar_today_wh: 0, batt_charge_today_wh: 0, batt_discharge_today_wh: 50, ...extra,
  });
}

function up(s: Store, now: number) {
  apply(s, { topic: root + 'gateway/status', payload: 'online', retain: true }, now);
  apply(s, { topic: root + 'pack/' + SER + '/status', payload: 'online', retain: true }, now);
}

test('retained state is last known until a live one arrives', () => {
  const s = newStore('demo');
  up(s, 1000);
  assert.equal(apply(s, { topic: root + 'pack/' + SER + '/state', payload: state(1700000000, 5), retain: true }, 1000), true);
  const p = s.packs[SER]!;
  assert.equal(isLive(s, p.state, p, 1000), false);
  apply(s, { topic: root + 'pack/' + SER + '/state', payload: state(1700000002, 6), retain: false }, 1200);
  assert.equal(isLive(s, p.state, p, 1300), true);
  assert.equal(p.state!.value.soc_pct, 61);
  assert.deepEqual(p.state!.value.warnings, ['loads_limit']);
  // silence for longer than LIVE_MAX_MS: no longer live
  assert.equal(isLive(s, p.state, p, 1200 + 10001), false);
});

test('the gateway or the pack going offline turns values into last known', () => {
  const s = newStore('demo');
  up(s, 0);
  apply(s, { topic: root + 'pack/' + SER + '/state', payload: state(1700000000, 5), retain: false }, 100);
  const p = s.packs[SER]!;
  assert.equal(isLive(s, p.state, p, 200), true);
  apply(s, { topic: root + 'gateway/status', payload: 'offline', retain: false }, 300);
  assert.equal(isLive(s, p.state, p, 400), false);
  apply(s, { topic: root + 'gateway/status', payload: 'online', retain: false }, 500);
  assert.equal(isLive(s, p.state, p, 600), true);
  apply(s, { topic: root + 'pack/' + SER + '/status', payload: 'offline', retain: false }, 700);
  assert.equal(isLive(s, p.state, p, 800), false);
});

test('invalid or foreign messages change nothing', () => {
  const s = newStore('demo');
  assert.equal(apply(s, { topic: root + 'pack/' + SER + '/state', payload: '{"serial":1}', retain: false }, 0), false);
  assert.equal(apply(s, { topic: root + 'pack/' + SER + '/state', payload: 'not json', retain: false }, 0), false);
  assert.equal(apply(s, { topic: root + 'pack/ZZ/state', payload: state(1, 1), retain: false }, 0), false);
  assert.equal(apply(s, { topic: 'alfaspark/other/gateway/status', payload: 'online', retain: false }, 0), false);
  assert.equal(apply(s, { topic: root + 'gateway/status', payload: 'maybe', retain: false }, 0), false);
  assert.deepEqual(s.packs, {});
});

test('the site clock follows the packs time at its own rate (a simulator 60x faster)', () => {
  const s = newStore('demo');
  up(s, 0);
  for (let k = 0; k < 10; k++) {
    apply(s, { topic: root + 'pack/' + SER + '/state', payload: state(1700000000 + k * 120, k), retain: false }, k * 2000);
  }
  const now = siteNow(s.clock, 18000 + 1000)!;
  assert.ok(Math.abs(now - (1700000000 + 9 * 120 + 60)) <= 2, 'one second later is one simulated minute later: ' + now);
  assert.equal(s.clock.offsetMin, 120);
  // age of a value in the site's clock
  assert.ok(Math.abs(ageS(s, 1700000000 + 9 * 120, 19000)! - 60) <= 2);
  assert.equal(ageText(60), '60 s ago');
  assert.equal(ageText(600), '10 min ago');
  assert.equal(ageText(7200), '2 h ago');
});

test('events are kept newest first', () => {
  const s = newStore('demo');
  apply(s, { topic: root + 'event', payload: JSON.stringify({ pack: SER, type: 'warning', name: 'loads_limit', active: true, ts_s: 1 }), retain: false }, 0);
  apply(s, { topic: root + 'event', payload: JSON.stringify({ pack: SER, type: 'fault', name: 'bms_comm_lost', active: true, ts_s: 2 }), retain: false }, 0);
  assert.deepEqual(s.events.map((e) => e.name), ['bms_comm_lost', 'loads_limit']);
});

test('a command to every pack waits for each online pack: ok, a refusal with its reason, or timeout', () => {
  const s = newStore('demo');
  up(s, 0);
  apply(s, { topic: root + 'pack/a4cf12000002/status', payload: 'online', retain: true }, 0);
  apply(s, { topic: root + 'pack/a4cf12000003/status', payload: 'offline', retain: true }, 0);
  assert.deepEqual(onlinePacks(s), [SER, 'a4cf12000002']);
  const c = startCommand(s, 'x1', 'set_mode', 'all', '{}', 1000);
  assert.deepEqual(lifeRows(c, 1100).map((r) => r.state), ['sent', 'sent']);
  apply(s, { topic: root + 'cmd/result', payload: JSON.stringify({ id: 'x1', pack: SER, command: 'set_mode', result: 'ok' }), retain: false }, 1200);
  apply(s, { topic: root + 'cmd/result', payload: JSON.stringify({ id: 'x1', pack: 'a4cf12000002', command: 'set_mode', result: 'not_allowed', detail: 'busy' }), retain: false }, 1200);
  assert.deepEqual(lifeRows(c, 1300).map((r) => [r.state, r.text]), [['ok', 'ok'], ['refused', 'not_allowed: busy']]);
  assert.equal(commandDone(c, 1300), true);
  const t = startCommand(s, 'x2', 'identify', SER, '{}', 2000);
  assert.equal(commandDone(t, 2100), false);
  assert.equal(lifeRows(t, 2000 + 5001)[0]!.state, 'timeout');
  const g = startCommand(s, 'x3', 'set_eco_limit', 'all', '{}', 3000);
  apply(s, { topic: root + 'cmd/result', payload: JSON.stringify({ id: 'x3', pack: 'all', command: 'set_eco_limit', result: 'out_of_range', detail: 'limit' }), retain: false }, 3100);
  assert.deepEqual(lifeRows(g, 3200), [{ pack: 'all', state: 'refused', text: 'out_of_range: limit' }]);
});

test('a pack whose BMS is lost: its battery figures are null, the rest of its state is kept', () => {
  const s = newStore('demo');
  up(s, 1000);
  const payload = state(1700000000, 7, { p_batt_w: null, v_pack_mv: null, i_batt_ma: null, day: 19675 });
  assert.equal(apply(s, { topic: root + 'pack/' + SER + '/state', payload, retain: false }, 1000), true);
  const v = s.packs[SER]!.state!.value;
  assert.equal(v.p_batt_w, null);
  assert.equal(v.v_pack_mv, null);
  assert.equal(v.soc_pct, 61);
  assert.equal(v.day, 19675);
  // anything but a number or null is refused whole
  assert.equal(apply(s, { topic: root + 'pack/' + SER + '/state', payload: state(1700000002, 8, { p_batt_w: 'x' }), retain: false }, 1100), false);
});
