// Unit tests of home/away: fall back to the away broker when home does not answer, move back when it does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Link, type LinkStatus } from '../../src/connection';
import type { WebSocketLike } from '../../src/mqtt';

/* A broker per URL that answers CONNECT with CONNACK 0 while `up`, and refuses the socket otherwise. */
function brokers(up: Record<string, boolean>) {
  return (url: string): WebSocketLike => {
    const s: WebSocketLike & { readyState: number } = {
      binaryType: '', readyState: 0, onopen: null, onclose: null, onerror: null, onmessage: null,
      send(d: Uint8Array) {
        if (d[0] === 0x10) setTimeout(() => { const b = new Uint8Array([0x20, 2, 0, 0]); s.onmessage?.({ data: b.buffer }); }, 1);
      },
      close() { s.readyState = 3; },
    };
    setTimeout(() => {
      if (up[url]) { s.readyState = 1; s.onopen?.({}); } else { s.onerror?.({}); }
    }, 1);
    return s;
  };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('home first; away when home is unreachable; back home when it answers again', async () => {
  const up: Record<string, boolean> = { 'ws://home': false, 'ws://cloud': true };
  const seen: Array<string> = [];
  const link = new Link(
    { home: { url: 'ws://home', username: '', password: '', site: 'demo' }, away: { url: 'ws://cloud', username: '', password: '', site: 'site-8f3a' },
      probeMs: 40, connectTimeoutMs: 200, ws: brokers(up) },
    { onMessage() {}, onStatus(_s: LinkStatus) {}, onConnected(path, site) { seen.push(path + ':' + site); } },
  );
  link.start();
  await wait(50);
  assert.equal(link.status.path, 'away');
  assert.deepEqual(seen, ['away:site-8f3a']);
  assert.match(link.status.lastError, /^home: /);
  up['ws://home'] = true;
  await wait(150);
  assert.equal(link.status.path, 'home');
  assert.deepEqual(seen, ['away:site-8f3a', 'home:demo']);
  link.stop();
});

test('with neither broker reachable it says so and keeps trying', async () => {
  const up: Record<string, boolean> = { 'ws://home': false };
  const link = new Link({ home: { url: 'ws://home', username: '', password: '', site: 'd' }, probeMs: 1000, connectTimeoutMs: 100, ws: brokers(up) },
    { onMessage() {}, onStatus() {}, onConnected() {} });
  link.start();
  await wait(30);
  assert.equal(link.status.path, 'none');
  up['ws://home'] = true;
  await wait(1100);
  assert.equal(link.status.path, 'home');
  link.stop();
});
