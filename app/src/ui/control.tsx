// Control: mode, self-consumption thresholds, eco limit, time-of-use windows, grid-import limit, relay overrides, identify — validated before sending, each command's life shown.

import { useState } from 'preact/hooks';
import type { Controller } from '../controller';
import { hhmmToMinutes, minutesToHhmm, setting, windowPieces } from '../schema';
import { commandDone, lifeRows, packList, type CommandLife } from '../state';
import { Card } from './common';

type Errors = Record<string, string>;

function Err(props: { e: Errors; k: string }) {
  const m = props.e[props.k];
  return m ? <span class="err" data-testid={'err-' + props.k}>{m}</span> : null;
}

function Life(props: { life: CommandLife; now: number }) {
  const { life, now } = props;
  const rows = lifeRows(life, now);
  return (
    <li class="life" data-testid={'cmd-' + life.id} data-command={life.name} data-done={commandDone(life, now) ? '1' : '0'}>
      <div><b>{life.name.replace(/_/g, ' ')}</b> → {life.target === 'all' ? 'all packs' : life.target} <code>{life.payload}</code></div>
      <ul>
        {rows.map((r) => (
          <li class={'st-' + r.state} data-pack={r.pack} data-state={r.state}>{r.pack === 'all' ? 'gateway' : r.pack}: {r.text}</li>
        ))}
      </ul>
    </li>
  );
}

