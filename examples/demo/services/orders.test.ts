import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start } from './orders.ts';
import { harness, principals } from './testing.ts';

const { alice, bob, admin, anonymous, client, reportingKey } = principals;

describe('orders service', () => {
  it('answers 401 without a valid Rampart-Identity, forged or missing', async (t) => {
    const h = await harness(t, 'orders', start);
    assert.equal((await h.call('GET', '/orders')).status, 401);
    const forged = await h.call('GET', '/orders', { token: await h.forged(admin) });
    assert.equal(forged.status, 401);
    assert.equal(forged.headers.get('content-type'), 'application/problem+json');
    assert.equal((await h.call('GET', '/orders', { as: anonymous })).status, 401);
  });

  it('GET /orders: the caller\'s orders; the admin all', async (t) => {
    const h = await harness(t, 'orders', start);
    const mine = await h.call('GET', '/orders', { as: alice });
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.map((o: { id: string }) => o.id), ['o-1001', 'o-1002']);
    assert.deepEqual(mine.body[0], {
      id: 'o-1001',
      ownerId: 'alice',
      items: [{ sku: 'BOOK-001', quantity: 2 }],
      total: 25,
      status: 'paid',
      createdAt: '2024-03-01T10:00:00.000Z',
    });
    assert.equal((await h.call('GET', '/orders', { as: admin })).body.length, 4);
    assert.equal((await h.call('GET', '/orders', { as: client })).status, 403);
  });

  it('the reporting role (API keys) reads every order and changes none', async (t) => {
    const h = await harness(t, 'orders', start);
    assert.equal((await h.call('GET', '/orders', { as: reportingKey })).body.length, 4);
    assert.equal((await h.call('GET', '/orders/o-2001', { as: reportingKey })).status, 200);
    assert.equal((await h.call('DELETE', '/orders/o-2001', { as: reportingKey })).status, 403);
    assert.equal((await h.call('PUT', '/orders/o-2001', { as: reportingKey, body: { items: [{ sku: 'MUG-003', quantity: 1 }] } })).status, 403);
  });

  it('GET /orders/{id}: alice cannot read bob\'s order (404, like a missing one)', async (t) => {
    const h = await harness(t, 'orders', start);
    assert.equal((await h.call('GET', '/orders/o-2001', { as: bob })).body.ownerId, 'bob');
    const res = await h.call('GET', '/orders/o-2001', { as: alice });
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, (await h.call('GET', '/orders/o-9999', { as: alice })).body);
    assert.equal((await h.call('GET', '/orders/o-2001', { as: admin })).status, 200);
    assert.equal((await h.call('GET', '/orders/..%2Fo-2001', { as: alice })).status, 404);
  });

  it('POST /orders: owned by the caller, total computed by the service, strict body', async (t) => {
    const h = await harness(t, 'orders', start);
    const res = await h.call('POST', '/orders', { as: bob, body: { items: [{ sku: 'MUG-003', quantity: 2 }] } });
    assert.equal(res.status, 201);
    assert.equal(res.body.ownerId, 'bob');
    assert.equal(res.body.total, 17.98);
    assert.equal(res.body.status, 'pending');
    assert.equal(res.headers.get('location'), `/orders/${res.body.id}`);
    assert.equal((await h.call('GET', `/orders/${res.body.id}`, { as: alice })).status, 404);

    const sneaky = await h.call('POST', '/orders', { as: bob, body: { items: [{ sku: 'MUG-003', quantity: 1 }], ownerId: 'alice', total: 0 } });
    assert.equal(sneaky.status, 400);
    for (const items of [[], [{ sku: 'NOPE-000', quantity: 1 }], [{ sku: 'MUG-003', quantity: 0 }], [{ sku: 'MUG-003', quantity: 1.5 }], [{ sku: 'MUG-003' }]]) {
      assert.equal((await h.call('POST', '/orders', { as: bob, body: { items } })).status, 400, JSON.stringify(items));
    }
    assert.equal((await h.call('POST', '/orders', { as: anonymous, body: { items: [{ sku: 'MUG-003', quantity: 1 }] } })).status, 401);
  });

  it('PUT /orders/{id}: owner while pending; only the admin sets paid or shipped', async (t) => {
    const h = await harness(t, 'orders', start);
    const items = [{ sku: 'PEN-002', quantity: 1 }];
    assert.equal((await h.call('PUT', '/orders/o-2002', { as: alice, body: { items } })).status, 404);
    const updated = await h.call('PUT', '/orders/o-2002', { as: bob, body: { items } });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.total, 1.99);
    assert.equal((await h.call('PUT', '/orders/o-2002', { as: bob, body: { items, status: 'shipped' } })).status, 403);
    assert.equal((await h.call('PUT', '/orders/o-2001', { as: bob, body: { items } })).status, 409);
    assert.equal((await h.call('PUT', '/orders/o-2002', { as: admin, body: { items, status: 'paid' } })).body.status, 'paid');
    assert.equal((await h.call('PUT', '/orders/o-1002', { as: alice, body: { items, status: 'cancelled' } })).body.status, 'cancelled');
  });

  it('DELETE /orders/{id}: the owner or the admin', async (t) => {
    const h = await harness(t, 'orders', start);
    assert.equal((await h.call('DELETE', '/orders/o-1001', { as: bob })).status, 404);
    assert.equal((await h.call('DELETE', '/orders/o-1001', { as: alice })).status, 204);
    assert.equal((await h.call('GET', '/orders/o-1001', { as: admin })).status, 404);
    assert.equal((await h.call('DELETE', '/orders/o-2001', { as: admin })).status, 204);
  });
});
