import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../errors/problem.ts';
import { inspect } from './index.ts';

const config = { maxHeaderCount: 100, maxHeaderBytes: 16 * 1024, maxUrlBytes: 8 * 1024, maxBodyBytes: 1024 };
const request = (host: string) => inspect({ method: 'GET', url: '/x', headers: { host }, rawHeaders: ['Host', host], httpVersion: '1.1' }, config);

test('inspect checks every Host, whatever the host of the request before it', () => {
  // The last valid Host is remembered so that a client's next request skips the pattern; a
  // different value must still be checked.
  assert.equal((request('api.example.com') as { host: string }).host, 'api.example.com');
  assert.equal((request('api.example.com') as { host: string }).host, 'api.example.com');
  for (const bad of ['api.example.com/evil', 'a b', 'api.example.com:99999999', '-api.example.com', 'x_y.example']) {
    const r = request(bad);
    assert.ok(r instanceof GatewayError && r.code === 'RAMPART_HYGIENE_HOST_INVALID', bad);
  }
  assert.equal((request('API.Example.com:8443') as { host: string }).host, 'api.example.com:8443');
});

test('inspect refuses two Host fields, in any letter case', () => {
  const r = inspect({ method: 'GET', url: '/x', headers: { host: 'a.example' }, rawHeaders: ['Host', 'a.example', 'hOsT', 'b.example'], httpVersion: '1.1' }, config);
  assert.ok(r instanceof GatewayError && r.code === 'RAMPART_HYGIENE_HOST_INVALID');
});
