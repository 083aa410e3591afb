import { forgetSales, OUTBOXES_KEY, saleKeys } from "@fluxgate/common";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { Agent, request } from "undici";
import { BillMeter, type Bill } from "./bill";
import { call, initSale } from "./edge-api";
import { mintTokens } from "@fluxgate/stack";

/**
 * The two measurements of the whole system's Upstash bill (bench, demo and the test run the
 * same): commands per accepted order over a batch of orders through the edge until the origin
 * confirmed them all, and commands per second while sales are open and nobody buys.
 */
export interface BillTarget {
  edge: URL;
  adminToken: string;
  redisUrl: string;
  /** The dev issuer that signs the buyers in (the edge checks their tokens, at no Redis cost). */
  issuer: string;
  /** Where MONITOR captures go while measuring. */
  dir: string;
}

/** How long after the last confirmation the window stays open, so a relay claim or sweep it set off is counted too. */
export const TAIL_MS = 4_000;

export interface OrderBill {
  bill: Bill;
  accepted: number;
  sent: number;
  productId: string;
  /** From the first order sent to the last answer: the origin's share per order shrinks as the rate grows. */
  sellingSeconds: number;
}

/** The bill runs' buyer number `n` of a sale: `<productId>-u<n>`, signed in with its token, its own Idempotency-Key. */
export const billBuyer = (productId: string, n: number) => `${productId}-u${n}`;

/** Buyer `n`'s one order (POST /order) on the edge, signed in with the token minted for billBuyer(productId, n). */
export function orderAsBuyer(t: BillTarget, productId: string, n: number, tokens: Map<string, string>, dispatcher: Agent) {
  return request(new URL("/order", t.edge), {
    method: "POST",
    headers: {
      authorization: `Bearer ${tokens.get(billBuyer(productId, n))}`,
      "content-type": "application/json",
      "idempotency-key": `${productId}-k${n}`,
    },
    body: JSON.stringify({ productId, userId: billBuyer(productId, n) }),
    dispatcher,
  });
}

/** `orders` distinct buyers through POST /order (`concurrency` at a time) on a sale of exactly that stock, drained. */
export async function billOrders(t: BillTarget, o: { productId: string; orders: number; concurrency: number; drainTimeoutMs?: number }): Promise<OrderBill> {
  await initSale(t.edge, t.adminToken, { productId: o.productId, quantity: o.orders, ratePerSecond: 1_000_000, burst: 1_000_000 });
  const redis = new Redis(t.redisUrl, { connectionName: "fluxgate-bill-drain", maxRetriesPerRequest: 1 });
  const dispatcher = new Agent({ connections: o.concurrency });
  try {
    // /init's own commands (and its sale event's confirmation) stay out of the window; so does signing in.
    const tokens = await mintTokens(
      t.issuer,
      Array.from({ length: o.orders }, (_, n) => billBuyer(o.productId, n)),
    );
    await drained(redis, o.productId, o.drainTimeoutMs ?? 30_000);
    const meter = await BillMeter.start(t.redisUrl, t.dir, `orders-${o.productId}`);
    let next = 0;
    let accepted = 0;
    const buyer = async () => {
      for (let n = next++; n < o.orders; n = next++) {
        const res = await orderAsBuyer(t, o.productId, n, tokens, dispatcher);
        await res.body.dump();
        if (res.statusCode === 200) accepted++;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: o.concurrency }, buyer));
    const sellingSeconds = (performance.now() - t0) / 1000;
    await drained(redis, o.productId, o.drainTimeoutMs ?? 30_000);
    await sleep(TAIL_MS);
    const bill = await meter.stop();
    await retire(t, redis, [o.productId]);
    return { bill, accepted, sent: o.orders, productId: o.productId, sellingSeconds };
  } finally {
    await dispatcher.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}

export interface IdleBill {
  bill: Bill;
  openSales: number;
  /** Outboxes in the relay's registry during the window (other sales included). */
  registered: number;
}

/** A window of `seconds` with `openSales` fresh sales open (started before, closed after) and nobody buying. */
export async function billIdle(t: BillTarget, o: { seconds: number; openSales: number; runId: string }): Promise<IdleBill> {
  const productIds = Array.from({ length: o.openSales }, (_, i) => `${o.runId}-idle-${i}`);
  const redis = new Redis(t.redisUrl, { connectionName: "fluxgate-bill-drain", maxRetriesPerRequest: 1 });
  try {
    for (const productId of productIds) await initSale(t.edge, t.adminToken, { productId, quantity: 100 });
    for (const productId of productIds) await drained(redis, productId, 30_000);
    // The relay's reads and the confirmations /init set off are over before the window opens.
    await sleep(TAIL_MS);
    const registered = await redis.scard(OUTBOXES_KEY);
    const meter = await BillMeter.start(t.redisUrl, t.dir, `idle-${o.openSales}`);
    await sleep(o.seconds * 1000);
    const bill = await meter.stop();
    await retire(t, redis, productIds);
    return { bill, openSales: o.openSales, registered };
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/**
 * The measured sales leave nothing behind: closed, retired by the relay (so it stops reading
 * them before their keys go), then deleted.
 */
export async function retire(t: Pick<BillTarget, "edge" | "adminToken">, redis: Redis, productIds: string[]): Promise<void> {
  for (const productId of productIds) await call(t.edge, `/sales/${productId}/close`, { method: "POST", headers: { authorization: `Bearer ${t.adminToken}` } });
  const outboxes = productIds.map((p) => saleKeys(p).outbox);
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(250)) {
    const still = await Promise.all(outboxes.map((k) => redis.sismember(OUTBOXES_KEY, k)));
    if (still.every((n) => n === 0)) break;
  }
  await forgetSales(redis, productIds);
}

/** Waits until the sale's outbox holds nothing: every entry reached Kafka and was confirmed. */
export async function drained(redis: Redis, productId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await redis.xlen(saleKeys(productId).outbox)) > 0) {
    if (Date.now() > deadline) throw new Error(`the outbox of ${productId} did not drain within ${timeoutMs} ms: is the origin running?`);
    await sleep(100);
  }
}
