// The app's picture of one site from its MQTT topics: packs, site totals, availability, freshness, events, command lives.

/*
 * Pure logic, no DOM and no socket: apply(store, message, now) folds one MQTT message in, and
 * the views read the store. Unit-tested in test/unit.
 *
 * Freshness. A value is LIVE when it arrived as a live publication (MQTT retain flag clear)
 * while the gateway says online (and, for a pack, the pack too), and is not older than
 * LIVE_MAX_MS of our clock. Anything else — delivered from the broker's store at subscription,
 * or its source went offline since — is LAST KNOWN, shown with its age. Ages are in the packs'
 * clock (ts_s of their states): the site clock below follows it, so a simulated site that runs
 * 60x faster shows simulated minutes, and a real one real minutes.
 */

import type { Schema } from './schema';

export interface PackState {
  serial: string;
  node_id: number;
  fw_version: string;
  master: boolean;
  cycle: number;
  ts_s: number;
  utc_offset_min: number;
  p_grid_w: number;
  p_home_w: number;
  p_pool_w: number;
  p_heater_w: number;
  p_batt_w: number | null; // null: the battery is unknown (its BMS is lost)
  p_solar_w: number;
  v_pack_mv: number | null;
  i_batt_ma: number | null;
  day: number; // the site day the *_today_wh counters belong to
  soc_pct: number;
  mode: string;
  relay_grid_closed: boolean;
  relay_inverter_closed: boolean;
  relay_pool_closed: boolean;
  relay_heater_closed: boolean;
  faults: string[];
  warnings: string[];
  grid_import_today_wh: number;
  solar_today_wh: number;
  batt_charge_today_wh: number;
  batt_discharge_today_wh: number;
}

export interface SiteState {
  master: string;
  ts_s: number;
  utc_offset_min: number;
  packs_online: number;
  soc_avg_pct: number;
  p_batt_w: number;
  p_solar_w: number;
  p_home_w: number;
  p_grid_w: number;
  grid_import_today_wh: number;
  grid_limit_reached: boolean;
}

export interface Held<T> {
  value: T;
  retained: boolean; // came from the broker's store
  rxMs: number; // our clock when it arrived
}

export interface PackView {
  serial: string;
  state?: Held<PackState>;
  status?: Held<'online' | 'offline'>;
  settings?: Held<Record<string, number>>;
}

export interface EventItem {
  pack: string;
  type: 'fault' | 'warning';
  name: string;
  active: boolean;
  ts_s: number;
}

export interface CmdResult {
  result: string;
  detail?: string;
}

export interface CommandLife {
  id: string;
  name: string;
  target: string; // "all" or a serial
  payload: string;
  sentMs: number;
  expected: string[]; // packs that should answer (online when sent)
  results: Record<string, CmdResult>; // by pack serial, or "all"
}

export interface Store {
  site: string;
  packs: Record<string, PackView>;
  siteState?: Held<SiteState>;
  gateway?: Held<'online' | 'offline'>;
  cloud?: Held<string>; // the bridge's notification (1 / 0)
  events: EventItem[];
  commands: CommandLife[];
  clock: SiteClock;
}

export const LIVE_MAX_MS = 10000;
export const EVENTS_MAX = 200;
export const COMMANDS_MAX = 20;
export const COMMAND_WAIT_MS = 5000; // the gateway answers within its timeout (1 s): this is its silence

/* ---------------------------------------------------------------- the site clock */

export interface SiteClock {
  baseTs: number; // ts_s of the newest live record
  baseMs: number; // our clock when it came
  rate: number; // site seconds per our second
  offsetMin: number;
  known: boolean;
}

export function newClock(): SiteClock {
  return { baseTs: 0, baseMs: 0, rate: 1, offsetMin: 0, known: false };
}

function clockFeed(c: SiteClock, ts: number, offsetMin: number, nowMs: number): void {
  if (c.known && ts > c.baseTs) {
    const dms = nowMs - c.baseMs;
    if (dms >= 200) {
      const r = ((ts - c.baseTs) * 1000) / dms;
      c.rate = c.rate === 1 ? r : (3 * c.rate + r) / 4;
    } else if (dms < 200) {
      return; // too close to measure: keep the older base
    }
  }
  if (!c.known || ts >= c.baseTs) {
    c.baseTs = ts;
    c.baseMs = nowMs;
  }
  c.offsetMin = offsetMin;
  c.known = true;
}

/* The packs' time now (unix s), extrapolated at most 2 minutes past the last live record. */
export function siteNow(c: SiteClock, nowMs: number): number | undefined {
  if (!c.known) return undefined;
  const ahead = Math.min(((nowMs - c.baseMs) / 1000) * c.rate, 120);
  return c.baseTs + Math.max(0, ahead);
}

