/**
 * Test helpers for the limit stages: a CompileEnv with a real keeper and a silent logger, and a
 * request context carrying just what the limiters read.
 */
import { pino } from 'pino';
import { Keeper } from '../core/keeper.ts';
import { ANONYMOUS, type Principal } from '../core/principal.ts';
import type { CompileEnv } from '../core/compile-env.ts';
import type { RequestContext } from '../core/context.ts';
import type { RootConfig } from '../config/types.ts';
import type { RateLimitSettings } from './settings.ts';

const keepers = new Set<Keeper>();

/** Disposes every store, queue and monitor the test envs created (Redis clients keep a process alive). */
export async function closeTestEnvs(): Promise<void> {
  for (const k of keepers) {
    k.commit();
    await k.closeAll();
  }
  keepers.clear();
}

export function testEnv(rateLimit: Partial<RateLimitSettings> = {}, routeId = 'r1', keeper = new Keeper()): CompileEnv {
  keepers.add(keeper);
  const root = {
    rateLimit: { store: 'memory', keyPrefix: 'test', memory: { maxKeys: 10_000, maxLoginKeys: 10_000 }, ...rateLimit },
  } as unknown as RootConfig;
  return {
    root, route: { id: routeId, path: '/x', methods: ['GET'], websocket: false, requireClientCertificate: false }, upstream: undefined,
    logger: pino({ level: 'silent' }), keeper, identity: {} as CompileEnv['identity'], generation: 1, dataDir: '/tmp', dev: false, clock: Date.now,
  };
}

export function testCtx(o: { ip?: string; principal?: Principal; headers?: Record<string, string>; signal?: AbortSignal } = {}): RequestContext {
  return {
    requestId: 'req', traceId: 't', traceparent: '', clientIp: o.ip ?? '203.0.113.7', peerIp: o.ip ?? '203.0.113.7', method: 'GET', path: '/x',
    headers: o.headers ?? {}, principal: o.principal ?? ANONYMOUS, signal: o.signal ?? new AbortController().signal,
  } as unknown as RequestContext;
}

export function principal(kind: 'user' | 'client' | 'key', subject: string, issuer = 'https://id.example', roles: string[] = []): Principal {
  return { kind, subject, issuer, roles, scopes: [], amr: [], claims: {} };
}
