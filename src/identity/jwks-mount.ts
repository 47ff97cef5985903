/**
 * The identity JWKS as a built-in route (`/.well-known/rampart/identity-jwks.json`), so that it is
 * guarded like every built-in (ip-filter, throttle) and logged like every exchange.
 */
import type { ServerResponse } from 'node:http';
import type { BuiltinMount } from '../core/builtin.ts';
import { problemResponse } from '../core/respond.ts';
import { GatewayError } from '../errors/problem.ts';
import { IDENTITY_JWKS_PATH } from './claims.ts';
import type { IdentitySigner } from './signer.ts';

export function identityJwksMount(signer: Pick<IdentitySigner, 'jwks'>): BuiltinMount {
  return {
    name: 'identity-jwks',
    matches: (_host, path) => path === IDENTITY_JWKS_PATH,
    async handle({ ctx, res, egress }) {
      const out = res as ServerResponse;
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
        const p = problemResponse(new GatewayError('RAMPART_ROUTE_METHOD_NOT_ALLOWED', { headers: { allow: 'GET, HEAD' } }), ctx.requestId);
        out.writeHead(p.status, { ...egress, ...(p.headers as Record<string, string>) });
        out.end(p.body as Buffer);
        return;
      }
      const body = Buffer.from(JSON.stringify(signer.jwks()));
      // Public keys: cacheable for a minute (rotation publishes the next key ahead of use).
      out.writeHead(200, { ...egress, 'content-type': 'application/jwk-set+json', 'content-length': String(body.length), 'cache-control': 'public, max-age=60' });
      out.end(ctx.method === 'HEAD' ? undefined : body);
    },
  };
}
