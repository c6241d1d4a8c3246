// Home: the live power flow (solar, grid, home, pool pump, water heater, one battery per pack), SOC, today's energy, mode, grid-limit progress, warnings.

import type { Controller } from '../controller';
import { isLive, packList, type PackView } from '../state';
import { Card, Fresh, fmtW, fmtWh, fmtKwh } from './common';

type Node = { id: string; x: number; y: number; label: string; value: string; cls: string; soc?: number };

function Flow(props: { a: Node; b: Node; w: number; live: boolean }) {
  const { a, b, w } = props;
  const mag = Math.abs(w);
  const width = mag < 20 ? 1.5 : Math.min(2 + mag / 800, 7);
  // dashes run from the source to the sink: w > 0 means a -> b
  const [s, e] = w >= 0 ? [a, b] : [b, a];
  return (
    <line x1={s.x} y1={s.y} x2={e.x} y2={e.y} class={'flow' + (mag >= 20 && props.live ? ' moving' : '') + (mag < 20 ? ' idle' : '')}
      stroke-width={width} />
  );
}

function NodeG(props: { n: Node }) {
  const { n } = props;
  return (
    <g class={'node ' + n.cls} transform={`translate(${n.x},${n.y})`} data-testid={'node-' + n.id}>
      <circle r="25" />
      {n.soc !== undefined && <circle r="25" class="soc-ring" stroke-dasharray={`${(n.soc / 100) * 157} 157`} transform="rotate(-90)" />}
      <text class="lbl" y="-31">{n.label}</text>
      <text class="val" y="5">{n.value}</text>
    </g>
  );
}

function battText(w: number): string {
  return Math.abs(w) < 20 ? 'idle' : fmtW(Math.abs(w)) + (w > 0 ? ' charging' : ' discharging');
}

