import { exports } from "cloudflare:workers";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { vi } from "vitest";
import worker from "../src/index";

export const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

let counter = 0;
/** Every product a test file created, so cleanup.ts can remove its keys afterwards. */
export const createdProducts = new Set<string>();
/** A product id of its own per test, so tests never share a sale. */
export function uniqueProduct(name = "p"): string {
  const id = `${name}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
  createdProducts.add(id);
  return id;
}

/** Bindings the test may override (e.g. an unreachable origin); undefined = the project's own. */
let bindings: Env | undefined;

/** Runs `fn` with the worker seeing `overrides` on top of its bindings. */
export async function withBindings<T>(overrides: Partial<Env>, fn: () => Promise<T>): Promise<T> {
  bindings = { ...env, ...overrides };
  try {
    return await fn();
  } finally {
    bindings = undefined;
  }
}

export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const request = new Request(`http://edge${path}`, { redirect: "manual", ...init });
  if (!bindings) return exports.default.fetch(request);
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export async function initSale(body: Record<string, unknown>) {
  const res = await call("/init", { method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`init failed: ${res.status} ${await res.text()}`);
  return res.json<{ saleId: string }>();
}

const tokens = new Map<string, Promise<string>>();
let pending: { subs: string[]; tokens: Promise<Record<string, string>> } | undefined;

/**
 * A real token of the stack's dev issuer for this buyer (ES256, verified by the edge against the
 * issuer's JWKS). Requests in the same tick share one POST /tokens, so a crowd of 5,000 costs one
 * round trip; each buyer's token is fetched once per test file.
 */
export function tokenFor(sub: string): Promise<string> {
  let token = tokens.get(sub);
  if (!token) {
    if (!pending) {
      const subs: string[] = [];
      const batch = new Promise((resolve) => setTimeout(resolve, 0))
        .then(() => {
          pending = undefined;
          return mint("/tokens", { subs });
        })
        .then((body) => body.tokens as Record<string, string>);
      pending = { subs, tokens: batch };
    }
    pending.subs.push(sub);
    token = pending.tokens.then((all) => all[sub]!);
    tokens.set(sub, token);
  }
  return token;
}

/** POST to the dev issuer (a token endpoint that plays the shop's login). */
export async function mint(path: "/token" | "/tokens" | "/rotate", body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await fetch(new URL(path, env.JWT_ISSUER), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`dev issuer ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** The Authorization header of a signed-in buyer. */
export const signedIn = async (sub: string) => ({ authorization: `Bearer ${await tokenFor(sub)}` });

export interface OrderOptions {
  /** The Idempotency-Key; a fresh one when absent, none at all when null. */
  key?: string | null;
  ticket?: string;
  headers?: Record<string, string>;
  /** Who is signed in: by default the body's userId (with a real token); null sends no token. */
  as?: string | null;
}

export async function order(body: unknown, opts: OrderOptions = {}): Promise<Response> {
  const named = typeof body === "object" && body !== null ? (body as { userId?: unknown }).userId : undefined;
  const as = opts.as === undefined ? (typeof named === "string" ? named : null) : opts.as;
  return call("/order", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(as === null ? {} : await signedIn(as)),
      ...(opts.key === null ? {} : { "idempotency-key": opts.key ?? crypto.randomUUID() }),
      ...(opts.ticket ? { "x-queue-ticket": opts.ticket } : {}),
      ...opts.headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function sale(productId: string) {
  const res = await call(`/sales/${productId}`);
  return res.json<{ quantity: number; added: number; remaining: number; sold: number; queued: number }>();
}

/**
 * Counts the Redis commands the worker sends while `fn` runs, by watching its HTTP calls to the
 * Upstash REST API (the worker runs in this same isolate, so the spy sees its fetches); and its
 * fetches of the issuer's JWKS.
 */
export async function countRedisCommands<T>(fn: () => Promise<T>): Promise<{ result: T; commands: number; jwksFetches: number; sent: unknown[] }> {
  let commands = 0;
  let jwksFetches = 0;
  /** Every command, as sent (a pipeline's one by one): its name and arguments. */
  const sent: unknown[] = [];
  const original = globalThis.fetch;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (request.url === env.JWT_JWKS_URL) jwksFetches++;
    if (request.url.startsWith(env.UPSTASH_REDIS_REST_URL)) {
      const body = JSON.parse(await request.clone().text()) as unknown[];
      const single = new URL(request.url).pathname === "/";
      commands += single ? 1 : body.length;
      sent.push(...(single ? [body] : body));
    }
    return original(request);
  });
  try {
    const result = await fn();
    return { result, commands, jwksFetches, sent };
  } finally {
    spy.mockRestore();
  }
}
