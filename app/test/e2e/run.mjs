// End-to-end test of the app (ctest app_e2e): Debian's Chromium, driven by playwright-core, against the real stack —
// Mosquitto brokers, alfaspark-sim packs on an SLCAN pty, alfaspark-gateway — all started here on free loopback ports.
//
//   gateway broker G (TCP) <- alfaspark-gateway <- SLCAN pty <- alfaspark-sim (3 packs, 1000x)
//   home broker H (WebSocket + http_dir: serves the app)  <-- bridge "both" -->  G
//   away broker C (WebSocket, the "cloud")  <-- bridge from G, site remapped e2e -> e2e-cloud (deploy/mosquitto/bridge.conf.example)
//
// The app is opened from H like a phone at home opens http://<gateway>:9001/. The test checks what a person sees
// against the MQTT truth (read with mosquitto_sub on G), then stops H (the app must find the site through C,
// say so, and come back home when H returns), asks for the day the gateway recorded, and kills the gateway.
// Screenshots (390x844 and 1280x800, light and dark) go to $ALFA_ARTIFACTS.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const src = process.env.ALFA_SOURCE_DIR || resolve(here, '..', '..', '..');
const bin = process.env.ALFA_BIN_DIR || join(src, 'build', 'bin');
const dist = process.env.ALFA_APP_DIST || join(src, 'build', 'app', 'dist');
const artifacts = process.env.ALFA_ARTIFACTS || join(src, 'build', 'artifacts', 'app');
const schema = JSON.parse(readFileSync(join(dist, '..', 'schema.json'), 'utf8'));
const SITE = 'e2e';
const CLOUD_SITE = 'e2e-cloud';
const REALTIME = Number(process.env.ALFA_E2E_REALTIME || 1000);

const work = mkdtempSync(join(tmpdir(), 'alfaspark-app-e2e-'));
chmodSync(work, 0o755); // mosquitto started as root reads http_dir as user "mosquitto"
mkdirSync(artifacts, { recursive: true });
const procs = new Map();
let passed = 0;
let failed = 0;
const t0 = Date.now();

function log(...a) {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s]`, ...a);
}

function check(name, ok, detail = '') {
  if (ok) {
    passed++;
    log('ok   ' + name);
  } else {
    failed++;
    log('FAIL ' + name + (detail ? ': ' + detail : ''));
  }
  return ok;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` + (last instanceof Error ? ` (${last.message})` : ''));
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

function start(name, cmd, args) {
  const out = join(work, name + '.log');
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks = [];
  p.stdout.on('data', (d) => chunks.push(d));
  p.stderr.on('data', (d) => chunks.push(d));
  p.on('exit', () => writeFileSync(out, Buffer.concat(chunks)));
  procs.set(name, p);
  return { p, text: () => Buffer.concat(chunks).toString() };
}

async function stop(name, signal = 'SIGTERM') {
  const p = procs.get(name);
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await Promise.race([gone, sleep(3000)]);
  procs.delete(name);
}

async function cleanup() {
  for (const name of [...procs.keys()].reverse()) await stop(name, 'SIGKILL');
}

/* ------------------------------------------------------------------ the stack */

const pG = await freePort();
const pH = await freePort();
const pC = await freePort();
// Mosquitto 2.0.11 refuses to start with WebSocket listeners only: each broker gets a TCP one too
const pHtcp = await freePort();
const pCtcp = await freePort();
const appDir = join(work, 'app');
cpSync(dist, appDir, { recursive: true });
spawnSync('chmod', ['-R', 'a+rX', appDir]);

function brokerConf(name, lines) {
  const f = join(work, name + '.conf');
  writeFileSync(f, ['per_listener_settings false', 'allow_anonymous true', 'persistence false', 'log_dest stderr',
    'set_tcp_nodelay true', ...lines, ''].join('\n'));
  return f;
}
const confC = brokerConf('broker-cloud', [`listener ${pCtcp} 127.0.0.1`, `listener ${pC} 127.0.0.1`, 'protocol websockets']);
// G bridges to the cloud like deploy/mosquitto/bridge.conf.example, history topics included
const out = (t) => `topic ${t} out 1 alfaspark/${SITE}/ alfaspark/${CLOUD_SITE}/`;
const inn = (t) => `topic ${t} in 1 alfaspark/${SITE}/ alfaspark/${CLOUD_SITE}/`;
const confG = brokerConf('broker-gateway', [`listener ${pG} 127.0.0.1`,
  'connection e2e-cloud', `address 127.0.0.1:${pCtcp}`, 'bridge_protocol_version mqttv311', 'try_private true', 'cleansession true',
  'notifications true', `notification_topic alfaspark/${SITE}/gateway/cloud`, 'restart_timeout 1 2',
  out('pack/+/state'), out('pack/+/status'), out('pack/+/settings'), out('site/state'), out('gateway/status'), out('event'),
  out('cmd/result'), out('history/result'), inn('cmd/+'), inn('pack/+/cmd/+'), inn('history/get')]);
