/**
 * The `rampart` command as a user runs it: check messages for broken configs (file:line:col:
 * path: message), exit codes, version and usage, and `start` with a config error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(root, 'bin', 'rampart.js');

function rampart(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 30_000, env: { ...process.env, RAMPART_CONFIG: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function withConfig(yaml: string, fn: (file: string, dir: string) => void) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rampart-cli-'));
  const file = path.join(dir, 'rampart.yaml');
  writeFileSync(file, yaml);
  try {
    fn(file, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const good = `listeners:
  - { name: public, port: 8443, protocol: https, tls: { dev: true } }
upstreams:
  - { id: orders, targets: [{ url: "http://127.0.0.1:9102" }] }
routes:
  - { id: orders, path: /api/orders, upstream: orders }
`;

test('rampart check: the demo config is valid (exit 0)', () => {
  const r = rampart(['check', 'examples/demo/rampart.yaml']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /OK/);
});

test('rampart check: a typo in a reference names file, line, column and key (exit 1)', () => {
  withConfig(good.replace('upstream: orders }', 'upstream: ordrs }'), (file) => {
    const r = rampart(['check', file]);
    assert.equal(r.code, 1);
    assert.equal(r.err.trim(), `${file}:6:48: routes[0].upstream: unknown upstream "ordrs"`);
  });
});

const broken: Array<[string, string, RegExp]> = [
  ['unknown key', good.replace('protocol: https,', 'protocol: https, colour: blue,'), /:2:\d+: listeners\[0\]\.colour: unknown key/],
  ['wrong type', good.replace('port: 8443', 'port: "eighty"'), /:2:\d+: listeners\[0\]\.port: must be integer/],
  ['bad enum', good.replace('protocol: https', 'protocol: ftp'), /listeners\[0\]\.protocol: must be one of "https", "http"/],
  ['path without slash', good.replace('path: /api/orders', 'path: api/orders'), /:6:\d+: routes\[0\]\.path: must start with \//],
  ['duplicate route id', good + '  - { id: orders, path: /api/x, upstream: orders }\n', /:7:\d+: routes\[1\]\.id: duplicate route id "orders"/],
  ['https without certificates', good.replace(', tls: { dev: true }', ''), /listeners\[0\]: an https listener needs tls\.certificates/],
  ['plain http that neither redirects nor is insecure', good.replace('protocol: https, tls: { dev: true }', 'protocol: http'), /listeners\[0\]: a plain http listener either redirects/],
  ['inline secret', good + 'masterKey: "abc"\n', /masterKey: must be a secret reference/],
  ['cors null origin', good.replace('upstream: orders }', 'upstream: orders, cors: { enabled: true, allowOrigins: ["null"] } }'), /routes\[0\]\.cors\.allowOrigins\[0\]: the "null" origin is never allowed/],
  ['bad cidr', good.replace('upstream: orders }', 'upstream: orders, ip-filter: { deny: ["10.0.0.0/33"] } }'), /routes\[0\]\.ip-filter\.deny\[0\]: "10\.0\.0\.0\/33" is not an IP address or CIDR range/],
  ['yaml syntax', 'listeners: [\n  - name: x\n', /:\d+:\d+: /],
  ['duplicate yaml key', good + 'routes: []\n', /Map keys must be unique/],
  ['dev CA on a public address', good.replace('port: 8443,', 'port: 8443, host: 0.0.0.0,'), /listeners\[0\]\.tls\.dev: the development CA only serves loopback addresses/],
  ['missing certificate file', good.replace('tls: { dev: true }', 'tls: { certificates: [{ cert: nope.crt, key: nope.key }] }') + 'masterKey: { env: RAMPART_TEST_MASTER_KEY }\n', /listeners\[0\]\.tls\.certificates: .*nope\.crt/],
];

for (const [name, yaml, expected] of broken) {
  test(`rampart check: ${name}`, () => {
    withConfig(yaml, (file) => {
      const r = rampart(['check', file]);
      assert.equal(r.code, 1, `${name}: ${r.out}${r.err}`);
      assert.match(r.err, expected);
      assert.ok(r.err.startsWith(file), `messages start with the file: ${r.err}`);
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    });
  });
}

test('rampart check reports every problem at once', () => {
  const yaml = good.replace('colour', '').replace('protocol: https,', 'protocol: https, colour: blue,').replace('upstream: orders }', 'upstream: ordrs }').replace('port: 8443', 'port: 99999');
  withConfig(yaml, (file) => {
    const r = rampart(['check', file]);
    assert.equal(r.code, 1);
    assert.ok(r.err.trim().split('\n').length >= 3, r.err);
  });
});

test('rampart: usage errors exit 2; version and help exit 0', () => {
  assert.equal(rampart([]).code, 2);
  assert.equal(rampart(['frobnicate']).code, 2);
  assert.equal(rampart(['check', '--nope']).code, 2);
  const v = rampart(['version']);
  assert.equal(v.code, 0);
  assert.match(v.out, /^rampart \d+\.\d+\.\d+ \(node 24\./);
  assert.equal(rampart(['--help']).code, 0);
});

test('rampart start with an invalid config prints the problems and exits 1 without listening', () => {
  withConfig(good.replace('upstream: orders }', 'upstream: ordrs }'), (file) => {
    const r = rampart(['start', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /unknown upstream "ordrs"/);
  });
});

test('rampart check: a missing file is a clear error', () => {
  const r = rampart(['check', '/nonexistent/rampart.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.err, /\/nonexistent\/rampart\.yaml: file not found/);
});

test('rampart check: settings that would be ignored are refused', () => {
  withConfig(good.replace('upstream: orders }', 'upstream: orders, stripPrefix: /ap, hygiene: { maxHeaderCount: 10 } }'), (file) => {
    const r = rampart(['check', file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /routes\[0\]\.stripPrefix: "\/ap" is not a leading segment/);
    assert.match(r.err, /routes\[0\]\.hygiene\.maxHeaderCount: applies before routing/);
  });
});
