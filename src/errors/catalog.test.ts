import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CATALOG, problemType, type ErrorCode } from './catalog.ts';
import { GatewayError, toProblem } from './problem.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = new Map<string, number>();
for (const m of doc.matchAll(/^\|\s*`(RAMPART_[A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm)) rows.set(m[1] as string, Number(m[2]));

test('catalog: every code is documented in docs/errors.md with its status', () => {
  for (const [code, spec] of Object.entries(CATALOG)) {
    assert.equal(rows.get(code), spec.status, `${code} missing or with another status in docs/errors.md`);
  }
});

test('catalog: docs/errors.md lists no code the catalog lacks', () => {
  for (const code of rows.keys()) assert.ok(code in CATALOG, `${code} is documented but not in the catalog`);
});

test('catalog: codes follow RAMPART_<AREA>_<WHAT>', () => {
  for (const code of Object.keys(CATALOG)) assert.match(code, /^RAMPART_[A-Z0-9]+_[A-Z0-9_]+$/);
});

test('toProblem: RFC 9457 members, no detail on 5xx, unknown errors become a bare internal error', () => {
  const p = toProblem(new GatewayError('RAMPART_ROUTE_NOT_FOUND', { detail: 'x' }), 'r1');
  assert.deepEqual(p, { type: problemType('RAMPART_ROUTE_NOT_FOUND'), title: CATALOG.RAMPART_ROUTE_NOT_FOUND.title, status: 404, code: 'RAMPART_ROUTE_NOT_FOUND', requestId: 'r1', detail: 'x' });
  const five = toProblem(new GatewayError('RAMPART_UPSTREAM_ERROR', { detail: 'db password wrong at line 3' }), 'r2');
  assert.equal(five.detail, undefined);
  const internal = toProblem(new Error('secret stack'), 'r3');
  assert.equal(internal.code, 'RAMPART_GATEWAY_INTERNAL' satisfies ErrorCode);
  assert.ok(!JSON.stringify(internal).includes('secret'));
});

test('toProblem: extensions cannot overwrite the standard members', () => {
  const p = toProblem(new GatewayError('RAMPART_ROUTE_NOT_FOUND', { extensions: { status: 200, code: 'X', errors: [1] } }), 'r');
  assert.equal(p.status, 404);
  assert.equal(p.code, 'RAMPART_ROUTE_NOT_FOUND');
  assert.deepEqual(p.errors, [1]);
});