export function Home(props: { c: Controller; now: number }) {
  const { c, now } = props;
  const s = c.store;
  const packs = packList(s).filter((p) => p.state);
  const sum = (f: (p: PackView) => number) => packs.reduce((a, p) => a + f(p), 0);
  const site = s.siteState?.value;
  const solar = site ? site.p_solar_w : sum((p) => p.state!.value.p_solar_w);
  const grid = site ? site.p_grid_w : sum((p) => p.state!.value.p_grid_w);
  const home = site ? site.p_home_w : sum((p) => p.state!.value.p_home_w);
  const pool = sum((p) => p.state!.value.p_pool_w);
  const heater = sum((p) => p.state!.value.p_heater_w);
  const live = isLive(s, s.siteState, undefined, now);
  const W = 360;
  const hub: Node = { id: 'hub', x: 180, y: 135, label: '', value: '', cls: 'hub' };
  const nSolar: Node = { id: 'solar', x: 180, y: 42, label: 'Solar', value: fmtW(solar), cls: 'solar' };
  const nGrid: Node = { id: 'grid', x: 52, y: 135, label: 'Grid', value: fmtW(grid), cls: 'grid' };
  const nHome: Node = { id: 'home', x: 308, y: 135, label: 'Home', value: fmtW(home), cls: 'home' };
  const nPool: Node = { id: 'pool', x: 30, y: 240, label: 'Pool', value: fmtW(pool), cls: 'load' };
  const nHeater: Node = { id: 'heater', x: 92, y: 240, label: 'Heater', value: fmtW(heater), cls: 'load' };
  const span = 160;
  const bx0 = 165;
  const batt: Node[] = packs.map((p, i) => {
    const st = p.state!.value;
    const x = packs.length === 1 ? bx0 + span / 2 : bx0 + (span * i) / Math.max(1, packs.length - 1);
    return { id: 'batt-' + p.serial, x, y: 240, label: 'Pack ' + st.node_id, value: st.soc_pct + ' %', cls: 'batt', soc: st.soc_pct };
  });
  const soc = site ? site.soc_avg_pct : packs.length ? Math.round(sum((p) => p.state!.value.soc_pct) / packs.length) : undefined;
  const importToday = site ? site.grid_import_today_wh : sum((p) => p.state!.value.grid_import_today_wh);
  const solarToday = sum((p) => p.state!.value.solar_today_wh);
  const chargeToday = sum((p) => p.state!.value.batt_charge_today_wh);
  const dischargeToday = sum((p) => p.state!.value.batt_discharge_today_wh);
  const modes = Array.from(new Set(packs.map((p) => p.state!.value.mode)));
  const settings = packs.map((p) => p.settings?.value).find((x) => x !== undefined);
  const limitOn = settings ? settings.grid_limit_on === 1 : undefined;
  const limitKwh = settings?.grid_limit_kwh;
  const warnings = packs.flatMap((p) => p.state!.value.warnings.map((w) => ({ pack: p.state!.value.node_id, w })));
  const faults = packs.flatMap((p) => p.state!.value.faults.map((w) => ({ pack: p.state!.value.node_id, w })));
  return (
    <div class="screen home">
      <Card title="Power now" right={<Fresh store={s} held={s.siteState} now={now} />} testid="flow">
        <svg viewBox={`0 0 ${W} 275`} class="flowsvg" role="img" aria-label="power flow">
          <Flow a={nSolar} b={hub} w={solar} live={live} />
          <Flow a={nGrid} b={hub} w={grid} live={live} />
          <Flow a={hub} b={nHome} w={home} live={live} />
          <Flow a={nGrid} b={nPool} w={pool} live={live} />
          <Flow a={nGrid} b={nHeater} w={heater} live={live} />
          {batt.map((b, i) => <Flow key={b.id} a={hub} b={b} w={packs[i]!.state!.value.p_batt_w ?? 0} live={live} />)}
          <circle cx={hub.x} cy={hub.y} r="6" class="hubdot" />
          {[nSolar, nGrid, nHome, nPool, nHeater, ...batt].map((n) => <NodeG key={n.id} n={n} />)}
        </svg>
      </Card>
      <div class="row2">
        <Card title="Battery" testid="soc">
          <div class="big" data-testid="soc-avg">{soc === undefined ? '—' : soc + ' %'}</div>
          <div class="muted">{packs.length} pack{packs.length === 1 ? '' : 's'} · {battText(sum((p) => p.state!.value.p_batt_w ?? 0))}</div>
        </Card>
        <Card title="Mode" testid="mode">
          <div class="big small" data-testid="mode-now">{modes.length ? modes.map((m) => m.replace('_', '-')).join(' / ') : '—'}</div>
          <div class="muted">{modes.length > 1 ? 'packs differ' : 'all packs'}</div>
        </Card>
      </div>
      <Card title="Today" testid="today">
        <dl class="today">
          <div><dt>Solar</dt><dd>{fmtWh(solarToday)}</dd></div>
          <div><dt>Grid import</dt><dd>{fmtWh(importToday)}</dd></div>
          <div><dt>Charged</dt><dd>{fmtWh(chargeToday)}</dd></div>
          <div><dt>Discharged</dt><dd>{fmtWh(dischargeToday)}</dd></div>
        </dl>
        <div class="limit" data-testid="grid-limit">
          {limitOn === undefined ? (
            <span class="muted">Daily grid-import limit: not read yet</span>
          ) : limitOn && limitKwh ? (
            <>
              <div class="bar"><div class={'fill' + (site?.grid_limit_reached ? ' reached' : '')}
                style={{ width: Math.min(100, (importToday / (limitKwh * 1000)) * 100) + '%' }} /></div>
              <span>{fmtKwh(importToday)} of {limitKwh} kWh grid import {site?.grid_limit_reached ? '— limit reached, grid open' : ''}</span>
            </>
          ) : (
            <span class="muted">Daily grid-import limit: off</span>
          )}
        </div>
      </Card>
      {(warnings.length > 0 || faults.length > 0) && (
        <Card title="Attention" testid="warnings">
          <ul class="warnlist">
            {faults.map((f) => <li class="fault">Pack {f.pack}: {f.w.replace(/_/g, ' ')}</li>)}
            {warnings.map((f) => <li class="warning">Pack {f.pack}: {f.w.replace(/_/g, ' ')}</li>)}
          </ul>
        </Card>
      )}
      <Card title="Packs" testid="home-packs">
        <div class="scrollx"><table class="packtable">
          <thead><tr><th>Pack</th><th>SOC</th><th>Solar</th><th>Battery</th><th>Home</th><th>Grid</th><th>Pool</th><th>Heater</th></tr></thead>
          <tbody>
            {packList(s).map((p) => {
              const st = p.state?.value;
              return (
                <tr data-testid={'home-pack-' + p.serial} data-cycle={st?.cycle} data-live={isLive(s, p.state, p, now) ? '1' : '0'}>
                  <td>{st ? st.node_id : '?'}<span class="serial"> {p.serial.slice(-4)}</span></td>
                  <td data-k="soc_pct" data-v={st?.soc_pct}>{st ? st.soc_pct + ' %' : '—'}</td>
                  <td data-k="p_solar_w" data-v={st?.p_solar_w}>{fmtW(st?.p_solar_w)}</td>
                  <td data-k="p_batt_w" data-v={st?.p_batt_w ?? undefined}>{fmtW(st?.p_batt_w)}</td>
                  <td data-k="p_home_w" data-v={st?.p_home_w}>{fmtW(st?.p_home_w)}</td>
                  <td data-k="p_grid_w" data-v={st?.p_grid_w}>{fmtW(st?.p_grid_w)}</td>
                  <td data-k="p_pool_w" data-v={st?.p_pool_w}>{fmtW(st?.p_pool_w)}</td>
                  <td data-k="p_heater_w" data-v={st?.p_heater_w}>{fmtW(st?.p_heater_w)}</td>
                </tr>
              );
            })}
          </tbody>
        </table></div>
      </Card>
    </div>
  );
}
