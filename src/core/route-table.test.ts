import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTable, toRouterPath } from './route-table.ts';

test('toRouterPath converts templates', () => {
  assert.equal(toRouterPath('/api/orders/{id}'), '/api/orders/:id');
  assert.equal(toRouterPath('/api/*'), '/api/*');
  assert.equal(toRouterPath('/v1/x:y/{a}'), '/v1/x::y/:a');
});

test('RouteTable matches host and path templates, reports 405 with Allow', () => {
  const t = new RouteTable<string>();
  t.add('orders', { path: '/api/orders/{id}', methods: ['GET', 'PUT'], host: undefined });
  t.add('admin', { path: '/admin/*', methods: ['GET'], host: 'admin.example.com' });
  t.add('wild', { path: '/w', methods: ['GET'], host: '*.example.org' });
  const m = t.find('GET', 'localhost', '/api/orders/42');
  assert.equal(m.kind, 'match');
  assert.deepEqual(m.kind === 'match' && m.match.params, { id: '42' });
  assert.equal(t.find('HEAD', 'localhost', '/api/orders/42').kind, 'match');
  assert.deepEqual(t.find('DELETE', 'localhost', '/api/orders/42'), { kind: 'method', allow: ['GET', 'HEAD', 'PUT'] });
  assert.equal(t.find('GET', 'localhost', '/api/orders/42/x').kind, 'none');
  assert.equal(t.find('GET', 'localhost', '/API/orders/42').kind, 'none', 'case-sensitive');
  assert.equal(t.find('GET', 'localhost', '/api/orders/').kind, 'none');
  assert.equal(t.find('GET', 'admin.example.com', '/admin/users').kind, 'match');
  assert.equal(t.find('GET', 'localhost', '/admin/users').kind, 'none');
  assert.equal(t.find('GET', 'a.example.org', '/w').kind, 'match');
  assert.equal(t.find('GET', 'example.org', '/w').kind, 'none');
});

test('RouteTable does not decode a normalised path twice', () => {
  const t = new RouteTable<string>();
  t.add('orders', { path: '/api/orders/{id}', methods: ['GET'], host: undefined });
  const m = t.find('GET', 'localhost', '/api/orders/%41?x');
  assert.equal(m.kind, 'match');
  assert.deepEqual(m.kind === 'match' && m.match.params, { id: '%41?x' });
});

test('a path that reaches a catch-all only through case or a trailing slash is ambiguous, not a match', () => {
  const t = new RouteTable<string>();
  t.add('catch-all', { path: '/api/*', methods: ['GET', 'DELETE'], host: undefined });
  t.add('admin', { path: '/api/admin/users/{id}', methods: ['GET'], host: undefined });
  t.add('orders', { path: '/api/orders/{id}', methods: ['GET'], host: undefined });
  for (const p of ['/api/admin/users/bob/', '/api/Admin/users/bob', '/api/admin/Users/bob/']) {
    const f = t.find('GET', 'h', p);
    assert.equal(f.kind, 'ambiguous', p);
  }
  // A method the other route does not serve: the exact path goes to the catch-all as well, so the
  // trailing slash opens nothing more.
  assert.equal(t.find('DELETE', 'h', '/api/admin/users/bob').kind, 'match');
  assert.equal(t.find('DELETE', 'h', '/api/admin/users/bob/').kind, 'match');
  // Case inside a parameter of the same route, or a catch-all path no other route owns, is fine.
  const same = t.find('GET', 'h', '/api/orders/ABC-1');
  assert.ok(same.kind === 'match' && same.match.route === 'orders');
  const free = t.find('GET', 'h', '/api/Reports/');
  assert.ok(free.kind === 'match' && free.match.route === 'catch-all');
  const exact = t.find('GET', 'h', '/api/admin/users/bob');
  assert.ok(exact.kind === 'match' && exact.match.route === 'admin');
});

test('ambiguity works both ways: a route written in capitals or with a trailing slash', () => {
  const t = new RouteTable<string>();
  t.add('catch-all', { path: '/api/*', methods: ['GET'], host: undefined });
  t.add('admin', { path: '/api/Admin/{id}', methods: ['GET'], host: undefined });
  t.add('reports', { path: '/api/reports/', methods: ['GET'], host: undefined });
  // The route's own spelling works; a spelling that reaches the catch-all but folds onto it does not.
  const own = t.find('GET', 'h', '/api/Admin/1');
  assert.ok(own.kind === 'match' && own.match.route === 'admin');
  for (const p of ['/api/admin/1', '/api/ADMIN/1', '/api/admin/1/']) assert.equal(t.find('GET', 'h', p).kind, 'ambiguous', p);
  const reports = t.find('GET', 'h', '/api/reports/');
  assert.ok(reports.kind === 'match' && reports.match.route === 'reports', 'a trailing-slash route keeps working');
  assert.equal(t.find('GET', 'h', '/api/reports').kind, 'ambiguous');
  const other = t.find('GET', 'h', '/api/other');
  assert.ok(other.kind === 'match' && other.match.route === 'catch-all');
});

test('two routes on one path with different methods both keep their canonical form', () => {
  const t = new RouteTable<string>();
  t.add('catch-all', { path: '/api/*', methods: ['GET', 'POST', 'DELETE'], host: undefined });
  t.add('user-read', { path: '/api/users/{id}', methods: ['GET'], host: undefined });
  t.add('user-delete', { path: '/api/users/{id}', methods: ['DELETE'], host: undefined });
  const del = t.find('DELETE', 'h', '/api/users/1');
  assert.ok(del.kind === 'match' && del.match.route === 'user-delete');
  for (const p of ['/api/Users/1', '/api/users/1/']) {
    assert.equal(t.find('DELETE', 'h', p).kind, 'ambiguous', p);
    assert.equal(t.find('GET', 'h', p).kind, 'ambiguous', p);
  }
  const people = new RouteTable<string>();
  people.add('person', { path: '/people/{name}', methods: ['GET'], host: undefined });
  people.add('me', { path: '/people/me', methods: ['GET'], host: undefined });
  assert.equal(people.find('GET', 'h', '/people/Me').kind, 'ambiguous', 'a case-insensitive upstream would serve /people/me');
  const bob = people.find('GET', 'h', '/people/Bob');
  assert.ok(bob.kind === 'match' && bob.match.route === 'person');
});

test('canonical templates keep parameter names: a plain table answers plain paths with one lookup', () => {
  const t = new RouteTable<string>();
  t.add('catch-all', { path: '/api/*', methods: ['GET'], host: undefined });
  t.add('order', { path: '/api/orders/{orderId}', methods: ['GET'], host: undefined });
  const m = t.find('GET', 'h', '/api/orders/A-1');
  assert.ok(m.kind === 'match' && m.match.route === 'order' && m.match.params.orderId === 'A-1');
  assert.equal(t.find('GET', 'h', '/api/Orders/a-1').kind, 'ambiguous');
});
