import type { Principal } from './principal.ts';

/** The port through which the proxy obtains `Rampart-Identity` tokens (src/identity implements it). */
export interface IdentityTokens {
  tokenFor(principal: Principal, upstreamId: string, generation: number): Promise<string>;
}
