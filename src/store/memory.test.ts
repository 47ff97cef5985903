import { storeContract } from './contract.ts';
import { createMemoryStore } from './memory/index.ts';

storeContract({ name: 'memory', open: async (clock) => createMemoryStore({ now: clock }) });
