/**
 * ip-filter: CIDR allow and deny lists (IPv4 and IPv6) on the client IP, compiled once.
 * Deny wins over allow; with an allow list, anything not in it is refused; an address that cannot
 * be identified is refused whenever any list is set (fail closed).
 */
import net from 'node:net';
import { GatewayError } from '../../errors/problem.ts';
import { next, deny, type Stage, type StageModule, type StageMode } from '../../core/stage.ts';
import { IpSet, parseCidr } from '../../core/net/cidr.ts';
import { publishSecurityEvent } from '../../observe/events.ts';

export interface IpFilterConfig {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly mode: StageMode;
}

export type IpVerdict = { allowed: true } | { allowed: false; reason: 'denylisted' | 'not_allowlisted' | 'unidentified' };

export function compileIpFilter(config: Pick<IpFilterConfig, 'allow' | 'deny'>): (ip: string) => IpVerdict {
  const allow = new IpSet(config.allow);
  const denied = new IpSet(config.deny);
  if (allow.size === 0 && denied.size === 0) return () => ({ allowed: true });
  return (ip) => {
    if (net.isIP(ip) === 0) return { allowed: false, reason: 'unidentified' };
    if (denied.has(ip)) return { allowed: false, reason: 'denylisted' };
    if (allow.size > 0 && !allow.has(ip)) return { allowed: false, reason: 'not_allowlisted' };
    return { allowed: true };
  };
}

export const ipFilterStage: StageModule<IpFilterConfig> = {
  name: 'ip-filter',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      allow: { type: 'array', items: { type: 'string' }, maxItems: 10000 },
      deny: { type: 'array', items: { type: 'string' }, maxItems: 10000 },
      mode: { enum: ['enforce', 'shadow'] },
    },
  },
  defaults: { allow: [], deny: [], mode: 'enforce' },
  check(config) {
    const out: Array<{ path: string; message: string }> = [];
    config.allow.forEach((c, i) => parseCidr(c) || out.push({ path: `allow.${i}`, message: `"${c}" is not an IP address or CIDR range` }));
    config.deny.forEach((c, i) => parseCidr(c) || out.push({ path: `deny.${i}`, message: `"${c}" is not an IP address or CIDR range` }));
    return out;
  },
  compile(config, env): Stage {
    const verdict = compileIpFilter(config);
    const routeId = env.route?.id;
    return {
      name: 'ip-filter',
      mode: config.mode,
      onRequest(ctx) {
        const v = verdict(ctx.clientIp);
        if (v.allowed) return next();
        publishSecurityEvent({
          'event.kind': 'event',
          'event.category': ['network'],
          'event.action': 'ipfilter.denied',
          'event.outcome': 'failure',
          'event.reason': v.reason,
          'source.ip': ctx.clientIp,
          'http.request.method': ctx.method,
          'url.path': ctx.path,
          'trace.id': ctx.traceId,
          'rampart.code': 'RAMPART_IPFILTER_DENIED',
          'rampart.mode': config.mode,
          ...(routeId ? { 'rampart.route': routeId } : {}),
        });
        return deny(new GatewayError('RAMPART_IPFILTER_DENIED', { reason: v.reason }));
      },
    };
  },
};
