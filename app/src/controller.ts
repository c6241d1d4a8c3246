// Wires the link, the store and history requests together, and tells the views when to redraw.

import { Link, type LinkStatus, type Path } from './connection';
import type { MqttMessage } from './mqtt';
import type { Schema } from './schema';
import { validateCommand, type Validation } from './schema';
import { apply, newStore, startCommand, type CommandLife, type Store } from './state';
import { parseAnswer, type HistoryAnswer } from './history';
import { save, type AppSettings } from './settings';

type Pending = { resolve: (a: HistoryAnswer) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

export class Controller {
  store: Store;
  link: Link | null = null;
  status: LinkStatus = { path: 'none', url: '', site: '', trying: '', lastError: '', sinceMs: Date.now() };
  sitesSeen: string[] = [];
  firstLiveMs = 0; // when the first live value arrived (the time-to-live benchmark reads it)
  private listeners = new Set<() => void>();
  private scheduled = false;
  private pending = new Map<string, Pending>();
  private seq = 0;
  private siteOnBroker = '';
  private readTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(public settings: AppSettings, public schema: Schema, private storage: Storage | null) {
    this.store = newStore(settings.site);
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /* Redraws are batched: a fast site publishes hundreds of states a second. */
  changed(now = false): void {
    if (now) {
      this.scheduled = false;
      for (const l of this.listeners) l();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => this.changed(true), 100);
  }

  start(): void {
    this.link?.stop();
    const s = this.settings;
    const homeSite = s.home.site || s.site;
    const awaySite = s.away.site || s.site;
    this.link = new Link(
      {
        home: { ...s.home, site: homeSite },
        ...(s.away.url ? { away: { ...s.away, site: awaySite } } : {}),
        probeMs: s.probeS * 1000,
        connectTimeoutMs: 2500,
      },
      {
        onMessage: (m, path) => this.onMessage(m, path),
        onStatus: (st) => {
          this.status = st;
          this.changed(true);
        },
        onConnected: (path, site) => this.onConnected(path, site),
      },
    );
    this.link.start();
  }

  applySettings(s: AppSettings): void {
    this.settings = s;
    save(this.storage, s);
    this.store = newStore(s.site);
    this.start();
    this.changed(true);
  }

  private onConnected(_path: Path, site: string): void {
    // the store speaks of the site by the name it has on this path's broker
    this.siteOnBroker = site;
    if (site) {
      this.store.site = site;
      // retained state comes again from this broker: start from it, keep events and commands
      const keep = { events: this.store.events, commands: this.store.commands };
      this.store = { ...newStore(site), ...keep };
      this.subscribe(site);
    } else {
      this.subscribeDiscovery();
    }
    this.changed(true);
  }

  private subscribe(site: string): void {
    const root = 'alfaspark/' + site + '/';
    // the grid-limit and other settings come from pack/<serial>/settings (retained after a
    // read_settings): ask once when nothing arrived with the retained state
    if (this.readTimer) clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      const packs = Object.values(this.store.packs);
      if (packs.length && !packs.some((p) => p.settings) && this.store.gateway?.value === 'online') this.send('read_settings', 'all', {});
    }, 2000);
    this.link?.subscribe([root + 'pack/+/state', root + 'pack/+/status', root + 'pack/+/settings', root + 'site/state', root + 'gateway/status',
      root + 'gateway/cloud', root + 'event', root + 'cmd/result', root + 'history/result']);
  }

  private subscribeDiscovery(): void {
    this.link?.subscribe(['alfaspark/+/gateway/status']);
  }

  private onMessage(m: MqttMessage, _path: Path): void {
    if (!this.siteOnBroker) {
      const mm = /^alfaspark\/([^/]+)\/gateway\/status$/.exec(m.topic);
      if (mm && !this.sitesSeen.includes(mm[1]!)) {
        this.sitesSeen.push(mm[1]!);
        if (this.sitesSeen.length === 1) {
          this.siteOnBroker = mm[1]!;
          this.store = newStore(mm[1]!);
          this.subscribe(mm[1]!);
        }
        this.changed();
      }
      return;
    }
    if (m.topic.endsWith('/history/result')) {
      const a = parseAnswer(m.payload, this.schema.history_series);
      if (a && this.pending.has(a.id)) {
        const p = this.pending.get(a.id)!;
        this.pending.delete(a.id);
        clearTimeout(p.timer);
        if ('error' in a) p.reject(new Error(a.error));
        else p.resolve(a);
      }
      return;
    }
    const now = Date.now();
    if (apply(this.store, m, now)) {
      if (!this.firstLiveMs && !m.retain && m.topic.endsWith('/state')) {
        this.firstLiveMs = now;
        this.changed(true);
        return;
      }
      this.changed();
    }
  }

  /* Validate, then send; returns the validation (nothing is sent when it fails). */
  send(name: string, target: string, fields: Record<string, unknown>): Validation & { life?: CommandLife } {
    const v = validateCommand(this.schema, name, fields);
    if (!v.ok) return v;
    const id = 'app-' + Date.now().toString(36) + '-' + (++this.seq);
    const payload = JSON.stringify({ id, client: 'app', ...v.payload });
    const topic = target === 'all' ? 'cmd/' + name : 'pack/' + target + '/cmd/' + name;
    if (!this.siteOnBroker || !this.link?.publish('alfaspark/' + this.siteOnBroker + '/' + topic, payload)) {
      return { ok: false, errors: { _: 'not connected to any broker: nothing was sent' } };
    }
    const life = startCommand(this.store, id, name, target, payload, Date.now());
    this.changed(true);
    setTimeout(() => this.changed(), 5500); // the life's timeout shows without new messages
    return { ...v, life };
  }

  history(req: (id: string) => string): Promise<HistoryAnswer> {
    const id = 'h-' + Date.now().toString(36) + '-' + (++this.seq);
    return new Promise((resolve, reject) => {
      if (!this.siteOnBroker || !this.link?.publish('alfaspark/' + this.siteOnBroker + '/history/get', req(id))) {
        reject(new Error('not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('the gateway did not answer (history off, or the gateway is offline)'));
      }, 10000);
      this.pending.set(id, { resolve, reject, timer });
    });
  }
}