export function Control(props: { c: Controller; now: number }) {
  const { c, now } = props;
  const schema = c.schema;
  const packs = packList(c.store);
  const cur = packs.map((p) => p.settings?.value).find((x) => x !== undefined) ?? {};
  const def = (n: string) => (cur[n] ?? setting(schema, n).def);
  const [target, setTarget] = useState('all');
  const [errors, setErrors] = useState<Errors>({});
  const [mode, setMode] = useState('eco');
  const [low, setLow] = useState(String(def('sc_low_pct')));
  const [high, setHigh] = useState(String(def('sc_high_pct')));
  const [eco, setEco] = useState(String(def('eco_limit_w')));
  const [limOn, setLimOn] = useState(def('grid_limit_on') === 1);
  const [limKwh, setLimKwh] = useState(String(def('grid_limit_kwh')));
  const [tou, setTou] = useState(() =>
    Array.from({ length: schema.rules.tou_windows }, (_, i) => ({
      enabled: def(`tou${i}_enabled`) === 1, start: minutesToHhmm(def(`tou${i}_start_min`)), end: minutesToHhmm(def(`tou${i}_end_min`)),
    })));

  const send = (name: string, fields: Record<string, unknown>, prefix = '') => {
    const r = c.send(name, target, fields);
    if (!r.ok) {
      const e: Errors = {};
      for (const [k, v] of Object.entries(r.errors)) e[prefix + k] = v;
      setErrors(e);
    } else {
      setErrors({});
    }
  };
  const ecoDesc = setting(schema, 'eco_limit_w');
  const kwhDesc = setting(schema, 'grid_limit_kwh');
  return (
    <div class="screen control">
      <Card title="Send to">
        <select value={target} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)} data-testid="target">
          <option value="all">every pack</option>
          {packs.map((p) => <option value={p.serial}>pack {p.state?.value.node_id ?? ''} · {p.serial}</option>)}
        </select>
        <button class="small" onClick={() => send('read_settings', {})} data-testid="read-settings">Read settings</button>
        <button class="small" onClick={() => send('identify', { seconds: 30 })} data-testid="identify">Identify (blink 30 s)</button>
        <Err e={errors} k="_" />
      </Card>
      <Card title="Energy mode">
        <div class="seg" role="radiogroup">
          {schema.modes.slice(1).map((m) => (
            <button class={mode === m ? 'on' : ''} onClick={() => setMode(m)} data-testid={'mode-' + m}>{m.replace('_', '-')}</button>
          ))}
        </div>
        <button onClick={() => send('set_mode', { mode, on: true })} data-testid="mode-on">Turn {mode.replace('_', '-')} on</button>
        <button class="ghost" onClick={() => send('set_mode', { mode, on: false })} data-testid="mode-off">Turn it off</button>
        <Err e={errors} k="mode" />
      </Card>
      <Card title="Self-consumption">
        <label>Grid closes at SOC ≤ <input type="number" value={low} onInput={(e) => setLow((e.target as HTMLInputElement).value)} data-testid="sc-low" /> %</label>
        <Err e={errors} k="low_pct" />
        <label>Grid opens at SOC ≥ <input type="number" value={high} onInput={(e) => setHigh((e.target as HTMLInputElement).value)} data-testid="sc-high" /> %</label>
        <Err e={errors} k="high_pct" />
        <button onClick={() => send('set_sc_thresholds', { low_pct: Number(low), high_pct: Number(high) })} data-testid="sc-send">Set thresholds</button>
      </Card>
      <Card title="Eco limit">
        <label>House load at most <input type="number" value={eco} onInput={(e) => setEco((e.target as HTMLInputElement).value)} data-testid="eco-limit" /> W
          <span class="muted"> ({ecoDesc.min}..{ecoDesc.max})</span></label>
        <Err e={errors} k="limit_w" />
        <button onClick={() => send('set_eco_limit', { limit_w: eco.trim() === '' ? NaN : Number(eco) })} data-testid="eco-send">Set eco limit</button>
      </Card>
      <Card title="Time of use">
        {tou.map((w, i) => {
          const s = hhmmToMinutes(w.start);
          const e = hhmmToMinutes(w.end);
          const pieces = s !== undefined && e !== undefined ? windowPieces(s, e) : [];
          const upd = (p: Partial<typeof w>) => setTou(tou.map((x, j) => (j === i ? { ...x, ...p } : x)));
          return (
            <div class="tou" data-testid={'tou-' + i}>
              <label><input type="checkbox" checked={w.enabled} onChange={(ev) => upd({ enabled: (ev.target as HTMLInputElement).checked })} /> Window {i + 1}</label>
              <input type="time" value={w.start} onInput={(ev) => upd({ start: (ev.target as HTMLInputElement).value })} />
              <span>to</span>
              <input type="time" value={w.end} onInput={(ev) => upd({ end: (ev.target as HTMLInputElement).value })} />
              <div class={'daybar' + (w.enabled ? '' : ' disabled')} title={pieces.length > 1 ? 'crosses midnight' : ''}>
                {pieces.map(([a, b]) => <div class="piece" style={{ left: (a / 14.4) + '%', width: ((b - a) / 14.4) + '%' }} />)}
                {pieces.length > 1 && <span class="midnight">crosses midnight</span>}
              </div>
              <button class="small" onClick={() => send('set_tou_window', { index: i, start_min: s ?? NaN, end_min: e ?? NaN, enabled: w.enabled }, 'tou' + i + '-')}>Set</button>
              <Err e={errors} k={'tou' + i + '-start_min'} /><Err e={errors} k={'tou' + i + '-end_min'} />
            </div>
          );
        })}
      </Card>
      <Card title="Daily grid-import limit">
        <label><input type="checkbox" checked={limOn} onChange={(e) => setLimOn((e.target as HTMLInputElement).checked)} data-testid="limit-on" /> On</label>
        <label><input type="number" value={limKwh} onInput={(e) => setLimKwh((e.target as HTMLInputElement).value)} data-testid="limit-kwh" /> kWh per day
          <span class="muted"> ({kwhDesc.min}..{kwhDesc.max})</span></label>
        <Err e={errors} k="limit_kwh" />
        <button onClick={() => send('set_grid_limit', { on: limOn, limit_kwh: Number(limKwh) })} data-testid="limit-send">Set limit</button>
      </Card>
      <Card title="Relay overrides">
        <table class="ovr">
          {schema.relays.map((r) => (
            <tr>
              <td>{r}</td>
              {schema.overrides.map((o) => (
                <td><button class="small ghost" onClick={() => send('set_relay_override', { relay: r, override: o })} data-testid={`ovr-${r}-${o}`}>{o}</button></td>
              ))}
            </tr>
          ))}
        </table>
      </Card>
      <Card title="Commands" testid="commands">
        {c.store.commands.length === 0 ? <p class="muted">Nothing sent yet.</p> : (
          <ul class="lives">{c.store.commands.map((l) => <Life key={l.id} life={l} now={now} />)}</ul>
        )}
      </Card>
    </div>
  );
}
