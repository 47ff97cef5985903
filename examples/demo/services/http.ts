/**
 * Shared plumbing of the demo services: node:http, JSON, problem+json (RFC 9457), no framework.
 *
 * Every request, /health included, must carry a valid `Rampart-Identity` token: a service reached
 * around the gateway answers 401 to everything (DESIGN.md S2).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IdentityClaims } from '../../../src/identity/claims.ts';
import { IDENTITY_HEADER, IDENTITY_JWKS_PATH } from '../../../src/identity/claims.ts';
import {
  createIdentityVerifier,
  IdentityVerificationError,
  type IdentityVerifier,
} from '../../../src/identity/verify.ts';

export interface ServiceOptions {
  readonly port: number;
  readonly host?: string;
  readonly verifier: IdentityVerifier;
  /**
   * The issuer of local user accounts (the built-in authorization server). When set, a `user`
   * principal of another issuer owns nothing here (S3: an external IdP's `sub: alice` is not alice).
   */
  readonly userIssuer?: string;
}

export interface RunningService {
  readonly port: number;
  close(): Promise<void>;
}

/** Who is calling, as far as this service is concerned. */
export interface Caller {
  readonly claims: IdentityClaims;
  readonly anonymous: boolean;
  readonly admin: boolean;
  /** May read every object (admin, or the back-office `reporting` role of API keys). */
  readonly readsAll: boolean;
  /** The local user id when the caller is a local user; undefined for clients, keys, anonymous. */
  readonly userId: string | undefined;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface HandlerContext {
  readonly caller: Caller;
  readonly params: readonly string[];
  readonly url: URL;
  /** The JSON body (application/json, ≤ 16 KiB); throws a ReplyError (400/413/415) otherwise. */
  json(): Promise<unknown>;
}

export type Handler = (ctx: HandlerContext) => Reply | Promise<Reply>;

/** Thrown to answer at once (e.g. from `json()`); the runner sends its reply. */
export class ReplyError extends Error {
  readonly reply: Reply;
  constructor(reply: Reply) {
    super(`reply ${reply.status}`);
    this.name = 'ReplyError';
    this.reply = reply;
  }
}

export interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

export const MAX_BODY_BYTES = 16 * 1024;

export function problem(status: number, code: string, title: string, detail?: string): Reply {
  return {
    status,
    body: { type: `urn:rampart:demo:${code.replace(/^DEMO_/, '').toLowerCase().replaceAll('_', '-')}`, title, status, code, ...(detail !== undefined && { detail }) },
  };
}

export const unauthenticated = (): Reply => problem(401, 'DEMO_UNAUTHENTICATED', 'A valid Rampart-Identity is required');
export const forbidden = (detail?: string): Reply => problem(403, 'DEMO_FORBIDDEN', 'Not allowed', detail);
export const notFound = (): Reply => problem(404, 'DEMO_NOT_FOUND', 'Not found');
export const badRequest = (detail: string): Reply => problem(400, 'DEMO_BAD_REQUEST', 'Invalid request', detail);

/** Per-user endpoints: anonymous callers are not authenticated (401), others need a user or admin. */
export function requireUser(caller: Caller): Reply | undefined {
  if (caller.anonymous) return unauthenticated();
  if (caller.userId === undefined && !caller.admin) return forbidden('This endpoint is for users.');
  return undefined;
}

/** Reading endpoints: users, and callers that read everything (reporting keys). */
export function requireReader(caller: Caller): Reply | undefined {
  if (caller.readsAll) return undefined;
  return requireUser(caller);
}

/** Object ownership (OWASP API1): a customer only their own, the admin role everything. */
export function mayRead(caller: Caller, ownerId: string): boolean {
  return caller.readsAll || mayAccess(caller, ownerId);
}

export function mayAccess(caller: Caller, ownerId: string): boolean {
  return caller.admin || (caller.userId !== undefined && caller.userId === ownerId);
}

export function callerOf(claims: IdentityClaims, userIssuer: string | undefined): Caller {
  const { kind, issuer, roles } = claims.rampart;
  const anonymous = kind === 'anonymous';
  const localUser = kind === 'user' && (userIssuer === undefined || issuer === userIssuer);
  return Object.freeze({
    claims,
    anonymous,
    admin: !anonymous && roles.includes('admin'),
    readsAll: !anonymous && (roles.includes('admin') || roles.includes('reporting')),
    userId: localUser ? claims.sub : undefined,
  });
}

/** Object with exactly the allowed keys (mass assignment refused here too, not only at the gateway). */
export function checkObject(value: unknown, allowed: readonly string[], required: readonly string[]): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the body must be a JSON object';
  for (const key of Object.keys(value)) if (!allowed.includes(key)) return `unknown property ${JSON.stringify(key.slice(0, 64))}`;
  for (const key of required) if (!Object.hasOwn(value, key)) return `missing property ${key}`;
  return undefined;
}

