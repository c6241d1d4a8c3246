// A minimal MQTT 3.1.1 client over WebSocket: connect, subscribe, publish (QoS 0/1), keep-alive, and the retain flag of every message.

/*
 * Why our own: MQTT.js is 104 KB gzip, most of the app's first-load budget; the app needs only a
 * few packets. What it does: CONNECT (clean session, keep-alive, optional user/password),
 * SUBSCRIBE, PUBLISH out at QoS 0 or 1 (PUBACK awaited only for ordering, never re-sent:
 * clean sessions), PUBLISH in at QoS 0/1 (PUBACK answered), PINGREQ every keep-alive, and a
 * close on any protocol error. Every received message keeps its RETAIN flag: the broker sets it
 * only on messages it delivers from its store (state "last known"), never on live ones.
 * The packet codec (the encode functions and decodePackets) is pure and unit-tested without a socket.
 */

export interface MqttMessage {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

function lenPrefixed(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + b.length);
  out[0] = b.length >> 8;
  out[1] = b.length & 255;
  out.set(b, 2);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function remainingLength(n: number): Uint8Array {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 128;
    bytes.push(b);
  } while (n > 0);
  return new Uint8Array(bytes);
}

function packet(first: number, body: Uint8Array): Uint8Array {
  return concat([new Uint8Array([first]), remainingLength(body.length), body]);
}

export interface ConnectOptions {
  clientId: string;
  keepaliveS: number;
  username?: string;
  password?: string;
}

export function encodeConnect(o: ConnectOptions): Uint8Array {
  let flags = 0x02; // clean session
  const payload = [lenPrefixed(utf8(o.clientId))];
  if (o.username) {
    flags |= 0x80;
    payload.push(lenPrefixed(utf8(o.username)));
    if (o.password) {
      flags |= 0x40;
      payload.push(lenPrefixed(utf8(o.password)));
    }
  }
  const vh = concat([lenPrefixed(utf8('MQTT')), new Uint8Array([4, flags, o.keepaliveS >> 8, o.keepaliveS & 255])]);
  return packet(0x10, concat([vh, ...payload]));
}

export function encodeSubscribe(id: number, filters: string[], qos: number): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([id >> 8, id & 255])];
  for (const f of filters) parts.push(lenPrefixed(utf8(f)), new Uint8Array([qos]));
  return packet(0x82, concat(parts));
}

export function encodePublish(topic: string, payload: string, qos: 0 | 1, retain: boolean, id: number): Uint8Array {
  const parts = [lenPrefixed(utf8(topic))];
  if (qos > 0) parts.push(new Uint8Array([id >> 8, id & 255]));
  parts.push(utf8(payload));
  return packet(0x30 | (qos << 1) | (retain ? 1 : 0), concat(parts));
}

export const PINGREQ = new Uint8Array([0xc0, 0]);
export const DISCONNECT = new Uint8Array([0xe0, 0]);

export function encodePuback(id: number): Uint8Array {
  return new Uint8Array([0x40, 2, id >> 8, id & 255]);
}

export type Packet =
  | { type: 'connack'; rc: number }
  | { type: 'publish'; msg: MqttMessage; id: number }
  | { type: 'suback'; id: number; granted: number[] }
  | { type: 'puback'; id: number }
  | { type: 'pingresp' }
  | { type: 'other'; first: number };

/* Whole packets from the front of `buf`; returns them and the bytes left over (a packet split
 * across WebSocket frames). Throws on a malformed packet. */
export function decodePackets(buf: Uint8Array): { packets: Packet[]; rest: Uint8Array } {
  const packets: Packet[] = [];
  let o = 0;
  for (;;) {
    if (buf.length - o < 2) break;
    let len = 0;
    let mul = 1;
    let i = o + 1;
    let complete = false;
    for (let k = 0; k < 4; k++, i++) {
      if (i >= buf.length) break;
      const b = buf[i]!;
      len += (b & 127) * mul;
      mul *= 128;
      if ((b & 128) === 0) {
        complete = true;
        i++;
        break;
      }
      if (k === 3) throw new Error('MQTT: remaining length over 4 bytes');
    }
    if (!complete || buf.length - i < len) break;
    const first = buf[o]!;
    const body = buf.subarray(i, i + len);
    packets.push(parsePacket(first, body));
    o = i + len;
  }
  return { packets, rest: buf.slice(o) };
}

function parsePacket(first: number, b: Uint8Array): Packet {
  const type = first >> 4;
  if (type === 2) {
    if (b.length !== 2) throw new Error('MQTT: bad CONNACK');
    return { type: 'connack', rc: b[1]! };
  }
  if (type === 3) {
    const qos = (first >> 1) & 3;
    if (b.length < 2) throw new Error('MQTT: bad PUBLISH');
    const tl = (b[0]! << 8) | b[1]!;
    let p = 2 + tl;
    if (p > b.length) throw new Error('MQTT: bad PUBLISH topic');
    const topic = dec.decode(b.subarray(2, p));
    let id = 0;
    if (qos > 0) {
      if (p + 2 > b.length) throw new Error('MQTT: bad PUBLISH id');
      id = (b[p]! << 8) | b[p + 1]!;
      p += 2;
    }
    return { type: 'publish', id, msg: { topic, payload: dec.decode(b.subarray(p)), retain: (first & 1) === 1, qos } };
  }
  if (type === 9) return { type: 'suback', id: (b[0]! << 8) | b[1]!, granted: Array.from(b.subarray(2)) };
  if (type === 4) return { type: 'puback', id: (b[0]! << 8) | b[1]! };
  if (type === 13) return { type: 'pingresp' };
  return { type: 'other', first };
}

