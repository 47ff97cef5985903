/**
 * S9 through the real gateway: an upgraded (WebSocket) connection opened with an API key closes
 * once the key is revoked, without waiting for the client to send anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { startTestGateway, withAuthenticatedPolicy } from '../helpers/gateway.ts';
import { loadMasterKey } from '../../src/secrets/master-key.ts';
import { createKeyring } from '../../src/secrets/keyring.ts';
import { createApiKeyService } from '../../src/accounts/api-keys.ts';

test('S9: a WebSocket opened with an API key closes when the key is revoked', async () => {
  const upstream = http.createServer();
  const wss = new WebSocketServer({ server: upstream });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${m.toString()}`)));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const t = await startTestGateway(withAuthenticatedPolicy(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: ws, targets: [{ url: ${url} }] }
authentication:
  apiKeys: { enabled: true, cacheSeconds: 60 }
  denyList: { pollSeconds: 1 }
routes:
  - { id: ws, path: /ws, methods: [GET], upstream: ws, websocket: true }
`));
  const keyring = createKeyring(await loadMasterKey({ dataDir: path.join(t.dir, '.rampart'), dev: true }));
  const keys = createApiKeyService({ store: t.gw.store, keyring });
  try {
    const { key, record } = await keys.create({ name: 'stream', roles: [] });
    const ws = new WebSocket(`wss://localhost:${t.port()}/ws`, { ca: await t.ca(), headers: { 'x-api-key': key } });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hi'));
      ws.on('message', (m) => resolve(m.toString()));
      ws.on('error', reject);
    });
    assert.equal(reply, 'echo:hi');
    const closed = new Promise<number>((resolve) => ws.on('close', () => resolve(Date.now())));
    const revokedAt = Date.now();
    await keys.revoke(record.id);
    // Deny-list poll (1 s) + the tunnel's recheck (5 s): bounded wait, never a timing assertion.
    const winner = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 20_000).unref())]);
    assert.notEqual(winner, -1, 'the connection was never closed after the revocation');
    assert.ok(winner >= revokedAt);
  } finally {
    await keys.close();
    await t.close();
    wss.close();
    upstream.closeAllConnections();
    upstream.close();
  }
});
