/**
 * Authentication benchmark (not a test): `node bench/authn.ts [--n 100000]`.
 *
 * The CPU the authn stage adds to a request, measured in-process on the stage itself
 * (`onRequest` awaited one request at a time, CPU time from process.cpuUsage, median of 7 runs):
 *
 * 1. a built-in JWT seen before (cache hit): SHA-256 of the token, cache lookup, expiry, deny-list
 *    (1,000 live entries), the account record (cached), roles, principal — target ≤ 10 µs;
 * 2. a JWT never seen (cache off): one signature verification (ES256, EdDSA, RS256) plus parsing
 *    and claim checks — compared with one bare `crypto.verify` and with jose's `jwtVerify`
 *    (WebCrypto), the reason verification uses synchronous node:crypto;
 * 3. an API key seen before, and a request without credentials (401).
 *
 * Then end to end (skip with --skip-e2e): a gateway process (plaintext listener, the bench
 * upstream) with two routes, one public and one requiring a token of an external issuer (a local
 * OpenID provider on loopback HTTPS); wrk sends the same valid token on every request (so all but
 * the first are cache hits). CPU µs per request of the gateway process from /proc, interleaved
 * rounds, median: the difference is the extra CPU of a request with a token seen before.
 */
import { randomBytes, verify as cryptoVerify } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { cpuMicros, freePort, logTail, readyLine, spawnChild, stopAll, waitFor } from './procs.ts';
import { startTestIdp } from '../src/stages/authn/test-idp.ts';
import { signToken } from '../src/stages/authn/testing.ts';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { jwtVerify, importJWK } from 'jose';
import { parseConfig } from '../src/config/load.ts';
import { mergeStageConfig } from '../src/config/merge.ts';
import { Keeper } from '../src/core/keeper.ts';
import { STAGES } from '../src/stages/index.ts';
import { authnStage } from '../src/stages/authn/index.ts';
import type { AuthnServices } from '../src/core/authn-port.ts';
import type { CompileEnv } from '../src/core/compile-env.ts';
import type { RequestContext } from '../src/core/context.ts';
import type { Stage } from '../src/core/stage.ts';
import { p1363ToDer } from '../src/stages/authn/jws.ts';
import { accessToken, accountsDouble, makeKey, now, TestBuiltinIssuer } from '../src/stages/authn/testing.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '100000' }, 'skip-e2e': { type: 'boolean', default: false }, seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '5' } } });
const N = Number(values.n);
const ISSUER = 'https://localhost:8443/auth';
const API = 'https://api.test';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** CPU µs per call (user + system), median of 7 runs after a warm-up. */
async function cpuPerCall(n: number, fn: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(n, 20_000); i++) await fn(i);
  const runs: number[] = [];
  for (let r = 0; r < 7; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn(i);
    const c = process.cpuUsage(c0);
    runs.push((c.user + c.system) / n);
  }
  return median(runs);
}

const logger = pino({ level: process.env.BENCH_LOG ?? 'silent' });
const keeper = new Keeper();

async function stageFor(authentication: string, services: AuthnServices): Promise<Stage> {
  const loaded = parseConfig(`
listeners: [{ name: public, port: 0, protocol: https, tls: { dev: true } }]
upstreams: [{ id: up, targets: [{ url: "http://127.0.0.1:1" }] }]
authentication:
${authentication}
routes:
  - { id: api, path: /api, upstream: up }
`, 'bench.yaml', process.cwd(), STAGES);
  const route = loaded.config.routes[0];
  const env: CompileEnv = {
    root: loaded.config, route, upstream: loaded.config.upstreams[0], logger, keeper,
    identity: { tokenFor: async () => '' }, generation: 1, dataDir: '/tmp', dev: true, authn: services, clock: Date.now,
  };
  return authnStage.compile(mergeStageConfig(authnStage.defaults, route?.authn), env);
}

function ctx(headers: Record<string, string>): RequestContext {
  return { headers, query: '', clientIp: '127.0.0.1', method: 'GET', path: '/api', traceId: '0'.repeat(32) } as unknown as RequestContext;
}

