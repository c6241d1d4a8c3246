// Benchmark: navigation -> first live value on screen, in Debian's Chromium, against a local broker that serves the app.
// Prints `bench app_time_to_live_ms <T> ms` (median of 5 page loads, the first one with an empty cache).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const src = process.env.ALFA_SOURCE_DIR || resolve(here, '..', '..');
const bin = process.env.ALFA_BIN_DIR || join(src, 'build', 'bin');
const dist = process.env.ALFA_APP_DIST || join(src, 'build', 'app', 'dist');
// The packs publish every 2 s; at 10x a state comes every 200 ms, so the figure is the app's own
// path (load, scripts, WebSocket, MQTT connect, subscribe, first live state, drawn), not the wait
// for the next telemetry cycle (0..2 s on a real site).
const REALTIME = 10;
const work = mkdtempSync(join(tmpdir(), 'alfaspark-ttl-'));
chmodSync(work, 0o755);
const procs = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });

try {
  const port = await freePort();
  const ws = await freePort();
  cpSync(dist, join(work, 'app'), { recursive: true });
  spawnSync('chmod', ['-R', 'a+rX', join(work, 'app')]);
  writeFileSync(join(work, 'm.conf'), `allow_anonymous true\npersistence false\nlog_dest none\nlistener ${port} 127.0.0.1\nlistener ${ws} 127.0.0.1\nprotocol websockets\nhttp_dir ${join(work, 'app')}\n`);
  procs.push(spawn('/usr/sbin/mosquitto', ['-c', join(work, 'm.conf')], { stdio: 'ignore' }));
  const sim = spawn(join(bin, 'alfaspark-sim'), ['--packs', '3', '--can-pty', '--realtime', String(REALTIME), '--duration', '1d', '--quiet']);
  procs.push(sim);
  const pty = await new Promise((res, rej) => {
    sim.stdout.on('data', (d) => { const m = /\/dev\/pts\/\d+/.exec(d.toString()); if (m) res(m[0]); });
    setTimeout(() => rej(new Error('no pty')), 5000);
  });
  for (let k = 0; k < 50 && spawnSync('mosquitto_pub', ['-p', String(port), '-t', 'p', '-n']).status !== 0; k++) await sleep(100);
  procs.push(spawn(join(bin, 'alfaspark-gateway'), ['--site', 'bench', '--can', 'slcan:' + pty, '--port', String(port), '--host', '127.0.0.1',
    '--set', 'homeassistant.enabled=false'], { stdio: 'ignore' }));
  if (spawnSync('mosquitto_sub', ['-p', String(port), '-t', 'alfaspark/bench/pack/+/state', '-C', '3', '-W', '15']).status !== 0) throw new Error('no pack state');

  const profile = mkdtempSync(join(tmpdir(), 'alfaspark-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 390, height: 844 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  await ctx.addInitScript(() => {
    // the moment a live value is drawn: the first pack row marked live, after the frame that shows it
    new MutationObserver((_m, obs) => {
      if (document.querySelector('[data-live="1"]')) {
        obs.disconnect();
        requestAnimationFrame(() => { (window).__liveMs = performance.now(); });
      }
    }).observe(document, { subtree: true, childList: true, attributes: true });
  });
  const times = [];
  for (let k = 0; k < 5; k++) {
    const page = await ctx.newPage();
    await page.goto(`http://127.0.0.1:${ws}/?site=bench`);
    await page.waitForFunction(() => (window).__liveMs !== undefined, null, { timeout: 15000 });
    times.push(await page.evaluate(() => (window).__liveMs));
    await page.close();
  }
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`bench app_time_to_live_ms ${Math.round(sorted[2])} ms`);
  console.error(`app time to live: ${times.map((t) => Math.round(t)).join(', ')} ms (first with an empty cache; site at ${REALTIME}x: a state every ${2000 / REALTIME} ms)`);
} finally {
  for (const p of procs.reverse()) p.kill('SIGTERM');
  await sleep(200);
  rmSync(work, { recursive: true, force: true });
}
