// The settings schema generated from the C settings table (app/schema/gen_schema.c) and the validation of every command the app sends.

/*
 * Ranges are never written here: they come from schema.json, which the build generates from
 * protocol/include/alfa/settings.h — the table the packs apply and the gateway validates with.
 * What this file knows is the command format (docs/protocol.md, "Commands"): which member of
 * which command is checked against which setting.
 */

export interface SettingDesc {
  id: number;
  name: string;
  type: 'int' | 'bool' | 'enum' | 'minute' | 'mask';
  unit: string;
  def: number;
  min: number;
  max: number;
  values?: number[];
}

export interface Schema {
  settings: SettingDesc[];
  rules: { sc_gap_pct: number; tou_windows: number; history_bucket_s: number; history_max_points: number };
  modes: string[];
  relays: string[];
  overrides: string[];
  faults: string[];
  warnings: string[];
  results: string[];
  history_series: string[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/* Checks the generated file's shape once, so the rest of the app can trust its types. */
export function parseSchema(v: unknown): Schema {
  if (!isObj(v) || !Array.isArray(v.settings) || !isObj(v.rules)) throw new Error('schema: not a settings schema');
  for (const s of v.settings) {
    if (!isObj(s) || typeof s.name !== 'string' || typeof s.min !== 'number' || typeof s.max !== 'number' || typeof s.def !== 'number') {
      throw new Error('schema: bad setting row');
    }
  }
  for (const k of ['modes', 'relays', 'overrides', 'faults', 'warnings', 'results', 'history_series']) {
    if (!strArray(v[k])) throw new Error('schema: bad ' + k);
  }
  const r = v.rules;
  for (const k of ['sc_gap_pct', 'tou_windows', 'history_bucket_s', 'history_max_points']) {
    if (typeof r[k] !== 'number') throw new Error('schema: bad rule ' + k);
  }
  return v as unknown as Schema;
}

export function setting(schema: Schema, name: string): SettingDesc {
  const s = schema.settings.find((x) => x.name === name);
  if (!s) throw new Error('schema: no setting ' + name);
  return s;
}

export type Fields = Record<string, string | number | boolean>;
export type Validation = { ok: true; payload: Fields } | { ok: false; errors: Record<string, string> };

function checkInt(schema: Schema, errors: Record<string, string>, field: string, raw: unknown, settingName: string): number | undefined {
  const s = setting(schema, settingName);
  const v = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isInteger(v)) {
    errors[field] = 'a whole number' + (s.unit ? ' in ' + s.unit : '');
    return undefined;
  }
  if (v < s.min || v > s.max) {
    errors[field] = `${s.min}..${s.max}${s.unit ? ' ' + s.unit : ''}`;
    return undefined;
  }
  if (s.values && !s.values.includes(v)) {
    errors[field] = 'one of ' + s.values.join(', ');
    return undefined;
  }
  return v;
}

function oneOf(errors: Record<string, string>, field: string, raw: unknown, names: string[], from = 0): string | undefined {
  if (typeof raw === 'string' && names.indexOf(raw) >= from) return raw;
  errors[field] = 'one of ' + names.slice(from).join(', ');
  return undefined;
}

function bool(errors: Record<string, string>, field: string, raw: unknown): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  errors[field] = 'on or off';
  return undefined;
}

/* Validate the app's form values for a command; on success, the JSON members to send. */
export function validateCommand(schema: Schema, name: string, f: Record<string, unknown>): Validation {
  const e: Record<string, string> = {};
  const p: Fields = {};
  const put = (k: string, v: string | number | boolean | undefined) => {
    if (v !== undefined) p[k] = v;
  };
  switch (name) {
    case 'set_mode':
      put('mode', oneOf(e, 'mode', f.mode, schema.modes, 1));
      put('on', bool(e, 'on', f.on));
      break;
    case 'set_sc_thresholds': {
      const lo = checkInt(schema, e, 'low_pct', f.low_pct, 'sc_low_pct');
      const hi = checkInt(schema, e, 'high_pct', f.high_pct, 'sc_high_pct');
      if (lo !== undefined && hi !== undefined && hi < lo + schema.rules.sc_gap_pct) {
        e.high_pct = `at least low + ${schema.rules.sc_gap_pct} % (${lo + schema.rules.sc_gap_pct} %)`;
      }
      put('low_pct', lo);
      put('high_pct', hi);
      break;
    }
    case 'set_eco_limit':
      put('limit_w', checkInt(schema, e, 'limit_w', f.limit_w, 'eco_limit_w'));
      break;
    case 'set_tou_window': {
      const idx = typeof f.index === 'number' ? f.index : NaN;
      if (!Number.isInteger(idx) || idx < 0 || idx >= schema.rules.tou_windows) e.index = `0..${schema.rules.tou_windows - 1}`;
      else p.index = idx;
      const w = e.index ? 0 : idx; // a bad index still gets its times checked (every window has the same range)
      put('start_min', checkInt(schema, e, 'start_min', f.start_min, `tou${w}_start_min`));
      put('end_min', checkInt(schema, e, 'end_min', f.end_min, `tou${w}_end_min`));
      put('enabled', bool(e, 'enabled', f.enabled));
      break;
    }
    case 'set_grid_limit':
      put('on', bool(e, 'on', f.on));
      put('limit_kwh', checkInt(schema, e, 'limit_kwh', f.limit_kwh, 'grid_limit_kwh'));
      break;
    case 'set_relay_override':
      put('relay', oneOf(e, 'relay', f.relay, schema.relays));
      put('override', oneOf(e, 'override', f.override, schema.overrides));
      break;
    case 'identify': {
      const s = typeof f.seconds === 'number' ? f.seconds : NaN;
      if (!Number.isInteger(s) || s < 0 || s > 255) e.seconds = '0..255 s'; // the frame's u8 (docs/protocol.md §3.6)
      else p.seconds = s;
      break;
    }
    case 'read_settings':
      break;
    default:
      e._ = 'the app does not send ' + name;
  }
  return Object.keys(e).length ? { ok: false, errors: e } : { ok: true, payload: p };
}

/* "22:00" <-> minutes of the day. */
export function minutesToHhmm(m: number): string {
  const h = Math.floor(m / 60);
  return String(h).padStart(2, '0') + ':' + String(m % 60).padStart(2, '0');
}

export function hhmmToMinutes(s: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  if (!m) return undefined;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  return h < 24 && mi < 60 ? h * 60 + mi : undefined;
}

/* The parts of a window on a 0..1440 line: one piece, or two when it crosses midnight. */
export function windowPieces(start: number, end: number): Array<[number, number]> {
  if (start === end) return [];
  return start < end ? [[start, end]] : [[start, 1440], [0, end]];
}