const accounts = accountsDouble();
accounts.addUser('alice', ['customer']);
for (let i = 0; i < 1000; i++) accounts.deny('grant', `revoked-${i}`);
const results: Array<[string, number]> = [];

for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
  const key = makeKey(alg, `k-${alg}`);
  const builtin = new TestBuiltinIssuer(ISSUER, [API], [key]);
  const token = accessToken(key, { iss: ISSUER, aud: API, sub: 'alice', client_id: 'web', scope: 'orders:read profile', auth_time: now(), amr: ['pwd', 'otp'], acr: 'mfa', grant_id: 'g-live' });
  const c = ctx({ authorization: `Bearer ${token}` });
  const common = `  builtin: { algorithms: [ES256, EdDSA, RS256], bindings: [{ subject: "user:alice", roles: [auditor] }] }\n  accountCacheSeconds: 60\n  denyList: { pollSeconds: 10, maxStalenessSeconds: 600 }`;
  const cached = await stageFor(`${common}\n  tokenCache: { maxEntries: 10000 }`, { builtin, accounts });
  const first = await cached.onRequest!(c);
  if (first.kind !== 'next' || !first.patch?.principal) throw new Error(`setup: ${JSON.stringify(first)}`);
  if (alg === 'ES256') results.push(['built-in JWT, seen before (cache hit)', await cpuPerCall(N, () => cached.onRequest!(c))]);
  const uncached = await stageFor(`${common}\n  tokenCache: { maxEntries: 0 }`, { builtin, accounts });
  results.push([`built-in JWT never seen (${alg}: one verification)`, await cpuPerCall(Math.min(N, alg === 'RS256' ? 20_000 : 50_000), () => uncached.onRequest!(c))]);
  // One bare signature verification, for comparison.
  const [h, p, s] = token.split('.') as [string, string, string];
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const bare = alg === 'EdDSA' ? () => cryptoVerify(null, data, key.publicKey, sig)
    : alg === 'ES256' ? ((der) => () => cryptoVerify('sha256', data, key.publicKey, der))(p1363ToDer(sig))
    : () => cryptoVerify('sha256', data, key.publicKey, sig);
  results.push([`  bare crypto.verify (${alg})`, await cpuPerCall(Math.min(N, 20_000), bare)]);
  const joseKey = await importJWK(key.jwk, alg);
  results.push([`  jose jwtVerify, WebCrypto (${alg})`, await cpuPerCall(Math.min(N, 20_000), () => jwtVerify(token, joseKey, { issuer: ISSUER, audience: API, typ: 'at+jwt', algorithms: [alg] }))]);
}

{
  const apiKeys = { verify: async () => ({ ok: true as const, key: { id: 'svc', name: 'svc', secretMac: 'x', pepperKid: 'k', roles: ['service'], scopes: [], createdAt: now() } }) };
  const stage = await stageFor('  apiKeys: { enabled: true, cacheSeconds: 60 }\n  denyList: { pollSeconds: 10, maxStalenessSeconds: 600 }', { apiKeys, accounts });
  const c = ctx({ 'x-api-key': `rmp_svc_${'A'.repeat(43)}` });
  results.push(['API key, seen before (cache hit)', await cpuPerCall(N, () => stage.onRequest!(c))]);
  const open = await stageFor('  apiKeys: { enabled: true }\n  denyList: { pollSeconds: 10, maxStalenessSeconds: 600 }', { apiKeys, accounts });
  const anon = ctx({});
  results.push(['no credentials → 401 with its challenge', await cpuPerCall(N, () => open.onRequest!(anon))]);
}

await keeper.closeAll();
if (!values['skip-e2e']) await endToEnd();
console.log(`authn stage, CPU µs per request (median of 7 runs, n = ${N}; node ${process.version}, ${process.arch}):`);
for (const [label, us] of results) console.log(`  ${label.padEnd(52)} ${us.toFixed(2).padStart(8)} µs`);

