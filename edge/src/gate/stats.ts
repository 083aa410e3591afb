import {
  BILL_KEY,
  ORIGIN_COMPONENTS,
  readBookedBill,
  saleKeys,
  upstashCostUsd,
  UPSTASH_PAYG_USD_PER_100K_COMMANDS,
  waitingIn,
  type BookedBill,
  type OriginComponent,
} from "@fluxgate/common";
import type { Redis } from "@upstash/redis/cloudflare";
import { STATS_WINDOW_SECONDS } from "../time-windows";
import { originAtStartField } from "./init-sale.lua";
import { readSaleView } from "./sale-view";

export interface SecondStats {
  /** Unix time, seconds. */
  t: number;
  accepted: number;
  /** Places the line's watermark passed (the bucket's admissions): accepted follows, at each buyer's next call. */
  admitted: number;
  throttled: number;
  soldOut: number;
  limitReached: number;
  /** New pre-queue entries (and repeats of entered buyers). */
  prequeued: number;
  /** Gate calls: one billed Redis command each. */
  calls: number;
  remaining: number | null;
  queued: number | null;
  claimed: number | null;
  /** Held orders' ends this second (common/src/holds-lua.ts counts one per order). */
  paid: number;
  expired: number;
  cancelled: number;
  /** Units held for payment at the second's last gate call (a level, carried forward like remaining). */
  held: number | null;
}

export interface SaleStats {
  productId: string;
  saleId: string;
  quantity: number;
  /** The admission rate the operator set (units/s): the target the accepted/s series is read against. */
  ratePerSecond: number;
  remaining: number;
  sold: number;
  queued: number;
  /** Units held by admitted people who have not bought yet (their claims). */
  claimed: number;
  series: SecondStats[];
  bill: SaleBill;
  startsAt: string;
  /** The sale's pre-queue, when it has one: entries so far and whether the draw gave their places. */
  prequeue?: { opensAt: string; entries: number; drawn: boolean; commitment: string };
  /** What the operator steered: the sale's state and settings now, and its latest controls (newest first). */
  control: SaleControl;
  /** After "accepted": present only when the sale holds accepted units for payment (its holdSeconds). */
  holds?: SaleHolds;
}

export interface SaleHolds {
  holdSeconds: number;
  /** Units held for payment now (the sale hash), paid and released (expired or cancelled) since the start. */
  held: number;
  paid: number;
  released: number;
  /** Held orders that were paid, expired or were cancelled, over the series (the stats window). */
  paidOrders: number;
  expiredOrders: number;
  cancelledOrders: number;
}

export interface SaleControl {
  status: "running" | "paused";
  /** The settings version: 0 until the first control, then one more per control that changed something. */
  version: number;
  /** Units operators added to the stock so far. */
  added: number;
  burst: number;
  endsAt: string | null;
  ticketTtlSeconds: number;
  /** The sale_steered events, as PostgreSQL's sale_events keeps them (common: SaleSteered). */
  events: unknown[];
}

/**
 * The Upstash bill since the sale started: the edge's gate calls for this sale, and the origin's
 * commands (forward confirmations, relay) as it booked them per minute, for every sale open
 * meanwhile. Reads of this page and the waiting room's status are not in it.
 */
export interface SaleBill {
  since: string;
  commands: { edge: number; forward: number; relay: number; total: number };
  perAcceptedOrder: number | null;
  /** Billed commands per second over the last whole minute (this sale's gate calls, the origin's for all sales): idle, what idling costs. */
  lastMinutePerSecond: { edge: number; forward: number; relay: number; total: number };
  costUsd: number;
  priceUsdPer100k: number;
}

/**
 * The operator's figures: the sale's counters now and, per second, what the gate decided
 * (written by gate.lua in the same call as each decision). Admin path only; the stats hash it
 * reads whole holds the last STATS_WINDOW_SECONDS (gate.lua keeps it so), not the whole sale.
 */
