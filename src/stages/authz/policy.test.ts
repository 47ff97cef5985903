import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError, formatProblem } from '../../config/load.ts';
import { STAGES } from '../index.ts';
import { compilePolicy } from './policy.ts';

const head = `listeners:
  - { name: public, port: 8443, protocol: https, tls: { dev: true } }
authentication:
  apiKeys: { enabled: true }
upstreams:
  - { id: up, targets: [{ url: "http://127.0.0.1:9000" }] }
routes:
  - { id: orders, path: /orders, methods: [GET, POST], upstream: up }
  - { id: order, path: "/orders/{id}", methods: [GET, DELETE], upstream: up }
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'rampart.yaml', '/tmp', STAGES);
    return [];
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems.filter((p) => p.severity !== 'warning').map(formatProblem);
  }
}

function load(text: string) {
  return parseConfig(text, 'rampart.yaml', '/tmp', STAGES).config;
}

test('default deny: with a credential source, a route without a rule is refused at load, each one named', () => {
  const out = problems(head);
  assert.equal(out.length, 2, out.join('\n'));
  assert.match(out[0] ?? '', /routes\[0\]: route "orders" has no authorization rule \(default deny\)/);
  assert.match(out[1] ?? '', /routes\[1\]: route "order" has no authorization rule/);
});

test('default deny: a method without a rule is named', () => {
  const out = problems(`${head}authorization:
  permissions: { orders:read: {} }
  roles: { customer: { permissions: [orders:read] } }
  rules:
    - { id: read, routes: [orders, order], methods: [GET], permissions: [orders:read] }
`);
  assert.deepEqual(out.map((l) => l.replace(/^[^ ]+ /, '')), [
    'routes[0].methods: route "orders" has no authorization rule for POST (default deny): add a rule or remove the method',
    'routes[1].methods: route "order" has no authorization rule for DELETE (default deny): add a rule or remove the method',
  ]);
});

test('unknown roles, permissions, routes and issuers are refused with every error named', () => {
  const out = problems(`listeners:
  - { name: public, port: 8443, protocol: https, tls: { dev: true } }
authentication:
  apiKeys: { enabled: true, bindings: [{ subject: "key:k1", roles: [ghost] }] }
upstreams:
  - { id: up, targets: [{ url: "http://127.0.0.1:9000" }] }
routes:
  - { id: orders, path: /orders, methods: [GET], upstream: up }
authorization:
  permissions: { orders:read: {} }
  roles:
    customer: { permissions: [orders:write], inherits: [nobody] }
  rules:
    - { id: a, route: orders, permissions: [orders:read, orders:delete] }
    - { id: b, route: nowhere, public: true }
    - { id: c, path: /nothing, public: true }
    - { id: a, route: orders, permissions: [orders:read], ownership: { principal: { issuer: corp }, request: [{ path: id }] } }
`).join('\n');
  for (const expected of [
    /authentication\.apiKeys\.bindings\[0\]\.roles\[0\]: unknown role "ghost"/,
    /authorization\.roles\.customer\.permissions\[0\]: unknown permission "orders:write"/,
    /authorization\.roles\.customer\.inherits\[0\]: unknown role "nobody"/,
    /authorization\.rules\[0\]\.permissions\[1\]: unknown permission "orders:delete"/,
    /authorization\.rules\[1\]\.route: unknown route "nowhere"/,
    /authorization\.rules\[2\]\.path: no route has the path template "\/nothing"/,
    /authorization\.rules\[3\]\.id: duplicate rule id "a"/,
    /authorization\.rules\[3\]\.ownership\.principal\.issuer: unknown issuer "corp"/,
    /authorization\.rules\[3\]\.ownership\.request\[0\]\.path: route "orders" has no path parameter \{id\}/,
  ]) assert.match(out, expected);
});

test('a rule says who exactly once, and names its routes exactly once', () => {
  const out = problems(`${head}authorization:
  rules:
    - { id: a, routes: [orders, order] }
    - { id: b, route: orders, path: /orders, public: true, authenticated: true }
`).join('\n');
  assert.match(out, /rules\[0\]: say who is allowed with exactly one of public: true, authenticated: true or permissions/);
  assert.match(out, /rules\[1\]: name the routes it covers with exactly one of route, routes or path/);
  assert.match(out, /rules\[1\]: say who is allowed/);
});

test('inheritance cycles are refused; wildcards expand to declared permissions and are linted', () => {
  const text = `${head}authorization:
  permissions: { orders:read: {}, orders:write: {}, users:read: {} }
  roles:
    a: { inherits: [b] }
    b: { inherits: [a] }
    clerk: { permissions: ["orders:*"] }
  rules:
    - { id: r, routes: [orders, order], permissions: [orders:read] }
`;
  assert.match(problems(text).join('\n'), /inheritance cycle/);
  const ok = load(text.replace('a: { inherits: [b] }\n    b: { inherits: [a] }\n', ''));
  const { policy, issues } = compilePolicy(ok);
  assert.deepEqual([...(policy.roles.get('clerk') ?? [])].sort(), ['orders:read', 'orders:write']);
  assert.ok(issues.some((i) => i.severity === 'warning' && /wildcard "orders:\*" grants 2/.test(i.message)));
  assert.ok(issues.some((i) => i.severity === 'warning' && /no role grants "users:read"/.test(i.message)));
});

test('rules index by route and method; HEAD follows GET; public methods are known to authn', () => {
  const config = load(`${head}authorization:
  permissions: { orders:read: {}, orders:write: {} }
  roles:
    customer: { permissions: [orders:read] }
    admin: { inherits: [customer], permissions: [orders:write] }
  rules:
    - { id: list, path: /orders, methods: [GET], public: true }
    - { id: create, route: orders, methods: [POST], permissions: [orders:write] }
    - { id: one, route: order, permissions: [orders:read] }
