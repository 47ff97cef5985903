/**
 * Demo users service. Paths as the service sees them (the gateway strips `/api`):
 * GET /health, GET /users/me, GET|PATCH|DELETE /users/{id}.
 *
 * On purpose, a user record carries fields its OpenAPI document does not declare (`passwordHash`,
 * `internalNotes`) and the service returns them: the gateway's response contract
 * (`responseContract: filter`) is what keeps them from leaving (excessive data exposure, OWASP API3).
 */
import {
  badRequest,
  checkObject,
  forbidden,
  mayAccess,
  notFound,
  requireUser,
  runFromEnv,
  startService,
  type Reply,
  type Route,
  type RunningService,
  type ServiceOptions,
} from './http.ts';

export interface User {
  id: string;
  name: string;
  email: string;
  roles: string[];
  createdAt: string;
  /** Undeclared in users.yaml: must never reach a client through the gateway. */
  passwordHash: string;
  internalNotes: string;
}

export function seedUsers(): Map<string, User> {
  const users: User[] = [
    { id: 'alice', name: 'Alice Liddell', email: 'alice@example.com', roles: ['customer'], createdAt: '2024-01-15T09:30:00.000Z', passwordHash: '<not a real hash>', internalNotes: 'VIP since 2024; prefers email contact.' },
    { id: 'bob', name: 'Bob Builder', email: 'bob@example.com', roles: ['customer'], createdAt: '2024-02-03T14:05:00.000Z', passwordHash: '<not a real hash>', internalNotes: 'Chargeback dispute open (case 4411).' },
    { id: 'admin', name: 'Ada Admin', email: 'admin@example.com', roles: ['admin'], createdAt: '2024-01-01T00:00:00.000Z', passwordHash: '<not a real hash>', internalNotes: 'Break-glass account.' },
  ];
  return new Map(users.map((u) => [u.id, u]));
}

const NAME_MAX = 100;
const EMAIL_MAX = 254;
const EMAIL = /^[^\s@]{1,64}@[^\s@.]{1,63}(?:\.[^\s@.]{1,63})+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function validatePatch(body: unknown): string | { name?: string; email?: string } {
  const shape = checkObject(body, ['name', 'email'], []);
  if (shape !== undefined) return shape;
  const { name, email } = body as Record<string, unknown>;
  if (name === undefined && email === undefined) return 'nothing to change: give name and/or email';
  if (name !== undefined && (typeof name !== 'string' || name.trim().length === 0 || name.length > NAME_MAX || CONTROL.test(name))) {
    return `name must be 1 to ${NAME_MAX} printable characters`;
  }
  if (email !== undefined && (typeof email !== 'string' || email.length > EMAIL_MAX || !EMAIL.test(email))) {
    return 'email must be an email address';
  }
  return { ...(typeof name === 'string' && { name: name.trim() }), ...(typeof email === 'string' && { email }) };
}

export function start(options: ServiceOptions): Promise<RunningService> {
  const users = seedUsers();
  const ok = (user: User): Reply => ({ status: 200, body: user });

  const routes: Route[] = [
    { pattern: /^\/health$/, methods: { GET: () => ({ status: 200, body: { status: 'ok' } }) } },
    {
      pattern: /^\/users\/me$/,
      methods: {
        GET: ({ caller }) => {
          const denied = requireUser(caller);
          if (denied !== undefined) return denied;
          if (caller.userId === undefined) return forbidden('Only a user has a profile.');
          const user = users.get(caller.userId);
          return user === undefined ? notFound() : ok(user);
        },
      },
    },
    {
      pattern: /^\/users\/([^/]+)$/,
      methods: {
        GET: ({ caller, params: [id = ''] }) => {
          const denied = requireUser(caller) ?? (mayAccess(caller, id) ? undefined : forbidden());
          if (denied !== undefined) return denied;
          const user = users.get(id);
          return user === undefined ? notFound() : ok(user);
        },
        PATCH: async ({ caller, params: [id = ''], json }) => {
          const denied = requireUser(caller) ?? (mayAccess(caller, id) ? undefined : forbidden());
          if (denied !== undefined) return denied;
          const user = users.get(id);
          if (user === undefined) return notFound();
          const patch = validatePatch(await json());
          if (typeof patch === 'string') return badRequest(patch);
          if (patch.name !== undefined) user.name = patch.name;
          if (patch.email !== undefined) user.email = patch.email;
          return ok(user);
        },
        DELETE: ({ caller, params: [id = ''] }) => {
          const denied = requireUser(caller) ?? (mayAccess(caller, id) ? undefined : forbidden());
          if (denied !== undefined) return denied;
          return users.delete(id) ? { status: 204 } : notFound();
        },
      },
    },
  ];
  return startService('users', routes, options);
}

if (import.meta.main) await runFromEnv('users', 4001, start);