export async function readStats(
  redis: Pick<Redis, "hmget" | "hgetall" | "lrange">,
  productId: string,
  windowSeconds = STATS_WINDOW_SECONDS,
): Promise<SaleStats | undefined> {
  const k = saleKeys(productId);
  // Replies are raw (see redis.ts): HMGET and HGETALL answer flat arrays.
  const sale = await readSaleView(redis, productId);
  if (!sale) return undefined;
  const { saleId, quantity, claimed, createdAt } = sale;
  const remaining = Math.max(0, sale.remaining);
  const flat = ((await redis.hgetall(k.stats)) ?? []) as unknown as string[];
  const billed = ((await redis.hgetall(BILL_KEY)) ?? []) as unknown as string[];
  const { control, hold } = await readControl(redis, productId, sale.added);
  const bySecond = new Map<number, SecondStats>();
  let totalCalls: number | undefined;
  const originAtStart: Partial<Record<OriginComponent, number>> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const [sec, field] = flat[i]!.split(":") as [string, string];
    if (sec === "total" && field === "calls") totalCalls = Number(flat[i + 1]);
    for (const c of ORIGIN_COMPONENTS) if (flat[i] === originAtStartField(c)) originAtStart[c] = Number(flat[i + 1]);
    const t = Number(sec);
    // The ring's slot fields ("slot:<n>") and the totals are not seconds.
    if (!/^\d+$/.test(sec)) continue;
    const row = bySecond.get(t) ?? emptySecond(t);
    const value = Number(flat[i + 1]);
    if (field === "calls") row.calls = value;
    if (field === "accepted") row.accepted = value;
    else if (field === "admitted") row.admitted = value;
    else if (field === "throttled") row.throttled = value;
    else if (field === "waiting") row.queued = value;
    else if (field === "sold_out") row.soldOut = value;
    else if (field === "limit_reached") row.limitReached = value;
    else if (field === "prequeued") row.prequeued = value;
    else if (field === "remaining") row.remaining = value;
    else if (field === "claimed") row.claimed = value;
    else if (field === "held") row.held = value;
    else if (field === "paid") row.paid = value;
    else if (field === "expired") row.expired = value;
    else if (field === "cancelled") row.cancelled = value;
    bySecond.set(t, row);
  }
  // Levels are written only in seconds with a gate call: carry the last one forward.
  const seconds = [...bySecond.keys()].sort((a, b) => a - b);
  // Up to now, not only to the last decision, so a quiet sale still shows time passing.
  const last = Math.max(seconds.at(-1) ?? 0, Math.floor(Date.now() / 1000));
  const series: SecondStats[] = [];
  let level = { remaining: quantity, queued: 0, claimed: 0, held: 0 };
  for (let t = Math.max(seconds[0] ?? last, last - Math.min(windowSeconds, STATS_WINDOW_SECONDS) + 1); t <= last; t++) {
    const row = bySecond.get(t) ?? emptySecond(t);
    level = {
      remaining: row.remaining ?? level.remaining,
      queued: row.queued ?? level.queued,
      claimed: row.claimed ?? level.claimed,
      held: row.held ?? level.held,
    };
    series.push({ ...row, ...level });
  }
  const sold = quantity + sale.added - remaining;
  return {
    productId,
    saleId,
    quantity,
    ratePerSecond: sale.rate,
    remaining,
    sold,
    queued: waitingIn(sale),
    claimed: remaining > 0 ? claimed : 0,
    series,
    bill: saleBill(bySecond, totalCalls, readBookedBill(billed), originAtStart, createdAt, sold),
    startsAt: new Date(sale.startsAt || createdAt).toISOString(),
    ...(sale.prequeue
      ? {
          prequeue: {
            opensAt: new Date(sale.prequeue.opensAt).toISOString(),
            entries: sale.prequeue.entries,
            drawn: sale.prequeue.drawn,
            commitment: sale.prequeue.commitment,
          },
        }
      : {}),
    control,
    ...(hold.holdMs > 0
      ? {
          holds: {
            holdSeconds: hold.holdMs / 1000,
            held: hold.held,
            paid: hold.paid,
            released: hold.released,
            paidOrders: sum(series, "paid"),
            expiredOrders: sum(series, "expired"),
            cancelledOrders: sum(series, "cancelled"),
          },
        }
      : {}),
  };
}

const sum = (series: SecondStats[], field: "paid" | "expired" | "cancelled") => series.reduce((n, s) => n + s[field], 0);

