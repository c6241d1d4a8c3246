// Unit tests of the MQTT 3.1.1 packet codec and client (a scripted WebSocket stands in for the broker's socket).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MqttClient, decodePackets, encodeConnect, encodePublish, encodeSubscribe, type WebSocketLike } from '../../src/mqtt';

test('CONNECT carries protocol level 4, clean session, keep-alive, user and password', () => {
  const b = encodeConnect({ clientId: 'ab', keepaliveS: 20, username: 'u', password: 'p' });
  assert.deepEqual(Array.from(b), [0x10, 20, 0, 4, 77, 81, 84, 84, 4, 0xc2, 0, 20, 0, 2, 97, 98, 0, 1, 117, 0, 1, 112]);
});

test('SUBSCRIBE asks QoS 1 for each filter', () => {
  assert.deepEqual(Array.from(encodeSubscribe(7, ['a/#'], 1)), [0x82, 8, 0, 7, 0, 3, 97, 47, 35, 1]);
});

test('PUBLISH round trip keeps topic, payload, QoS and the retain flag; long packets use a multi-byte length', () => {
  const payload = 'x'.repeat(300);
  const b = encodePublish('alfaspark/s/pack/1/state', payload, 1, true, 9);
  assert.equal(b[0], 0x33);
  assert.ok(b[1]! & 0x80, 'remaining length takes two bytes');
  const { packets, rest } = decodePackets(b);
  assert.equal(rest.length, 0);
  assert.deepEqual(packets, [{ type: 'publish', id: 9, msg: { topic: 'alfaspark/s/pack/1/state', payload, retain: true, qos: 1 } }]);
});

test('packets split across WebSocket frames are joined, several in one frame are all read', () => {
  const a = encodePublish('t', 'one', 0, false, 0);
  const b = encodePublish('t', 'two', 0, false, 0);
  const all = new Uint8Array([...a, ...b]);
  const first = decodePackets(all.subarray(0, a.length + 2));
  assert.equal(first.packets.length, 1);
  assert.equal(first.rest.length, 2);
  const joined = new Uint8Array([...first.rest, ...all.subarray(a.length + 2)]);
  const second = decodePackets(joined);
  assert.equal(second.packets.length, 1);
  assert.equal(second.packets[0]!.type === 'publish' && second.packets[0]!.msg.payload, 'two');
});

test('a malformed packet is refused', () => {
  assert.throws(() => decodePackets(new Uint8Array([0x20, 1, 0])), /CONNACK/);
  assert.throws(() => decodePackets(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 1])), /remaining length/);
});

class FakeSocket implements WebSocketLike {
  binaryType = '';
  readyState = 0;
  sent: Uint8Array[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  send(d: Uint8Array) { this.sent.push(d); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.({}); }
  rx(bytes: number[] | Uint8Array) { const u = Uint8Array.from(bytes); this.onmessage?.({ data: u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) }); }
}

test('the client connects on CONNACK 0, answers QoS 1 with PUBACK and hands over the retain flag', async () => {
  const s = new FakeSocket();
  const c = new MqttClient({ url: 'ws://x', clientId: 'c', keepaliveS: 30, connectTimeoutMs: 1000, ws: () => s });
  const got: Array<{ topic: string; retain: boolean }> = [];
  c.onMessage = (m) => got.push({ topic: m.topic, retain: m.retain });
  const p = c.connect();
  s.open();
  assert.equal(s.sent[0]![0], 0x10);
  s.rx([0x20, 2, 0, 0]);
  await p;
  s.rx(encodePublish('a', 'b', 1, true, 0x0102));
  s.rx(encodePublish('a', 'c', 0, false, 0));
  assert.deepEqual(got, [{ topic: 'a', retain: true }, { topic: 'a', retain: false }]);
  assert.deepEqual(Array.from(s.sent[1]!), [0x40, 2, 1, 2]);
  c.close();
});

test('a refused CONNACK rejects with the reason, a silent broker with a timeout', async () => {
  const s = new FakeSocket();
  const c = new MqttClient({ url: 'ws://x', clientId: 'c', keepaliveS: 30, connectTimeoutMs: 1000, ws: () => s });
  const p = c.connect();
  s.open();
  s.rx([0x20, 2, 0, 5]);
  await assert.rejects(p, /not authorised/);
  const s2 = new FakeSocket();
  const c2 = new MqttClient({ url: 'ws://y', clientId: 'c', keepaliveS: 30, connectTimeoutMs: 30, ws: () => s2 });
  await assert.rejects(c2.connect(), /no answer within 30 ms/);
});
