import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRecoveryCodes, hashRecoveryCode, normalizeRecoveryCode, RECOVERY_CODE_BITS } from './recovery-codes.ts';

test('generateRecoveryCodes: ten distinct codes of 120 random bits (≥ 112, S7), grouped for reading', () => {
  assert.ok(RECOVERY_CODE_BITS >= 112);
  const codes = generateRecoveryCodes();
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  for (const c of codes) {
    assert.match(c, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){5}$/);
    // 24 base32 characters × 5 bits = 120 bits.
    assert.equal(normalizeRecoveryCode(c).length * 5, RECOVERY_CODE_BITS);
  }
});

test('hashRecoveryCode: SHA-256 hex of the normalised code; case, spaces and dashes do not matter', () => {
  const [code] = generateRecoveryCodes(1) as [string];
  const h = hashRecoveryCode(code);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(hashRecoveryCode(code.toLowerCase().replaceAll('-', ' ')), h);
  assert.notEqual(hashRecoveryCode(code.replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A'))), h);
  assert.ok(!h.includes(normalizeRecoveryCode(code)), 'the code itself is not stored');
});
