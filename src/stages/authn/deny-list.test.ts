import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { DenyMirror, subjectValue } from './deny-list.ts';
import { accountsDouble, now } from './testing.ts';

const logger = pino({ level: 'silent' });

test('DenyMirror: grants and keys are withdrawn for good, subjects and clients up to their cut-off (S9)', async () => {
  const store = accountsDouble();
  const t = now();
  store.deny('grant', 'g1', t - 100);
  store.deny('key', 'k1', t - 100);
  store.deny('subject', subjectValue('https://iss', 'user', 'alice'), t);
  store.deny('client', 'web', t);
  const m = new DenyMirror(store.denyList, { pollSeconds: 60, maxStalenessSeconds: 120, logger });
  await m.ready;
  try {
    assert.equal(m.fresh, true);
    assert.equal(m.denied({ issuer: 'x', kind: 'user', subject: 'bob', grantId: 'g1', issuedAt: t + 10 })?.kind, 'grant', 'a grant entry ignores issue time');
    assert.equal(m.denied({ issuer: 'x', kind: 'key', subject: 'k1', keyId: 'k1', issuedAt: t + 10 })?.kind, 'key');
    assert.equal(m.denied({ issuer: 'https://iss', kind: 'user', subject: 'alice', issuedAt: t - 5 })?.kind, 'subject', 'issued before the cut-off');
    assert.equal(m.denied({ issuer: 'https://iss', kind: 'user', subject: 'alice', issuedAt: t })?.kind, 'subject', 'issued in the cut-off second');
    assert.equal(m.denied({ issuer: 'https://iss', kind: 'user', subject: 'alice', issuedAt: t + 1 }), undefined, 'issued after: a new login works');
    assert.equal(m.denied({ issuer: 'https://other', kind: 'user', subject: 'alice', issuedAt: t - 5 }), undefined, 'S3: another issuer\'s alice');
    assert.equal(m.denied({ issuer: 'x', kind: 'user', subject: 'carol', clientId: 'web', issuedAt: t - 1 })?.kind, 'client');
  } finally {
    m.close();
  }
});

test('DenyMirror: picks up new entries on the next poll, asking changedSince from the highest changedAt', async () => {
  const store = accountsDouble();
  const m = new DenyMirror(store.denyList, { pollSeconds: 60, maxStalenessSeconds: 120, logger });
  await m.ready;
  try {
    assert.equal(m.denied({ issuer: 'x', kind: 'user', subject: 'u', grantId: 'g2', issuedAt: now() }), undefined);
    store.deny('grant', 'g2');
    await m.poll();
    assert.equal(m.denied({ issuer: 'x', kind: 'user', subject: 'u', grantId: 'g2', issuedAt: now() })?.kind, 'grant');
    assert.equal(m.size, 1);
  } finally {
    m.close();
  }
});

test('DenyMirror: fails closed when the store has been unreachable longer than maxStaleness', async () => {
  const store = accountsDouble();
  const clock = { t: Date.now() };
  store.failing = true;
  const m = new DenyMirror(store.denyList, { pollSeconds: 60, maxStalenessSeconds: 10, logger, now: () => clock.t });
  await m.ready;
  try {
    assert.equal(m.fresh, false, 'never polled successfully: not fresh');
    store.failing = false;
    await m.poll();
    assert.equal(m.fresh, true);
    store.failing = true;
    clock.t += 9_000;
    await m.poll();
    assert.equal(m.fresh, true, 'within maxStaleness the last copy serves');
    clock.t += 2_000;
    assert.equal(m.fresh, false);
  } finally {
    m.close();
  }
});
