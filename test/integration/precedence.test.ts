/** Stage settings precedence: defaults → upstream defaults → route (DESIGN.md "Config shape"). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.ts';
import { startEcho } from '../helpers/upstream.ts';

test('precedence: global defaults, then the upstream, then the route', async () => {
  const echo = await startEcho();
  const t = await startTestGateway(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
defaults:
  hygiene: { maxBodyBytes: 100 }
upstreams:
  - { id: a, targets: [{ url: ${echo.url} }] }
  - { id: b, targets: [{ url: ${echo.url} }], defaults: { hygiene: { maxBodyBytes: 200 } } }
routes:
  - { id: global, path: /global, methods: [POST], upstream: a }
  - { id: upstream, path: /upstream, methods: [POST], upstream: b }
  - { id: route, path: /route, methods: [POST], upstream: b, hygiene: { maxBodyBytes: 300 } }
`);
  try {
    const post = async (p: string, n: number) => (await t.fetch(p, { method: 'POST', body: 'x'.repeat(n) })).status;
    assert.deepEqual([await post('/global', 100), await post('/global', 101)], [200, 413]);
    assert.deepEqual([await post('/upstream', 200), await post('/upstream', 201)], [200, 413]);
    assert.deepEqual([await post('/route', 300), await post('/route', 301)], [200, 413]);
  } finally {
    await t.close();
    await echo.close();
  }
});
