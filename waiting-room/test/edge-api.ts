import { ensureDevVars, readState, stackConfig } from "@fluxgate/stack";

// The stack the root global setup brought up: `wrangler dev`'s edge, as a user runs it.
const state = readState(stackConfig().home)!;

export const edgeUrl = state.edge.url;
export const adminToken = ensureDevVars().get("ADMIN_TOKEN")!;

export const createdProducts = new Set<string>();
export function uniqueProduct(name: string): string {
  const id = `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  createdProducts.add(id);
  return id;
}

export async function initSale(body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${edgeUrl}/init`, { method: "POST", headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`init failed: ${res.status} ${await res.text()}`);
}

/** A buyer outside the browser: one POST /order, as an API client would send it. */
export async function apiOrder(productId: string, userId: string, ticket?: string) {
  const res = await fetch(`${edgeUrl}/order`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/json", "idempotency-key": crypto.randomUUID(), ...(ticket ? { "x-queue-ticket": ticket } : {}) },
    body: JSON.stringify({ productId, userId }),
  });
  const body = (await res.json()) as { status: string; ticket?: string };
  return { code: res.status, outcome: body.status, ticket: body.ticket };
}

/** Removes test sales from redis and from the relay's registry (see edge/test/cleanup.ts). */
export async function forgetSales(productIds: Iterable<string>): Promise<void> {
  const { Redis } = await import("ioredis");
  const { forgetSales: forget } = await import("@fluxgate/common");
  const redis = new Redis(state.redis.url);
  try {
    await forget(redis, productIds);
  } finally {
    redis.disconnect();
  }
}
