import type { SaleEvent } from "@fluxgate/common";

/** Ends remembered ahead of their orders, per sale, before the expired ones are dropped. */
const MAX_ENDED = 10_000;

export interface HoldScheduleOptions {
  /** A sale is swept at most once per this (the bound: one sweep command per second per sale). */
  intervalMs: number;
  now: () => number;
}

/** What the sweep script answered (lua/holds-sweep.lua.ts). */
export interface SweepReply {
  /** Redis' clock when it ran (ms): every hold due by then is ended. */
  now: number;
  /** The earliest hold still pending, if any. */
  next?: { orderId: string; expiresAt: number };
}

interface Hold {
  orderId: string;
  expiresAt: number;
}

/** One sale's holds as this origin knows them. */
interface SaleHolds {
  /** The run (its sale.startedAt) they belong to: a restart of the sale (POST /init) drops the older run's. */
  startedAt: number;
  /** orderId -> expiry (Redis' clock): held as far as this origin knows. */
  pending: Map<string, number>;
  /** The same holds by expiry, earliest first; an entry no longer pending (paid, swept) is skipped when met. */
  heap: Hold[];
  /**
   * orderId -> expiry of holds whose end came before their order: a payment's forward often
   * overtakes its order's (both leave the edge at once), and the order must not be held again.
   * Dropped when the order comes, or once the expiry passed.
   */
  ended: Map<string, number>;
  /** When it was last swept (this origin's clock), to keep to one sweep per interval. */
  sweptAt: number;
  sweeping: boolean;
  /** Swept as soon as possible, to learn its pending holds (an origin that just started knows none). */
  learn: boolean;
}

/**
 * When the origin sweeps a quiet sale's holds, without Redis: it sees every order (forwarded or
 * relayed) with its `holdExpiresAt` and every OrderStatus, so per sale it knows the holds still
 * pending and the earliest expiry. A sale is swept once that expiry passed, at most once per
 * `intervalMs`, never while nothing is pending: a paid or cancelled hold costs no sweep. The
 * sweep's answer (Redis' clock, the next hold still pending there) corrects what this origin
 * missed: another origin's forwards, a restart, the clocks' difference.
 *
 * relay.ts runs the sweeps this decides (hold-sweeper.ts); the clock is passed in so tests can move time.
 */
export class HoldSchedule {
  private readonly sales = new Map<string, SaleHolds>();
  /** Redis' clock minus this origin's, as the last sweep saw it: expiries are Redis' times. */
  private skew = 0;

  constructor(private readonly o: HoldScheduleOptions) {}

  /** A sale event produced to Kafka (forwarded or relayed): a hold starts, ends, or the sale restarts. */
  saw(event: SaleEvent): void {
    if (event.type === "order") {
      if (event.holdExpiresAt === undefined) return;
      const sale = this.run(event.productId, event.sale.startedAt);
      if (!sale || sale.ended.delete(event.orderId)) return;
      this.hold(sale, event.orderId, event.holdExpiresAt);
    } else if (event.type === "order_status") {
      const sale = this.run(event.productId, event.order.sale.startedAt);
      if (!sale || sale.pending.delete(event.orderId) || event.order.holdExpiresAt === undefined) return;
      if (sale.ended.size >= MAX_ENDED) this.forgetEnded(sale, this.o.now() - this.skew);
      sale.ended.set(event.orderId, event.order.holdExpiresAt);
    } else if (event.type === "sale") {
      this.run(event.productId, event.startedAt);
    }
  }

  /** Sales whose holds this origin has not seen (after a start): each is swept once, soon, to learn them. */
  learn(productIds: Iterable<string>): void {
    for (const productId of productIds) {
      if (!this.sales.has(productId)) this.sales.set(productId, { ...this.empty(0), learn: true });
    }
  }

  /** The sale ended and its outbox is retired: nothing more to sweep. */
  forget(productId: string): void {
    this.sales.delete(productId);
  }

  /** The sales to sweep now; each is in flight until `swept` or `sweepFailed`. */
  due(): string[] {
    const now = this.o.now();
    const due: string[] = [];
    for (const [productId, sale] of this.sales) {
      const at = this.dueAt(sale);
      if (at === undefined || at > now) continue;
      sale.sweeping = true;
      sale.sweptAt = now;
      due.push(productId);
    }
    return due;
  }

