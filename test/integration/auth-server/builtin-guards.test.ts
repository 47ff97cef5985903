/**
 * DESIGN.md: built-in routes run request-id → hygiene → ip-filter → throttle, then their handler.
 * The authorization server is guarded by `defaults.ip-filter` and `defaults.throttle` like a route.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAuthGateway } from '../../helpers/auth.ts';

test('ip-filter guards the authorization server (403 RAMPART_IPFILTER_DENIED, problem+json)', async () => {
  const g = await startAuthGateway({ extra: 'defaults:\n  ip-filter: { deny: [127.0.0.0/8] }\nroutes: []' });
  try {
    const r = await g.fetch('/auth/jwks');
    assert.equal(r.status, 403);
    assert.equal(r.json().code, 'RAMPART_IPFILTER_DENIED');
  } finally {
    await g.close();
  }
});

test('throttle guards the authorization server (429 with Retry-After once the burst is spent)', async () => {
  const g = await startAuthGateway({ extra: 'defaults:\n  throttle:\n    limits: [{ id: per-ip, limit: 1, window: 1m, burst: 2 }]\nroutes: []' });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await g.fetch('/auth/jwks')).status);
    assert.deepEqual(statuses.slice(0, 2), [200, 200]);
    assert.equal(statuses[3], 429);
    const r = await g.fetch('/auth/.well-known/openid-configuration');
    assert.equal(r.status, 429);
    assert.ok(r.headers['retry-after']);
  } finally {
    await g.close();
  }
});

test('an oversized body is refused before the provider reads it (413)', async () => {
  const g = await startAuthGateway({ extra: 'defaults:\n  hygiene: { maxBodyBytes: 1024 }\nroutes: []' });
  try {
    const r = await g.fetch('/auth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a='.padEnd(5000, 'x') });
    assert.equal(r.status, 413);
    assert.equal(r.json().code, 'RAMPART_HYGIENE_BODY_TOO_LARGE');
  } finally {
    await g.close();
  }
});
