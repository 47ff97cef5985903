import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createLogger, DEFAULT_REDACT } from './logger.ts';
import { ACCESS_LOG_REDACT, accessLineWriter } from './access-line.ts';

/** A logger whose lines are collected, built like the gateway's access logger. */
function collecting(make: (dest: Writable) => Logger): { access: Logger; lines: string[] } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const access = make(dest).child({ log: 'access' }, { redact: { paths: ACCESS_LOG_REDACT, censor: '[REDACTED]' } });
  return { access, lines };
}

const cycle: Record<string, unknown> = { a: 1 };
cycle.self = cycle;

const ENTRIES: Array<Record<string, unknown>> = [
  // A typical line: undefined fields are left out.
  { requestId: 'b2fa204f-b520-4f58-b40b-73960ec1a739', traceId: 'ba7c591070c94afcb308a32bba778f94', listener: 'public', clientIp: '127.0.0.1', method: 'GET', route: 'hello', path: '/hello', status: 200, bytesOut: 200, durationMs: 1.234, upstream: 'bench', principal: undefined, decision: 'allow', reason: undefined, ruleId: undefined, httpVersion: '1.1', upstreamTarget: 'http://127.0.0.1:1', upstreamAttempts: 1 },
  // Strings that need escaping, non-ASCII, non-finite numbers, booleans, nested objects.
  { path: '/a"b\\c\u0001\n\u2028é東京', status: 499, aborted: true, durationMs: Number.NaN, bytesOut: Number.POSITIVE_INFINITY, authz: { decision: 'would-deny' }, list: [1, 'x', null] },
  { empty: '', long: 'x'.repeat(100) + '"' },
  {},
  // What the fast path hands to pino: a redacted key, the error key, a BigInt, a cycle.
  { requestId: 'r1', password: 'hunter2', token: 'abc' },
  { requestId: 'r2', err: new Error('boom') },
  { requestId: 'r3', big: 10n },
  { requestId: 'r4', cycle },
];

for (const [name, make] of [
  ['the gateway logger (createLogger)', (dest: Writable) => createLogger({ level: 'info', destination: dest })],
  ['a plain pino logger (numeric level, epoch time, like the tests\' capture)', (dest: Writable) => pino({ level: 'debug', redact: { paths: DEFAULT_REDACT, censor: '[REDACTED]' } }, dest)],
] as const) {
  test(`accessLineWriter writes the line pino writes, byte for byte: ${name}`, () => {
    mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 10, 29, 12, 0, 0, 5) });
    try {
      const viaPino = collecting(make);
      const viaWriter = collecting(make);
      const write = accessLineWriter(viaWriter.access);
      for (const entry of ENTRIES) {
        viaPino.access.info(entry);
        write(entry);
      }
      assert.equal(viaWriter.lines.length, ENTRIES.length);
      assert.deepEqual(viaWriter.lines, viaPino.lines);
      const redacted = JSON.parse(viaWriter.lines[4] as string) as Record<string, unknown>;
      assert.equal(redacted.password, '[REDACTED]');
      assert.equal(redacted.token, '[REDACTED]');
    } finally {
      mock.timers.reset();
    }
  });
}

test('accessLineWriter writes nothing when the level is above info', () => {
  const { access, lines } = collecting((dest) => createLogger({ level: 'warn', destination: dest }));
  accessLineWriter(access)({ requestId: 'r' });
  assert.deepEqual(lines, []);
});
