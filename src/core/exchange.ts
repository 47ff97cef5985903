/**
 * One request/response exchange: the mutable implementation behind RequestContext. Only the core
 * (runner, gateway) writes it; stages get the read-only RequestContext view.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { Transform, type Readable } from 'node:stream';
import { GatewayError } from '../errors/problem.ts';
import { parseJson, JsonParseError, LIMIT_RULES, DEFAULT_JSON_LIMITS, type JsonLimits } from './body/json.ts';
import { ANONYMOUS, type Principal } from './principal.ts';
import type { ListenerInfo, RequestContext, RouteInfo, TlsInfo } from './context.ts';

export type InboundRequest = IncomingMessage | Http2ServerRequest;

export class Exchange implements RequestContext {
  requestId = '';
  traceparent = '';
  traceId = '';
  readonly listener: ListenerInfo;
  readonly peerIp: string;
  clientIp: string;
  readonly method: string;
  host = '';
  path = '/';
  query = '';
  headers: IncomingHttpHeaders = {};
  readonly httpVersion: string;
  readonly tls: TlsInfo | undefined;
  route: RouteInfo | undefined;
  params: Record<string, string> = {};
  principal: Principal = ANONYMOUS;
  readonly annotations = new Map<string, unknown>();
  readonly generation: number;
  readonly startedAt = process.hrtime.bigint();
  bodyRead = false;
  readonly bodyless: boolean;
  /** Called once when the body is first read (sends 100 Continue when the client asked for it). */
  onBodyRead: (() => void) | undefined;
  /** Byte limit of the matched route (hygiene). */
  maxBodyBytes = 0;
  /** Structure limits of the matched route's JSON parse (validation). */
  jsonLimits: JsonLimits = DEFAULT_JSON_LIMITS;
  readonly req: InboundRequest;
  readonly #abort = new AbortController();
  #body: Promise<Buffer> | undefined;
  #json: Promise<unknown> | undefined;
  /** For the access log. */
  decision: 'allow' | 'deny' | 'reply' | 'error' = 'allow';
  reasonCode: string | undefined;
  /** The authorization rule that decided (allow or deny), for the access log. */
  ruleId: string | undefined;
  upstream: string | undefined;
  bytesOut = 0;
  /** The status written to the client (0 until then). */
  status = 0;
  /** Stages entered, in order (the response phase runs them in reverse). */
  entered: import('./stage.ts').Stage[] = [];

  constructor(req: InboundRequest, listener: ListenerInfo, peerIp: string, tls: TlsInfo | undefined, generation: number) {
    this.req = req;
    this.listener = listener;
    this.peerIp = peerIp;
    this.clientIp = peerIp;
    // RFC 9110 §9.1: method names are case-sensitive; never normalised (HTTP/2 would otherwise accept `get`).
    this.method = req.method ?? 'GET';
    this.httpVersion = req.httpVersion;
    this.tls = tls;
    this.generation = generation;
    this.bodyless = req.httpVersionMajor === 2
      ? (req as Http2ServerRequest).stream?.endAfterHeaders === true
      : req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  abort(reason?: unknown): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
  }

  /** Reads the body once, bounded by the route's limit (413 beyond it). */
  body(): Promise<Buffer> {
    this.#body ??= this.#readBody();
    return this.#body;
  }

  /** The body parsed once with the validation rules (RequestContext.json). */
  json(): Promise<unknown> {
    this.#json ??= this.#parseJson();
    return this.#json;
  }

  async #parseJson(): Promise<unknown> {
    // S10: a body in a coding the gateway does not decode cannot be checked: refused, never passed
    // unread (RFC 9110 §8.4; RFC 7694 §3: the 415 names the codings accepted).
    const coding = this.headers['content-encoding'];
    if (coding !== undefined && String(coding).trim().toLowerCase() !== 'identity') {
      throw new GatewayError('RAMPART_BODY_ENCODING_UNSUPPORTED', { headers: { 'accept-encoding': 'identity' }, reason: 'content-encoding on a body to parse' });
    }
    const bytes = await this.body();
    try {
      return parseJson(bytes, this.jsonLimits);
    } catch (e) {
      if (!(e instanceof JsonParseError)) throw e;
      const limit = LIMIT_RULES.has(e.rule);
      throw new GatewayError(limit ? 'RAMPART_BODY_TOO_COMPLEX' : 'RAMPART_BODY_JSON_INVALID', {
        reason: `JSON ${e.rule}`,
        // The pointer names where, never what: a hostile key is reduced to a safe form.
        extensions: { errors: [{ pointer: safePointer(e.pointer), rule: e.rule }] },
      });
    }
  }

  /**
   * Replaces the body with a changed JSON value (validation's `unknownProperties: strip` and NFC
   * normalisation): from here on json() and body() answer the new value and its bytes, and the
   * proxy sends those bytes (S11: the upstream gets what was checked).
   */
  replaceJson(value: unknown): void {
    this.bodyRead = true;
    this.#json = Promise.resolve(value);
    this.#body = Promise.resolve(Buffer.from(JSON.stringify(value)));
  }

  async #readBody(): Promise<Buffer> {
    this.bodyRead = true;
    const limit = this.maxBodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.requestStream()) {
      size += (chunk as Buffer).length;
      if (size > limit) break; // requestStream has already thrown; defensive
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks, size);
  }

  /** The request body as a stream, cut off with 413 past the route's limit. */
  requestStream(): Readable {
    this.onBodyRead?.();
    this.onBodyRead = undefined;
    const limit = this.maxBodyBytes;
    let size = 0;
    const guard = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > limit) {
          cb(new GatewayError('RAMPART_HYGIENE_BODY_TOO_LARGE', { detail: `The body exceeds ${limit} bytes.`, reason: 'streamed body over limit' }));
        } else cb(null, chunk);
      },
    });
    const src = this.req as Readable;
    src.on('error', (e) => guard.destroy(e));
    return src.pipe(guard);
  }
}

/** An RFC 6901 pointer for a client: each segment kept only when short and plain, else `*`. */
export function safePointer(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => (/^[A-Za-z0-9_.$@:~-]{1,64}$/.test(seg) ? seg : '*'))
    .reduce((acc, seg) => `${acc}/${seg}`, '');
}
