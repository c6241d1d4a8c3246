// History: day / week / month charts of SOC, solar, home, grid and battery, for the site or one pack, from the gateway's history.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { Controller } from '../controller';
import { RANGE_DAYS, dayStart, request, sum, type HistoryAnswer, type Range } from '../history';
import { packList, siteNow } from '../state';
import { loadChart } from './chart-loader';
import { Card, fmtKwh, siteDate } from './common';

const SERIES = ['soc_pct', 'p_solar_w', 'p_home_w', 'p_grid_w', 'p_batt_w', 'p_pool_w', 'p_heater_w',
  'e_solar_wh', 'e_grid_import_wh', 'e_batt_charge_wh', 'e_batt_discharge_wh'];

export function History(props: { c: Controller; now: number }) {
  const { c, now } = props;
  const s = c.store;
  const [range, setRange] = useState<Range>('day');
  const [pack, setPack] = useState('site');
  const [back, setBack] = useState(0); // ranges back from the current one
  const [ans, setAns] = useState<HistoryAnswer | null>(null);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const chartEl = useRef<HTMLDivElement>(null);
  const offset = s.clock.offsetMin;
  const today = siteNow(s.clock, now) ?? s.siteState?.value.ts_s ?? Math.floor(now / 1000);
  const endTs = dayStart(today, offset) - back * RANGE_DAYS[range] * 86400;
  const key = `${range}|${pack}|${endTs}|${c.status.path}`;

  useEffect(() => {
    let gone = false;
    setBusy(true);
    setErr('');
    c.history((id) => request(id, pack, range, endTs, offset, SERIES))
      .then((a) => { if (!gone) setAns(a); })
      .catch((e: Error) => { if (!gone) { setAns(null); setErr(e.message); } })
      .finally(() => { if (!gone) setBusy(false); });
    return () => { gone = true; };
  }, [key]);

  useEffect(() => {
    if (!ans || !chartEl.current) return;
    let dispose: (() => void) | undefined;
    let gone = false;
    // the chart library is loaded only here, never with the first screen
    loadChart().then((m) => {
      if (gone || !chartEl.current) return;
      dispose = m.drawHistory(chartEl.current, ans, range);
    }, (e: Error) => setErr(e.message));
    return () => { gone = true; dispose?.(); };
  }, [ans, range]);

  const from = endTs + 86400 - RANGE_DAYS[range] * 86400;
  const title = range === 'day' ? siteDate(from, offset) : siteDate(from, offset) + ' – ' + siteDate(endTs, offset);
  const se = ans?.series ?? {};
  return (
    <div class="screen history">
      <Card title="History" testid="history">
        <div class="seg">
          {(['day', 'week', 'month'] as Range[]).map((r) => (
            <button class={range === r ? 'on' : ''} onClick={() => { setRange(r); setBack(0); }} data-testid={'range-' + r}>{r}</button>
          ))}
        </div>
        <div class="histnav">
          <button class="small" onClick={() => setBack(back + 1)} data-testid="hist-prev">◀</button>
          <span data-testid="hist-title">{title}</span>
          <button class="small" disabled={back === 0} onClick={() => setBack(Math.max(0, back - 1))} data-testid="hist-next">▶</button>
          <select value={pack} onChange={(e) => setPack((e.target as HTMLSelectElement).value)} data-testid="hist-pack">
            <option value="site">whole site</option>
            {packList(s).map((p) => <option value={p.serial}>pack {p.state?.value.node_id ?? ''} · {p.serial}</option>)}
          </select>
        </div>
        {err && <p class="err">{err}</p>}
        {busy && !ans && <p class="muted">asking the gateway…</p>}
        {ans && (
          <div class="histsum" data-testid="hist-summary" data-points={ans.t.length} data-solar-wh={sum(se.e_solar_wh)}
            data-grid-wh={sum(se.e_grid_import_wh)}>
            <span>{ans.t.length} points of {ans.res_s / 60} min</span>
            <span>solar {fmtKwh(sum(se.e_solar_wh))}</span>
            <span>grid {fmtKwh(sum(se.e_grid_import_wh))}</span>
            <span>charged {fmtKwh(sum(se.e_batt_charge_wh))}</span>
            <span>discharged {fmtKwh(sum(se.e_batt_discharge_wh))}</span>
          </div>
        )}
        <div ref={chartEl} class="chart" data-testid="hist-chart" />
        <p class="muted small">Kept by the gateway: 5-minute averages for at least 400 days, in the packs' time{back === 0 ? '' : ''}.</p>
      </Card>
    </div>
  );
}
