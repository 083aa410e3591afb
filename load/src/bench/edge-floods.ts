import type { WrkBuyer, WrkRequest } from "./wrk-script";

/**
 * The requests `bench:edge` sends with wrk, one per path, signed in (IDENTITY=jwt, the default:
 * a token of the stack's dev issuer per buyer, verified on every request) or anonymous (the
 * body names the buyer). Every request carries a fresh Idempotency-Key, as a crowd's would.
 */

export type Identity = "jwt" | "anonymous";

/** The sales each path needs, set up so that every measured request takes that path. */
export const PATH_SALES = {
  /** Quantity 0: the first gate call says sold out and every isolate answers from memory after it. */
  soldOut: { quantity: 0 },
  /**
   * The gate's most common answer in a crowd: rate 0.001/s, burst 1, a line already waiting (seedQueue),
   * so every newcomer is one EVALSHA → 302 + a ticket. (A buyer past the limit, the path this row once
   * took, is answered from isolate memory after its first gate call per isolate: bench:attack.)
   */
  gate: { quantity: 1_000_000_000, ratePerSecond: 0.001, burst: 1 },
  /** Huge stock, rate and per-buyer limit: every attempt is one EVALSHA → 200 and a forward to the origin. */
  accepted: { quantity: 1_000_000_000, ratePerSecond: 1_000_000, burst: 1_000_000, perUserLimit: 1_000 },
} as const;

export type PathName = keyof typeof PATH_SALES;

/** POST /order for a product, the buyer rotated over `buyers`, a fresh key each time. */
export function orderRequest(productId: string, identity: Identity, buyers: readonly WrkBuyer[], keyPrefix: string): WrkRequest {
  const headers: Record<string, string> = { "content-type": "application/json", "idempotency-key": `${keyPrefix}-{n}` };
  if (identity === "jwt") headers.authorization = "Bearer {token}";
  // With a token the buyer is its sub; the body may leave userId out.
  const body = identity === "jwt" ? JSON.stringify({ productId }) : `{"productId":${JSON.stringify(productId)},"userId":"{sub}"}`;
  return { method: "POST", path: "/order", headers, body, buyers };
}
