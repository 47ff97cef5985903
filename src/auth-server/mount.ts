/**
 * The authorization server as a built-in mount: claims requests under the issuer's path (on the
 * issuer's host outside development mode, S1), serves the two static assets, the interaction
 * pages and the password change page itself, and hands the rest to oidc-provider with the path it expects.
 *
 * Every response goes out under one strict CSP (no inline script or style, nothing remote,
 * `frame-ancestors 'none'`), whoever wrote it. oidc-provider's form_post page, the one page with
 * an inline script, is rewritten to load /auth/assets/rampart.js instead.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { setEgress, type BuiltinMount, type BuiltinRequest } from '../core/builtin.ts';

/**
 * No `form-action`: browsers apply it to the redirects that follow a form post (login → the
 * client's redirect_uri), which would break every client on another origin.
 */
export const AUTH_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

const ASSETS = new Map(
  [
    ['rampart.css', 'text/css; charset=utf-8'],
    ['rampart.js', 'text/javascript; charset=utf-8'],
  ].map(([name, type]) => [name as string, { type: type as string, body: readFileSync(new URL(`./assets/${name}`, import.meta.url)) }]),
);

export interface MountOptions {
  readonly issuer: URL;
  /** Outside development mode the mount answers only on the issuer's host (S1). */
  readonly anyHost: boolean;
  provider(): Provider;
  readonly interactions: (r: BuiltinRequest) => Promise<void>;
  /** The self-service account pages (<mount>/account/…): the password change. */
  readonly account: (r: BuiltinRequest) => Promise<void>;
}

export function createAuthMount(o: MountOptions): BuiltinMount {
  const mountPath = o.issuer.pathname.replace(/\/$/, '');
  const host = o.issuer.hostname.toLowerCase();
  const hostHeader = o.issuer.host;
  const assets = `${mountPath}/assets/`;
  const interactions = `${mountPath}/interaction/`;
  const account = `${mountPath}/account/`;
  return {
    name: 'auth-server',
    matches(reqHost, path) {
      if (!o.anyHost && reqHost !== host) return false;
      return mountPath === '' || path === mountPath || path.startsWith(`${mountPath}/`);
    },
    async handle(r) {
      const res = r.res as ServerResponse;
      // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the login
      // form posts, which the CSRF check refuses; nothing of /auth goes to another origin either way.
      setEgress(res, { ...r.egress, 'content-security-policy': AUTH_CSP, 'x-frame-options': 'DENY', 'referrer-policy': 'same-origin' }, { 'cache-control': 'no-store' });
      const path = r.ctx.path;
      if (path.startsWith(assets)) return serveAsset(res, r.ctx.method, path.slice(assets.length));
      if (path.startsWith(interactions)) return o.interactions(r);
      if (path.startsWith(account)) return o.account(r);
      await runProvider(o.provider(), r, mountPath, hostHeader);
    },
  };
}

function serveAsset(res: ServerResponse, method: string, name: string): void {
  const asset = ASSETS.get(name);
  if (!asset || (method !== 'GET' && method !== 'HEAD')) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '9' });
    res.end('Not found');
    return;
  }
  res.writeHead(200, { 'content-type': asset.type, 'content-length': String(asset.body.length), 'cache-control': 'public, max-age=3600' });
  res.end(method === 'HEAD' ? undefined : asset.body);
}

async function runProvider(provider: Provider, r: BuiltinRequest, mountPath: string, hostHeader: string): Promise<void> {
  const req = r.req as unknown as { url: string; originalUrl?: string; headers: Record<string, string | string[] | undefined> };
  const res = r.res as ServerResponse;
  // The provider sees the normalised path hygiene checked (S11), below its mount point, and the
  // issuer's host: every URL it builds is the issuer's, never one made from the request's Host.
  const target = `${r.ctx.path}${r.ctx.query ? `?${r.ctx.query}` : ''}`;
  req.originalUrl = target;
  req.url = target.slice(mountPath.length) || '/';
  req.headers.host = hostHeader;
  if (req.headers[':authority'] !== undefined) req.headers[':authority'] = hostHeader;
  rewriteFormPost(res, `${mountPath}/assets/rampart.js`);
  const done = new Promise<void>((resolve) => {
    res.once('close', resolve);
    res.once('finish', resolve);
  });
  await (provider.callback() as unknown as (q: unknown, s: unknown) => Promise<void>)(r.req, res);
  await done;
}

/**
 * oidc-provider's form_post page (OAuth 2.0 Form Post Response Mode) submits itself with an inline
 * script: the same form is sent with the script removed, marked for rampart.js, the button visible.
 */
function rewriteFormPost(res: ServerResponse, script: string): void {
  const end = res.end;
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk === 'string' && chunk.includes('<title>Submitting Callback</title>')) {
      const page = chunk
        .replace(/<script>[\s\S]*?<\/script>/, `<script src="${script}" defer></script>`)
        .replace('<form method="post"', '<form data-autosubmit method="post"')
        .replace(/<noscript>[\s\S]*?(<button[\s\S]*?<\/button>)\s*<\/noscript>/, '$1');
      if (!this.headersSent) this.setHeader('content-length', String(Buffer.byteLength(page)));
      return (end as (...a: unknown[]) => ServerResponse).call(this, page, ...rest);
    }
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
}