/** wrk against `url` for `seconds`; returns the responses counted and the non-2xx among them. */
function wrk(url: string, seconds: number, headers: string[]): { requests: number; non2xx: number } {
  const args = ['-t', '1', '-c', '32', '-d', `${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  const r = spawnSync('wrk', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { requests, non2xx };
}

async function endToEnd(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status !== 0) {
    results.push(['end to end: skipped (wrk is not installed; apt-get install wrk)', NaN]);
    return;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'rampart-bench-authn-'));
  const key = makeKey('ES256', 'e2e');
  const idp = await startTestIdp({ keys: [key] });
  try {
    const node = process.execPath;
    const upstream = spawnChild('upstream', node, [path.join(import.meta.dirname, 'upstream.ts'), '--port', '0'], { logFile: path.join(tmp, 'upstream.log'), pipeStdout: true });
    const { port: upPort } = await readyLine<{ port: number }>(upstream);
    const port = await freePort();
    writeFileSync(path.join(tmp, 'idp-ca.pem'), idp.caPem);
    writeFileSync(path.join(tmp, 'rampart.yaml'), `
listeners:
  - { name: bench, host: 127.0.0.1, port: ${port}, protocol: http, insecure: true, limits: { maxRequestsPerSocket: 0, keepAliveTimeoutMs: 120000, idleTimeoutMs: 600000 } }
masterKey: { file: master.key }
upstreams:
  - { id: up, targets: [{ url: "http://127.0.0.1:${upPort}" }] }
authentication:
  issuers:
    - { id: idp, issuer: "${idp.issuer}", audiences: [bench], algorithms: [ES256], requireTyp: JWT, ca: idp-ca.pem, allowPrivateNetwork: true }
routes:
  - { id: open, path: /open, methods: [GET], upstream: up, stripPrefix: /open, authn: { required: false } }
  - { id: jwt, path: /jwt, methods: [GET], upstream: up, stripPrefix: /jwt }
`);
    writeFileSync(path.join(tmp, 'master.key'), randomBytes(32).toString('base64'));
    const gw = spawnChild('rampart', node, [path.join(import.meta.dirname, '..', 'src/cli/main.ts'), 'start', '--config', path.join(tmp, 'rampart.yaml')], {
      logFile: path.join(tmp, 'rampart.log'), discardStdout: true, env: { ...process.env, RAMPART_DATA_DIR: path.join(tmp, 'data') }, cwd: tmp,
    });
    const at = now();
    const token = signToken({ alg: 'ES256', typ: 'JWT', kid: key.kid }, { iss: idp.issuer, aud: 'bench', sub: 'bench-user', iat: at, exp: at + 3600, scope: 'read' }, key);
    const auth = `Authorization: Bearer ${token}`;
    await waitFor('gateway', async () => {
      const r = await request(`http://127.0.0.1:${port}/jwt`, { headers: { authorization: `Bearer ${token}` } });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}`);
    }, 60_000, gw).catch((err: Error) => {
      throw new Error(`${err.message}\n${logTail(gw)}`);
    });
    const seconds = Number(values.seconds);
    wrk(`http://127.0.0.1:${port}/open`, 3, []);
    wrk(`http://127.0.0.1:${port}/jwt`, 3, [auth]);
    const per: Record<'open' | 'jwt', number[]> = { open: [], jwt: [] };
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const which of (r % 2 === 0 ? ['open', 'jwt'] : ['jwt', 'open']) as Array<'open' | 'jwt'>) {
        const c0 = cpuMicros([gw.pid]);
        const res = wrk(`http://127.0.0.1:${port}/${which}`, seconds, which === 'jwt' ? [auth] : []);
        const c1 = cpuMicros([gw.pid]);
        if (res.non2xx > 0) throw new Error(`${which}: ${res.non2xx} non-2xx responses`);
        per[which].push((c1 - c0) / res.requests);
      }
    }
    const open = median(per.open);
    const jwt = median(per.jwt);
    results.push([`end to end: gateway CPU per request, public route`, open]);
    results.push([`end to end: gateway CPU per request, cached JWT`, jwt]);
    results.push([`end to end: extra CPU of a cached JWT`, jwt - open]);
  } finally {
    await stopAll();
    await idp.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
