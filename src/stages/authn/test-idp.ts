/**
 * A real OpenID provider double on loopback HTTPS for tests: discovery and JWKS, with knobs for
 * the attacks and failures S8 is about (another issuer, oversized or slow answers, redirects), and
 * a log of every request received (to assert that no outbound request was made).
 */
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { makeCa, makeLeaf } from '../../tls/testing.ts';
import type { TestKey } from './testing.ts';

export interface TestIdp {
  readonly url: string;
  readonly issuer: string;
  readonly caPem: string;
  readonly requests: string[];
  keys: TestKey[];
  /** Overrides the discovered `issuer`. */
  discoveredIssuer: string | undefined;
  mode: 'ok' | 'huge' | 'slow' | 'redirect' | 'down';
  close(): Promise<void>;
}

export async function startTestIdp(options: { path?: string; keys?: TestKey[] } = {}): Promise<TestIdp> {
  const ca = makeCa('Rampart test IdP CA');
  const leaf = makeLeaf(ca, ['localhost', '127.0.0.1']);
  const sockets = new Set<Socket>();
  const server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    idp.requests.push(req.url ?? '');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
      res.end(text);
    };
    if (idp.mode === 'down') return void res.socket?.destroy();
    if (idp.mode === 'slow') return; // never answers
    if (idp.mode === 'redirect') return send(302, {}, { location: 'https://127.0.0.1:1/elsewhere' });
    if (req.url === `${base}/.well-known/openid-configuration`) {
      return send(200, { issuer: idp.discoveredIssuer ?? idp.issuer, jwks_uri: `${idp.issuer}/jwks`, id_token_signing_alg_values_supported: ['ES256'] });
    }
    if (req.url === `${base}/jwks`) {
      if (idp.mode === 'huge') return send(200, { keys: idp.keys.map((k) => k.jwk), padding: 'x'.repeat(300 * 1024) });
      return send(200, { keys: idp.keys.map((k) => k.jwk) });
    }
    send(404, {});
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const base = options.path ?? '/realms/test';
  const idp: TestIdp = {
    url: `https://localhost:${port}`,
    issuer: `https://localhost:${port}${base}`,
    caPem: ca.certPem,
    requests: [],
    keys: options.keys ?? [],
    discoveredIssuer: undefined,
    mode: 'ok',
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
  return idp;
}
