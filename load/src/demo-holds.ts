import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { percentile } from "./report/stats";

/**
 * The demo's sale with holds (DEMO_HOLD_SECONDS): every accepted order is held for payment, and
 * the shop's backend confirms it (POST /sales/:productId/orders/:orderId/pay, SHOP_API_TOKEN)
 * unless its buyer is one of the DEMO_NO_SHOW share who never pay; their holds expire, and the
 * units go back to the people in line.
 */
export interface HoldSettings {
  holdSeconds: number;
  /** The share of the buyers who get a hold and never pay. */
  noShow: number;
}

/** What the shop saw of the holds: each hold confirmed, refused as expired, or left to expire. */
export interface ShopTally {
  holds: number;
  noShows: number;
  paid: number;
  /** Confirmations answered 409 expired (the shop would refund): none expected, it pays within the hold. */
  toldExpired: number;
  /** Confirmations that never got a 200 or a 409 (their holds expire). */
  failed: number;
  failures: string[];
}

/**
 * The shop's backend in the demo: it confirms an accepted order's payment a random moment into
 * its hold (never later than 80% of it, so the confirmation beats the expiry unless the machine
 * stalls), and retries a 503 or a lost connection with the same request: the edge answers a
 * confirmation the same on every retry.
 */
export class DemoShop {
  readonly tally: ShopTally = { holds: 0, noShows: 0, paid: 0, toldExpired: 0, failed: 0, failures: [] };
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly edge: URL,
    private readonly shopToken: string,
    private readonly productId: string,
    private readonly settings: HoldSettings,
  ) {}

  /** A buyer's order was accepted with a hold until `holdExpiresAt` (Redis' clock, ms). */
  accepted(orderId: string, holdExpiresAt: number): void {
    this.tally.holds++;
    if (Math.random() < this.settings.noShow) {
      this.tally.noShows++;
      return;
    }
    const window = Math.max(0, holdExpiresAt - Date.now());
    const paying = this.pay(orderId, Math.random() * window * 0.8, holdExpiresAt);
    this.pending.add(paying);
    void paying.finally(() => this.pending.delete(paying));
  }

  /** Every confirmation under way has its answer. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private async pay(orderId: string, afterMs: number, holdExpiresAt: number): Promise<void> {
    await sleep(afterMs);
    const url = new URL(`/sales/${encodeURIComponent(this.productId)}/orders/${encodeURIComponent(orderId)}/pay`, this.edge);
    let last = "";
    // Past the hold the answer is 409 expired anyway: a few seconds of retries after it are enough.
    while (Date.now() < holdExpiresAt + 5_000) {
      try {
        const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${this.shopToken}` } });
        const body = (await res.json().catch(() => ({}))) as { status?: string };
        if (res.status === 200 && body.status === "paid") return void this.tally.paid++;
        if (res.status === 409 && body.status === "expired") return void this.tally.toldExpired++;
        last = `${res.status} ${JSON.stringify(body)}`;
        if (res.status !== 503) break;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await sleep(200);
    }
    this.tally.failed++;
    if (this.tally.failures.length < 10) this.tally.failures.push(`${orderId}: ${last}`);
  }
}

/** Held orders' history, as PostgreSQL keeps it once drained. */
export interface HoldHistory {
  /** Per second since the demo's start: units held at its end, held orders paid, expired and cancelled in it. */
  perSecond: { t: number; held: number; paid: number; expired: number; cancelled: number }[];
  /** Orders by their status now (held ones still waiting for payment: none once the sale is over). */
  orders: { held: number; paid: number; expired: number; cancelled: number };
  /**
   * From each expiry (order_transitions.at) to the next acceptance after it (orders.accepted_at,
   * each taken once, in time order): how long a released unit waited to be bought again. `unmatched`:
   * expiries no later order followed (units nobody bought again).
   */
  rebuyMs: { count: number; p50: number; p99: number; max: number; unmatched: number };
}

export async function readHoldHistory(databaseUrl: string, saleId: string, startedAtMs: number): Promise<HoldHistory> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const orders = await db.query<{ status: string; quantity: number; accepted_at: Date }>(
      "select status, quantity, accepted_at from orders where sale_id = $1 and hold_expires_at is not null order by accepted_at",
      [saleId],
    );
    const ends = await db.query<{ order_id: string; status: string; quantity: number; at: Date }>(
      `select t.order_id, t.status, o.quantity, t.at from order_transitions t join orders o using (order_id)
        where o.sale_id = $1 order by t.at`,
      [saleId],
    );
    return holdHistory(
      orders.rows.map((r) => ({ status: r.status, quantity: r.quantity, at: r.accepted_at.getTime() })),
      ends.rows.map((r) => ({ orderId: r.order_id, status: r.status, quantity: r.quantity, at: r.at.getTime() })),
      startedAtMs,
    );
  } finally {
    await db.end();
  }
}

type Row = { status: string; quantity: number; at: number };

/** The history from the orders (their acceptance) and their transitions, both sorted by time. */
export function holdHistory(accepted: Row[], ends: (Row & { orderId: string })[], startedAtMs: number): HoldHistory {
  const second = (at: number) => Math.max(0, Math.floor((at - startedAtMs) / 1000));
  const last = Math.max(0, ...accepted.map((r) => second(r.at)), ...ends.map((r) => second(r.at)));
  const perSecond = Array.from({ length: last + 1 }, (_, t) => ({ t, held: 0, paid: 0, expired: 0, cancelled: 0 }));
  const heldDelta = new Array<number>(last + 1).fill(0);
  for (const r of accepted) heldDelta[second(r.at)]! += r.quantity;
  const paid = new Set<string>();
  for (const r of ends) {
    const row = perSecond[second(r.at)]!;
    if (r.status === "paid" || r.status === "expired" || r.status === "cancelled") row[r.status]++;
    // The operator's cancel of a paid order ends no hold: its units were no longer held.
    if (!(r.status === "cancelled" && paid.has(r.orderId))) heldDelta[second(r.at)]! -= r.quantity;
    if (r.status === "paid") paid.add(r.orderId);
  }
  let level = 0;
  for (const row of perSecond) {
    level += heldDelta[row.t]!;
    row.held = level;
  }
  const orders = { held: 0, paid: 0, expired: 0, cancelled: 0 };
  for (const r of accepted) if (r.status in orders) orders[r.status as keyof typeof orders]++;
  // Each released unit's next buyer: the first acceptance after its expiry not already matched to an earlier one.
  const waits: number[] = [];
  let next = 0;
  let unmatched = 0;
  for (const e of ends.filter((r) => r.status === "expired")) {
    while (next < accepted.length && accepted[next]!.at < e.at) next++;
    if (next < accepted.length) waits.push(accepted[next++]!.at - e.at);
    else unmatched++;
  }
  waits.sort((a, b) => a - b);
  return {
    perSecond,
    orders,
    rebuyMs: { count: waits.length, p50: percentile(waits, 50) || 0, p99: percentile(waits, 99) || 0, max: waits.at(-1) ?? 0, unmatched },
  };
}

/** Polls until `check` says done or the deadline passes; returns whether it was done. */
export async function until(check: () => Promise<boolean>, deadline: number, everyMs = 500): Promise<boolean> {
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
