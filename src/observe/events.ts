/**
 * Security events in Elastic Common Schema names (DESIGN.md), published on node:diagnostics_channel
 * by every stage that denies. Later issues build metrics, alerts, SIEM export and the dashboard on
 * the same channel; the logger subscribes so that each event is also one log line.
 */
import diagnostics from 'node:diagnostics_channel';

export const SECURITY_CHANNEL = 'rampart:security';
export const EXCHANGE_CHANNEL = 'rampart:exchange';

export interface SecurityEvent {
  '@timestamp': string;
  'event.kind': 'event' | 'alert';
  'event.category': Array<'network' | 'authentication' | 'iam' | 'web' | 'configuration' | 'intrusion_detection'>;
  /** e.g. ipfilter.denied, hygiene.path_invalid, authn.token_invalid, ratelimit.exceeded */
  'event.action': string;
  'event.outcome': 'success' | 'failure' | 'unknown';
  'event.reason'?: string;
  'rule.id'?: string;
  'source.ip'?: string;
  'user.id'?: string;
  /** The issuer of the user (S3: a subject is unique only within its issuer). */
  'user.domain'?: string;
  'client.id'?: string;
  'http.request.method'?: string;
  'url.path'?: string;
  'http.response.status_code'?: number;
  'trace.id'?: string;
  'rampart.code'?: string;
  'rampart.route'?: string;
  'rampart.mode'?: 'enforce' | 'shadow';
}

const security = diagnostics.channel(SECURITY_CHANNEL);
export const exchangeChannel = diagnostics.channel(EXCHANGE_CHANNEL);

export function publishSecurityEvent(event: Omit<SecurityEvent, '@timestamp'> & { '@timestamp'?: string }): void {
  if (!security.hasSubscribers) return;
  security.publish({ '@timestamp': new Date().toISOString(), ...event });
}

export function onSecurityEvent(fn: (e: SecurityEvent) => void): () => void {
  const handler = (m: unknown) => fn(m as SecurityEvent);
  diagnostics.subscribe(SECURITY_CHANNEL, handler);
  return () => diagnostics.unsubscribe(SECURITY_CHANNEL, handler);
}
