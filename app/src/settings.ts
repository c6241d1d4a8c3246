// The app's own settings (site, home and away brokers, theme), kept in the browser, with URL overrides for installers and tests.

import type { BrokerCfg } from './connection';

export type Theme = 'auto' | 'light' | 'dark';

export interface AppSettings {
  site: string; // "" = the first site the home broker shows
  home: BrokerCfg;
  away: BrokerCfg;
  theme: Theme;
  probeS: number; // while away, try home again this often
}

const KEY = 'alfaspark.settings.v1';

export function defaults(loc: { protocol: string; host: string }): AppSettings {
  // Served by the gateway's Mosquitto (http_dir), the page's own host:port is its WebSocket listener.
  const ws = (loc.protocol === 'https:' ? 'wss://' : 'ws://') + (loc.host || '127.0.0.1:9001') + '/';
  return {
    site: '',
    home: { url: ws, username: '', password: '', site: '' },
    away: { url: '', username: '', password: '', site: '' },
    theme: 'auto',
    probeS: 15,
  };
}

function str(v: unknown, d: string): string {
  return typeof v === 'string' ? v : d;
}

function broker(v: unknown, d: BrokerCfg): BrokerCfg {
  const o = typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  return { url: str(o.url, d.url), username: str(o.username, d.username), password: str(o.password, d.password), site: str(o.site, d.site) };
}

export function load(storage: Pick<Storage, 'getItem'> | null, loc: { protocol: string; host: string; search: string }): AppSettings {
  const d = defaults(loc);
  let s = d;
  try {
    const raw = storage?.getItem(KEY);
    if (raw) {
      const v: unknown = JSON.parse(raw);
      if (typeof v === 'object' && v !== null) {
        const o = v as Record<string, unknown>;
        const th = o.theme;
        s = {
          site: str(o.site, d.site),
          home: broker(o.home, d.home),
          away: broker(o.away, d.away),
          theme: th === 'light' || th === 'dark' ? th : 'auto',
          probeS: typeof o.probeS === 'number' && o.probeS >= 2 ? o.probeS : d.probeS,
        };
      }
    }
  } catch {
    s = d; // unreadable: start from the defaults
  }
  // ?site=demo&home=ws://...&away=ws://...&away_site=site-8f3a2c&probe_s=3&theme=dark
  const q = new URLSearchParams(loc.search);
  const site = q.get('site');
  if (site) s = { ...s, site };
  const home = q.get('home');
  if (home) s = { ...s, home: { ...s.home, url: home } };
  const away = q.get('away');
  if (away) s = { ...s, away: { ...s.away, url: away } };
  const awaySite = q.get('away_site');
  if (awaySite) s = { ...s, away: { ...s.away, site: awaySite } };
  const probe = Number(q.get('probe_s'));
  if (probe >= 1) s = { ...s, probeS: probe };
  const theme = q.get('theme');
  if (theme === 'light' || theme === 'dark' || theme === 'auto') s = { ...s, theme };
  return s;
}

export function save(storage: Pick<Storage, 'setItem'> | null, s: AppSettings): void {
  try {
    storage?.setItem(KEY, JSON.stringify(s));
  } catch {
    /* private mode: settings last for this visit */
  }
}