`);
  const { policy, issues } = compilePolicy(config);
  assert.deepEqual(issues.filter((i) => i.severity === 'error'), []);
  const orders = policy.routes.get('orders');
  assert.deepEqual(orders?.byMethod.get('GET')?.map((r) => r.id), ['list']);
  assert.deepEqual(orders?.byMethod.get('HEAD')?.map((r) => r.id), ['list']);
  assert.deepEqual([...(orders?.publicMethods ?? [])].sort(), ['GET', 'HEAD']);
  assert.deepEqual(policy.routes.get('order')?.byMethod.get('DELETE')?.map((r) => r.id), ['one']);
  assert.deepEqual([...(policy.roles.get('admin') ?? [])].sort(), ['orders:read', 'orders:write']);
});

test('no credential source and no authorization section: authorization is off (every caller is anonymous)', () => {
  const config = load(head.replace('authentication:\n  apiKeys: { enabled: true }\n', ''));
  const { policy, issues } = compilePolicy(config);
  assert.equal(policy.enabled, false);
  assert.deepEqual(issues.map((i) => `${i.severity}: ${i.message}`), ['warning: no credential source and no authorization section: every route is public to anonymous callers (add an authorization section with public: true rules to say so)']);
});

test('bad conditions are named: CIDR, time zone, empty window', () => {
  const out = problems(`${head}authorization:
  timeZone: Mars/Olympus
  rules:
    - id: r
      routes: [orders, order]
      authenticated: true
      networks: [10.0.0.0/33]
      schedule: [{ from: "09:00", to: "09:00" }, { days: [mon], timeZone: Moon/Base }]
`).join('\n');
  assert.match(out, /authorization\.timeZone: unknown time zone "Mars\/Olympus"/);
  assert.match(out, /rules\[0\]\.networks\[0\]: "10\.0\.0\.0\/33" is not an IP address or CIDR range/);
  assert.match(out, /rules\[0\]\.schedule\[0\]: from and to are equal/);
  assert.match(out, /rules\[0\]\.schedule\[1\]\.timeZone: unknown time zone "Moon\/Base"/);
});

test('a route that accepts WebSocket upgrades cannot have a response-ownership rule (its answer is a stream)', () => {
  const out = problems(`${head.replace('methods: [GET, DELETE], upstream: up }', 'methods: [GET, DELETE], upstream: up, websocket: true }')}authorization:
  permissions: { orders:read: {} }
  roles: { customer: { permissions: [orders:read] } }
  rules:
    - { id: list, route: orders, permissions: [orders:read] }
    - { id: one, route: order, permissions: [orders:read], ownership: { response: { field: ownerId } } }
`).join('\n');
  assert.match(out, /rules\[1\]\.ownership\.response: route "order" accepts WebSocket upgrades/);
});

test('HEAD does not borrow GET rules that must read the answer; public rules that make others moot are warned', () => {
  const config = load(`${head}authorization:
  permissions: { orders:read: {}, orders:manage: {} }
  roles: { customer: { permissions: [orders:read] }, admin: { permissions: [orders:read, orders:manage] } }
  rules:
    - { id: own, route: order, methods: [GET], permissions: [orders:read], ownership: { response: { field: ownerId } } }
    - { id: any, route: order, methods: [GET], permissions: [orders:manage] }
    - { id: del, route: order, methods: [DELETE], permissions: [orders:manage] }
    - { id: open, route: orders, public: true }
    - { id: moot, route: orders, methods: [GET], permissions: [orders:read] }
`);
  const { policy, issues } = compilePolicy(config);
  assert.deepEqual(policy.routes.get('order')?.byMethod.get('HEAD')?.map((r) => r.id), ['any']);
  assert.ok(issues.some((i) => i.severity === 'warning' && /rule "open" makes GET \/orders public: rule\(s\) "moot" never decide there/.test(i.message)));
});

test('methods covered by shadow rules only are warned as open while on trial', () => {
  const { issues } = compilePolicy(load(`${head}authorization:
  permissions: { orders:read: {} }
  roles: { customer: { permissions: [orders:read] } }
  rules:
    - { id: a, routes: [orders, order], methods: [GET, POST], permissions: [orders:read] }
    - { id: b, route: order, methods: [DELETE], permissions: [orders:read], mode: shadow }
`));
  assert.ok(issues.some((i) => i.severity === 'warning' && /route "order": DELETE covered by shadow rules only/.test(i.message)));
});

test('a shadow GET rule never opens a derived HEAD that no enforced rule covers', () => {
  const { policy } = compilePolicy(load(`${head}authorization:
  permissions: { orders:read: {} }
  roles: { customer: { permissions: [orders:read] } }
  rules:
    - { id: list, route: orders, permissions: [orders:read] }
    - { id: own, route: order, methods: [GET], permissions: [orders:read], ownership: { response: { field: ownerId } } }
    - { id: trial, route: order, methods: [GET], permissions: [orders:read], mode: shadow }
    - { id: del, route: order, methods: [DELETE], permissions: [orders:read] }
`));
  const order = policy.routes.get('order');
  assert.equal(order?.byMethod.has('HEAD'), false);
  assert.equal(order?.shadowByMethod.has('HEAD'), false);
  assert.equal(order?.publicMethods.has('HEAD'), false);
});
