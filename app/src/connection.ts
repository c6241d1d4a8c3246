// Home and away: the app tries the home broker first, falls back to the away (cloud) broker by itself, and switches back.

/*
 * A web app cannot read the Wi-Fi name, so the path is found by trying: the home broker (the
 * gateway's local Mosquitto) with a short timeout, then the away broker (the cloud broker the
 * gateway bridges to; its site may carry another name there, e.g. site-8f3a2c for "home").
 * While away, the home broker is probed every probeMs; when it answers, the app moves back.
 * When the connection in use drops, the whole order starts again at once.
 */

import { MqttClient, type MqttMessage, type WebSocketFactory } from './mqtt';

export interface BrokerCfg {
  url: string;
  username: string;
  password: string;
  site: string; // the site's name on this broker
}

export type Path = 'home' | 'away';

export interface LinkStatus {
  path: Path | 'none';
  url: string;
  site: string;
  trying: string; // what is being tried now, for people
  lastError: string;
  sinceMs: number;
}

export interface LinkCallbacks {
  onMessage(m: MqttMessage, path: Path): void;
  onStatus(s: LinkStatus): void;
  onConnected(path: Path, site: string): void; // subscribe and fetch here
}

export interface LinkOptions {
  home: BrokerCfg;
  away?: BrokerCfg;
  probeMs: number;
  connectTimeoutMs: number;
  ws?: WebSocketFactory;
}

function clientId(): string {
  return 'alfaspark-app-' + Math.random().toString(36).slice(2, 10);
}

export class Link {
  private client: MqttClient | null = null;
  private probe: MqttClient | null = null;
  private probeTimer: ReturnType<typeof setInterval> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private failures = 0;
  status: LinkStatus = { path: 'none', url: '', site: '', trying: '', lastError: '', sinceMs: Date.now() };

  constructor(private o: LinkOptions, private cb: LinkCallbacks) {}

  start(): void {
    this.stopped = false;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probe?.close();
    this.client?.close();
    this.client = this.probe = null;
  }

  subscribe(filters: string[]): void {
    this.client?.subscribe(filters);
  }

  publish(topic: string, payload: string): boolean {
    if (!this.client || !this.client.open || this.status.path === 'none') return false;
    this.client.publish(topic, payload, 1, false);
    return true;
  }

  private setStatus(p: Partial<LinkStatus>): void {
    this.status = { ...this.status, ...p };
    this.cb.onStatus(this.status);
  }

  private cfg(path: Path): BrokerCfg | undefined {
    return path === 'home' ? this.o.home : this.o.away && this.o.away.url ? this.o.away : undefined;
  }

  private async open(path: Path): Promise<MqttClient> {
    const c = this.cfg(path)!;
    const cl = new MqttClient({
      url: c.url, clientId: clientId(), keepaliveS: 20, connectTimeoutMs: this.o.connectTimeoutMs, ws: this.o.ws,
      ...(c.username ? { username: c.username, password: c.password } : {}),
    });
    await cl.connect();
    return cl;
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    for (const path of ['home', 'away'] as Path[]) {
      const c = this.cfg(path);
      if (!c || !c.url) continue;
      this.setStatus({ trying: path + ' (' + c.url + ')' });
      try {
        const cl = await this.open(path);
        if (this.stopped) {
          cl.close();
          return;
        }
        this.use(cl, path);
        return;
      } catch (e) {
        this.setStatus({ lastError: path + ': ' + (e instanceof Error ? e.message : String(e)) });
      }
    }
    this.failures++;
    this.setStatus({ path: 'none', trying: '' });
    const wait = Math.min(1000 * this.failures, 10000);
    this.retryTimer = setTimeout(() => void this.run(), wait);
  }

  private use(cl: MqttClient, path: Path): void {
    const c = this.cfg(path)!;
    this.client = cl;
    this.failures = 0;
    cl.onMessage = (m) => this.cb.onMessage(m, path);
    cl.onClose = (why) => {
      if (this.client !== cl) return;
      this.client = null;
      if (this.probeTimer) clearInterval(this.probeTimer);
      this.probeTimer = null;
      this.setStatus({ path: 'none', lastError: path + ': ' + why, sinceMs: Date.now() });
      if (!this.stopped) void this.run();
    };
    this.setStatus({ path, url: c.url, site: c.site, trying: '', sinceMs: Date.now() });
    this.cb.onConnected(path, c.site);
    if (path === 'away') {
      this.probeTimer = setInterval(() => void this.probeHome(), this.o.probeMs);
    }
  }

  private async probeHome(): Promise<void> {
    if (this.probe || this.stopped || this.status.path !== 'away') return;
    try {
      this.probe = await this.open('home');
    } catch {
      this.probe = null;
      return; // still away
    }
    const cl = this.probe;
    this.probe = null;
    if (this.stopped || this.status.path !== 'away') {
      cl.close();
      return;
    }
    const old = this.client;
    this.client = null;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
    old?.close();
    this.use(cl, 'home');
  }
}
