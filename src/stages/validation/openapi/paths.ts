/**
 * Matching a request path against the document's path templates (OAS 3.1 §4.8.8 "Paths Object"):
 * concrete paths before templated ones, then fewer templated segments first; a template may
 * share a segment with literal text (`/files/{name}.{ext}`). Templates are compiled once.
 */
export interface PathTemplate<T> {
  readonly template: string;
  readonly value: T;
  /** Per segment: a literal, or a regular expression with the parameters it captures. */
  readonly segments: ReadonlyArray<string | { readonly re: RegExp; readonly names: readonly string[] }>;
  readonly templated: number;
}

export interface PathMatch<T> {
  readonly value: T;
  readonly template: string;
  readonly params: Record<string, string>;
}

export class PathIndex<T> {
  readonly #bySegments = new Map<number, PathTemplate<T>[]>();

  add(template: string, value: T): void {
    const segments = template.split('/').slice(1).map((seg) => {
      if (!seg.includes('{')) return seg;
      const names: string[] = [];
      const source = seg.replace(/\{([^}]+)\}|([^{]+)/g, (_m, name?: string, text?: string) => {
        if (name !== undefined) {
          names.push(name);
          return '([^/]+?)';
        }
        return (text ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      });
      return { re: new RegExp(`^${source}$`), names };
    });
    const t: PathTemplate<T> = { template, value, segments, templated: segments.filter((s) => typeof s !== 'string').length };
    const list = this.#bySegments.get(segments.length) ?? [];
    list.push(t);
    // Concrete paths first (OAS: "concrete (non-templated) paths would be matched before their
    // templated counterparts"), then the template with its literal segments earliest.
    list.sort((a, b) => a.templated - b.templated || firstTemplated(b) - firstTemplated(a));
    this.#bySegments.set(segments.length, list);
  }

  match(path: string): PathMatch<T> | undefined {
    const parts = path.split('/').slice(1);
    const list = this.#bySegments.get(parts.length);
    if (!list) return undefined;
    outer: for (const t of list) {
      const params: Record<string, string> = {};
      for (let i = 0; i < parts.length; i++) {
        const seg = t.segments[i] as PathTemplate<T>['segments'][number];
        const part = parts[i] as string;
        if (typeof seg === 'string') {
          if (seg !== part) continue outer;
          continue;
        }
        if (part === '') continue outer; // a path parameter is never empty (it is required)
        const m = seg.re.exec(part);
        if (!m) continue outer;
        seg.names.forEach((n, k) => (params[n] = m[k + 1] as string));
      }
      return { value: t.value, template: t.template, params };
    }
    return undefined;
  }

  get size(): number {
    let n = 0;
    for (const l of this.#bySegments.values()) n += l.length;
    return n;
  }
}

function firstTemplated(t: PathTemplate<unknown>): number {
  const i = t.segments.findIndex((s) => typeof s !== 'string');
  return i === -1 ? t.segments.length : i;
}

/**
 * The document path of a gateway path: the gateway publishes the document's paths under
 * `basePath` (segment boundary only). Undefined when the path is not under it.
 */
export function documentPath(gatewayPath: string, basePath: string): string | undefined {
  const base = basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
  if (base === '') return gatewayPath;
  if (gatewayPath === base) return '/';
  return gatewayPath.startsWith(`${base}/`) ? gatewayPath.slice(base.length) : undefined;
}
