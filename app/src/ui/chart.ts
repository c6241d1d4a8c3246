// The history charts (uPlot), in their own chunk: loaded only when History is opened.

import uPlot from 'uplot';
import css from 'uplot/dist/uPlot.min.css'; // as text (build.mjs): injected once, with the chunk
import type { HistoryAnswer, Range } from '../history';

const COLORS: Record<string, string> = {
  p_solar_w: '#f5b301', p_home_w: '#3b82f6', p_grid_w: '#9ca3af', p_batt_w: '#10b981', soc_pct: '#a855f7',
};
const NAMES: Record<string, string> = {
  p_solar_w: 'Solar W', p_home_w: 'Home W', p_grid_w: 'Grid W', p_batt_w: 'Battery W (+ charging)', soc_pct: 'SOC %',
};

let styled = false;

export function drawHistory(el: HTMLElement, a: HistoryAnswer, range: Range): () => void {
  if (!styled) {
    const st = document.createElement('style');
    st.textContent = css + '.u-legend{font-size:12px;color:var(--fg)} .u-axis{color:var(--muted)}';
    document.head.appendChild(st);
    styled = true;
  }
  el.textContent = '';
  const off = a.utc_offset_min * 60;
  // uPlot shows the browser's zone; shift so that the axis reads the site's local time
  const tz = new Date().getTimezoneOffset() * 60;
  const xs = a.t.map((t) => t + a.res_s / 2 + off + tz);
  const keys = ['p_solar_w', 'p_home_w', 'p_grid_w', 'p_batt_w', 'soc_pct'].filter((k) => a.series[k]);
  const data: uPlot.AlignedData = [xs, ...keys.map((k) => a.series[k]!)];
  const width = Math.max(280, el.clientWidth || 320);
  const opts: uPlot.Options = {
    width,
    height: range === 'day' ? 240 : 260,
    series: [{}, ...keys.map((k) => ({ label: NAMES[k], stroke: COLORS[k], width: 1.5, scale: k === 'soc_pct' ? '%' : 'W' }))],
    axes: [{}, { scale: 'W', size: 50 }, { scale: '%', side: 1, size: 40, grid: { show: false } }],
    scales: { '%': { range: [0, 100] } },
    legend: { show: true },
  };
  const u = new uPlot(opts, data, el);
  return () => u.destroy();
}
