// Loads the chart bundle (uPlot) on demand with a classic script tag: Mosquitto's http_dir sends no Content-Type, which module scripts and import() refuse.

import type { HistoryAnswer, Range } from '../history';

export interface ChartModule {
  drawHistory(el: HTMLElement, a: HistoryAnswer, range: Range): () => void;
}

declare const __CHART_URL__: string; // set by app/build.mjs
type WithChart = { alfasparkChart?: ChartModule };
let loading: Promise<ChartModule> | null = null;

export function loadChart(): Promise<ChartModule> {
  const w = window as unknown as WithChart;
  if (w.alfasparkChart) return Promise.resolve(w.alfasparkChart);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = __CHART_URL__;
      s.onload = () => (w.alfasparkChart ? resolve(w.alfasparkChart) : reject(new Error('chart bundle did not register')));
      s.onerror = () => {
        loading = null;
        reject(new Error('the chart could not be loaded'));
      };
      document.head.appendChild(s);
    });
  }
  return loading;
}
