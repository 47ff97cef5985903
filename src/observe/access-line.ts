/**
 * The access log line, written with one native JSON.stringify instead of pino's field-by-field
 * serialisation (which escapes every key and short string in JavaScript). The line is the one
 * pino would write, byte for byte: pino's own level label, time, bindings and line end, the
 * entry's fields in order, undefined fields left out, non-finite numbers as null
 * (access-line.test.ts compares both). Whatever the fast path cannot reproduce exactly goes to
 * pino as before: a key with a serializer or a redaction (e.g. `password` from a stage's onLog),
 * a value JSON.stringify refuses (a cycle, a BigInt), a logger with formatters.log, a mixin, a
 * nested key, write hooks or a metadata-hungry destination, and any tracing subscriber of pino.
 * The access line was ~7 % of the proxy path's CPU through pino (docs/performance.md).
 */
import diagnostics from 'node:diagnostics_channel';
import { pino, type Logger } from 'pino';

const S = pino.symbols;
const asJsonTrace = diagnostics.tracingChannel('pino_asJson');

type Internals = Record<symbol, unknown> & {
  [S.lsCacheSym]: Record<number, string>;
  [S.timeSym]: () => string;
  [S.chindingsSym]: string;
  [S.endSym]: string;
  [S.streamSym]: { write(line: string): unknown } & Record<symbol, unknown>;
  [S.serializersSym]: Record<string, unknown>;
  [S.stringifiersSym]: Record<string | symbol, unknown>;
  [S.formattersSym]: { log?: unknown } | undefined;
  [S.hooksSym]: { logMethod?: unknown; streamWrite?: unknown } | undefined;
  [S.errorKeySym]: string;
};

/** Keys censored on the access logger (the gateway's child logger `log: access`). */
export const ACCESS_LOG_REDACT = ['authorization', 'cookie', 'token', 'password', 'secret', 'apiKey', 'query'];

export type AccessLineWriter = (entry: Record<string, unknown>) => void;

export function accessLineWriter(logger: Logger): AccessLineWriter {
  const l = logger as unknown as Internals;
  const stringifiers = l[S.stringifiersSym];
  const hooks = l[S.hooksSym];
  const exact =
    !l[S.formattersSym]?.log &&
    !l[S.mixinSym] &&
    !l[S.nestedKeySym] &&
    !hooks?.logMethod &&
    !hooks?.streamWrite &&
    l[S.streamSym][S.needsMetadataGsym] !== true &&
    stringifiers[S.wildcardFirstSym] === undefined;
  if (!exact) return (entry) => logger.info(entry);
  // Keys pino treats specially on this logger: serializers, redacted keys, the error key.
  const special = [...new Set([...Object.keys(l[S.serializersSym]), ...Object.keys(stringifiers), l[S.errorKeySym]])];
  const info = logger.levels.values.info ?? 30;
  return (entry) => {
    if (!logger.isLevelEnabled('info')) return;
    if (asJsonTrace.hasSubscribers) return logger.info(entry);
    for (const key of special) if (entry[key] !== undefined) return logger.info(entry);
    let body: string;
    try {
      body = JSON.stringify(entry);
    } catch {
      return logger.info(entry);
    }
    const head = (l[S.lsCacheSym][info] as string) + l[S.timeSym]() + l[S.chindingsSym];
    l[S.streamSym].write(head + (body.length > 2 ? ',' + body.slice(1, -1) : '') + l[S.endSym]);
  };
}