/** The sale's settings beyond the view (one HMGET): the operator's controls, and its holds' counters. */
async function readControl(
  redis: Pick<Redis, "hmget" | "lrange">,
  productId: string,
  added: number,
): Promise<{ control: SaleControl; hold: { holdMs: number; held: number; paid: number; released: number } }> {
  const k = saleKeys(productId);
  const [pausedAt, version, burst, ticketTtlMs, endsAt, holdMs, held, paid, released] = ((await redis.hmget(
    k.sale,
    "pausedAt",
    "settingsVersion",
    "burst",
    "ticketTtlMs",
    "endsAt",
    "holdMs",
    "held",
    "paid",
    "released",
  )) ?? []) as unknown as (string | null)[];
  const events = ((await redis.lrange(k.events, 0, 19)) ?? []) as string[];
  const hold = { holdMs: Number(holdMs ?? 0), held: Number(held ?? 0), paid: Number(paid ?? 0), released: Number(released ?? 0) };
  const control = {
    status: Number(pausedAt ?? 0) > 0 ? "paused" : "running",
    version: Number(version ?? 0),
    added,
    burst: Number(burst ?? 0),
    endsAt: Number(endsAt ?? 0) > 0 ? new Date(Number(endsAt)).toISOString() : null,
    ticketTtlSeconds: Number(ticketTtlMs ?? 0) / 1000,
    events: events.map((e) => JSON.parse(e) as unknown),
  } satisfies SaleControl;
  return { control, hold };
}

const emptySecond = (t: number): SecondStats => ({
  t,
  accepted: 0,
  admitted: 0,
  throttled: 0,
  soldOut: 0,
  limitReached: 0,
  prequeued: 0,
  calls: 0,
  remaining: null,
  queued: null,
  claimed: null,
  paid: 0,
  expired: 0,
  cancelled: 0,
  held: null,
});

/**
 * `totalCalls`: the gate's running total; a sale started before it was kept has only its seconds.
 * The origin's share: what its running totals grew by since the sale's start (`originAtStart`,
 * noted by the init script); a sale started before the totals were kept sums the minutes the
 * bill still holds (its last BILL_WINDOW_MINUTES).
 */
function saleBill(
  bySecond: Map<number, SecondStats>,
  totalCalls: number | undefined,
  booked: BookedBill,
  originAtStart: Partial<Record<OriginComponent, number>>,
  createdAt: number,
  sold: number,
): SaleBill {
  const commands = { edge: 0, forward: 0, relay: 0, total: 0 };
  const lastMinute = { edge: 0, forward: 0, relay: 0, total: 0 };
  const previousMinute = Math.floor(Date.now() / 60_000) - 1;
  for (const row of bySecond.values()) {
    if (totalCalls === undefined) commands.edge += row.calls;
    if (Math.floor(row.t / 60) === previousMinute) lastMinute.edge += row.calls;
  }
  if (totalCalls !== undefined) commands.edge = totalCalls;
  const fromMinute = Math.floor(createdAt / 60_000);
  for (const component of ORIGIN_COMPONENTS) {
    const atStart = originAtStart[component];
    // Noted at the start (absent totals read as 0 then): absent now, the origin has booked none since.
    if (atStart !== undefined) commands[component] = (booked.totals[component] ?? 0) - atStart;
    else for (const [minute, row] of booked.minutes) if (minute >= fromMinute) commands[component] += row[component];
    lastMinute[component] = booked.minutes.get(previousMinute)?.[component] ?? 0;
  }
  commands.total = commands.edge + commands.forward + commands.relay;
  lastMinute.total = lastMinute.edge + lastMinute.forward + lastMinute.relay;
  return {
    since: new Date(createdAt).toISOString(),
    commands,
    perAcceptedOrder: sold > 0 ? commands.total / sold : null,
    lastMinutePerSecond: { edge: lastMinute.edge / 60, forward: lastMinute.forward / 60, relay: lastMinute.relay / 60, total: lastMinute.total / 60 },
    costUsd: upstashCostUsd(commands.total),
    priceUsdPer100k: UPSTASH_PAYG_USD_PER_100K_COMMANDS,
  };
}
