/**
 * Deadlines for HTTP/1.1 clients on TLS listeners. Node's http2 server (which also carries
 * HTTP/1.1 by ALPN) does not run http.Server's headersTimeout/requestTimeout checks, so the core
 * enforces them itself (slowloris): the headers of a request must arrive within headersTimeoutMs of
 * its first byte, and the whole request within requestTimeoutMs.
 */
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';

interface State {
  headerTimer: NodeJS.Timeout | undefined;
  requestTimer: NodeJS.Timeout | undefined;
  inRequest: boolean;
}

export class SlowClientGuard {
  readonly #headersMs: number;
  readonly #requestMs: number;
  readonly #states = new WeakMap<Socket, State>();
  readonly #onTimeout: (socket: Socket, which: 'headers' | 'request') => void;

  constructor(headersMs: number, requestMs: number, onTimeout: (socket: Socket, which: 'headers' | 'request') => void) {
    this.#headersMs = headersMs;
    this.#requestMs = requestMs;
    this.#onTimeout = onTimeout;
  }

  /** Call for every HTTP/1.1 socket once its protocol is known. */
  watch(socket: Socket): void {
    const state: State = { headerTimer: undefined, requestTimer: undefined, inRequest: false };
    this.#states.set(socket, state);
    const arm = () => {
      if (state.inRequest || state.headerTimer) return;
      state.headerTimer = setTimeout(() => this.#onTimeout(socket, 'headers'), this.#headersMs);
      state.headerTimer.unref();
    };
    socket.on('data', arm);
    socket.once('close', () => {
      clearTimeout(state.headerTimer);
      clearTimeout(state.requestTimer);
    });
  }

  /** A request's headers are complete. */
  requestStarted(socket: Socket, req: IncomingMessage): void {
    const state = this.#states.get(socket);
    if (!state) return;
    clearTimeout(state.headerTimer);
    state.headerTimer = undefined;
    state.inRequest = true;
    clearTimeout(state.requestTimer);
    state.requestTimer = setTimeout(() => this.#onTimeout(socket, 'request'), this.#requestMs);
    state.requestTimer.unref();
    const bodyDone = () => {
      clearTimeout(state.requestTimer);
      state.requestTimer = undefined;
    };
    if (req.complete) bodyDone();
    else {
      req.once('end', bodyDone);
      req.once('close', bodyDone);
    }
  }

  /** The socket was upgraded (WebSocket): HTTP deadlines no longer apply. */
  release(socket: Socket): void {
    const state = this.#states.get(socket);
    if (!state) return;
    clearTimeout(state.headerTimer);
    clearTimeout(state.requestTimer);
    state.inRequest = true;
    this.#states.delete(socket);
  }

  /** The response to the socket's current request has ended: the socket waits for the next one. */
  requestEnded(socket: Socket): void {
    const state = this.#states.get(socket);
    if (!state) return;
    state.inRequest = false;
    // The request deadline stays armed until the request body has ended: an early answer (413,
    // 404) does not give a client leave to trickle the rest of its body for ever.
  }
}
