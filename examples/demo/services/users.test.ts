import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start } from './users.ts';
import { harness, LOCAL_ISSUER, principals } from './testing.ts';

const { alice, bob, admin, anonymous, client, externalAlice } = principals;

describe('users service', () => {
  it('answers 401 problem+json to every request without a valid Rampart-Identity', async (t) => {
    const h = await harness(t, 'users', start);
    for (const path of ['/health', '/users/me', '/users/alice', '/nope']) {
      const res = await h.call('GET', path);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.equal(res.body.code, 'DEMO_UNAUTHENTICATED');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Rampart-Identity /);
    }
    assert.equal((await h.call('GET', '/users/alice', { token: await h.forged(admin) })).status, 401);
    assert.equal((await h.call('GET', '/users/alice', { token: 'not.a.jwt' })).status, 401);
    // A token for another upstream (replayed from the orders service) is refused too.
    const other = await harness(t, 'orders', start);
    assert.equal((await h.call('GET', '/users/me', { token: await other.tokenFor(alice) })).status, 401);
  });

  it('GET /health: any valid identity, the anonymous one included', async (t) => {
    const h = await harness(t, 'users', start);
    assert.deepEqual((await h.call('GET', '/health', { as: anonymous })).body, { status: 'ok' });
  });

  it('GET /users/me: the caller, with the undeclared internal fields (filtered by the gateway)', async (t) => {
    const h = await harness(t, 'users', start);
    const res = await h.call('GET', '/users/me', { as: alice });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.body.id, 'alice');
    assert.equal(res.body.email, 'alice@example.com');
    assert.deepEqual(res.body.roles, ['customer']);
    assert.equal(res.body.passwordHash, '<not a real hash>');
    assert.equal(typeof res.body.internalNotes, 'string');
    assert.equal((await h.call('GET', '/users/me', { as: anonymous })).status, 401);
    assert.equal((await h.call('GET', '/users/me', { as: client })).status, 403);
  });

  it('GET /users/{id}: a customer only themselves, the admin anyone', async (t) => {
    const h = await harness(t, 'users', start);
    assert.equal((await h.call('GET', '/users/alice', { as: alice })).status, 200);
    assert.equal((await h.call('GET', '/users/bob', { as: alice })).status, 403);
    assert.equal((await h.call('GET', '/users/nobody', { as: alice })).status, 403, 'no existence oracle');
    assert.equal((await h.call('GET', '/users/alice', { as: anonymous })).status, 401);
    assert.equal((await h.call('GET', '/users/bob', { as: admin })).body.id, 'bob');
    assert.equal((await h.call('GET', '/users/nobody', { as: admin })).status, 404);
  });

  it('S3: with userIssuer set, an external IdP user with sub alice is not alice', async (t) => {
    const h = await harness(t, 'users', start, { userIssuer: LOCAL_ISSUER });
    assert.equal((await h.call('GET', '/users/alice', { as: alice })).status, 200);
    assert.equal((await h.call('GET', '/users/alice', { as: externalAlice })).status, 403);
    assert.equal((await h.call('GET', '/users/me', { as: externalAlice })).status, 403);
  });

  it('PATCH /users/{id}: own profile, name and email only (no mass assignment)', async (t) => {
    const h = await harness(t, 'users', start);
    const res = await h.call('PATCH', '/users/alice', { as: alice, body: { name: 'Alice L.' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'Alice L.');
    assert.equal((await h.call('PATCH', '/users/bob', { as: alice, body: { name: 'x' } })).status, 403);
    const roles = await h.call('PATCH', '/users/alice', { as: alice, body: { roles: ['admin'] } });
    assert.equal(roles.status, 400);
    assert.match(roles.body.detail, /unknown property "roles"/);
    assert.equal((await h.call('PATCH', '/users/alice', { as: alice, body: { email: 'not-an-email' } })).status, 400);
    assert.equal((await h.call('PATCH', '/users/alice', { as: alice, body: { name: 'x'.repeat(101) } })).status, 400);
    assert.equal((await h.call('PATCH', '/users/alice', { as: alice, body: '{"name":' })).status, 400);
    assert.equal((await h.call('PATCH', '/users/alice', { as: alice, body: 'name=x', contentType: 'text/plain' })).status, 415);
    assert.equal((await h.call('PATCH', '/users/alice', { as: alice, body: { name: 'x'.repeat(20_000) } })).status, 413);
    assert.equal((await h.call('PATCH', '/users/bob', { as: admin, body: { email: 'bob@example.org' } })).body.email, 'bob@example.org');
  });

  it('DELETE /users/{id}: own account or admin; unknown methods 405 with Allow', async (t) => {
    const h = await harness(t, 'users', start);
    assert.equal((await h.call('DELETE', '/users/bob', { as: alice })).status, 403);
    assert.equal((await h.call('DELETE', '/users/bob', { as: bob })).status, 204);
    assert.equal((await h.call('GET', '/users/bob', { as: admin })).status, 404);
    assert.equal((await h.call('DELETE', '/users/alice', { as: admin })).status, 204);
    const put = await h.call('PUT', '/users/admin', { as: admin, body: {} });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, PATCH, DELETE, HEAD');
  });
});
