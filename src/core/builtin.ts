/**
 * Built-in routes: handlers the gateway serves itself (the authorization server under /auth, the
 * identity JWKS under /.well-known/rampart/). DESIGN.md: they run request-id → hygiene →
 * ip-filter → throttle and then their handler — no authn, authz or proxy, and never an upstream.
 *
 * A mount claims requests by host and path and writes the raw response itself (oidc-provider is a
 * Node request handler); the gateway gives it the egress headers every response carries and logs
 * the exchange as usual.
 */
import type { ServerResponse } from 'node:http';
import type { InboundRequest } from './exchange.ts';
import type { OutboundResponse } from './respond.ts';
import type { RequestContext } from './context.ts';
import type { CompileEnv } from './compile-env.ts';
import type { Stage, StageModule } from './stage.ts';
import { mergeStageConfig } from '../config/merge.ts';
import { hostname } from '../stages/hygiene/index.ts';

/** The route-level stages that also guard built-in routes, in this order. */
export const BUILTIN_PHASE = ['ip-filter', 'throttle'] as const;

export interface BuiltinRequest {
  readonly ctx: RequestContext;
  readonly req: InboundRequest;
  readonly res: OutboundResponse;
  /**
   * Egress headers (security headers, request id) the mount must send with whatever it writes;
   * `setEgress` installs them on `res` so they are applied when the head is written, whoever writes it.
   */
  readonly egress: Readonly<Record<string, string>>;
}

export interface BuiltinMount {
  readonly name: string;
  /** Host (lower case, no port) and normalised path of a request this mount serves. */
  matches(host: string, path: string): boolean;
  /** Writes the whole response to `res`. Rejections become a problem+json 500 if nothing was written. */
  handle(request: BuiltinRequest): Promise<void>;
  close?(): Promise<void>;
}

export class BuiltinRegistry {
  readonly #mounts: BuiltinMount[] = [];

  add(mount: BuiltinMount): void {
    if (this.#mounts.some((m) => m.name === mount.name)) throw new Error(`built-in mount ${mount.name} is already registered`);
    this.#mounts.push(mount);
  }

  find(host: string, path: string): BuiltinMount | undefined {
    const h = hostname(host).toLowerCase();
    return this.#mounts.find((m) => m.matches(h, path));
  }

  async closeAll(): Promise<void> {
    for (const m of this.#mounts.splice(0)) await m.close?.();
  }
}

/** Compiles the guard stages of built-in routes from `defaults.<stage>` (built-ins have no route config). */
export async function compileBuiltinStages(modules: readonly StageModule[], defaults: Readonly<Record<string, unknown>>, env: CompileEnv): Promise<Stage[]> {
  const out: Stage[] = [];
  for (const name of BUILTIN_PHASE) {
    const m = modules.find((s) => s.name === name);
    if (m) out.push(await m.compile(mergeStageConfig(m.defaults, defaults[name]), env));
  }
  return out;
}

/**
 * Installs headers on a raw response so that they are sent with its head, whoever writes it (a
 * framework may clear headers set earlier when it handles an error). `fixed` always win;
 * `fallback` only fill what the handler did not set.
 */
export function setEgress(res: OutboundResponse, fixed: Readonly<Record<string, string>>, fallback: Readonly<Record<string, string>> = {}): void {
  const r = res as ServerResponse;
  const writeHead = r.writeHead;
  r.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!this.headersSent) {
      for (const [k, v] of Object.entries(fallback)) if (!this.hasHeader(k)) this.setHeader(k, v);
      for (const [k, v] of Object.entries(fixed)) this.setHeader(k, v);
      // Headers passed to writeHead directly would override ours: fold them in first.
      const last = args[args.length - 1];
      if (last && typeof last === 'object' && !Array.isArray(last)) {
        for (const [k, v] of Object.entries(last as Record<string, string>)) if (!(k.toLowerCase() in lower(fixed))) this.setHeader(k, v);
        args[args.length - 1] = {};
      }
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

function lower(o: Readonly<Record<string, string>>): Record<string, true> {
  return Object.fromEntries(Object.keys(o).map((k) => [k.toLowerCase(), true]));
}
