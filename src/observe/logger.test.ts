import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { isoTime } from './logger.ts';

const LOGGER = fileURLToPath(new URL('./logger.ts', import.meta.url));

/** Runs `body` in a child process with `createLogger` in scope; resolves with its stdout. */
function child(body: string): Promise<string> {
  const script = `const { createLogger } = await import(${JSON.stringify(LOGGER)});\n${body}`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

test('createLogger: a burst of lines reaches stdout whole, in order, multi-byte text intact, even when the process exits at once', async () => {
  // 3,000 lines logged in one go: most are appended while an asynchronous write is in flight,
  // and the process exits right after the last one (the pending lines are flushed on exit).
  const out = await child(`
    const log = createLogger({ level: 'info' });
    for (let i = 0; i < 3000; i++) log.info({ n: i, text: 'Grüße, 東京 — ' + 'é'.repeat(i % 40), password: 'hunter2' }, 'line');
    process.exit(0);
  `);
  const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { n: number; text: string; password: string; msg: string });
  assert.equal(lines.length, 3000);
  lines.forEach((l, i) => {
    assert.equal(l.n, i);
    assert.equal(l.text, 'Grüße, 東京 — ' + 'é'.repeat(i % 40));
    assert.equal(l.password, '[REDACTED]');
  });
});

test('isoTime: pino\'s ISO time field, formatted once per millisecond', () => {
  mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 10, 29, 12, 0, 0, 5) });
  try {
    assert.equal(isoTime(), ',"time":"2026-11-29T12:00:00.005Z"');
    assert.equal(isoTime(), ',"time":"2026-11-29T12:00:00.005Z"');
    mock.timers.tick(1);
    assert.equal(isoTime(), ',"time":"2026-11-29T12:00:00.006Z"');
    mock.timers.tick(86_400_000);
    assert.equal(isoTime(), ',"time":"2026-11-30T12:00:00.006Z"');
  } finally {
    mock.timers.reset();
  }
});
