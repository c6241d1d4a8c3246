// Packs: every pack's figures, relays, mode, faults and warnings by name, firmware, master, and online/offline.

import type { Controller } from '../controller';
import { packList } from '../state';
import { Card, Fresh, fmtW, fmtWh } from './common';

const RELAYS: Array<[string, 'relay_grid_closed' | 'relay_inverter_closed' | 'relay_pool_closed' | 'relay_heater_closed']> = [
  ['Grid input', 'relay_grid_closed'], ['Inverter output', 'relay_inverter_closed'], ['Pool pump', 'relay_pool_closed'],
  ['Water heater', 'relay_heater_closed'],
];

export function Packs(props: { c: Controller; now: number }) {
  const { c, now } = props;
  const s = c.store;
  const list = packList(s);
  if (!list.length) return <div class="screen"><p class="muted">No pack has been seen on this site yet.</p></div>;
  return (
    <div class="screen packs">
      {list.map((p) => {
        const st = p.state?.value;
        const online = p.status?.value;
        return (
          <Card key={p.serial} testid={'pack-' + p.serial}
            title={(st ? 'Pack ' + st.node_id : 'Pack') + ' · ' + p.serial}
            right={<span class={'pill ' + (online === 'online' ? 'ok' : 'bad')} data-testid="pack-status">{online ?? 'unknown'}</span>}>
            <div class="fresh-line"><Fresh store={s} held={p.state} pack={p} now={now} /></div>
            {st && (
              <>
                <dl class="grid2">
                  <div><dt>State of charge</dt><dd>{st.soc_pct} %</dd></div>
                  <div><dt>Voltage</dt><dd>{st.v_pack_mv === null ? 'unknown (BMS lost)' : (st.v_pack_mv / 1000).toFixed(2) + ' V'}</dd></div>
                  <div><dt>Current</dt><dd>{st.i_batt_ma === null ? 'unknown' : (st.i_batt_ma / 1000).toFixed(1) + ' A ' + (st.i_batt_ma >= 0 ? '(charging)' : '(discharging)')}</dd></div>
                  <div><dt>Battery</dt><dd>{st.p_batt_w === null ? 'unknown' : fmtW(st.p_batt_w)}</dd></div>
                  <div><dt>Solar</dt><dd>{fmtW(st.p_solar_w)}</dd></div>
                  <div><dt>Home</dt><dd>{fmtW(st.p_home_w)}</dd></div>
                  <div><dt>Grid</dt><dd>{fmtW(st.p_grid_w)}</dd></div>
                  <div><dt>Pool / heater</dt><dd>{fmtW(st.p_pool_w)} / {fmtW(st.p_heater_w)}</dd></div>
                  <div><dt>Mode</dt><dd>{st.mode.replace('_', '-')}</dd></div>
                  <div><dt>Role</dt><dd>{st.master ? 'site master' : 'member'}</dd></div>
                  <div><dt>Firmware</dt><dd>{st.fw_version}</dd></div>
                  <div><dt>Grid import today</dt><dd>{fmtWh(st.grid_import_today_wh)}</dd></div>
                </dl>
                <ul class="relays">
                  {RELAYS.map(([name, k]) => (
                    <li class={st[k] ? 'closed' : 'open'}>{name}: <b>{st[k] ? 'closed' : 'open'}</b></li>
                  ))}
                </ul>
                <p class="muted small">Temperatures, cell extremes and which rule decided each relay are not in the packs'
                  telemetry yet (docs/protocol.md §3.4).</p>
                {(st.faults.length > 0 || st.warnings.length > 0) ? (
                  <ul class="warnlist">
                    {st.faults.map((f) => <li class="fault">fault: {f.replace(/_/g, ' ')}</li>)}
                    {st.warnings.map((f) => <li class="warning">warning: {f.replace(/_/g, ' ')}</li>)}
                  </ul>
                ) : <p class="muted">No faults, no warnings.</p>}
              </>
            )}
          </Card>
        );
      })}
    </div>
  );
}
