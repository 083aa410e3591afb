import { saleKeys } from "@fluxgate/common";
import { randomUUID } from "node:crypto";
import type { MonitorLine } from "../bench/monitor";
import type { AttackFixtures } from "./fixtures";

/**
 * The requests that can never take stock, as an attacker sends them to run up the shop's
 * Upstash bill: each costs nothing to send, so only what the edge spends on it matters.
 */
export interface AttackRoute {
  key: string;
  name: string;
  /** The answer each request should get (what makes it one that cannot buy). */
  expected: number;
  request(n: number): { method: "GET" | "POST"; path: string; headers: Record<string, string>; body?: string };
  /**
   * Whether a command redis ran (as MONITOR shows it) was spent on this route: what it names (a
   * product only this route asks for) or is (a PING is /health's), so its cost can be told apart
   * from a crowd's on the same edge.
   */
  owns(c: MonitorLine): boolean;
}

/** The catalog's reads (edge/src/product-catalog.ts): spent on made-up product ids, whichever route brought them. */
export const CATALOG_READS = "catalog reads";
export const ownsCatalogRead = (c: MonitorLine) => c.line.includes('"fg:{catalog}:');

const names = (c: MonitorLine, productPrefix: string) => c.line.includes(`"fg:{${productPrefix}`);

export function attackRoutes(f: AttackFixtures): AttackRoute[] {
  const signedIn = (token: string) => ({ authorization: `Bearer ${token}` });
  const order = (token: string, productId: string, key: string) => ({
    method: "POST" as const,
    path: "/order",
    headers: { ...signedIn(token), "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ productId }),
  });
  // Random ids no sale will ever have, each used once: the isolates' per-id memory never helps.
  const madeUp = (kind: string, n: number) => `${f.prefix}-${kind}${n}-${randomUUID().slice(0, 8)}`;
  return [
    {
      key: "view-unknown",
      name: "sale view, made-up product (no sign-in)",
      expected: 404,
      request: (n) => ({ method: "GET", path: `/sales/${madeUp("v", n)}`, headers: {} }),
      owns: (c) => names(c, `${f.prefix}-v`),
    },
    {
      key: "health",
      name: "/health (no sign-in)",
      expected: 200,
      request: () => ({ method: "GET", path: "/health", headers: {} }),
      // The edge's and the origin's dependency checks; nothing else the system sends is a PING.
      owns: (c) => c.command === "ping",
    },
    {
      key: "order-unknown",
      name: "order, made-up product (signed in)",
      expected: 404,
      request: (n) => order(f.tokens.flooder, madeUp("o", n), `${f.prefix}-o${n}`),
      owns: (c) => names(c, `${f.prefix}-o`),
    },
    {
      key: "past-limit",
      name: "order past the buyer's limit, a new key each (signed in)",
      expected: 409,
      request: (n) => order(f.tokens.limited, f.live, `${f.prefix}-l${n}`),
      // The edge's gate calls on the live sale (the gate script names its buyers' hash); the origin's
      // relay reads the same sale's outbox, a cost of the sale's orders, not of this flood.
      owns: (c) => (c.command === "evalsha" || c.command === "eval") && c.line.includes(`"${saleKeys(f.live).buyers}"`),
    },
    {
      key: "status-gone",
      name: "waiting-room status of a sale that no longer exists (its ticket)",
      expected: 200,
      request: () => ({
        method: "GET",
        path: `/waiting-room/status?productId=${encodeURIComponent(f.gone)}`,
        headers: { ...signedIn(f.tokens.holder), "x-queue-ticket": f.goneTicket },
      }),
      owns: (c) => names(c, `${f.gone}}`),
    },
    {
      key: "ended-order",
      name: "order on an ended sale, a new key each (signed in)",
      expected: 409,
      request: (n) => order(f.tokens.flooder, f.ended, `${f.prefix}-e${n}`),
      owns: (c) => names(c, `${f.ended}}`) && c.command !== "hmget",
    },
    {
      key: "ended-view",
      name: "sale view of an ended sale (no sign-in)",
      expected: 200,
      request: () => ({ method: "GET", path: `/sales/${f.ended}`, headers: {} }),
      owns: (c) => names(c, `${f.ended}}`) && c.command === "hmget",
    },
  ];
}
