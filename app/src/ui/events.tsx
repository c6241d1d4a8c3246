// Events: faults and warnings as the gateway reported them, newest first.

import type { Controller } from '../controller';
import { Card, siteDate, siteHhmm } from './common';

export function Events(props: { c: Controller }) {
  const s = props.c.store;
  return (
    <div class="screen events">
      <Card title="Events" testid="events">
        {s.events.length === 0 ? (
          <p class="muted">No fault or warning changed since the app opened (events are not kept by the broker).</p>
        ) : (
          <ul class="eventlist">
            {s.events.map((e) => (
              <li class={e.type + (e.active ? ' on' : ' off')}>
                <time>{siteDate(e.ts_s, s.clock.offsetMin)} {siteHhmm(e.ts_s, s.clock.offsetMin)}</time>
                <span>{e.pack.slice(-4)}</span>
                <b>{e.name.replace(/_/g, ' ')}</b>
                <span>{e.active ? (e.type === 'fault' ? 'fault raised' : 'warning raised') : 'cleared'}</span>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}
