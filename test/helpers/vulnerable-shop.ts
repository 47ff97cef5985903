/**
 * A deliberately vulnerable upstream for the authorization tests (OWASP API1 and API5): a shop
 * service that checks nothing. It answers any user's profile and any order it is asked for, lists
 * the orders of every owner, takes the owner of a new order from the body, and honours every
 * method override (X-HTTP-Method-Override, X-Method-Override, X-HTTP-Method, `_method` in the query
 * or a form body) — so that every test proves the gateway, not the service, stops the attack.
 *
 * Every request is recorded with the method the shop would have executed (`effectiveMethod`).
 * `?format=` shapes the answer: text (text/plain), gzip, broken-gzip, compress (a coding nobody
 * decodes), no-owner (owner fields dropped).
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';

export interface ShopRequest {
  readonly method: string;
  /** What a framework honouring method overrides would have run. */
  readonly effectiveMethod: string;
  readonly url: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface Order {
  readonly id: string;
  readonly ownerId: string | number;
  readonly item: string;
}

export interface VulnerableShop {
  readonly url: string;
  readonly received: ShopRequest[];
  /** Requests whose effective method changes state (POST, PUT, PATCH, DELETE). */
  writes(): ShopRequest[];
  close(): Promise<void>;
}

/** Alice's orders first, Bob's last: a check of the first element only would pass a mixed list. */
export const ORDERS: readonly Order[] = [
  { id: 'o-a1', ownerId: 'alice', item: 'tea' },
  { id: 'o-a2', ownerId: 'alice', item: 'cups' },
  { id: 'o-n1', ownerId: 1001, item: 'kettle' },
  { id: 'o-b1', ownerId: 'bob', item: "bob's secret" },
];

const OVERRIDE_HEADERS = ['x-http-method-override', 'x-method-override', 'x-http-method'];

function effectiveMethod(req: http.IncomingMessage, query: URLSearchParams, body: string): string {
  for (const h of OVERRIDE_HEADERS) {
    const v = req.headers[h];
    if (typeof v === 'string' && v) return v.toUpperCase();
  }
  const q = query.get('_method');
  if (q) return q.toUpperCase();
  if (/^application\/x-www-form-urlencoded/i.test(String(req.headers['content-type'] ?? ''))) {
    const f = new URLSearchParams(body).get('_method');
    if (f) return f.toUpperCase();
  }
  return req.method ?? 'GET';
}

function lastOwner(query: URLSearchParams): string | undefined {
  // Like many frameworks: the last of repeated parameters wins (HTTP parameter pollution).
  const all = query.getAll('owner');
  return all.length ? all[all.length - 1] : undefined;
}

function send(res: http.ServerResponse, status: number, value: unknown, format: string | null): void {
  let payload = value;
  if (format === 'no-owner') payload = JSON.parse(JSON.stringify(value, (k, v) => (k === 'ownerId' ? undefined : v)));
  const text = JSON.stringify(payload);
  if (format === 'text') {
    res.writeHead(status, { 'content-type': 'text/plain' });
    return void res.end(text);
  }
  if (format === 'gzip') {
    res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    return void res.end(zlib.gzipSync(text));
  }
  if (format === 'broken-gzip') {
    res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    return void res.end(Buffer.concat([zlib.gzipSync(text).subarray(0, 12), Buffer.from('garbage')]));
  }
  if (format === 'compress') {
    res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': 'compress' });
    return void res.end(text);
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

export async function startVulnerableShop(): Promise<VulnerableShop> {
  const received: ShopRequest[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return;
    }
    const body = Buffer.concat(chunks).toString();
    const url = new URL(req.url ?? '/', 'http://shop.internal');
    const query = url.searchParams;
    const method = effectiveMethod(req, query, body);
    received.push({ method: req.method ?? '', effectiveMethod: method, url: req.url ?? '', path: url.pathname, headers: req.headers, body });
    const format = query.get('format');
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);

    // /users/{id}: anyone's profile, read, changed or deleted on request.
    if (segments[0] === 'users' && segments.length === 2) {
      const id = segments[1] as string;
      if (method === 'GET') return send(res, 200, { id, name: id, email: `${id}@shop.test`, ownerId: id }, format);
      return send(res, 200, { done: method, user: id, body }, format);
    }
    // /orders and /v2/orders (an envelope): every owner's orders unless ?owner= says whose (last wins).
    if ((segments[0] === 'orders' && segments.length === 1) || (segments[0] === 'v2' && segments[1] === 'orders' && segments.length === 2)) {
      if (method === 'POST') {
        let owner: unknown;
        try {
          owner = (JSON.parse(body) as { owner?: unknown }).owner;
        } catch {
          owner = new URLSearchParams(body).get('owner');
        }
        return send(res, 201, { id: 'o-new', ownerId: owner, item: 'created' }, format);
      }
      // ?owners=a,b: the orders of several owners, in the order of ORDERS.
      const owners = query.get('owners')?.split(',') ?? (lastOwner(query) !== undefined ? [lastOwner(query) as string] : undefined);
      const list = ORDERS.filter((o) => owners === undefined || owners.includes(String(o.ownerId)));
      return send(res, 200, segments[0] === 'v2' ? { data: list, total: list.length } : list, format);
    }
    // An order of a user whose numeric id exceeds 2^53, as a service with exact integers writes it.
    if (segments[0] === 'orders' && segments[1] === 'o-big' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{"id":"o-big","ownerId":9007199254740993,"item":"ledger"}');
    }
    // /orders/{id}: any order, whoever owns it.
    if (segments[0] === 'orders' && segments.length === 2) {
      const order = ORDERS.find((o) => o.id === segments[1]);
      if (method !== 'GET') return send(res, 200, { done: method, order: segments[1] }, format);
      if (!order) return send(res, 404, { error: 'no such order', id: segments[1] }, null);
      return send(res, 200, order, format);
    }
    // Anything else (admin, reports, items, ...): does whatever it is asked.
    send(res, 200, { done: method, path: url.pathname }, format);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    writes: () => received.filter((r) => r.effectiveMethod !== 'GET' && r.effectiveMethod !== 'HEAD'),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
