/**
 * Checks of the `authentication` section and of every route's `authn` settings that the schema
 * cannot express, reported with file:line by the loader (src/config/semantic.ts calls this).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { RootConfig } from '../../config/types.ts';
import type { Segment } from '../../config/load.ts';
import { mergeStageConfig } from '../../config/merge.ts';
import { BUILTIN_ID, parseSubject, type AuthenticationConfig, type AuthnStageConfig, type Binding } from './config.ts';

export interface AuthnIssue {
  readonly path: Segment[];
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

export function checkAuthenticationSettings(config: RootConfig, baseDir: string): AuthnIssue[] {
  const out: AuthnIssue[] = [];
  const err = (p: Segment[], message: string) => out.push({ path: p, message, severity: 'error' });
  const warn = (p: Segment[], message: string) => out.push({ path: p, message, severity: 'warning' });
  const auth = (config as unknown as { authentication?: AuthenticationConfig }).authentication;
  if (!auth) return out;
  const server = (config as unknown as { authServer?: { issuer?: string } }).authServer;
  const ids = new Set<string>();
  const urls = new Map<string, number>();
  if (server) ids.add(BUILTIN_ID);
  auth.issuers.forEach((i, n) => {
    const at: Segment[] = ['authentication', 'issuers', n];
    if (i.id === BUILTIN_ID) err([...at, 'id'], '"builtin" names the built-in authorization server; choose another id');
    else if (ids.has(i.id)) err([...at, 'id'], `duplicate issuer id "${i.id}"`);
    ids.add(i.id);
    if (urls.has(i.issuer)) err([...at, 'issuer'], `issuer already configured as authentication.issuers[${urls.get(i.issuer)}]`);
    urls.set(i.issuer, n);
    if (server?.issuer === i.issuer) err([...at, 'issuer'], 'is the built-in authorization server\'s issuer; it is trusted without being listed');
    if (i.ca && !existsSync(path.resolve(baseDir, i.ca))) err([...at, 'ca'], `file not found: ${i.ca}`);
    if (i.requireTyp === 'any') warn([...at, 'requireTyp'], 'the token type is not checked: an ID token of this issuer with an accepted audience would pass as an access token');
    if (i.allowPrivateNetwork) warn([...at, 'allowPrivateNetwork'], 'keys may be fetched from private and loopback addresses (S8)');
    checkBindings(i.bindings, [...at, 'bindings'], ['user', 'client'], err);
  });
  checkBindings(auth.builtin.bindings, ['authentication', 'builtin', 'bindings'], ['user', 'client'], err);
  checkBindings(auth.apiKeys.bindings, ['authentication', 'apiKeys', 'bindings'], ['key'], err);
  if (auth.denyList.maxStalenessSeconds < 2 * auth.denyList.pollSeconds) {
    err(['authentication', 'denyList', 'maxStalenessSeconds'], `must be at least twice pollSeconds (${auth.denyList.pollSeconds}): one missed poll would fail every credential closed`);
  }
  if (!server && (auth.builtin.audiences || auth.builtin.bindings.length)) warn(['authentication', 'builtin'], 'no authServer is configured: these settings are unused');

  const configured = ids.size > 0 || auth.apiKeys.enabled;
  const routeSettings = (layers: unknown[], at: Segment[]) => {
    const merged = mergeStageConfig<Partial<AuthnStageConfig>>({}, ...layers);
    (merged.issuers ?? []).forEach((id, j) => {
      if (!ids.has(id)) err([...at, 'issuers', j], `unknown issuer "${id}"${server ? '' : ' (builtin needs authServer)'}`);
    });
    if (merged.required === true && !configured) err([...at, 'required'], 'no credential source is configured (authentication.issuers, authentication.apiKeys.enabled or authServer)');
    if (merged.apiKeys === true && !auth.apiKeys.enabled && configured) warn([...at, 'apiKeys'], 'authentication.apiKeys.enabled is false: keys are refused anyway');
  };
  const d = config.defaults.authn;
  if (d !== undefined) routeSettings([d], ['defaults', 'authn']);
  config.upstreams.forEach((u, i) => {
    const ud = u.defaults?.authn;
    if (ud !== undefined) routeSettings([d, ud], ['upstreams', i, 'defaults', 'authn']);
  });
  config.routes.forEach((r, i) => {
    if (r.authn === undefined) return;
    const ud = config.upstreams.find((u) => u.id === r.upstream)?.defaults?.authn;
    routeSettings([d, ud, r.authn], ['routes', i, 'authn']);
  });
  return out;
}

function checkBindings(list: readonly Binding[], at: Segment[], kinds: readonly string[], err: (p: Segment[], m: string) => void): void {
  list.forEach((b, j) => {
    const s = parseSubject(b.subject);
    if (!kinds.includes(s.kind)) err([...at, j, 'subject'], `must name a ${kinds.join(' or ')} here (S3: bindings are per issuer)`);
  });
}
