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

export interface OrderOptions {
  /** The Idempotency-Key; a fresh one when absent, none at all when null. */
  key?: string | null;
  ticket?: string;
  headers?: Record<string, string>;
}

export function order(body: unknown, opts: OrderOptions = {}): Promise<Response> {
  return call("/order", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(opts.key === null ? {} : { "idempotency-key": opts.key ?? crypto.randomUUID() }),
      ...(opts.ticket ? { "x-queue-ticket": opts.ticket } : {}),
      ...opts.headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function sale(productId: string) {
  const res = await call(`/sales/${productId}`);
  return res.json<{ quantity: number; remaining: number; sold: number; queued: number }>();
}

/**
 * Counts the Redis commands the worker sends while `fn` runs, by watching its HTTP calls to the
 * Upstash REST API (the worker runs in this same isolate, so the spy sees its fetches).
 */
export async function countRedisCommands<T>(fn: () => Promise<T>): Promise<{ result: T; commands: number }> {
  let commands = 0;
  const original = globalThis.fetch;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (request.url.startsWith(env.UPSTASH_REDIS_REST_URL)) {
      const body = JSON.parse(await request.clone().text()) as unknown[];
      commands += new URL(request.url).pathname === "/" ? 1 : body.length;
    }
    return original(request);
  });
  try {
    return { result: await fn(), commands };
  } finally {
    spy.mockRestore();
  }
}
