/**
 * Test harness: a real gateway on port 0 with real TLS (the dev CA in a temp data directory),
 * its log lines captured, and clients that trust its CA.
 */
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Agent, request, type Dispatcher } from 'undici';
import { Gateway } from '../../src/core/gateway.ts';
import type { AuthnServices } from '../../src/core/authn-port.ts';
import { DEFAULT_REDACT } from '../../src/observe/logger.ts';
import { parse as parseYaml } from 'yaml';

export interface TestGateway {
  readonly gw: Gateway;
  readonly dir: string;
  readonly configFile: string;
  /** Parsed JSON log lines. */
  readonly logs: Array<Record<string, unknown>>;
  /** Raw log text (to search for leaked secrets). */
  rawLogs(): string;
  ca(): Promise<string>;
  port(listener?: string): number;
  origin(listener?: string): string;
  /** An undici agent trusting the dev CA (HTTP/1.1; allowH2 when h2 is true). */
  agent(options?: { h2?: boolean }): Promise<Agent>;
  fetch(pathname: string, options?: Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Dispatcher.HttpMethod; listener?: string; h2?: boolean }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string; json: () => any }>;
  rewrite(yaml: string): Promise<void>;
  close(): Promise<void>;
}

export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>>; raw: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = chunk.toString();
      raw += text;
      for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      cb();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: DEFAULT_REDACT, censor: '[REDACTED]' } }, dest);
  return { logger, lines, raw: () => raw };
}

export interface StartOptions {
  readonly files?: Record<string, string>;
  readonly watch?: boolean;
  readonly authn?: AuthnServices;
  /** The clock policy conditions read (authz schedules, MFA freshness): Gateway.start({ clock }). */
  readonly clock?: () => number;
}

export async function startTestGateway(yaml: string, options: StartOptions = {}): Promise<TestGateway> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rampart-test-'));
  const configFile = path.join(dir, 'rampart.yaml');
  for (const [name, content] of Object.entries(options.files ?? {})) await writeFile(path.join(dir, name), content);
  await writeFile(configFile, yaml);
  const { logger, lines, raw } = captureLogger();
  let gw: Gateway;
  try {
    gw = await Gateway.start({ configFile, logger, watch: options.watch ?? false, dataDir: path.join(dir, '.rampart'), ...(options.authn ? { authn: options.authn } : {}), ...(options.clock ? { clock: options.clock } : {}) });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const agents: Agent[] = [];
  const t: TestGateway = {
    gw,
    dir,
    configFile,
    logs: lines,
    rawLogs: raw,
    ca: () => readFile(path.join(dir, '.rampart', 'tls', 'ca.crt'), 'utf8'),
    port: (name = 'public') => gw.listener(name).address().port,
    origin(name = 'public') {
      const l = gw.listener(name);
      return `${l.config.protocol}://localhost:${l.address().port}`;
    },
    async agent(o = {}) {
      const a = new Agent({ connect: { ca: await t.ca(), rejectUnauthorized: true }, allowH2: o.h2 === true });
      agents.push(a);
      return a;
    },
    async fetch(pathname, o = {}) {
      const listener = o.listener ?? 'public';
      const isHttps = gw.listener(listener).config.protocol === 'https';
      const dispatcher = isHttps ? await t.agent({ h2: o.h2 === true }) : new Agent();
      if (!isHttps) agents.push(dispatcher);
      const { listener: _l, h2: _h, ...rest } = o;
      const res = await request(`${t.origin(listener)}${pathname}`, { ...rest, method: o.method ?? 'GET', dispatcher });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, text, json: () => JSON.parse(text) };
    },
    async rewrite(newYaml) {
      await writeFile(configFile, newYaml);
    },
    async close() {
      await gw.close(1000);
      await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/**
 * For tests whose subject is not authorization (authentication, the auth server, CLI accounts):
 * adds an explicit `authorization` section that lets any authenticated caller use every route,
 * and anyone use routes that say `authn: { required: false }` — the policy those tests assumed
 * before default deny. Tests of authorization write their own policy.
 */
export function withAuthenticatedPolicy(text: string, extraRoles: readonly string[] = []): string {
  type Bindings = Array<{ roles: string[] }> | undefined;
  const doc = parseYaml(text) as {
    routes?: Array<{ id: string; authn?: { required?: boolean } }> | null;
    authorization?: unknown;
    authServer?: unknown;
    authentication?: { builtin?: { bindings?: Bindings }; apiKeys?: { bindings?: Bindings }; issuers?: Array<{ bindings?: Bindings; roles?: { map?: Record<string, string[]> } }> };
  };
  // Without a credential source every caller is anonymous and authorization stays off.
  if (doc.authorization !== undefined || (doc.authentication === undefined && doc.authServer === undefined)) return text;
  const routes = doc.routes ?? [];
  const open = routes.filter((r) => r.authn?.required === false).map((r) => r.id);
  const closed = routes.filter((r) => r.authn?.required !== false).map((r) => r.id);
  // Roles the bindings name must exist (unknown roles are refused at load): declared, granting nothing.
  const a = doc.authentication;
  const roles = new Set<string>(extraRoles);
  const add = (bs: Bindings) => bs?.forEach((b) => b.roles.forEach((r) => roles.add(r)));
  add(a?.builtin?.bindings);
  add(a?.apiKeys?.bindings);
  for (const i of a?.issuers ?? []) {
    add(i.bindings);
    for (const list of Object.values(i.roles?.map ?? {})) list.forEach((r) => roles.add(r));
  }
  const rules = [
    ...(closed.length ? [`    - { id: any-authenticated-caller, routes: [${closed.join(', ')}], authenticated: true }`] : []),
    ...(open.length ? [`    - { id: anyone, routes: [${open.join(', ')}], public: true }`] : []),
  ];
  const roleLines = [...roles].map((r) => `    ${JSON.stringify(r)}: {}`);
  return `${text}\nauthorization:\n  roles:${roleLines.length ? `\n${roleLines.join('\n')}` : ' {}'}\n  rules:${rules.length ? `\n${rules.join('\n')}` : ' []'}\n`;
}
