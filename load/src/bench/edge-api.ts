import type { Flood } from "./cannon";
import { wranglerVars, type StackInfo } from "./env";

/**
 * The edge's bindings for a Miniflare run against the local stack: wrangler.toml [vars], .dev.vars
 * secrets, the stack's bridge, origin and dev issuer. `identity: "anonymous"` is for the benches
 * that measure the gate's own paths with one fixed body (their identity cost is measured apart).
 */
export function edgeBindings(stack: StackInfo, vars: Record<string, string>, identity: "jwt" | "anonymous" = "jwt"): Record<string, string> {
  for (const name of ["ADMIN_TOKEN", "TICKET_SECRET", "ORIGIN_SIGNING_SECRET"]) if (!vars[name]) throw new Error(`.dev.vars has no ${name}: run npm run up`);
  return {
    ...wranglerVars(),
    ORIGIN_URL: stack.originUrl,
    IDENTITY: identity,
    JWT_ISSUER: stack.issuer.url,
    JWT_JWKS_URL: stack.issuer.jwksUrl,
    JWT_AUDIENCE: stack.issuer.audience,
    UPSTASH_REDIS_REST_URL: stack.bridgeUrl,
    UPSTASH_REDIS_REST_TOKEN: stack.bridgeToken,
    ADMIN_TOKEN: vars.ADMIN_TOKEN!,
    TICKET_SECRET: vars.TICKET_SECRET!,
    SHOP_API_TOKEN: vars.SHOP_API_TOKEN!,
    ORIGIN_SIGNING_SECRET: vars.ORIGIN_SIGNING_SECRET!,
  };
}

export async function call(base: URL, path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(new URL(path, base), { redirect: "manual", ...init });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text.slice(0, 200) };
  }
  return { status: res.status, body };
}

/** POST /init (admin); returns the new saleId. */
export async function initSale(base: URL, adminToken: string, sale: Record<string, unknown>): Promise<string> {
  const r = await call(base, "/init", {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(sale),
  });
  if (r.status !== 200) throw new Error(`POST /init ${JSON.stringify(sale)} answered ${r.status} ${JSON.stringify(r.body)}`);
  return String(r.body.saleId);
}

/** POST /order floods: one fixed buyer, or a distinct userId + Idempotency-Key per request. */
export function orderFlood(productId: string, prefix: string, distinct: boolean, tokens?: Map<string, string>): Flood {
  const headers = { "content-type": "application/json" };
  if (!distinct) {
    return {
      method: "POST",
      path: "/order",
      headers: { ...headers, "idempotency-key": `${prefix}-same` },
      body: JSON.stringify({ productId, userId: `${prefix}-same` }),
    };
  }
  return {
    method: "POST",
    path: "/order",
    headers,
    vary: (n) => ({
      // Signed in (when the edge checks identity): the buyer's token, minted before the flood.
      headers: { "idempotency-key": `${prefix}-k${n}`, ...(tokens ? { authorization: `Bearer ${tokens.get(`${prefix}-u${n}`)}` } : {}) },
      body: JSON.stringify({ productId, userId: `${prefix}-u${n}` }),
    }),
  };
}

/** Makes the gate sale's line non-empty: the first order takes the only token, the second queues. */
export async function seedQueue(base: URL, productId: string, prefix: string): Promise<void> {
  const seed = orderFlood(productId, prefix, true).vary!;
  const statuses: number[] = [];
  for (let i = 0; i < 2; i++) {
    const v = seed(i);
    statuses.push((await call(base, "/order", { method: "POST", headers: { "content-type": "application/json", ...v.headers }, body: v.body })).status);
  }
  if (statuses[1] !== 302) throw new Error(`gate path setup: expected 200 then 302, got ${statuses.join(", ")}`);
}
