// Settings: the site, the home broker and the away broker (URL, user, password), the theme.

import { useState } from 'preact/hooks';
import type { Controller } from '../controller';
import type { AppSettings, Theme } from '../settings';
import { Card } from './common';

export function Settings(props: { c: Controller }) {
  const { c } = props;
  const [s, setS] = useState<AppSettings>(c.settings);
  const field = (label: string, value: string, set: (v: string) => void, type = 'text', testid = '') => (
    <label class="field">{label}<input type={type} value={value} data-testid={testid}
      onInput={(e) => set((e.target as HTMLInputElement).value)} autocomplete="off" /></label>
  );
  return (
    <div class="screen settings">
      <Card title="Site">
        {field('Site name (empty: the first one the home broker shows)', s.site, (v) => setS({ ...s, site: v.trim() }), 'text', 'set-site')}
        {c.sitesSeen.length > 1 && <p class="muted">Sites on this broker: {c.sitesSeen.join(', ')}</p>}
      </Card>
      <Card title="Home broker (the gateway on your Wi-Fi)">
        {field('WebSocket URL', s.home.url, (v) => setS({ ...s, home: { ...s.home, url: v.trim() } }), 'url', 'set-home-url')}
        {field('User', s.home.username, (v) => setS({ ...s, home: { ...s.home, username: v } }))}
        {field('Password', s.home.password, (v) => setS({ ...s, home: { ...s.home, password: v } }), 'password')}
      </Card>
      <Card title="Away broker (the cloud broker the gateway bridges to)">
        {field('WebSocket URL (wss://…; empty: no away path)', s.away.url, (v) => setS({ ...s, away: { ...s.away, url: v.trim() } }), 'url', 'set-away-url')}
        {field('Site name there (empty: the same)', s.away.site, (v) => setS({ ...s, away: { ...s.away, site: v.trim() } }))}
        {field('User', s.away.username, (v) => setS({ ...s, away: { ...s.away, username: v } }))}
        {field('Password', s.away.password, (v) => setS({ ...s, away: { ...s.away, password: v } }), 'password')}
        <p class="muted small">Away, the app tries the home broker again every {s.probeS} s and moves back by itself.
          A page served over https can only open wss:// brokers.</p>
      </Card>
      <Card title="Theme">
        <div class="seg">
          {(['auto', 'light', 'dark'] as Theme[]).map((t) => (
            <button class={s.theme === t ? 'on' : ''} onClick={() => setS({ ...s, theme: t })} data-testid={'theme-' + t}>{t}</button>
          ))}
        </div>
      </Card>
      <button onClick={() => c.applySettings(s)} data-testid="settings-save">Save and reconnect</button>
      <p class="muted small">Settings stay in this browser only.</p>
    </div>
  );
}
