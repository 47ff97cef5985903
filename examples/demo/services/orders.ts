/**
 * Demo orders service. Paths as the service sees them (the gateway strips `/api`):
 * GET /health, GET|POST /orders, GET|PUT|DELETE /orders/{id}.
 *
 * Ownership (OWASP API1): a customer sees and changes only their own orders; someone else's order
 * answers 404, exactly like a missing one, so order ids cannot be probed. The admin role sees all.
 */
import { randomUUID } from 'node:crypto';
import {
  badRequest,
  checkObject,
  forbidden,
  mayAccess,
  mayRead,
  notFound,
  problem,
  requireReader,
  requireUser,
  runFromEnv,
  startService,
  type Caller,
  type Route,
  type RunningService,
  type ServiceOptions,
} from './http.ts';

export type OrderStatus = 'pending' | 'paid' | 'shipped' | 'cancelled';

export interface OrderItem {
  sku: string;
  quantity: number;
}

export interface Order {
  id: string;
  ownerId: string;
  items: OrderItem[];
  /** In currency units, two decimals (computed from CATALOG, never taken from the client). */
  total: number;
  status: OrderStatus;
  createdAt: string;
}

/** Unit prices in cents. */
export const CATALOG: Readonly<Record<string, number>> = Object.freeze({
  'BOOK-001': 1250,
  'PEN-002': 199,
  'MUG-003': 899,
  'TEE-004': 1999,
});

const STATUSES: readonly OrderStatus[] = ['pending', 'paid', 'shipped', 'cancelled'];
/** What a customer may set; payment and shipping are the shop's (admin) business. */
const CUSTOMER_STATUSES: readonly OrderStatus[] = ['pending', 'cancelled'];
const MAX_ITEMS = 20;
const MAX_QUANTITY = 99;
const ORDER_ID = /^[A-Za-z0-9-]{1,64}$/;

function totalOf(items: readonly OrderItem[]): number {
  const cents = items.reduce((sum, item) => sum + (CATALOG[item.sku] ?? 0) * item.quantity, 0);
  return cents / 100;
}

function order(id: string, ownerId: string, items: OrderItem[], status: OrderStatus, createdAt: string): Order {
  return { id, ownerId, items, total: totalOf(items), status, createdAt };
}

export function seedOrders(): Map<string, Order> {
  const orders = [
    order('o-1001', 'alice', [{ sku: 'BOOK-001', quantity: 2 }], 'paid', '2024-03-01T10:00:00.000Z'),
    order('o-1002', 'alice', [{ sku: 'MUG-003', quantity: 1 }, { sku: 'PEN-002', quantity: 3 }], 'pending', '2024-03-05T16:20:00.000Z'),
    order('o-2001', 'bob', [{ sku: 'TEE-004', quantity: 1 }], 'shipped', '2024-03-02T08:45:00.000Z'),
    order('o-2002', 'bob', [{ sku: 'PEN-002', quantity: 10 }], 'pending', '2024-03-07T11:10:00.000Z'),
  ];
  return new Map(orders.map((o) => [o.id, o]));
}

/** `items` of a request body; a message when it does not fit. */
function parseItems(value: unknown): OrderItem[] | string {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ITEMS) {
    return `items must be a list of 1 to ${MAX_ITEMS} items`;
  }
  const items: OrderItem[] = [];
  for (const [i, item] of value.entries()) {
    const shape = checkObject(item, ['sku', 'quantity'], ['sku', 'quantity']);
    if (shape !== undefined) return `items[${i}]: ${shape}`;
    const { sku, quantity } = item as Record<string, unknown>;
    if (typeof sku !== 'string' || !Object.hasOwn(CATALOG, sku)) return `items[${i}].sku is not in the catalogue`;
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
      return `items[${i}].quantity must be an integer from 1 to ${MAX_QUANTITY}`;
    }
    items.push({ sku, quantity });
  }
  return items;
}

export function start(options: ServiceOptions): Promise<RunningService> {
  const orders = seedOrders();

  /** The order if the caller may touch it; 404 for missing and for someone else's alike. */
  const owned = (caller: Caller, id: string, may = mayAccess): Order | undefined => {
    const found = ORDER_ID.test(id) ? orders.get(id) : undefined;
    return found !== undefined && may(caller, found.ownerId) ? found : undefined;
  };

  const routes: Route[] = [
    { pattern: /^\/health$/, methods: { GET: () => ({ status: 200, body: { status: 'ok' } }) } },
    {
      pattern: /^\/orders$/,
      methods: {
        GET: ({ caller }) => {
          const denied = requireReader(caller);
          if (denied !== undefined) return denied;
          const mine = [...orders.values()].filter((o) => (caller.readsAll ? true : o.ownerId === caller.userId));
          return { status: 200, body: mine };
        },
        POST: async ({ caller, json }) => {
          const denied = requireUser(caller);
          if (denied !== undefined) return denied;
          if (caller.userId === undefined) return forbidden('Orders belong to users.');
          const body = await json();
          const shape = checkObject(body, ['items'], ['items']);
          if (shape !== undefined) return badRequest(shape);
          const items = parseItems((body as { items: unknown }).items);
          if (typeof items === 'string') return badRequest(items);
          const created = order(`o-${randomUUID()}`, caller.userId, items, 'pending', new Date().toISOString());
          orders.set(created.id, created);
          return { status: 201, body: created, headers: { location: `/orders/${created.id}` } };
        },
      },
    },
    {
      pattern: /^\/orders\/([^/]+)$/,
      methods: {
        GET: ({ caller, params: [id = ''] }) => {
          const denied = requireReader(caller);
          if (denied !== undefined) return denied;
          const found = owned(caller, id, mayRead);
          return found === undefined ? notFound() : { status: 200, body: found };
        },
        PUT: async ({ caller, params: [id = ''], json }) => {
          const denied = requireUser(caller);
          if (denied !== undefined) return denied;
          const found = owned(caller, id);
          if (found === undefined) return notFound();
          const body = await json();
          const shape = checkObject(body, ['items', 'status'], ['items']);
          if (shape !== undefined) return badRequest(shape);
          const { items: rawItems, status } = body as { items: unknown; status?: unknown };
          const items = parseItems(rawItems);
          if (typeof items === 'string') return badRequest(items);
          if (status !== undefined && !STATUSES.includes(status as OrderStatus)) {
            return badRequest(`status must be one of ${STATUSES.join(', ')}`);
          }
          if (!caller.admin) {
            if (status !== undefined && !CUSTOMER_STATUSES.includes(status as OrderStatus)) {
              return forbidden('Only the shop sets an order paid or shipped.');
            }
            if (found.status !== 'pending') {
              return problem(409, 'DEMO_CONFLICT', 'Order can no longer be changed', `The order is ${found.status}.`);
            }
          }
          found.items = items;
          found.total = totalOf(items);
          if (status !== undefined) found.status = status as OrderStatus;
          return { status: 200, body: found };
        },
        DELETE: ({ caller, params: [id = ''] }) => {
          const denied = requireUser(caller);
          if (denied !== undefined) return denied;
          const found = owned(caller, id);
          if (found === undefined) return notFound();
          orders.delete(found.id);
          return { status: 204 };
        },
      },
    },
  ];
  return startService('orders', routes, options);
}

if (import.meta.main) await runFromEnv('orders', 4002, start);
