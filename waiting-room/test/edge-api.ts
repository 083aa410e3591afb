import { ensureDevVars, readState, stackConfig } from "@fluxgate/stack";
import type { Page } from "playwright-core";

// The stack the root global setup brought up: `wrangler dev`'s edge, as a user runs it.
const state = readState(stackConfig().home)!;

export const edgeUrl = state.edge.url;
export const adminToken = ensureDevVars().get("ADMIN_TOKEN")!;
/** The shop backend's secret: it confirms held orders' payments. */
export const shopToken = ensureDevVars().get("SHOP_API_TOKEN")!;

export const createdProducts = new Set<string>();
export function uniqueProduct(name: string): string {
  const id = `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  createdProducts.add(id);
  return id;
}

export async function initSale(body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${edgeUrl}/init`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`init failed: ${res.status} ${await res.text()}`);
}

const tokens = new Map<string, Promise<string>>();
/** A token of the stack's dev issuer (one per buyer per test file): the buyer signed in to the shop. */
export function tokenFor(sub: string): Promise<string> {
  let token = tokens.get(sub);
  if (!token) {
    token = fetch(`${state.issuer.url}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sub }) }).then(
      async (res) => {
        if (!res.ok) throw new Error(`dev issuer answered ${res.status}`);
        return ((await res.json()) as { token: string }).token;
      },
    );
    tokens.set(sub, token);
  }
  return token;
}

/** Signs the page's browser in, as the shop's login would: the token in the cookie the edge reads (JWT_COOKIE, named on /health to the admin). */
export async function signIn(page: Page, sub: string): Promise<void> {
  const answer = await fetch(`${edgeUrl}/health`, { headers: { authorization: `Bearer ${adminToken}` } });
  const health = (await answer.json()) as { identity: { cookie: string | null } };
  if (!health.identity.cookie) throw new Error("the edge names no JWT_COOKIE: browsers cannot sign in by cookie");
  await page.context().addCookies([{ name: health.identity.cookie, value: await tokenFor(sub), url: edgeUrl, httpOnly: true, sameSite: "Lax" }]);
}

/** A buyer outside the browser: one POST /order, as an API client would send it (signed in). */
export async function apiOrder(productId: string, userId: string, ticket?: string) {
  const res = await fetch(`${edgeUrl}/order`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/json",
      "idempotency-key": crypto.randomUUID(),
      authorization: `Bearer ${await tokenFor(userId)}`,
      ...(ticket ? { "x-queue-ticket": ticket } : {}),
    },
    body: JSON.stringify({ productId, userId }),
  });
  const body = (await res.json()) as { status: string; ticket?: string; orderId?: string };
  return { code: res.status, outcome: body.status, ticket: body.ticket, orderId: body.orderId };
}

/**
 * What the sale's own record in Redis says (not the edge's cached public view): units left, and
 * units each named buyer bought.
 */
export async function stockInRedis(productId: string, buyers: string[]): Promise<{ remaining: number; bought: Record<string, number> }> {
  const { Redis } = await import("ioredis");
  const { saleKeys } = await import("@fluxgate/common");
  const redis = new Redis(state.redis.url);
  try {
    const keys = saleKeys(productId);
    const remaining = Number(await redis.hget(keys.sale, "remaining"));
    const counts = buyers.length ? await redis.hmget(keys.buyers, ...buyers) : [];
    return { remaining, bought: Object.fromEntries(buyers.map((b, i) => [b, Number(counts[i] ?? 0)])) };
  } finally {
    redis.disconnect();
  }
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
