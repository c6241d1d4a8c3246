// The app's shell: header (site, site time, path in use, gateway status), navigation, and the screen shown.

import { useEffect, useState } from 'preact/hooks';
import type { Controller } from '../controller';
import { gatewayOnline, siteNow } from '../state';
import { Control } from './control';
import { Events } from './events';
import { History } from './history';
import { Home } from './home';
import { Packs } from './packs';
import { Settings } from './settings';
import { siteHhmm } from './common';

export type Screen = 'home' | 'packs' | 'control' | 'history' | 'events' | 'settings';
const SCREENS: Array<[Screen, string, string]> = [
  ['home', 'Home', '⌂'], ['packs', 'Packs', '▤'], ['control', 'Control', '⚙'], ['history', 'History', '∿'],
  ['events', 'Events', '!'], ['settings', 'Settings', '≡'],
];

function screenOfHash(): Screen {
  const h = location.hash.replace('#', '') as Screen;
  return SCREENS.some(([s]) => s === h) ? h : 'home';
}

export function App(props: { c: Controller }) {
  const { c } = props;
  const [, setTick] = useState(0);
  const [screen, setScreen] = useState<Screen>(screenOfHash());
  useEffect(() => {
    const off = c.onChange(() => setTick((t) => t + 1));
    const iv = setInterval(() => setTick((t) => t + 1), 1000); // ages and timeouts move on their own
    const onHash = () => setScreen(screenOfHash());
    addEventListener('hashchange', onHash);
    return () => { off(); clearInterval(iv); removeEventListener('hashchange', onHash); };
  }, [c]);
  useEffect(() => {
    const t = c.settings.theme;
    const dark = t === 'dark' || (t === 'auto' && matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  });
  const now = Date.now();
  const st = c.status;
  const s = c.store;
  const t = siteNow(s.clock, now);
  const gw = s.gateway?.value;
  const cloud = s.cloud?.value;
  return (
    <div class="app">
      <header class="top">
        <div class="site">
          <b data-testid="site-name">{s.site || 'Alfaspark'}</b>
          {t !== undefined && <span class="clock" data-testid="site-clock" title="the packs' time">{siteHhmm(t, s.clock.offsetMin)}</span>}
        </div>
        <div class="badges">
          <span class={'pill ' + (st.path === 'home' ? 'ok' : st.path === 'away' ? 'warn' : 'bad')} data-testid="path" data-path={st.path}
            title={st.path === 'none' ? st.lastError : st.url}>
            {st.path === 'home' ? 'Home Wi-Fi' : st.path === 'away' ? 'Away · cloud' : st.trying ? 'Connecting…' : 'Offline'}
          </span>
          <span class={'pill ' + (gatewayOnline(s) ? 'ok' : 'bad')} data-testid="gateway" data-gateway={gw ?? 'unknown'}>
            gateway {gw ?? '?'}
          </span>
          {cloud !== undefined && st.path === 'home' && (
            <span class={'pill ' + (cloud === '1' ? 'ok' : 'warn')} data-testid="cloud" title="the gateway's bridge to the away broker">
              away path {cloud === '1' ? 'up' : 'down'}
            </span>
          )}
        </div>
      </header>
      {st.path === 'none' && st.lastError && <div class="banner" data-testid="link-error">{st.lastError}</div>}
      <main>
        {screen === 'home' && <Home c={c} now={now} />}
        {screen === 'packs' && <Packs c={c} now={now} />}
        {screen === 'control' && <Control c={c} now={now} />}
        {screen === 'history' && <History c={c} now={now} />}
        {screen === 'events' && <Events c={c} />}
        {screen === 'settings' && <Settings c={c} />}
      </main>
      <nav class="tabs">
        {SCREENS.map(([id, label, icon]) => (
          <a href={'#' + id} class={screen === id ? 'on' : ''} data-testid={'tab-' + id}><span class="ic">{icon}</span>{label}</a>
        ))}
      </nav>
    </div>
  );
}
