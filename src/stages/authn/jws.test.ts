import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { parseJws, verifySignature } from './jws.ts';
import { importJwk } from './jwk.ts';
import { makeKey, signToken } from './testing.ts';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

test('parseJws accepts a compact JWS and keeps the signing input', () => {
  const k = makeKey('ES256');
  const t = signToken({ alg: 'ES256', kid: k.kid }, { sub: 'a' }, k);
  const r = parseJws(t);
  assert.ok(r.ok);
  assert.equal(r.jws.signingInput, t.split('.').slice(0, 2).join('.'));
  assert.equal(r.jws.payload.sub, 'a');
});

test('parseJws refuses malformed serialisations', () => {
  for (const t of ['', 'a', 'a.b', 'a.b.c.d', '.e30.x', `${b64({ alg: 'ES256' })}..x`, `${b64({ alg: 'ES256' })}.e30.x+y`, `${b64([1])}.${b64({})}.x`, `${b64({ alg: 'ES256' })}.${b64('str')}.x`, `${b64({ alg: 1 })}.${b64({})}.x`, `bm90IGpzb24.${b64({})}.x`]) {
    const r = parseJws(t);
    assert.equal(r.ok, false, t);
  }
});

test('parseJws refuses key-carrying headers (RFC 8725 §3.10): jku, x5u, jwk, x5c', () => {
  for (const h of ['jku', 'x5u', 'jwk', 'x5c']) {
    const r = parseJws(`${b64({ alg: 'ES256', [h]: 'https://attacker.example/keys' })}.${b64({})}.c2ln`);
    assert.deepEqual(r, { ok: false, reason: 'key_header' }, h);
  }
});

test('parseJws refuses crit, b64, zip and enc', () => {
  assert.deepEqual(parseJws(`${b64({ alg: 'ES256', crit: ['exp'] })}.${b64({})}.c2ln`), { ok: false, reason: 'crit_unsupported' });
  for (const h of ['b64', 'zip', 'enc']) assert.deepEqual(parseJws(`${b64({ alg: 'ES256', [h]: false })}.${b64({})}.c2ln`), { ok: false, reason: 'header_not_allowed' });
});

test('parseJws refuses a kid that is not a short string (kid injection)', () => {
  for (const kid of [1, '', 'x'.repeat(257), { $ne: null }, ['a']]) {
    assert.deepEqual(parseJws(`${b64({ alg: 'ES256', kid })}.${b64({})}.c2ln`), { ok: false, reason: 'kid_invalid' }, JSON.stringify(kid).slice(0, 20));
  }
});

test('verifySignature verifies ES256, ES384, RS256, PS256 and EdDSA', () => {
  for (const alg of ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const) {
    const k = makeKey(alg);
    const t = signToken({ alg, kid: k.kid }, { sub: 'x' }, k);
    const r = parseJws(t);
    assert.ok(r.ok);
    assert.equal(verifySignature(r.jws, alg, k.publicKey), true, alg);
    const other = makeKey(alg);
    assert.equal(verifySignature(r.jws, alg, other.publicKey), false, `${alg} with another key`);
  }
});

test('verifySignature fails on a tampered payload', () => {
  const k = makeKey('ES256');
  const [h, , s] = signToken({ alg: 'ES256' }, { sub: 'alice', roles: [] }, k).split('.');
  const r = parseJws(`${h}.${b64({ sub: 'alice', roles: ['admin'] })}.${s}`);
  assert.ok(r.ok);
  assert.equal(verifySignature(r.jws, 'ES256', k.publicKey), false);
});

test('verifySignature never verifies with a key of another type than the algorithm', () => {
  const rsa = makeKey('RS256');
  const ec = makeKey('ES256');
  const t = parseJws(signToken({ alg: 'RS256' }, {}, rsa));
  assert.ok(t.ok);
  assert.equal(verifySignature(t.jws, 'ES256', rsa.publicKey), false);
  assert.equal(verifySignature(t.jws, 'RS256', ec.publicKey), false);
  // RS256 → HS256 confusion: an HMAC made with the RSA public key as secret verifies nowhere.
  const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
  const forged = parseJws(signToken({ alg: 'HS256' }, { sub: 'admin' }, { hmac: pem }));
  assert.ok(forged.ok);
  assert.equal(verifySignature(forged.jws, 'HS256' as never, rsa.publicKey), false);
  assert.equal(verifySignature(forged.jws, 'RS256', rsa.publicKey), false);
});

