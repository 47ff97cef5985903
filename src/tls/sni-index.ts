// Server-name lookup for SNI (RFC 6066 §3): exact names first, then `*.example.com` wildcards
// covering exactly one label (RFC 6125 §6.4.3), case-insensitive; anything else gets the default.

export interface SniIndex<T> {
  readonly exact: ReadonlyMap<string, T>;
  readonly wildcard: ReadonlyMap<string, T>; // key: ".example.com"
}

/** Lower-case, without the trailing dot of a fully qualified name. */
export function normaliseServerName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** Throws on a name that cannot be a server name pattern (empty, `*` not as the whole first label). */
export function checkServerNamePattern(name: string): string {
  const n = normaliseServerName(name);
  const rest = n.startsWith('*.') ? n.slice(2) : n;
  if (rest === '' || rest.includes('*') || !/^[a-z0-9_.:-]+$/.test(rest) || rest.split('.').some((l) => l === '')) {
    throw new Error(`"${name}" is not a server name (use a host name like api.example.com or a wildcard like *.example.com)`);
  }
  return n;
}

/**
 * Builds the index from [names, value] pairs. Names listed explicitly (`serverNames` in the
 * config) win over names derived from a certificate's subjectAltName; among derived names the
 * first certificate wins. An explicit name listed twice is a configuration error.
 */
export function buildSniIndex<T>(pairs: ReadonlyArray<{ names: readonly string[]; value: T; explicit: boolean }>): SniIndex<T> {
  const exact = new Map<string, T>();
  const wildcard = new Map<string, T>();
  for (const explicitPass of [true, false]) {
    for (const { names, value, explicit } of pairs) {
      if (explicit !== explicitPass) continue;
      for (const raw of names) {
        const name = normaliseServerName(raw);
        const [map, key] = name.startsWith('*.') ? [wildcard, name.slice(1)] : [exact, name];
        if (!map.has(key)) map.set(key, value);
        else if (explicit && map.get(key) !== value) throw new Error(`server name "${name}" is listed for two certificates`);
      }
    }
  }
  return { exact, wildcard };
}

/** The value for `serverName`, or undefined when neither an exact name nor a wildcard matches. */
export function lookupServerName<T>(index: SniIndex<T>, serverName: string): T | undefined {
  const name = normaliseServerName(serverName);
  const hit = index.exact.get(name);
  if (hit !== undefined) return hit;
  const dot = name.indexOf('.');
  return dot > 0 ? index.wildcard.get(name.slice(dot)) : undefined;
}
