import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { RemoteKeySource, discoveryUrl } from './remote-keys.ts';
import { FetchError } from './fetch.ts';
import { makeKey, type TestKey } from './testing.ts';

const logger = pino({ level: 'silent' });
const ISS = 'https://idp.example/realms/a';

/** A fetcher double: answers discovery and JWKS from a mutable state, counts calls. */
function idp(keys: TestKey[]) {
  const state = {
    keys, issuer: ISS, down: false, calls: [] as string[], gate: undefined as Promise<void> | undefined,
    fetcher: {
      json: async (url: string): Promise<unknown> => {
        state.calls.push(url);
        if (state.gate) await state.gate;
        if (state.down) throw new FetchError('network error ECONNREFUSED');
        if (url === discoveryUrl(ISS)) return { issuer: state.issuer, jwks_uri: 'https://idp.example/jwks' };
        if (url === 'https://idp.example/jwks') return { keys: state.keys.map((k) => k.jwk) };
        throw new FetchError('status 404');
      },
      close: async () => undefined,
    },
  };
  return state;
}

function source(s: ReturnType<typeof idp>, clock: { t: number }) {
  return new RemoteKeySource({ issuer: ISS, refreshSeconds: 300, cooldownSeconds: 30, maxStalenessSeconds: 3600, fetcher: s.fetcher, logger, now: () => clock.t });
}

test('RemoteKeySource discovers, fetches and finds keys by kid', async () => {
  const k = makeKey('ES256', 'a');
  const s = idp([k]);
  const src = source(s, { t: 1_000_000 });
  const r = await src.lookup('a', 'ES256');
  assert.equal(r.kind, 'found');
  assert.deepEqual(s.calls, [discoveryUrl(ISS), 'https://idp.example/jwks']);
  assert.equal((await src.lookup('a', 'RS256')).kind, 'unknown', 'the key does not fit RS256');
});

test('RemoteKeySource refuses a discovery document naming another issuer (S8, OIDC Discovery §4.3)', async () => {
  const s = idp([makeKey('ES256', 'a')]);
  s.issuer = 'https://evil.example';
  const r = await source(s, { t: 1_000_000 }).lookup('a', 'ES256');
  assert.deepEqual(r, { kind: 'unavailable', reason: 'discovered issuer differs from the configured one' });
  assert.deepEqual(s.calls, [discoveryUrl(ISS)], 'the JWKS of another issuer is never fetched');
});

test('RemoteKeySource: an unknown kid refetches at most once per cooldown (no refetch storm)', async () => {
  const s = idp([makeKey('ES256', 'a')]);
  const clock = { t: 1_000_000 };
  const src = source(s, clock);
  await src.lookup('a', 'ES256');
  assert.equal(src.fetches, 1);
  for (let i = 0; i < 50; i++) assert.equal((await src.lookup(`nope-${i}`, 'ES256')).kind, 'unknown');
  assert.equal(src.fetches, 1, 'inside the cooldown: no fetch at all');
  clock.t += 30_000;
  await Promise.all(Array.from({ length: 20 }, (_, i) => src.lookup(`nope-${i}`, 'ES256')));
  assert.equal(src.fetches, 2, 'after the cooldown: one fetch, shared');
});

test('RemoteKeySource: concurrent first lookups share one fetch (single-flight)', async () => {
  const s = idp([makeKey('ES256', 'a')]);
  let open!: () => void;
  s.gate = new Promise((r) => (open = r));
  const src = source(s, { t: 1_000_000 });
  const all = Promise.all(Array.from({ length: 25 }, () => src.lookup('a', 'ES256')));
  open();
  const results = await all;
  assert.ok(results.every((r) => r.kind === 'found'));
  assert.equal(src.fetches, 1);
  assert.equal(s.calls.length, 2, 'one discovery, one JWKS');
});

test('RemoteKeySource: a new kid after rotation is found and announced', async () => {
  const s = idp([makeKey('ES256', 'a')]);
  const clock = { t: 1_000_000 };
  const src = source(s, clock);
  let changes = 0;
  src.onChange(() => changes++);
  await src.lookup('a', 'ES256');
  s.keys = [makeKey('ES256', 'b')];
  clock.t += 31_000;
  assert.equal((await src.lookup('b', 'ES256')).kind, 'found');
  assert.equal(changes, 1);
  assert.equal((await src.lookup('a', 'ES256')).kind, 'unknown', 'the removed key is gone');
});

test('RemoteKeySource: stale keys keep serving while the issuer is down, up to maxStaleness, then fail closed', async () => {
  const s = idp([makeKey('ES256', 'a')]);
  const clock = { t: 1_000_000 };
  const src = source(s, clock);
  await src.lookup('a', 'ES256');
  s.down = true;
  clock.t += 301_000; // past refresh: a background refresh fails, the old set serves
  assert.equal((await src.lookup('a', 'ES256')).kind, 'found');
  await new Promise((r) => setImmediate(r));
  clock.t = 1_000_000 + 3_601_000; // past maxStaleness
  const r = await src.lookup('a', 'ES256');
  assert.equal(r.kind, 'unavailable');
  s.down = false;
  clock.t += 30_000;
  assert.equal((await src.lookup('a', 'ES256')).kind, 'found', 'recovers once the issuer answers');
});

test('RemoteKeySource: never fetched and the issuer down → unavailable, retried after the cooldown only', async () => {
  const s = idp([makeKey('ES256', 'a')]);
  s.down = true;
  const clock = { t: 1_000_000 };
  const src = source(s, clock);
  assert.equal((await src.lookup('a', 'ES256')).kind, 'unavailable');
  assert.equal((await src.lookup('a', 'ES256')).kind, 'unavailable');
  assert.equal(src.fetches, 1);
});

test('RemoteKeySource: a JWKS without usable keys is an error, the previous set stays', async () => {
  const s = idp([makeKey('ES256', 'a')]);
  const clock = { t: 1_000_000 };
  const src = source(s, clock);
  await src.lookup('a', 'ES256');
  s.keys = [];
  clock.t += 31_000;
  assert.equal((await src.lookup('zzz', 'ES256')).kind, 'unknown');
  assert.equal((await src.lookup('a', 'ES256')).kind, 'found');
});