export function newStore(site: string): Store {
  return { site, packs: {}, events: [], commands: [], clock: newClock() };
}

/* ---------------------------------------------------------------- parsing (no `any` from outside) */

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const NUM_PACK = ['node_id', 'cycle', 'ts_s', 'p_grid_w', 'p_home_w', 'p_pool_w', 'p_heater_w', 'p_solar_w',
  'soc_pct', 'grid_import_today_wh', 'solar_today_wh', 'batt_charge_today_wh', 'batt_discharge_today_wh'] as const;
/* The battery's figures are null while the pack's BMS is lost (docs/protocol.md, MQTT topics). */
const NUM_OR_NULL_PACK = ['p_batt_w', 'v_pack_mv', 'i_batt_ma'] as const;
const BOOL_PACK = ['master', 'relay_grid_closed', 'relay_inverter_closed', 'relay_pool_closed', 'relay_heater_closed'] as const;

export function parsePackState(text: string): PackState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(v) || typeof v.serial !== 'string' || typeof v.mode !== 'string' || typeof v.fw_version !== 'string') return undefined;
  for (const k of NUM_PACK) if (typeof v[k] !== 'number') return undefined;
  for (const k of NUM_OR_NULL_PACK) if (typeof v[k] !== 'number' && v[k] !== null) return undefined;
  for (const k of BOOL_PACK) if (typeof v[k] !== 'boolean') return undefined;
  const names = (x: unknown) => (Array.isArray(x) ? x.map((n) => String(n)) : []);
  return {
    ...(v as unknown as PackState),
    utc_offset_min: typeof v.utc_offset_min === 'number' ? v.utc_offset_min : 0,
    day: typeof v.day === 'number' ? v.day : 0,
    faults: names(v.faults),
    warnings: names(v.warnings),
  };
}

export function parseSiteState(text: string): SiteState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(v) || typeof v.master !== 'string' || typeof v.grid_limit_reached !== 'boolean') return undefined;
  for (const k of ['ts_s', 'packs_online', 'soc_avg_pct', 'p_batt_w', 'p_solar_w', 'p_home_w', 'p_grid_w', 'grid_import_today_wh']) {
    if (typeof v[k] !== 'number') return undefined;
  }
  return { ...(v as unknown as SiteState), utc_offset_min: typeof v.utc_offset_min === 'number' ? v.utc_offset_min : 0 };
}

/* ---------------------------------------------------------------- folding messages in */

export interface Incoming {
  topic: string;
  payload: string;
  retain: boolean;
}

function pack(s: Store, serial: string): PackView {
  let p = s.packs[serial];
  if (!p) {
    p = { serial };
    s.packs[serial] = p;
  }
  return p;
}

/* Fold one message into the store. Returns true when something visible changed. */
export function apply(s: Store, m: Incoming, nowMs: number): boolean {
  const root = 'alfaspark/' + s.site + '/';
  if (!m.topic.startsWith(root)) return false;
  const t = m.topic.slice(root.length).split('/');
  const held = <T>(value: T): Held<T> => ({ value, retained: m.retain, rxMs: nowMs });
  if (t[0] === 'pack' && t.length === 3) {
    const serial = t[1]!;
    if (!/^[0-9a-f]{12}$/.test(serial)) return false;
    if (t[2] === 'state') {
      const st = parsePackState(m.payload);
      if (!st) return false;
      pack(s, serial).state = held(st);
      if (!m.retain) clockFeed(s.clock, st.ts_s, st.utc_offset_min, nowMs);
      return true;
    }
    if (t[2] === 'status' && (m.payload === 'online' || m.payload === 'offline')) {
      pack(s, serial).status = held(m.payload);
      return true;
    }
    if (t[2] === 'settings') {
      let v: unknown;
      try {
        v = JSON.parse(m.payload);
      } catch {
        return false;
      }
      if (!isObj(v)) return false;
      const out: Record<string, number> = {};
      for (const [k, x] of Object.entries(v)) if (typeof x === 'number') out[k] = x;
      pack(s, serial).settings = held(out);
      return true;
    }
    return false;
  }
  const rest = t.join('/');
  if (rest === 'site/state') {
    const st = parseSiteState(m.payload);
    if (!st) return false;
    s.siteState = held(st);
    if (!m.retain) clockFeed(s.clock, st.ts_s, st.utc_offset_min, nowMs);
    return true;
  }
  if (rest === 'gateway/status' && (m.payload === 'online' || m.payload === 'offline')) {
    s.gateway = held(m.payload);
    return true;
  }
  if (rest === 'gateway/cloud') {
    s.cloud = held(m.payload.trim());
    return true;
  }
  if (rest === 'event') {
    let v: unknown;
    try {
      v = JSON.parse(m.payload);
    } catch {
      return false;
    }
    if (!isObj(v) || typeof v.pack !== 'string' || (v.type !== 'fault' && v.type !== 'warning') || typeof v.name !== 'string' ||
        typeof v.active !== 'boolean' || typeof v.ts_s !== 'number') {
      return false;
    }
    s.events.unshift({ pack: v.pack, type: v.type, name: v.name, active: v.active, ts_s: v.ts_s });
    if (s.events.length > EVENTS_MAX) s.events.length = EVENTS_MAX;
    return true;
  }
  if (rest === 'cmd/result') {
    let v: unknown;
    try {
      v = JSON.parse(m.payload);
    } catch {
      return false;
    }
    if (!isObj(v) || typeof v.pack !== 'string' || typeof v.result !== 'string') return false;
    const id = typeof v.id === 'string' ? v.id : typeof v.id === 'number' ? String(v.id) : '';
    const life = s.commands.find((c) => c.id === id);
    if (!life) return false;
    life.results[v.pack] = { result: v.result, ...(typeof v.detail === 'string' ? { detail: v.detail } : {}) };
    return true;
  }
  return false;
}

