/**
 * Roles, resolved per request (S9) — never cached with the token, so a reload that removes a
 * binding takes effect at once. Sources, all matched on the issuer + kind + subject triple (S3):
 * config bindings of the issuer that authenticated the caller, the issuer's claim mapping (only
 * mapped values count: an IdP cannot grant a Rampart role by naming it), and the store's record.
 */
import type { Binding, ClaimRoles } from './config.ts';
import { parseSubject } from './config.ts';

export function bindingIndex(bindings: readonly Binding[]): Map<string, readonly string[]> {
  const out = new Map<string, string[]>();
  for (const b of bindings) {
    const s = parseSubject(b.subject);
    const key = `${s.kind}\u0000${s.id}`;
    out.set(key, [...(out.get(key) ?? []), ...b.roles]);
  }
  return out;
}

export function resolveRoles(
  kind: string,
  subject: string,
  bindings: ReadonlyMap<string, readonly string[]>,
  claimValues: readonly string[],
  map: ClaimRoles['map'] | undefined,
  recordRoles: readonly string[] | undefined,
): readonly string[] {
  const bound = bindings.size ? bindings.get(`${kind}\u0000${subject}`) : undefined;
  if (!bound && (!map || claimValues.length === 0) && !recordRoles?.length) return [];
  const out = new Set<string>(recordRoles);
  if (bound) for (const r of bound) out.add(r);
  if (map) {
    for (const v of claimValues) {
      const mapped = Object.hasOwn(map, v) ? map[v] : undefined;
      if (mapped) for (const r of mapped) out.add(r);
    }
  }
  return [...out].sort();
}
