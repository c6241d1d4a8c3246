// Unit tests of the history requests (ranges in the site's local days) and the checking of the gateway's answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dayStart, parseAnswer, request } from '../../src/history';

test('days start at the site local midnight', () => {
  const midnightUtc = 1782000000 - (1782000000 % 86400);
  assert.equal(dayStart(midnightUtc + 3600, 0), midnightUtc);
  assert.equal(dayStart(midnightUtc + 3600, 120), midnightUtc - 7200); // 03:00 local: the day began at 22:00 UTC the day before
  assert.equal(dayStart(midnightUtc + 3600, -300), midnightUtc - 86400 + 18000);
});

test('a day at 5 minutes, a week and a month at an hour', () => {
  const t = 1782000000;
  const d = JSON.parse(request('h1', 'site', 'day', t, 60, ['soc_pct']));
  assert.equal(d.to_s - d.from_s, 86400);
  assert.equal(d.res_s, 300);
  assert.equal(d.utc_offset_min, 60);
  const m = JSON.parse(request('h2', 'a4cf12000001', 'month', t, 60, ['soc_pct']));
  assert.equal((m.to_s - m.from_s) / m.res_s, 720);
});

test('answers are checked before use', () => {
  const ok = parseAnswer('{"id":"h1","result":"ok","pack":"site","from_s":0,"to_s":600,"res_s":300,"utc_offset_min":0,"t":[0,300],"soc_pct":[5,6]}', ['soc_pct']);
  assert.ok(ok && !('error' in ok));
  assert.deepEqual(ok && !('error' in ok) ? ok.series.soc_pct : [], [5, 6]);
  assert.deepEqual(parseAnswer('{"id":"h1","result":"bad_request","detail":"too many points"}', []), { id: 'h1', error: 'too many points' });
  assert.equal(parseAnswer('{"id":"h1","result":"ok","from_s":0,"to_s":600,"res_s":300,"t":[0],"soc_pct":[5,6]}', ['soc_pct']), undefined);
  assert.equal(parseAnswer('garbage', []), undefined);
});
