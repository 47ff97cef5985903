import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checksFor, detectInjection, hasControlCharacters, INJECTION_CHECKS, type SanitizeRule } from './index.ts';

interface Entry { value: string; rule?: SanitizeRule; format?: string }
const load = (name: string) => JSON.parse(readFileSync(new URL(`../../../../test/fixtures/validation/${name}.json`, import.meta.url), 'utf8')) as { strings: Entry[] };
const ALL = new Set(INJECTION_CHECKS);

function verdict(e: Entry): SanitizeRule | undefined {
  const value = e.value.normalize('NFC');
  if (hasControlCharacters(value)) return 'control-character';
  return detectInjection(value, checksFor(ALL, { formats: new Set(e.format ? [e.format] : []), allow: new Set() }));
}

test('attack corpus: every payload is refused with its rule', () => {
  const missed = load('attacks').strings.filter((e) => verdict(e) !== e.rule).map((e) => `${e.rule}: ${JSON.stringify(e.value)} → ${verdict(e) ?? 'passed'}`);
  assert.deepEqual(missed, []);
});

test('legitimate corpus: names, prices, markdown with code and international text pass', () => {
  const refused = load('legitimate').strings.filter((e) => verdict(e) !== undefined).map((e) => `${JSON.stringify(e.value)} → ${verdict(e)}`);
  assert.deepEqual(refused, []);
});

test('checksFor: formats control false positives, x-rampart-allow switches a check off', () => {
  const none = { formats: new Set<string>(), allow: new Set<string>() };
  assert.deepEqual([...checksFor(ALL, none)].sort(), ['command', 'sqli', 'traversal', 'xss']);
  assert.deepEqual([...checksFor(ALL, { ...none, formats: new Set(['password']) })], []);
  assert.deepEqual([...checksFor(ALL, { ...none, formats: new Set(['markdown']) })].sort(), ['sqli', 'traversal']);
  assert.ok(checksFor(ALL, { ...none, formats: new Set(['uri']) }).has('ssrf'));
  assert.ok(!checksFor(ALL, { ...none, allow: new Set(['sqli']) }).has('sqli'));
});

test('detectors stay linear on hostile input (S10)', () => {
  const inputs = ["'".repeat(50_000), `${"' or ".repeat(10_000)}x`, `<a${' onx'.repeat(20_000)}`, `${'1 or '.repeat(10_000)}1`, `${'../'.repeat(30_000)}`, `${';'.repeat(50_000)}`, `${'%25'.repeat(30_000)}`, `${'&#'.repeat(30_000)}`];
  const started = process.hrtime.bigint();
  for (const s of inputs) detectInjection(s, ALL);
  // Not a timing assertion on the machine's speed: a quadratic detector would take minutes here.
  assert.ok(process.hrtime.bigint() - started < 30_000_000_000n);
});
