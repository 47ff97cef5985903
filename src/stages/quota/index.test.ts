import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { quotaStage, type QuotaConfig } from './index.ts';
import { mergeStageConfig } from '../../config/merge.ts';
import { closeTestEnvs, principal, testCtx, testEnv } from '../../ratelimit/testing.ts';
import type { Decision, Stage } from '../../core/stage.ts';

after(closeTestEnvs);
const cfg = (over: Partial<QuotaConfig>) => mergeStageConfig(quotaStage.defaults, over);
async function run(stage: Stage, ctx = testCtx()): Promise<Decision> {
  return stage.onRequest!(ctx);
}

test('quota: per user — each principal (issuer + kind + subject) has its own budget', async () => {
  const stage = await quotaStage.compile(cfg({ limits: [{ id: 'orders', limit: 2, window: '1m', by: 'user' }] }), testEnv());
  const alice = testCtx({ principal: principal('user', 'alice') });
  const otherAlice = testCtx({ principal: principal('user', 'alice', 'https://other-idp.example') });
  assert.deepEqual([await run(stage, alice), await run(stage, alice), await run(stage, alice)].map((d) => d.kind), ['next', 'next', 'deny']);
  assert.equal((await run(stage, otherAlice)).kind, 'next', 'S3: same subject, other issuer, other budget');
  const sameIp = testCtx({ principal: principal('user', 'bob') });
  assert.equal((await run(stage, sameIp)).kind, 'next', 'keyed by user, not by the shared address');
});

test('quota: anonymous requests fall back to the client IP', async () => {
  const stage = await quotaStage.compile(cfg({ limits: [{ id: 'orders', limit: 1, window: '1m', by: 'user' }] }), testEnv());
  assert.equal((await run(stage, testCtx({ ip: '198.51.100.1' }))).kind, 'next');
  assert.equal((await run(stage, testCtx({ ip: '198.51.100.1' }))).kind, 'deny');
  assert.equal((await run(stage, testCtx({ ip: '198.51.100.2' }))).kind, 'next');
});

test('quota: per OAuth client and per API key', async () => {
  const stage = await quotaStage.compile(cfg({ limits: [{ id: 'c', limit: 1, window: '1m', by: 'client' }, { id: 'k', limit: 5, window: '1m', by: 'key' }] }), testEnv());
  const app = testCtx({ principal: principal('client', 'billing-app') });
  assert.equal((await run(stage, app)).kind, 'next');
  const d = await run(stage, app);
  assert.equal(d.kind, 'deny');
  if (d.kind === 'deny') assert.match(d.error.headers['ratelimit'] ?? '', /^"c";r=0;t=\d+, "k";r=4;t=\d+$/);
});

test('quota: consumer overrides (subject with issuer, or role) replace the route limits', async () => {
  const stage = await quotaStage.compile(cfg({
    limits: [{ id: 'base', limit: 1, window: '1m', by: 'user' }],
    consumers: [
      { subject: 'user:vip', issuer: 'https://id.example', limits: [{ id: 'vip', limit: 3, window: '1m', by: 'user' }] },
      { role: 'partner', limits: [{ id: 'partner', limit: 2, window: '1m', by: 'user' }] },
    ],
  }), testEnv());
  const count = async (ctx: ReturnType<typeof testCtx>) => {
    let n = 0;
    for (let i = 0; i < 5; i++) if ((await run(stage, ctx)).kind === 'next') n++;
    return n;
  };
  assert.equal(await count(testCtx({ principal: principal('user', 'vip') })), 3);
  assert.equal(await count(testCtx({ principal: principal('user', 'vip', 'https://evil.example') })), 1, 'S3: the issuer must match too');
  assert.equal(await count(testCtx({ principal: principal('user', 'p1', 'https://id.example', ['partner']) })), 2);
  assert.equal(await count(testCtx({ principal: principal('user', 'plain') })), 1);
});

test('quota.check: bad limits and consumers are named by path', () => {
  const issues = quotaStage.check!(cfg({
    limits: [{ id: 'a', limit: 1, window: '1m', by: 'header' }, { id: 'a', limit: 1, window: '1x' as never }],
    consumers: [{ subject: 'user:x', limits: [{ id: 'b', limit: 1, window: 1, header: 'X' }] }, { limits: [{ id: 'c', limit: 1, window: 1 }] }],
    queue: { maxLength: 5, maxPerKey: 10, maxWaitMs: 100 },
  }));
  assert.deepEqual(issues.map((i) => i.path).sort(), [
    'consumers.0.issuer', 'consumers.0.limits.0.header', 'consumers.1', 'limits.0.header', 'limits.1.id', 'limits.1.window', 'queue.maxPerKey',
  ].sort());
});

test('quota: the same limit id with other settings on two routes is refused at compile', async () => {
  const env = testEnv({}, 'r1');
  await quotaStage.compile(cfg({ limits: [{ id: 'shared', limit: 1, window: '1m' }] }), env);
  await assert.rejects(
    Promise.resolve(quotaStage.compile(cfg({ limits: [{ id: 'shared', limit: 2, window: '1m' }] }), { ...env, route: { ...env.route!, id: 'r2' } })),
    /quota limit "shared" has different settings in route r1 and route r2/,
  );
});
