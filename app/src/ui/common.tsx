// Small shared pieces of the screens: number formats, the freshness badge, site time.

import type { ComponentChildren } from 'preact';
import { ageS, ageText, isLive, type Held, type PackView, type Store } from '../state';

export function fmtW(w: number | null | undefined): string {
  if (w === undefined || w === null) return '—';
  return Math.abs(w) >= 10000 ? (w / 1000).toFixed(1) + ' kW' : Math.round(w) + ' W';
}

export function fmtWh(wh: number | undefined): string {
  if (wh === undefined) return '—';
  return wh >= 10000 ? (wh / 1000).toFixed(1) + ' kWh' : Math.round(wh) + ' Wh';
}

export function fmtKwh(wh: number): string {
  return (wh / 1000).toFixed(1) + ' kWh';
}

/* hh:mm of a unix time in the site's local time (its UTC offset, not the browser's). */
export function siteHhmm(ts: number, offsetMin: number): string {
  const d = new Date((ts + offsetMin * 60) * 1000);
  return String(d.getUTCHours()).padStart(2, '0') + ':' + String(d.getUTCMinutes()).padStart(2, '0');
}

export function siteDate(ts: number, offsetMin: number): string {
  return new Date((ts + offsetMin * 60) * 1000).toISOString().slice(0, 10);
}

/* "live" or "last known, 3 min ago": every value group says how fresh it is. */
export function Fresh(props: { store: Store; held: Held<{ ts_s: number }> | undefined; pack?: PackView; now: number }) {
  const { store, held, pack, now } = props;
  if (!held) return <span class="fresh none" data-fresh="none">no data yet</span>;
  if (isLive(store, held, pack, now)) return <span class="fresh live" data-fresh="live">live</span>;
  const age = ageText(ageS(store, held.value.ts_s, now));
  return (
    <span class="fresh stale" data-fresh="last-known">
      last known{age ? ', ' + age : ' (' + siteHhmm(held.value.ts_s, store.clock.offsetMin) + ')'}
    </span>
  );
}

export function Card(props: { title: string; right?: ComponentChildren; children: ComponentChildren; testid?: string }) {
  return (
    <section class="card" data-testid={props.testid}>
      <header>
        <h2>{props.title}</h2>
        {props.right}
      </header>
      {props.children}
    </section>
  );
}
