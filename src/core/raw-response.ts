/**
 * Writes a response straight onto a socket (HTTP/1.1), for requests that never became an
 * http.ServerResponse: refused upgrades and requests Node's parser rejected. Always closes.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayResponse } from './stage.ts';
import type { EgressContext } from './respond.ts';

export function writeRawResponse(socket: Duplex, response: GatewayResponse, ctx: EgressContext): void {
  const headers: Record<string, string | string[] | number | undefined> = { ...response.headers };
  ctx.egress.apply(headers, ctx.https, true);
  headers[ctx.requestIdHeader] = ctx.requestId;
  headers.connection = 'close';
  const body = Buffer.isBuffer(response.body) ? response.body : Buffer.alloc(0);
  headers['content-length'] = String(body.length);
  let head = `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? 'Error'}\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) head += `${k}: ${String(one).replace(/[\r\n]/g, '')}\r\n`;
  }
  try {
    // Lingering close: keep reading (and discarding) what the client is still sending, so that
    // closing with unread data does not reset the connection before the client read the answer.
    socket.on('data', () => undefined);
    socket.resume();
    socket.end(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body]));
  } catch {
    socket.destroy();
  }
  setTimeout(() => socket.destroy(), 2000).unref();
}