/* ---------------------------------------------------------------- what the views ask */

export function gatewayOnline(s: Store): boolean {
  return s.gateway?.value === 'online';
}

/* Live: a live publication, its sources online, and recent. */
export function isLive<T>(s: Store, h: Held<T> | undefined, p: PackView | undefined, nowMs: number): boolean {
  if (!h || h.retained || !gatewayOnline(s)) return false;
  if (p && p.status?.value !== 'online') return false;
  return nowMs - h.rxMs <= LIVE_MAX_MS;
}

/* Age of a value in the packs' clock, in seconds, when it can be told. */
export function ageS(s: Store, ts: number, nowMs: number): number | undefined {
  const now = siteNow(s.clock, nowMs);
  if (now !== undefined) return Math.max(0, now - ts);
  const wall = nowMs / 1000;
  return ts <= wall + 120 ? Math.max(0, wall - ts) : undefined; // a real site: its clock is ours
}

export function ageText(age: number | undefined): string {
  if (age === undefined) return '';
  if (age < 90) return Math.round(age) + ' s ago';
  if (age < 90 * 60) return Math.round(age / 60) + ' min ago';
  if (age < 36 * 3600) return Math.round(age / 3600) + ' h ago';
  return Math.round(age / 86400) + ' days ago';
}

export function packList(s: Store): PackView[] {
  return Object.values(s.packs).sort((a, b) => (a.serial < b.serial ? -1 : 1));
}

/* The packs that are online now (those a command to all must be answered by). */
export function onlinePacks(s: Store): string[] {
  return packList(s).filter((p) => p.status?.value === 'online').map((p) => p.serial);
}

/* ---------------------------------------------------------------- commands and their lives */

export function startCommand(s: Store, id: string, name: string, target: string, payload: string, nowMs: number): CommandLife {
  const life: CommandLife = {
    id, name, target, payload, sentMs: nowMs,
    expected: target === 'all' ? onlinePacks(s) : [target],
    results: {},
  };
  s.commands.unshift(life);
  if (s.commands.length > COMMANDS_MAX) s.commands.length = COMMANDS_MAX;
  return life;
}

export type LifeRow = { pack: string; state: 'sent' | 'ok' | 'refused' | 'timeout'; text: string };

/* One row per pack: sent (waiting), ok, the refusal reason, or timeout. A refusal of the whole
 * command by the gateway ("all") answers every pack. */
export function lifeRows(c: CommandLife, nowMs: number): LifeRow[] {
  const all = c.results.all;
  const packs = Array.from(new Set([...c.expected, ...Object.keys(c.results).filter((k) => k !== 'all')]));
  if (all) return [{ pack: 'all', state: all.result === 'ok' ? 'ok' : 'refused', text: all.result + (all.detail ? ': ' + all.detail : '') }];
  return packs.map((p) => {
    const r = c.results[p];
    if (r) {
      if (r.result === 'ok') return { pack: p, state: 'ok', text: 'ok' };
      if (r.result === 'timeout') return { pack: p, state: 'timeout', text: 'timeout' };
      return { pack: p, state: 'refused', text: r.result + (r.detail ? ': ' + r.detail : '') };
    }
    if (nowMs - c.sentMs > COMMAND_WAIT_MS) return { pack: p, state: 'timeout', text: 'timeout (no answer from the gateway)' };
    return { pack: p, state: 'sent', text: 'sent' };
  });
}

export function commandDone(c: CommandLife, nowMs: number): boolean {
  return lifeRows(c, nowMs).every((r) => r.state !== 'sent');
}

export function faultLabel(schema: Schema, name: string): string {
  return schema.faults.includes(name) || schema.warnings.includes(name) ? name.replace(/_/g, ' ') : name;
}
