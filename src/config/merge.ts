/** Precedence global → upstream → route → consumer: later layers win; objects merge, arrays replace. */
export function mergeStageConfig<C>(base: C, ...layers: unknown[]): C {
  let out: unknown = base;
  for (const layer of layers) if (layer !== undefined) out = merge(out, layer);
  return out as C;
}

function merge(a: unknown, b: unknown): unknown {
  if (!isPlainObject(a) || !isPlainObject(b)) return b;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}
