import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { watchFiles } from './file-watch.ts';
import { eventually, tempDir } from './testing.ts';

describe('watchFiles', () => {
  test('watchFiles reports in-place writes and rename-over, debounced', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'a.crt');
    writeFileSync(file, 'one');
    let calls = 0;
    const w = watchFiles([file], () => { calls += 1; }, { debounceMs: 200, pollIntervalMs: 0 });
    t.after(() => w.close());
    for (let i = 0; i < 5; i++) writeFileSync(file, `burst ${i}`);
    assert.ok(await eventually(() => calls === 1));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(calls, 1, 'a burst of writes is one change');
    writeFileSync(join(dir, 'a.tmp'), 'two');
    renameSync(join(dir, 'a.tmp'), file);
    assert.ok(await eventually(() => calls === 2));
  });

  test('watchFiles follows a Kubernetes-style symlink swap (..data) through the stat poll', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'v1'));
    mkdirSync(join(dir, 'v2'));
    writeFileSync(join(dir, 'v1', 'tls.crt'), 'one');
    writeFileSync(join(dir, 'v2', 'tls.crt'), 'two');
    symlinkSync('v1', join(dir, '..data'));
    symlinkSync(join('..data', 'tls.crt'), join(dir, 'tls.crt'));
    let calls = 0;
    const w = watchFiles([join(dir, 'tls.crt')], () => { calls += 1; }, { debounceMs: 20, pollIntervalMs: 100 });
    t.after(() => w.close());
    symlinkSync('v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    assert.ok(await eventually(() => calls === 1));
  });

  test('watchFiles stops after close()', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'a.crt');
    writeFileSync(file, 'one');
    let calls = 0;
    const w = watchFiles([file], () => { calls += 1; }, { debounceMs: 20, pollIntervalMs: 50 });
    w.close();
    writeFileSync(file, 'two');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(calls, 0);
  });
});
