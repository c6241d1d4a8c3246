// History requests to the gateway (alfaspark/<site>/history/get -> history/result) and the ranges the charts ask for.

export type Range = 'day' | 'week' | 'month';

export interface HistoryAnswer {
  id: string;
  pack: string;
  from_s: number;
  to_s: number;
  res_s: number;
  utc_offset_min: number;
  t: number[];
  series: Record<string, number[]>;
}

export const RANGE_DAYS: Record<Range, number> = { day: 1, week: 7, month: 30 };
export const RANGE_RES: Record<Range, number> = { day: 300, week: 3600, month: 3600 };

/* The local midnight (UTC seconds) that starts the day holding `ts`, for a site at offsetMin. */
export function dayStart(ts: number, offsetMin: number): number {
  const off = offsetMin * 60;
  return Math.floor((ts + off) / 86400) * 86400 - off;
}

/* The request for a range ending with the day that holds `endTs`. */
export function request(id: string, pack: string, range: Range, endTs: number, offsetMin: number, series: string[]): string {
  const to = dayStart(endTs, offsetMin) + 86400;
  const from = to - RANGE_DAYS[range] * 86400;
  return JSON.stringify({ id, pack, from_s: from, to_s: to, res_s: RANGE_RES[range], utc_offset_min: offsetMin, series });
}

function isNumArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number');
}

/* A history/result message: the answer, a refusal's reason, or undefined when it is not ours. */
export function parseAnswer(text: string, names: string[]): HistoryAnswer | { id: string; error: string } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const id = typeof o.id === 'string' ? o.id : '';
  if (o.result !== 'ok') return { id, error: typeof o.detail === 'string' ? o.detail : String(o.result) };
  if (!isNumArray(o.t) || typeof o.from_s !== 'number' || typeof o.to_s !== 'number' || typeof o.res_s !== 'number') return undefined;
  const series: Record<string, number[]> = {};
  for (const n of names) {
    const s = o[n];
    if (s === undefined) continue;
    if (!isNumArray(s) || s.length !== o.t.length) return undefined;
    series[n] = s;
  }
  return {
    id, pack: typeof o.pack === 'string' ? o.pack : 'site', from_s: o.from_s, to_s: o.to_s, res_s: o.res_s,
    utc_offset_min: typeof o.utc_offset_min === 'number' ? o.utc_offset_min : 0, t: o.t, series,
  };
}

export function sum(a: number[] | undefined): number {
  return (a ?? []).reduce((x, y) => x + y, 0);
}