  /** The sweep of `productId` ran: what it ended is no longer pending, and Redis named the next hold. */
  swept(productId: string, reply: SweepReply): void {
    this.skew = reply.now - this.o.now();
    const sale = this.sales.get(productId);
    if (!sale) return;
    sale.sweeping = false;
    sale.learn = false;
    while (sale.heap.length > 0 && sale.heap[0]!.expiresAt <= reply.now) {
      const ended = pop(sale.heap);
      if (sale.pending.get(ended.orderId) === ended.expiresAt) sale.pending.delete(ended.orderId);
    }
    this.forgetEnded(sale, reply.now);
    if (reply.next && !sale.pending.has(reply.next.orderId)) this.hold(sale, reply.next.orderId, reply.next.expiresAt);
  }

  /** The sweep failed (Redis away): tried again an interval later. */
  sweepFailed(productId: string): void {
    const sale = this.sales.get(productId);
    if (sale) sale.sweeping = false;
  }

  /** When the next sweep is due (this origin's clock), undefined when none is pending. */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const sale of this.sales.values()) {
      const at = this.dueAt(sale);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /** Holds pending, over every sale (a gauge). */
  get pending(): number {
    let n = 0;
    for (const sale of this.sales.values()) n += sale.pending.size;
    return n;
  }

  private dueAt(sale: SaleHolds): number | undefined {
    if (sale.sweeping) return undefined;
    const earliest = sale.learn ? this.o.now() : this.earliest(sale);
    if (earliest === undefined) return undefined;
    return Math.max(earliest - (sale.learn ? 0 : this.skew), sale.sweptAt + this.o.intervalMs);
  }

  /** The earliest expiry still pending; the heap's entries no longer pending are dropped on the way. */
  private earliest(sale: SaleHolds): number | undefined {
    while (sale.heap.length > 0) {
      const top = sale.heap[0]!;
      if (sale.pending.get(top.orderId) === top.expiresAt) return top.expiresAt;
      pop(sale.heap);
    }
    return undefined;
  }

  /** The sale's holds for this run; undefined for an event of an older run. */
  private run(productId: string, startedAt: number): SaleHolds | undefined {
    const sale = this.sales.get(productId);
    if (sale && sale.startedAt > startedAt) return undefined;
    if (sale && sale.startedAt === startedAt) return sale;
    // A new run (or the first this origin sees): the older run's holds went with its keys.
    const fresh = { ...this.empty(startedAt), ...(sale && { sweptAt: sale.sweptAt, learn: sale.learn, sweeping: sale.sweeping }) };
    this.sales.set(productId, fresh);
    return fresh;
  }

  /** Ends whose order never came (another origin produced it) are kept until their expiry passed, no longer. */
  private forgetEnded(sale: SaleHolds, now: number) {
    for (const [orderId, expiresAt] of sale.ended) if (expiresAt <= now) sale.ended.delete(orderId);
  }

  private hold(sale: SaleHolds, orderId: string, expiresAt: number) {
    sale.pending.set(orderId, expiresAt);
    push(sale.heap, { orderId, expiresAt });
  }

  private empty(startedAt: number): SaleHolds {
    return { startedAt, pending: new Map(), heap: [], ended: new Map(), sweptAt: Number.NEGATIVE_INFINITY, sweeping: false, learn: false };
  }
}

// A binary min-heap by expiry: orders mostly come in expiry order, but forwards and the relay interleave.
function push(heap: Hold[], hold: Hold) {
  heap.push(hold);
  for (let i = heap.length - 1; i > 0; ) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.expiresAt <= heap[i]!.expiresAt) break;
    [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
    i = parent;
  }
}

function pop(heap: Hold[]): Hold {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length === 0) return top;
  heap[0] = last;
  for (let i = 0; ; ) {
    const [l, r] = [2 * i + 1, 2 * i + 2];
    let least = i;
    if (l < heap.length && heap[l]!.expiresAt < heap[least]!.expiresAt) least = l;
    if (r < heap.length && heap[r]!.expiresAt < heap[least]!.expiresAt) least = r;
    if (least === i) break;
    [heap[least], heap[i]] = [heap[i]!, heap[least]!];
    i = least;
  }
  return top;
}
