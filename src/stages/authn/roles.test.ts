import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindingIndex, resolveRoles } from './roles.ts';
import { readToken, claimAt } from './token.ts';

test('resolveRoles: store record + bindings of this kind and subject + mapped claim values only (S3)', () => {
  const b = bindingIndex([{ subject: 'user:alice', roles: ['auditor'] }, { subject: 'alice', roles: ['reader'] }, { subject: 'client:alice', roles: ['robot'] }]);
  assert.deepEqual(resolveRoles('user', 'alice', b, [], undefined, ['customer']), ['auditor', 'customer', 'reader']);
  assert.deepEqual(resolveRoles('client', 'alice', b, [], undefined, undefined), ['robot'], 'a client named like a user gets only its own bindings');
  const map = { 'gw-admin': ['admin'], viewer: ['reader'] };
  assert.deepEqual(resolveRoles('user', 'x', new Map(), ['gw-admin', 'admin', 'superuser'], map, undefined), ['admin'], 'unmapped values never become roles');
  assert.deepEqual(resolveRoles('user', 'x', new Map(), ['__proto__', 'constructor', 'toString'], map, undefined), []);
});

test('readToken: kind by RFC 9068 (auth_time → user; sub = client_id without it → client)', () => {
  const r = { issuerId: 'i', scopeClaim: 'scope', roleClaim: undefined, grantClaim: 'grant_id' };
  const base = { iss: 'https://i', aud: 'a', iat: 1, exp: 2 };
  assert.equal(readToken({ ...base, sub: 'svc', client_id: 'svc' }, r)?.kind, 'client');
  assert.equal(readToken({ ...base, sub: 'svc', client_id: 'svc', auth_time: 1 }, r)?.kind, 'user');
  assert.equal(readToken({ ...base, sub: 'alice', client_id: 'web' }, r)?.kind, 'user');
  assert.equal(readToken({ ...base, sub: 'svc', azp: 'svc' }, r)?.kind, 'client');
});

test('readToken: scopes from scope or scp; amr must be an array; grant id; wrong types refused', () => {
  const r = { issuerId: 'i', scopeClaim: 'scope', roleClaim: 'realm_access.roles', grantClaim: 'grant_id' };
  const base = { iss: 'https://i', aud: ['a', 'b'], iat: 1, exp: 2, sub: 's' };
  const t = readToken({ ...base, scope: 'a b  c', amr: ['pwd', 'otp'], acr: 'mfa', grant_id: 'g', realm_access: { roles: ['x'] } }, r);
  assert.deepEqual(t?.scopes, ['a', 'b', 'c']);
  assert.deepEqual(t?.amr, ['pwd', 'otp']);
  assert.equal(t?.grantId, 'g');
  assert.deepEqual(t?.claimRoles, ['x']);
  assert.deepEqual(t?.audiences, ['a', 'b']);
  assert.deepEqual(readToken({ ...base, scp: 'User.Read' }, r)?.scopes, ['User.Read']);
  assert.equal(readToken({ ...base, amr: 'pwd' }, r), undefined);
  assert.equal(readToken({ ...base, acr: 1 }, r), undefined);
  assert.equal(readToken({ ...base, scope: 5 }, r), undefined);
  assert.equal(readToken({ ...base, grant_id: {} }, r), undefined);
  assert.equal(readToken({ ...base, client_id: 1 }, r), undefined);
  assert.equal(claimAt({ a: { b: ['x'] } }, 'a.b.length'), undefined, 'only own properties of objects');
  assert.equal(claimAt({ a: {} }, 'a.__proto__'), undefined);
});