const confH = brokerConf('broker-home', [`listener ${pHtcp} 127.0.0.1`, `listener ${pH} 127.0.0.1`, 'protocol websockets', `http_dir ${appDir}`,
  'connection e2e-home', `address 127.0.0.1:${pG}`, 'bridge_protocol_version mqttv311', 'try_private true', 'cleansession true',
  'restart_timeout 1 2', 'topic alfaspark/# both 1']);

const mq = (conf) => ['/usr/sbin/mosquitto', ['-c', conf]];
start('broker-cloud', ...mq(confC));
start('broker-gateway', ...mq(confG));
start('broker-home', ...mq(confH));

const sim = start('sim', join(bin, 'alfaspark-sim'), ['--scenario', join(here, 'site.scn'), '--can-pty', '--realtime', String(REALTIME), '--quiet']);
const pty = await waitFor('the simulator pty', () => /\/dev\/pts\/\d+/.exec(sim.text())?.[0], 5000);

function mqttWait(port) {
  return waitFor('broker on ' + port, () => spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'probe', '-n']).status === 0, 5000);
}
await mqttWait(pG);

function startGateway() {
  return start('gateway', join(bin, 'alfaspark-gateway'), ['--site', SITE, '--can', 'slcan:' + pty, '--host', '127.0.0.1', '--port', String(pG),
    '--set', 'gateway.serial=0x0a1f000000e2', '--set', 'homeassistant.enabled=false', '--set', 'history.path=' + join(work, 'history.db'),
    '--set', 'history.flush_s=5', '--set', 'mqtt.keepalive_s=5']);
}
startGateway();

/* The MQTT truth, read on the gateway's broker. */
const states = new Map(); // serial -> Map(cycle -> state)
const lastState = new Map(); // serial -> the state received last
const cmdSeen = [];
const historyAnswers = new Map();
const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(pG), '-v', '-t', `alfaspark/${SITE}/#`]);
procs.set('mosquitto_sub', sub);
let subBuf = '';
sub.stdout.on('data', (d) => {
  subBuf += d.toString();
  let nl;
  while ((nl = subBuf.indexOf('\n')) >= 0) {
    const line = subBuf.slice(0, nl);
    subBuf = subBuf.slice(nl + 1);
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    const topic = line.slice(0, sp);
    const payload = line.slice(sp + 1);
    const rest = topic.slice(`alfaspark/${SITE}/`.length);
    let m;
    if ((m = /^pack\/([0-9a-f]{12})\/state$/.exec(rest))) {
      const st = JSON.parse(payload);
      if (!states.has(m[1])) states.set(m[1], new Map());
      const byCycle = states.get(m[1]);
      byCycle.set(st.cycle, st);
      lastState.set(m[1], st);
      if (byCycle.size > 5000) byCycle.delete(byCycle.keys().next().value);
    } else if (/^(pack\/[0-9a-f]{12}\/)?cmd\/(?!result)/.test(rest)) {
      cmdSeen.push({ topic: rest, payload, at: Date.now() });
    } else if (rest === 'history/result') {
      const a = JSON.parse(payload);
      historyAnswers.set(a.id, a);
    }
  }
});
const latest = (serial) => lastState.get(serial);
await waitFor('three packs on MQTT', () => states.size === 3, 20000);
const serials = [...states.keys()].sort();
log('stack up: packs ' + serials.join(', ') + `; brokers G ${pG}, home ${pH}, cloud ${pC}; sim ${REALTIME}x`);

/* ------------------------------------------------------------------ the browser */

const profile = mkdtempSync(join(tmpdir(), 'alfaspark-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 390, height: 844 },
});
const page = ctx.pages()[0] ?? (await ctx.newPage());
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
const appUrl = `http://127.0.0.1:${pH}/?site=${SITE}&away=ws://127.0.0.1:${pC}/&away_site=${CLOUD_SITE}&probe_s=2`;