test('verifySignature refuses ES256 signatures of the wrong length (DER, truncated)', () => {
  const k = makeKey('ES256');
  const r = parseJws(signToken({ alg: 'ES256' }, {}, k));
  assert.ok(r.ok);
  const zero = { ...r.jws, signature: Buffer.alloc(64) };
  assert.equal(verifySignature(zero, 'ES256', k.publicKey), false, 'r = s = 0 (psychic signature)');
  const short = { ...r.jws, signature: r.jws.signature.subarray(0, 63) };
  assert.equal(verifySignature(short, 'ES256', k.publicKey), false);
});

test('importJwk refuses symmetric and private keys, short RSA keys and mismatched alg', () => {
  assert.equal(importJwk({ kty: 'oct', k: 'c2VjcmV0' }).ok, false);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.equal(importJwk(ec.privateKey.export({ format: 'jwk' })).ok, false, 'private members');
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
  assert.equal(importJwk(small.publicKey.export({ format: 'jwk' })).ok, false, '1024-bit RSA');
  assert.equal(importJwk({ ...ec.publicKey.export({ format: 'jwk' }), alg: 'RS256' }).ok, false);
  assert.equal(importJwk({ ...ec.publicKey.export({ format: 'jwk' }), use: 'enc' }).ok, false);
  assert.equal(importJwk({ ...ec.publicKey.export({ format: 'jwk' }), key_ops: ['encrypt'] }).ok, false);
  const ok = importJwk({ ...ec.publicKey.export({ format: 'jwk' }), kid: 'a' });
  assert.ok(ok.ok);
  assert.deepEqual([...ok.key.algs], ['ES256']);
});

test('p1363ToDer: ES512 (long-form length), leading zeros, high bits', async () => {
  const { p1363ToDer } = await import('./jws.ts');
  const k = makeKey('ES384');
  for (let i = 0; i < 20; i++) {
    const r = parseJws(signToken({ alg: 'ES384' }, { i }, k));
    assert.ok(r.ok);
    assert.equal(verifySignature(r.jws, 'ES384', k.publicKey), true);
  }
  const der = p1363ToDer(Buffer.concat([Buffer.alloc(66, 0xff), Buffer.alloc(66, 1)]));
  assert.equal(der[0], 0x30);
  assert.equal(der[1], 0x81, 'long-form length past 127 bytes');
  assert.equal(der[2], der.length - 3);
  assert.deepEqual([...der.subarray(3, 6)], [0x02, 67, 0x00], 'a high bit gets a leading zero');
  const short = p1363ToDer(Buffer.concat([Buffer.alloc(32, 0x7f), Buffer.concat([Buffer.alloc(10), Buffer.alloc(22, 1)])]));
  assert.deepEqual([...short.subarray(0, 4)], [0x30, 2 + 32 + 2 + 22, 0x02, 32]);
  assert.deepEqual([...short.subarray(36, 38)], [0x02, 22], 'leading zero bytes are dropped');
  const es512 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const { sign } = await import('node:crypto');
  for (let i = 0; i < 10; i++) {
    const input = `${Buffer.from('{"alg":"ES512"}').toString('base64url')}.${Buffer.from(JSON.stringify({ i })).toString('base64url')}`;
    const sig = sign('sha512', Buffer.from(input), { key: es512.privateKey, dsaEncoding: 'ieee-p1363' });
    const r = parseJws(`${input}.${sig.toString('base64url')}`);
    assert.ok(r.ok);
    assert.equal(verifySignature(r.jws, 'ES512', es512.publicKey), true);
  }
});
