import { setTimeout as sleep } from "node:timers/promises";
import { HOLD_SWEEP_INTERVAL_MS } from "@fluxgate/common";
import { mintTokens } from "@fluxgate/stack";
import { Redis } from "ioredis";
import pg from "pg";
import { Agent, request } from "undici";
import { BillMeter, type Bill } from "./bill";
import { billBuyer, drained, orderAsBuyer, retire, TAIL_MS, type BillTarget } from "./bill-runs";
import { initSale } from "./edge-api";

/**
 * The bill of a sale with holds (issue 25), measured like the others (bill-runs.ts): every command
 * each component sent from the first order until PostgreSQL has every order's end.
 */
export interface HoldsBillTarget extends BillTarget {
  /** The shop's backend token (.dev.vars' SHOP_API_TOKEN): its payment confirmations. */
  shopToken: string;
  /** Where the worker persists: the window closes once every order's end is there. */
  databaseUrl: string;
  /** The origin's /metrics: how many sweeps of expired holds it ran during the window. */
  originMetricsUrl: string;
}

export interface HoldsBill {
  bill: Bill;
  productId: string;
  sent: number;
  /** Orders accepted (each held until paid or expired). */
  accepted: number;
  /** Confirmations answered 200 paid (the paid scenario), or 0. */
  paid: number;
  /** The origin's sweeps of expired holds during the window (one billed command each). */
  sweeps: number;
  /** From the first hold's expiry to the last one's, plus the one sweep interval the last may wait: seconds the sale had expired holds. */
  expiredSeconds: number;
  sellingSeconds: number;
}

/** The sweeps the origin ran so far (fluxgate_origin_hold_sweeps_total). */
async function originSweeps(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return Number(/^fluxgate_origin_hold_sweeps_total (\S+)$/m.exec(text)?.[1] ?? 0);
}

/** Until PostgreSQL has `count` orders of the sale in `status`. */
async function persistedAs(databaseUrl: string, saleId: string, status: string, count: number, timeoutMs: number): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    for (const deadline = Date.now() + timeoutMs; ; await sleep(250)) {
      const { rows } = await db.query<{ n: number }>("select count(*)::int as n from orders where sale_id = $1 and status = $2", [saleId, status]);
      if (rows[0]!.n >= count) return;
      if (Date.now() > deadline)
        throw new Error(`PostgreSQL has ${rows[0]!.n} of ${count} orders ${status} after ${timeoutMs} ms: are the origin and the worker running?`);
    }
  } finally {
    await db.end();
  }
}

/**
 * `orders` distinct buyers on a sale of that stock with holds of `holdSeconds`; with `pay`, the
 * shop confirms each order as soon as it is accepted (POST /sales/:productId/orders/:orderId/pay),
 * else nobody does and nobody calls after the last order: the holds expire, ended by the gate's
 * calls while buyers come and by the origin's sweeps after. The window stays open until
 * PostgreSQL has every order's end and the last hold's expiry is a sweep interval past, so a
 * sweep it set off is counted too.
 */
export async function billHolds(
  t: HoldsBillTarget,
  o: { productId: string; orders: number; concurrency: number; holdSeconds: number; pay: boolean; drainTimeoutMs?: number },
): Promise<HoldsBill> {
  const saleId = await initSale(t.edge, t.adminToken, {
    productId: o.productId,
    quantity: o.orders,
    ratePerSecond: 1_000_000,
    burst: 1_000_000,
    holdSeconds: o.holdSeconds,
  });
  const redis = new Redis(t.redisUrl, { connectionName: "fluxgate-bill-drain", maxRetriesPerRequest: 1 });
  const dispatcher = new Agent({ connections: o.concurrency });
  const timeoutMs = o.drainTimeoutMs ?? 60_000;
  try {
    const tokens = await mintTokens(
      t.issuer,
      Array.from({ length: o.orders }, (_, n) => billBuyer(o.productId, n)),
    );
    await drained(redis, o.productId, timeoutMs);
    const sweepsBefore = await originSweeps(t.originMetricsUrl);
    const meter = await BillMeter.start(t.redisUrl, t.dir, `holds-${o.productId}`);
    let next = 0;
    let accepted = 0;
    let paid = 0;
    const expiries: number[] = [];
    const buyer = async () => {
      for (let n = next++; n < o.orders; n = next++) {
        const res = await orderAsBuyer(t, o.productId, n, tokens, dispatcher);
        if (res.statusCode !== 200) {
          await res.body.dump();
          continue;
        }
        accepted++;
        const { orderId, holdExpiresAt } = (await res.body.json()) as { orderId: string; holdExpiresAt: string };
        expiries.push(Date.parse(holdExpiresAt));
        if (!o.pay) continue;
        const confirmation = await request(new URL(`/sales/${o.productId}/orders/${orderId}/pay`, t.edge), {
          method: "POST",
          headers: { authorization: `Bearer ${t.shopToken}` },
          dispatcher,
        });
        await confirmation.body.dump();
        if (confirmation.statusCode === 200) paid++;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: o.concurrency }, buyer));
    const sellingSeconds = (performance.now() - t0) / 1000;
    await persistedAs(t.databaseUrl, saleId, o.pay ? "paid" : "expired", o.pay ? paid : accepted, timeoutMs);
    const [first, last] = [Math.min(...expiries), Math.max(...expiries)];
    await sleep(Math.max(0, last + HOLD_SWEEP_INTERVAL_MS - Date.now()));
    await drained(redis, o.productId, timeoutMs);
    await sleep(TAIL_MS);
    const bill = await meter.stop();
    const sweeps = (await originSweeps(t.originMetricsUrl)) - sweepsBefore;
    await retire(t, redis, [o.productId]);
    return {
      bill,
      productId: o.productId,
      sent: o.orders,
      accepted,
      paid,
      sweeps,
      expiredSeconds: (last - first + HOLD_SWEEP_INTERVAL_MS) / 1000,
      sellingSeconds,
    };
  } finally {
    await dispatcher.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}
