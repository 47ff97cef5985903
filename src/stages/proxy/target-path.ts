/**
 * The request target sent upstream (S11): the normalised path that routing and authorization
 * checked, minus the route's `stripPrefix`, re-encoded once, with the query as received.
 */
import { encodePath } from '../hygiene/path.ts';

/**
 * `stripPrefix` is removed on a segment boundary only: /api strips /api and /api/x, never /apiary
 * (which would reach an upstream path nobody routed). The result always starts with '/'.
 */
export function stripPrefix(path: string, prefix: string | undefined): string {
  if (prefix === undefined || prefix === '/' || prefix === '') return path;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (path === p) return '/';
  if (path.startsWith(p + '/')) return path.slice(p.length);
  return path;
}

export function upstreamTarget(path: string, query: string, prefix: string | undefined): string {
  const encoded = encodePath(stripPrefix(path, prefix));
  return query === '' ? encoded : `${encoded}?${query}`;
}
