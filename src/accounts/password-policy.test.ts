import { test } from 'node:test';
import assert from 'node:assert/strict';
import { breachedPasswords, checkPassword } from './password-policy.ts';

test('checkPassword: 8 to 128 characters, counted after NFKC, in code points (S7)', () => {
  assert.deepEqual(checkPassword('Tr0ub4d'), ['too_short']);
  assert.deepEqual(checkPassword('Tr0ub4d&'), []);
  assert.deepEqual(checkPassword('🦊🦊🦊🦊🦊🦊🦊🦊'), [], 'eight emoji are eight characters, not sixteen UTF-16 units');
  assert.deepEqual(checkPassword('x'.repeat(128).replace(/^x{4}/, 'Qz9!')), []);
  assert.deepEqual(checkPassword('Qz9!'.repeat(32) + 'y'), ['too_long'], 'longer is refused, never truncated');
  // U+FB01 (ﬁ) normalises to "fi": NFKC decides the length.
  assert.deepEqual(checkPassword('\ufb01\ufb01\ufb01\ufb01'), [], 'four ligatures are eight characters after NFKC');
});

test('checkPassword: a password of the bundled breached list is refused, in any case and any width', () => {
  assert.ok(breachedPasswords().size > 10_000);
  assert.deepEqual(checkPassword('password'), ['breached']);
  assert.deepEqual(checkPassword('PassWord'), ['breached']);
  assert.deepEqual(checkPassword('ｐａｓｓｗｏｒｄ'), ['breached'], 'full-width letters normalise to the listed password');
  assert.deepEqual(checkPassword('correct horse battery staple 42'), []);
});

test('checkPassword: not the username, no control characters; spaces and Unicode are fine', () => {
  assert.deepEqual(checkPassword('AliceSmith', { username: 'alicesmith' }), ['same_as_username']);
  assert.deepEqual(checkPassword('tab\tinside me', {}), ['control_characters']);
  assert.deepEqual(checkPassword('pässwörd mit Leerzeichen'), []);
});