async function shot(name) {
  await page.screenshot({ path: join(artifacts, name + '.png'), fullPage: false });
}

async function homeRows() {
  return page.$$eval('[data-testid^="home-pack-"]', (rows) => rows.map((r) => {
    const cell = (k) => r.querySelector(`[data-k="${k}"]`);
    const o = { serial: r.getAttribute('data-testid').slice('home-pack-'.length), cycle: Number(r.getAttribute('data-cycle')),
      live: r.getAttribute('data-live') === '1' };
    for (const k of ['soc_pct', 'p_solar_w', 'p_batt_w', 'p_home_w', 'p_grid_w', 'p_pool_w', 'p_heater_w']) {
      o[k] = { v: Number(cell(k)?.getAttribute('data-v')), text: cell(k)?.textContent ?? '' };
    }
    return o;
  }));
}

function fmtW(w) {
  return Math.abs(w) >= 10000 ? (w / 1000).toFixed(1) + ' kW' : Math.round(w) + ' W';
}

let exitCode = 1;
try {
  await page.goto(appUrl);
  await waitFor('the app on the home path', async () => (await page.getAttribute('[data-testid=path]', 'data-path')) === 'home', 10000);
  check('the app opens from the home broker and says "Home"', true);

  // 1. Home shows each pack's SOC and powers equal to its MQTT state (of the same cycle)
  const rows = await waitFor('three live pack rows', async () => {
    const r = await homeRows();
    return r.length === 3 && r.every((x) => x.live) ? r : undefined;
  }, 10000);
  let mismatches = [];
  for (const r of rows) {
    const truth = states.get(r.serial)?.get(r.cycle);
    if (!truth) {
      mismatches.push(`${r.serial}: cycle ${r.cycle} not seen on MQTT`);
      continue;
    }
    for (const k of ['soc_pct', 'p_solar_w', 'p_batt_w', 'p_home_w', 'p_grid_w', 'p_pool_w', 'p_heater_w']) {
      const want = k === 'soc_pct' ? truth[k] + ' %' : fmtW(truth[k]);
      if (r[k].v !== truth[k] || r[k].text !== want) mismatches.push(`${r.serial} ${k}: shows "${r[k].text}", MQTT ${truth[k]}`);
    }
  }
  check('Home shows every pack\'s SOC and six powers equal to its MQTT state', mismatches.length === 0 && rows.length === 3,
    mismatches.join('; '));
  const clock = await page.textContent('[data-testid=site-clock]');
  const lt = latest(serials[0]);
  const simHhmm = new Date((lt.ts_s + lt.utc_offset_min * 60) * 1000).toISOString().slice(11, 16);
  // read a moment apart at 1000x: within 30 simulated minutes, either way round midnight
  const mins = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
  const apart = /^\d\d:\d\d$/.test(clock ?? '') ? (mins(clock) - mins(simHhmm) + 1440) % 1440 : 9999;
  check('the header shows the site\'s simulated time of day, not the wall clock', Math.min(apart, 1440 - apart) <= 30,
    `header ${clock}, packs ${simHhmm}`);

  // 2. an out-of-range eco limit is refused in the UI before anything is sent
  await page.click('[data-testid=tab-control]');
  const eco = schema.settings.find((s) => s.name === 'eco_limit_w');
  const before = cmdSeen.filter((c) => c.topic.endsWith('set_eco_limit')).length;
  await page.fill('[data-testid=eco-limit]', String(eco.max + 1));
  await page.click('[data-testid=eco-send]');
  const err = await waitFor('the refusal', () => page.textContent('[data-testid=err-limit_w]'), 3000);
  await sleep(1000);
  check(`eco limit ${eco.max + 1} W refused in the UI ("${err}"), nothing published`, err.includes(`${eco.min}..${eco.max}`) && cmdSeen.filter((c) => c.topic.endsWith('set_eco_limit')).length === before,
    'a set_eco_limit reached the broker');

  // 3. Eco from the UI: ok from every pack, and the packs' telemetry says eco
  await page.click('[data-testid=mode-eco]');
  const sentAt = Date.now();
  await page.click('[data-testid=mode-on]');
  const life = await waitFor('a result from every pack', async () => {
    const st = await page.$$eval('[data-command=set_mode] li[data-state]', (ls) => ls.map((l) => [l.getAttribute('data-pack'), l.getAttribute('data-state')]));
    return st.length === 3 && st.every(([, s]) => s !== 'sent') ? st : undefined;
  }, 8000);
  check('set_mode eco: the command\'s life shows "ok" for each of the 3 packs', life.every(([p, s]) => s === 'ok' && serials.includes(p)),
    JSON.stringify(life));
  const sentCmd = cmdSeen.find((c) => c.at >= sentAt - 50 && c.topic === 'cmd/set_mode');
  check('the app published one cmd/set_mode with mode eco', !!sentCmd && JSON.parse(sentCmd.payload).mode === 'eco', sentCmd?.payload);
  await waitFor('eco in every pack\'s telemetry', () => serials.every((s) => latest(s)?.mode === 'eco'), 5000);
  check('every pack\'s telemetry reports mode eco', true);
  await page.click('[data-testid=tab-home]');
  await waitFor('Home shows eco', async () => (await page.textContent('[data-testid=mode-now]'))?.includes('eco'), 3000);
  check('Home shows the mode eco', true);

  // 4. screenshots: phone and desktop, light and dark (the "auto" theme follows the system)
  for (const [w, h] of [[390, 844], [1280, 800]]) {
    await page.setViewportSize({ width: w, height: h });
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      await sleep(300);
      await shot(`home-${w}x${h}-${scheme}`);
      await page.click('[data-testid=tab-control]');
      await sleep(200);
      await shot(`control-${w}x${h}-${scheme}`);
      await page.click('[data-testid=tab-home]');
    }
  }
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'light' });
  check('screenshots at 390x844 and 1280x800, light and dark, in ' + artifacts, true);

  // 5. away: the home broker stops; the app reaches the same site through the cloud broker and says so
  await stop('broker-home');
  await waitFor('the away path', async () => (await page.getAttribute('[data-testid=path]', 'data-path')) === 'away', 12000);
  check('home broker stopped: the app switched to the away path and shows "Away · cloud"',
    (await page.textContent('[data-testid=path]'))?.includes('Away') ?? false);
  const awayRows = await waitFor('live values through the cloud', async () => {
    const r = await homeRows();
    return r.length === 3 && r.every((x) => x.live) ? r : undefined;
  }, 10000);
  const awayTruth = awayRows.every((r) => states.get(r.serial)?.get(r.cycle)?.soc_pct === r.soc_pct.v);
  check('away, the same site is live (e2e-cloud on the cloud broker) with values equal to MQTT', awayTruth);
  start('broker-home', ...mq(confH));
  await waitFor('back home', async () => (await page.getAttribute('[data-testid=path]', 'data-path')) === 'home', 15000);
  check('the home broker back: the app moved back to the home path by itself', true);

  // 6. History: the day the gateway recorded (day 2, 00:00-24:00 site time) from the simulated day
  const day2 = Date.UTC(2026, 5, 21) / 1000 - 120 * 60; // 2026-06-21 00:00 at +02:00
  await waitFor('the simulated day to end', () => serials.every((s) => (latest(s)?.ts_s ?? 0) > day2 + 86400 + 600), 200000);
  await page.click('[data-testid=tab-history]');
  await waitFor('an answer', () => page.$('[data-testid=hist-summary]'), 10000);
  await page.click('[data-testid=hist-prev]');
  await waitFor('the recorded day', async () => (await page.textContent('[data-testid=hist-title]')) === '2026-06-21', 5000);
  const sum = await waitFor('the day\'s summary', async () => {
    const el = await page.$('[data-testid=hist-summary]');
    const pts = Number(await el?.getAttribute('data-points'));
    return pts > 0 ? { pts, solar: Number(await el.getAttribute('data-solar-wh')), grid: Number(await el.getAttribute('data-grid-wh')) } : undefined;
  }, 10000);
  // the same question, asked directly
  spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(pG), '-t', `alfaspark/${SITE}/history/get`, '-m',
    JSON.stringify({ id: 'e2e-direct', pack: 'site', from_s: day2, to_s: day2 + 86400, res_s: 300, series: ['e_solar_wh', 'e_grid_import_wh'] })]);
  const direct = await waitFor('the direct answer', () => historyAnswers.get('e2e-direct'), 5000);
  const dSolar = direct.e_solar_wh.reduce((a, b) => a + b, 0);
  check(`History shows the simulated day 2026-06-21: ${sum.pts} five-minute points, solar ${sum.solar} Wh, grid ${sum.grid} Wh`,
    sum.pts >= 280 && sum.pts <= 288 && sum.solar > 1000 && sum.solar === dSolar && sum.pts === direct.t.length,
    `direct: ${direct.t.length} points, solar ${dSolar} Wh`);
  await page.waitForSelector('[data-testid=hist-chart] canvas', { timeout: 5000 });
  check('the chart (loaded only on History) is drawn', true);
  await shot('history-390x844-light');

  // 7. the gateway killed: offline within 5 s, values turn "last known"
  await page.click('[data-testid=tab-home]');
  await waitFor('live again', async () => (await homeRows()).every((r) => r.live), 5000);
  const killedAt = Date.now();
  await stop('gateway', 'SIGKILL');
  await waitFor('gateway offline', async () => (await page.getAttribute('[data-testid=gateway]', 'data-gateway')) === 'offline', 5000);
  const offlineMs = Date.now() - killedAt;
  check(`gateway killed (SIGKILL): the app shows it offline after ${offlineMs} ms (<= 5000)`, offlineMs <= 5000);
  await waitFor('last known', async () => (await homeRows()).every((r) => !r.live), 3000);
  const fresh = await page.getAttribute('[data-testid=flow] [data-fresh]', 'data-fresh');
  const freshText = await page.textContent('[data-testid=flow] [data-fresh]');
  check(`values turn "last known" ("${freshText}")`, fresh === 'last-known' && /last known/.test(freshText ?? ''));
  await shot('gateway-offline-390x844-light');

  // 8. installable with an offline shell where the files come with their Content-Types (any HTTPS host;
  // localhost is a secure context too): here Python's static server on loopback
  const pS = await freePort();
  start('static', 'python3', ['-m', 'http.server', String(pS), '--bind', '127.0.0.1', '--directory', appDir]);
  await waitFor('the static server', () => fetch(`http://127.0.0.1:${pS}/`).then((r) => r.ok).catch(() => false), 5000);
  const p2 = await ctx.newPage();
  p2.on('pageerror', (e) => pageErrors.push(e.message));
  await p2.goto(`http://localhost:${pS}/?site=${SITE}`);
  await p2.waitForFunction(() => navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready.then(() => true), null, { timeout: 10000 });
  const manifest = await p2.evaluate(async () => {
    const href = document.querySelector('link[rel=manifest]').href;
    const m = await (await fetch(href)).json();
    const sizes = [];
    for (const i of m.icons) {
      const b = new Uint8Array(await (await fetch(new URL(i.src, href))).arrayBuffer());
      const dv = new DataView(b.buffer);
      sizes.push(`${i.sizes}=${dv.getUint32(16)}x${dv.getUint32(20)}`); // PNG IHDR width, height
    }
    return { name: m.name, display: m.display, start_url: m.start_url, sizes };
  });
  check(`installable: manifest "${manifest.name}", ${manifest.display}, icons ${manifest.sizes.join(' ')}`,
    manifest.display === 'standalone' && manifest.sizes.join(' ') === '192x192=192x192 512x512=512x512' && !!manifest.start_url);
  await p2.evaluate(() => navigator.serviceWorker.ready);
  await p2.reload(); // now controlled by the service worker
  await stop('static');
  await ctx.setOffline(true);
  await p2.reload();
  const shell = await p2.waitForSelector('[data-testid=tab-home]', { timeout: 5000 }).then(() => true, () => false);
  check('offline shell: with the host gone and the browser offline, the app still opens (service worker)', shell);
  await ctx.setOffline(false);
  await p2.close();

  check('no script error in the page', pageErrors.length === 0, pageErrors.join('; '));
  exitCode = failed === 0 ? 0 : 1;
} catch (e) {
  failed++;
  log('FAIL ' + (e instanceof Error ? e.stack : String(e)));
  try {
    await shot('failure');
  } catch {
    /* the page is gone */
  }
} finally {
  await ctx.close().catch(() => {});
  await cleanup();
  if (failed) {
    for (const f of ['gateway', 'sim', 'broker-home', 'broker-gateway', 'broker-cloud']) {
      try {
        log(`--- ${f}.log (tail)\n` + readFileSync(join(work, f + '.log'), 'utf8').split('\n').slice(-8).join('\n'));
      } catch {
        /* not written */
      }
    }
  }
  rmSync(profile, { recursive: true, force: true });
  if (!failed) rmSync(work, { recursive: true, force: true });
  else log('kept for inspection: ' + work);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(exitCode);
