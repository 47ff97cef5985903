import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPattern, isLinearOnBacktracking, linearRegExp, toRe2 } from './patterns.ts';

test('isLinearOnBacktracking accepts anchored sequences whose greedy atoms cannot give back', () => {
  for (const p of ['^[A-Z]{2,8}-[0-9]{3}$', '^[a-z0-9][a-z0-9._-]*$', '^[A-Za-z0-9-]+$', '^[^\\x00-\\x1F\\x7F]+$', '^\\d{4}-\\d{2}-\\d{2}$', '^[a-z]+@[a-z]+\\.[a-z]{2,}$', '^abc']) {
    assert.equal(isLinearOnBacktracking(p), true, p);
  }
});

test('isLinearOnBacktracking sends ambiguous or unanchored patterns to the automaton', () => {
  for (const p of ['^(a+)+$', '^\\d*\\d*$', '^a*a$', '[a-z]+x', '^a|b$', '^[a-z]*b?[a-z]$', '^\\w+\\s?\\w+$', '^(?=a)a']) {
    assert.equal(isLinearOnBacktracking(p), false, p);
  }
});

test('checkPattern refuses what needs backtracking and what is not a regular expression (S10)', () => {
  assert.equal(checkPattern('^(a+)+$'), undefined, 'nested quantifiers run on the automaton, in linear time');
  assert.match(checkPattern('^(?=.*\\d)[a-z\\d]+$') ?? '', /linear-time/);
  assert.match(checkPattern('^(a)\\1$') ?? '', /linear-time/);
  assert.match(checkPattern('^[a-') ?? '', /ECMA-262/);
});

test('linearRegExp matches like ECMA-262 on both engines, and a catastrophic pattern stays linear', () => {
  const sku = linearRegExp('^[A-Z]{2,8}-[0-9]{3}$', 'u');
  assert.ok(sku instanceof RegExp);
  assert.equal(sku.test('BOOK-001'), true);
  assert.equal(sku.test('BOOK-0012'), false);
  const evil = linearRegExp('^(a+)+$', 'u');
  assert.ok(!(evil instanceof RegExp));
  assert.equal(evil.test('a'.repeat(20)), true);
  assert.equal(evil.test(`${'a'.repeat(100_000)}!`), false); // would never finish on a backtracking engine
  assert.equal(linearRegExp('caf\\u00e9', 'u').test('un café'), true);
  assert.equal(toRe2('\\u00e9\\u{1F600}\\0\\\\u'), '\\x{00e9}\\x{1F600}\\x00\\\\u');
});
