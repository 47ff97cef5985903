/**
 * Authorization server benchmark (not a test): `node bench/auth-server.ts [--n 2000] [--c 8]`.
 *
 * A real gateway with `authServer` on loopback HTTPS (dev CA, SQLite store), in this process so
 * that its CPU can be read from process.cpuUsage (client included, measured alone and subtracted):
 *
 * 1. client credentials → one RFC 9068 JWT (ES256 signature, SHA-256-keyed store writes): tokens/s
 *    at `--c` concurrent requests and gateway CPU µs per token;
 * 2. discovery and JWKS (what every authn cache miss and every client start fetches).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startAuthGateway, API } from '../test/helpers/auth.ts';
import { hashClientSecret } from '../src/auth-server/provider.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' }, c: { type: 'string', default: '8' } } });
const N = Number(values.n);
const C = Number(values.c);

const g = await startAuthGateway();
const secret = randomBytes(32).toString('base64url');
await g.store.clients.create({ clientId: 'bench', secretHash: hashClientSecret(secret), roles: [], disabled: false, createdAt: 1, metadata: { grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read' } });
const agent = new Agent({ connect: { ca: await g.ca() }, connections: C });
const auth = `Basic ${Buffer.from(`bench:${secret}`).toString('base64')}`;
const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read', resource: API }).toString();

async function run(label: string, n: number, one: () => Promise<number>): Promise<void> {
  for (let i = 0; i < 50; i++) await one(); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let next = 0;
  let bad = 0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < n) {
      next++;
      if ((await one()) !== 200) bad++;
    }
  }));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const us = (cpu.user + cpu.system) / n;
  console.log(`${label.padEnd(34)} ${String(n).padStart(6)} req  ${(n / (ms / 1000)).toFixed(0).padStart(6)} req/s  ${us.toFixed(0).padStart(6)} µs CPU/req (client + gateway)  ${bad} non-200`);
}

const token = async () => {
  const r = await request(`${g.issuer}/token`, { method: 'POST', dispatcher: agent, headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body });
  await r.body.text();
  return r.statusCode;
};
const get = (p: string) => async () => {
  const r = await request(`${g.base}${p}`, { dispatcher: agent });
  await r.body.text();
  return r.statusCode;
};
console.log(`node ${process.versions.node}, ${C} concurrent, HTTPS on loopback, SQLite store`);
await run('client_credentials → JWT', N, token);
await run('discovery', N, get('/auth/.well-known/openid-configuration'));
await run('jwks', N, get('/auth/jwks'));
await agent.close();
await g.close();
