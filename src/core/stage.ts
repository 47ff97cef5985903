/**
 * The stage interface (DESIGN.md "Contracts between the parts").
 *
 * A stage module has a strict config schema and compiles its config once per route; the compiled
 * stage is cheap per request. Stages never write the request context: they return decisions, and
 * only the runner applies them. Decisions are branded so that a handler which forgets to return
 * one fails to compile.
 */
import type { Readable } from 'node:stream';
import type { GatewayError } from '../errors/problem.ts';
import type { Principal } from './principal.ts';
import type { RequestContext } from './context.ts';
import type { CompileEnv } from './compile-env.ts';

/** The fixed pipeline order, stated once (docs/pipeline.md draws it). */
export const REQUEST_PHASE = [
  'request-id',
  'hygiene',
  // route match happens here (core)
  'ip-filter',
  'throttle',
  'cors',
  'authn',
  'authz',
  'quota',
  'validation',
  'proxy',
] as const;

export type StageName = (typeof REQUEST_PHASE)[number] | 'headers';

/** Stages that run before the route is known (their config comes from `defaults` only). */
export const PRE_ROUTE: ReadonlySet<StageName> = new Set(['request-id', 'hygiene']);

declare const decisionBrand: unique symbol;
type Branded<T> = T & { readonly [decisionBrand]: true };

export interface ContextPatch {
  /** Only the authn stage may set the principal. */
  readonly principal?: Principal;
  readonly annotations?: Readonly<Record<string, unknown>>;
  /**
   * Only the validation stage may replace the JSON body (stripped unknown properties, NFC
   * normalisation); the runner re-serialises it and the proxy sends exactly those bytes (S11).
   */
  readonly json?: { readonly value: unknown };
}

export type NextDecision = Branded<{ readonly kind: 'next'; readonly patch: ContextPatch | undefined }>;
export type DenyDecision = Branded<{ readonly kind: 'deny'; readonly error: GatewayError }>;
export type ReplyDecision = Branded<{ readonly kind: 'reply'; readonly response: GatewayResponse }>;
export type Decision = NextDecision | DenyDecision | ReplyDecision;

/** The decision without a patch is one frozen object: a stage that lets a request through allocates nothing. */
const NEXT = Object.freeze({ kind: 'next', patch: undefined }) as NextDecision;
export const next = (patch?: ContextPatch): NextDecision => (patch === undefined ? NEXT : ({ kind: 'next', patch } as NextDecision));
export const deny = (error: GatewayError): DenyDecision => ({ kind: 'deny', error }) as DenyDecision;
export const reply = (response: GatewayResponse): ReplyDecision => ({ kind: 'reply', response }) as ReplyDecision;

export type OutgoingHeaders = Record<string, string | string[]>;

/** A response on its way back to the client: from an upstream (streamed) or from a stage. */
export interface GatewayResponse {
  status: number;
  headers: OutgoingHeaders;
  /** A stream stays a stream unless a response-phase stage buffers it. */
  body: Readable | Buffer | null;
  /** HTTP/2 trailers (or HTTP/1.1 chunked trailers) to forward once the body has ended. */
  trailers?: () => OutgoingHeaders | undefined;
  /** Upstream id, for the log line. */
  upstream?: string;
}

export type ResponseDecision = NextDecision | DenyDecision;

export type StageMode = 'enforce' | 'shadow';

export interface Stage {
  readonly name: StageName;
  /** shadow: evaluate and count "would deny", never deny (DESIGN.md "Modes"). */
  readonly mode?: StageMode;
  onRequest?(ctx: RequestContext): Decision | Promise<Decision>;
  /** Response phase: runs in reverse over the stages that were entered. */
  onResponse?(ctx: RequestContext, response: GatewayResponse): ResponseDecision | Promise<ResponseDecision>;
  /** Adds fields to the access log line; must never throw. */
  onLog?(ctx: RequestContext, entry: Record<string, unknown>): void;
  /** Called when the config generation that compiled this stage is retired. */
  close?(): void | Promise<void>;
}

/** A JSON Schema (draft 2020-12) object as accepted by Ajv. */
export type JsonSchema = Record<string, unknown>;

export interface StageModule<C = unknown> {
  readonly name: StageName;
  /** Strict schema of `defaults.<name>` and `routes[].<name>` (unknown keys are errors). */
  readonly schema: JsonSchema;
  /** Built-in defaults, merged under `defaults.<name>` and the route's own settings. */
  readonly defaults: C;
  /** Cross-field checks the schema cannot express; returns messages keyed by a path suffix. */
  check?(config: C): Array<{ path: string; message: string }>;
  /** Compiles the merged config of one route (or of a listener for pre-route stages). */
  compile(config: C, env: CompileEnv): Stage | Promise<Stage>;
}
