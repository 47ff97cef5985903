/** Raw HTTP/1.1 over TLS (or TCP): for requests no well-behaved client would send. */
import tls from 'node:tls';
import net from 'node:net';

export interface RawResponse {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: string;
}

export function rawRequest(port: number, payload: string | Buffer, o: { ca?: string; tls?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = o.tls === false ? net.connect(port, '127.0.0.1') : tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: o.ca, ALPNProtocols: ['http/1.1'] });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('raw request timed out'));
    }, o.timeoutMs ?? 5000);
    socket.once(o.tls === false ? 'connect' : 'secureConnect', () => socket.write(payload));
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const len = /content-length:\s*(\d+)/i.exec(text.slice(0, end));
      if (len && data.length >= end + 4 + Number(len[1])) finish();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (data.length) finish();
      else reject(e);
    });
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = data.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end);
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      let body = end === -1 ? '' : text.slice(end + 4);
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0), head, headers, body });
    }
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl === -1) return out;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}