export interface WebSocketLike {
  binaryType: string;
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: Uint8Array): void;
  close(): void;
}

export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike;

const CONNACK_REASONS: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'broker unavailable',
  4: 'bad user name or password',
  5: 'not authorised',
};

export interface ClientOptions extends ConnectOptions {
  url: string;
  connectTimeoutMs: number;
  ws?: WebSocketFactory;
}

export class MqttClient {
  onMessage: ((m: MqttMessage) => void) | null = null;
  onClose: ((reason: string) => void) | null = null;
  private sock: WebSocketLike | null = null;
  private buf: Uint8Array = new Uint8Array(0);
  private nextId = 1;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastRx = 0;
  private closed = false;

  constructor(private readonly o: ClientOptions) {}

  /* Resolves on CONNACK 0, rejects with the reason otherwise (timeout, refused, socket error). */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (!settled) {
          settled = true;
          reject(new Error(why));
        }
        this.shutdown(why);
      };
      const timer = setTimeout(() => fail('no answer within ' + this.o.connectTimeoutMs + ' ms'), this.o.connectTimeoutMs);
      let s: WebSocketLike;
      try {
        s = this.o.ws ? this.o.ws(this.o.url, ['mqtt']) : (new WebSocket(this.o.url, ['mqtt']) as unknown as WebSocketLike);
      } catch (e) {
        clearTimeout(timer);
        fail(e instanceof Error ? e.message : 'cannot open ' + this.o.url);
        return;
      }
      this.sock = s;
      s.binaryType = 'arraybuffer';
      s.onopen = () => s.send(encodeConnect(this.o));
      s.onerror = () => {
        clearTimeout(timer);
        fail('cannot reach ' + this.o.url);
      };
      s.onclose = () => {
        clearTimeout(timer);
        fail(settled ? 'connection closed' : 'connection refused by ' + this.o.url);
      };
      s.onmessage = (ev) => {
        if (!(ev.data instanceof ArrayBuffer)) return;
        this.lastRx = Date.now();
        const joined = new Uint8Array(this.buf.length + ev.data.byteLength);
        joined.set(this.buf);
        joined.set(new Uint8Array(ev.data), this.buf.length);
        let r;
        try {
          r = decodePackets(joined);
        } catch (e) {
          fail(e instanceof Error ? e.message : 'protocol error');
          return;
        }
        this.buf = r.rest;
        for (const p of r.packets) {
          if (p.type === 'connack') {
            clearTimeout(timer);
            if (p.rc !== 0) {
              fail('broker refused: ' + (CONNACK_REASONS[p.rc] ?? 'code ' + p.rc));
              return;
            }
            settled = true;
            this.startPing();
            resolve();
          } else if (p.type === 'publish') {
            if (p.msg.qos === 1) this.send(encodePuback(p.id));
            this.onMessage?.(p.msg);
          }
        }
      };
    });
  }

  /* QoS 0: a fast site publishes hundreds of states a second, and a newer state replaces a lost
   * one; QoS 1 would hold the broker to 20 messages in flight and make it drop the rest. */
  subscribe(filters: string[], qos = 0): void {
    this.send(encodeSubscribe(this.id(), filters, qos));
  }

  publish(topic: string, payload: string, qos: 0 | 1 = 1, retain = false): void {
    this.send(encodePublish(topic, payload, qos, retain, qos ? this.id() : 0));
  }

  get open(): boolean {
    return !this.closed && this.sock !== null && this.sock.readyState === 1;
  }

  close(): void {
    if (this.open) this.send(DISCONNECT);
    this.shutdown('closed by the app');
  }

  private id(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 65535 ? 1 : this.nextId + 1;
    return id;
  }

  private send(b: Uint8Array): void {
    if (this.sock && this.sock.readyState === 1) this.sock.send(b);
  }

  private startPing(): void {
    const ms = this.o.keepaliveS * 1000;
    this.pingTimer = setInterval(() => {
      // nothing heard for 1.5 keep-alives: the link is dead even if the socket has not noticed
      if (Date.now() - this.lastRx > ms * 1.5) this.shutdown('no answer from the broker');
      else this.send(PINGREQ);
    }, ms / 2);
  }

  private shutdown(why: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    const s = this.sock;
    if (s) {
      s.onopen = s.onclose = s.onerror = null;
      s.onmessage = null;
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
    this.onClose?.(why);
  }
}
