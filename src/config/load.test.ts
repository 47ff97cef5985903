import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, ConfigError, formatProblem } from './load.ts';
import { resolveSecret } from './secrets.ts';
import { STAGES } from '../stages/index.ts';

const base = `listeners:
  - { name: public, port: 8443, protocol: https, tls: { dev: true } }
upstreams:
  - { id: up, targets: [{ url: "http://127.0.0.1:9000" }] }
routes:
  - { id: r, path: /r, methods: [GET], upstream: up }
authorization:
  rules: [{ id: r, route: r, methods: [GET], public: true }]
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'rampart.yaml', '/tmp', STAGES);
    return [];
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems.map(formatProblem);
  }
}

test('parseConfig applies defaults and freezes the result', () => {
  const { config } = parseConfig(base, 'rampart.yaml', '/tmp', STAGES);
  assert.equal(config.dataDir, '.rampart');
  assert.equal(config.listeners[0]?.host, '127.0.0.1');
  assert.equal(config.listeners[0]?.limits.headersTimeoutMs, 10_000);
  assert.equal(config.upstreams[0]?.retries.attempts, 2);
  assert.ok(Object.isFrozen(config.routes[0]));
});

test('parseConfig: each problem names file, line, column and path', () => {
  assert.deepEqual(problems(base.replace('upstream: up }', 'upstream: nope }')), ['rampart.yaml:6:50: routes[0].upstream: unknown upstream "nope"']);
  assert.deepEqual(problems(base + 'colour: red\n'), ['rampart.yaml:9:1: colour: unknown key']);
});

test('parseConfig caps YAML aliases (S10: no billion laughs)', () => {
  let yaml = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 12; i++) yaml += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  const out = problems(yaml + base);
  assert.ok(out.length > 0);
  assert.match(out.join('\n'), /alias/i);
});

test('parseConfig refuses duplicate keys', () => {
  assert.match(problems(base + 'routes: []\n').join('\n'), /unique/);
});

test('parseConfig: a warning for plaintext listeners, not an error', () => {
  const { warnings } = parseConfig(base.replace('listeners:\n', 'listeners:\n  - { name: plain, port: 8080, protocol: http, insecure: true }\n'), 'rampart.yaml', '/tmp', STAGES);
  assert.equal(warnings.length, 1);
  assert.match(formatProblem(warnings[0]!), /warning: listeners\[0\]\.insecure/);
});

test('resolveSecret reads env and files and never echoes the value', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rampart-secret-'));
  writeFileSync(path.join(dir, 'k'), 'file-secret\n');
  process.env.RAMPART_TEST_SECRET = 'env-secret';
  assert.equal((await resolveSecret({ env: 'RAMPART_TEST_SECRET' }, dir)).toString(), 'env-secret');
  assert.equal((await resolveSecret({ file: 'k' }, dir)).toString(), 'file-secret');
  await assert.rejects(resolveSecret({ env: 'RAMPART_TEST_UNSET_X' }, dir), /RAMPART_TEST_UNSET_X is not set/);
  await assert.rejects(resolveSecret({ file: 'missing' }, dir), /secret file missing does not exist/);
});
