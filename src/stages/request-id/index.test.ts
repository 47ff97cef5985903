import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveIds } from './index.ts';

const cfg = { header: 'x-request-id', trustInbound: true };

test('resolveIds keeps a safe inbound id', () => {
  assert.equal(resolveIds({ 'x-request-id': 'abc-123.X_y' }, cfg).requestId, 'abc-123.X_y');
});

test('resolveIds replaces unsafe or overlong ids', () => {
  for (const bad of ['a b', '<script>', 'x'.repeat(129), '', 'id\r\nx: y', 'ü']) {
    const id = resolveIds({ 'x-request-id': bad }, cfg).requestId;
    assert.notEqual(id, bad);
    assert.match(id, /^[0-9a-f-]{36}$/);
  }
});

test('resolveIds never trusts inbound ids when trustInbound is false', () => {
  assert.notEqual(resolveIds({ 'x-request-id': 'abc' }, { ...cfg, trustInbound: false }).requestId, 'abc');
});

test('resolveIds continues a valid traceparent with a new span id', () => {
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const ids = resolveIds({ traceparent: tp }, cfg);
  assert.equal(ids.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.match(ids.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  assert.notEqual(ids.traceparent, tp);
});

test('resolveIds restarts the trace on an invalid traceparent', () => {
  for (const tp of ['ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'garbage', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01']) {
    const ids = resolveIds({ traceparent: tp }, cfg);
    assert.match(ids.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.ok(!ids.traceparent.includes('4bf92f'));
  }
});

test('resolveIds draws distinct trace and span ids across refills of its random pool', () => {
  // 1,000 requests take 24 KB of randomness: several refills of the 4 KB pool.
  const traces = new Set<string>();
  const spans = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const ids = resolveIds({}, cfg);
    const [, trace, span] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(ids.traceparent) ?? [];
    assert.ok(trace && span, ids.traceparent);
    assert.equal(ids.traceId, trace);
    traces.add(trace);
    spans.add(span);
  }
  assert.equal(traces.size, 1000);
  assert.equal(spans.size, 1000);
});
