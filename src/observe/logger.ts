/**
 * The structured logger (pino). Redaction is on by default: credentials never reach a log line,
 * whatever a stage puts there (DESIGN.md practice 6).
 */
import { pino, type Logger, type DestinationStream } from 'pino';

/** Paths pino censors wherever they appear in a log object. */
export const DEFAULT_REDACT = [
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-api-key"]',
  'headers["proxy-authorization"]',
  'headers["rampart-identity"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
  '*.headers["x-api-key"]',
  '*.headers["proxy-authorization"]',
  '*.headers["rampart-identity"]',
  'password',
  '*.password',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'refresh_token',
  '*.refresh_token',
  'client_secret',
  '*.client_secret',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
];

/**
 * pino's isoTime, formatted once per millisecond: under load several lines share a millisecond,
 * and Date#toISOString was ~1 % of the proxy path's CPU.
 */
let lastMs = -1;
let lastTime = '';
export function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

export function createLogger(options: { level?: string; redact?: readonly string[]; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'rampart' },
      timestamp: isoTime,
      messageKey: 'msg',
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...DEFAULT_REDACT, ...(options.redact ?? [])], censor: '[REDACTED]' },
      // Errors are logged by name and message only: stack traces stay out of the log stream
      // unless the level is debug (they may carry request data).
      serializers: {
        err: (e: unknown) => {
          if (!(e instanceof Error)) return { message: String(e) };
          const out: Record<string, unknown> = { type: e.name, message: e.message };
          const code = (e as { code?: unknown }).code;
          if (typeof code === 'string') out.code = code;
          return out;
        },
      },
    },
    options.destination ?? stdoutDestination(),
  );
}

/**
 * Standard output through sonic-boom (pino's own destination: asynchronous writes, flushed
 * synchronously at exit, EPIPE handled), in its buffer mode. In its default string mode, every
 * line appended while a write is in flight makes sonic-boom measure the UTF-8 length of the whole
 * pending string, which flattens it: under load that copied ~14 KB per request (several times the
 * line itself) and was the largest allocation of the proxy path (docs/performance.md). In buffer
 * mode each line is encoded once and the pending lines are joined once per write.
 */
export function stdoutDestination(fd = 1): DestinationStream {
  const boom = pino.destination({ dest: fd, sync: false, contentMode: 'buffer' });
  const write = boom.write.bind(boom) as unknown as (chunk: Buffer) => boolean;
  // pino hands over strings; buffer mode counts bytes, so each line is encoded here.
  (boom as { write(chunk: string | Buffer): boolean }).write = (chunk) => write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return boom;
}