export async function startService(name: string, routes: readonly Route[], options: ServiceOptions): Promise<RunningService> {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => {
    handle(name, routes, options, req, res).catch((error: unknown) => {
      console.error(`[${name}] internal error`, error);
      if (!res.headersSent) send(res, name, problem(500, 'DEMO_INTERNAL', 'Internal error'));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(
  name: string,
  routes: readonly Route[],
  options: ServiceOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  // Identity first, for every path: nothing (not even which paths exist) is told without it.
  let claims: IdentityClaims;
  try {
    claims = await options.verifier.verify(req.headers[IDENTITY_HEADER]);
  } catch (error) {
    if (error instanceof IdentityVerificationError && error.code === 'RAMPART_IDENTITY_KEYS_UNAVAILABLE') {
      console.error(`[${name}] ${error.reason}`);
      return send(res, name, problem(503, 'DEMO_UNAVAILABLE', 'Identity keys unavailable'));
    }
    return send(res, name, unauthenticated());
  }
  const url = new URL(req.url ?? '/', 'http://service.invalid');
  const route = routes.find((r) => r.pattern.test(url.pathname));
  if (route === undefined) return send(res, name, notFound());
  // RFC 9110 §9.3.2: HEAD is GET without the body (node:http drops the body of a HEAD response).
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const handler = method === undefined ? undefined : route.methods[method];
  if (handler === undefined) {
    return send(res, name, {
      ...problem(405, 'DEMO_METHOD_NOT_ALLOWED', 'Method not allowed'),
      headers: { allow: [...Object.keys(route.methods), ...('GET' in route.methods ? ['HEAD'] : [])].join(', ') },
    });
  }
  let params: string[];
  try {
    params = (route.pattern.exec(url.pathname) ?? []).slice(1).map((p) => decodeURIComponent(p));
  } catch {
    return send(res, name, badRequest('Malformed percent-encoding in the path.'));
  }
  const ctx: HandlerContext = { caller: callerOf(claims, options.userIssuer), params, url, json: () => readJson(req) };
  let reply: Reply;
  try {
    reply = await handler(ctx);
  } catch (thrown) {
    if (!(thrown instanceof ReplyError)) throw thrown;
    reply = thrown.reply;
  }
  send(res, name, reply);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json' && type !== 'application/merge-patch+json') {
    throw new ReplyError(problem(415, 'DEMO_UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type', 'Send application/json.'));
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ReplyError(problem(413, 'DEMO_PAYLOAD_TOO_LARGE', 'Payload too large'));
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ReplyError(badRequest('The body is not valid JSON.'));
  }
}

function send(res: ServerResponse, name: string, reply: Reply): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...reply.headers };
  if (reply.status === 401) headers['www-authenticate'] = `Rampart-Identity realm="${name}"`;
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  const body = JSON.stringify(reply.body);
  headers['content-type'] = reply.status >= 400 ? 'application/problem+json' : 'application/json';
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(reply.status, headers).end(body);
}

/**
 * `node examples/demo/services/users.ts`: runs a service against a gateway's JWKS. Environment:
 * PORT, HOST (127.0.0.1), RAMPART_IDENTITY_JWKS_URL, RAMPART_IDENTITY_ISSUER (the gateway's
 * `identity.issuer`), RAMPART_IDENTITY_AUDIENCE (the upstream id, default the service name),
 * RAMPART_CA_FILE (default `.rampart/tls/ca.crt` when it exists), RAMPART_USER_ISSUER.
 */
export async function runFromEnv(
  name: string,
  defaultPort: number,
  start: (options: ServiceOptions) => Promise<RunningService>,
): Promise<void> {
  const env = process.env;
  const caFile = env.RAMPART_CA_FILE ?? (existsSync('.rampart/tls/ca.crt') ? '.rampart/tls/ca.crt' : undefined);
  const verifier = createIdentityVerifier({
    jwksUrl: env.RAMPART_IDENTITY_JWKS_URL ?? `https://localhost:8443${IDENTITY_JWKS_PATH}`,
    issuer: env.RAMPART_IDENTITY_ISSUER ?? 'urn:rampart:gateway',
    audience: env.RAMPART_IDENTITY_AUDIENCE ?? name,
    ...(caFile !== undefined && { ca: readFileSync(caFile) }),
  });
  const host = env.HOST ?? '127.0.0.1';
  const service = await start({
    port: Number(env.PORT ?? defaultPort),
    host,
    verifier,
    ...(env.RAMPART_USER_ISSUER !== undefined && { userIssuer: env.RAMPART_USER_ISSUER }),
  });
  console.log(`${name} service listening on http://${host}:${service.port} (Rampart-Identity required)`);
  const stop = () => {
    void service.close().then(() => verifier.close());
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
