/**
 * The OpenAPI documents (examples/demo/openapi) and the services agree: requests are strict,
 * responses match, and the one intended difference (undeclared internal user fields) is there.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { start as startUsers } from './users.ts';
import { start as startOrders } from './orders.ts';
import { harness, principals } from './testing.ts';

const { alice, admin } = principals;
type Json = Record<string, any>;

function load(name: string): { doc: Json; schema(ref: string): (v: unknown) => boolean } {
  const doc = parse(readFileSync(new URL(`../openapi/${name}.yaml`, import.meta.url), 'utf8')) as Json;
  const ajv = new Ajv2020({
    strict: true,
    allErrors: true,
    formats: {
      email: /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/,
      'date-time': (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)),
      uri: (s: string) => URL.canParse(s),
      'uri-reference': (s: string) => URL.canParse(s, 'http://x.invalid'),
    },
  });
  // Local refs only (S10): rewrite them onto one schema resource.
  const defs = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', 'doc#/$defs/'));
  ajv.addSchema({ $id: 'doc', $defs: defs });
  return {
    doc,
    schema: (ref) => {
      const validate = ajv.getSchema(`doc#/$defs/${ref}`);
      assert.ok(validate, ref);
      return (v) => validate(v) as boolean;
    },
  };
}

function resolve(doc: Json, node: Json): Json {
  const ref = node.$ref as string | undefined;
  if (ref === undefined) return node;
  return resolve(doc, ref.slice(2).split('/').reduce((o: Json, k) => o[k], doc));
}

/** Every object schema reachable from a request body closes its properties; every string is bounded. */
function assertStrict(doc: Json, schema: Json, where: string): void {
  const s = resolve(doc, schema);
  if (s.type === 'object') {
    assert.equal(s.additionalProperties, false, `${where}: additionalProperties`);
    for (const [k, v] of Object.entries(s.properties ?? {})) assertStrict(doc, v as Json, `${where}.${k}`);
  }
  if (s.type === 'array') {
    assert.equal(typeof s.maxItems, 'number', `${where}: maxItems`);
    assertStrict(doc, s.items, `${where}[]`);
  }
  if (s.type === 'string' && s.const === undefined && s.enum === undefined) {
    assert.equal(typeof s.maxLength, 'number', `${where}: maxLength`);
  }
}

describe('demo OpenAPI documents', () => {
  for (const name of ['users', 'orders']) {
    it(`${name}.yaml: 3.1, the service's own paths, strict request bodies, problem responses`, () => {
      const { doc } = load(name);
      assert.equal(doc.openapi, '3.1.0');
      for (const [path, item] of Object.entries(doc.paths as Json)) {
        assert.ok(!path.startsWith('/api'), path);
        for (const param of (item.parameters ?? []) as Json[]) assertStrict(doc, resolve(doc, param).schema, `${path} {param}`);
        for (const [method, op] of Object.entries(item as Json)) {
          if (method === 'parameters') continue;
          const body = op.requestBody?.content?.['application/json']?.schema;
          if (body !== undefined) assertStrict(doc, body, `${method} ${path}`);
          const statuses = Object.keys(op.responses);
          assert.ok(statuses.includes('401'), `${method} ${path} documents 401`);
          for (const status of statuses.filter((s) => s.startsWith('4'))) {
            const content = resolve(doc, op.responses[status]).content;
            assert.ok(content?.['application/problem+json'], `${method} ${path} ${status} is problem+json`);
          }
        }
      }
    });
  }
});

describe('demo services against their OpenAPI documents', () => {
  it('users: responses match; the internal fields are exactly what the document leaves out', async (t) => {
    const { schema } = load('users');
    const h = await harness(t, 'users', startUsers);
    const me = (await h.call('GET', '/users/me', { as: alice })).body;
    const user = schema('User');
    assert.equal(user(me), false, 'undeclared passwordHash/internalNotes are returned by the service');
    const { passwordHash, internalNotes, ...declared } = me;
    assert.ok(passwordHash && internalNotes);
    assert.equal(user(declared), true);
    assert.equal(schema('Health')((await h.call('GET', '/health', { as: alice })).body), true);
    assert.equal(schema('UserPatch')({ name: 'A', roles: ['admin'] }), false);
    assert.equal(schema('UserPatch')({}), false);
    for (const res of [await h.call('GET', '/users/me'), await h.call('GET', '/users/bob', { as: alice }), await h.call('PATCH', '/users/alice', { as: alice, body: { x: 1 } })]) {
      assert.equal(schema('Problem')(res.body), true, JSON.stringify(res.body));
    }
  });

  it('orders: responses match the Order and Problem schemas', async (t) => {
    const { schema } = load('orders');
    const h = await harness(t, 'orders', startOrders);
    const order = schema('Order');
    for (const o of (await h.call('GET', '/orders', { as: admin })).body) assert.equal(order(o), true, JSON.stringify(o));
    const created = await h.call('POST', '/orders', { as: alice, body: { items: [{ sku: 'BOOK-001', quantity: 1 }] } });
    assert.equal(schema('NewOrder')({ items: [{ sku: 'BOOK-001', quantity: 1 }] }), true);
    assert.equal(schema('NewOrder')({ items: [{ sku: 'BOOK-001', quantity: 1 }], ownerId: 'bob' }), false);
    assert.equal(order(created.body), true);
    for (const res of [await h.call('GET', '/orders/o-2001', { as: alice }), await h.call('POST', '/orders', { as: alice, body: {} })]) {
      assert.equal(schema('Problem')(res.body), true, JSON.stringify(res.body));
    }
  });
});
