import { LRUCache } from "lru-cache";
import { GATE_SEAT_STALE_MS } from "../time-windows";

/** Buyers with a gate call in flight, per isolate (least recently used first beyond this). */
export const MAX_BUYERS_IN_FLIGHT = 10_000;

/**
 * One gate call at a time per buyer and sale in an isolate: a buyer's other new attempts (a
 * scalper's flood of keys, a double click) wait for the first one's answer, which the isolate
 * remembers (their place, the limit reached), instead of each paying a command. A call that
 * never reported back (a request the runtime cancelled) frees its buyer after GATE_SEAT_STALE_MS.
 */
export class BuyerCalls {
  private readonly inFlight = new LRUCache<string, number>({ max: MAX_BUYERS_IN_FLIGHT });

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes the buyer's turn, or says someone of theirs is already calling. */
  take(productId: string, userId: string): (() => void) | undefined {
    const name = `${productId}\n${userId}`;
    const since = this.inFlight.get(name);
    if (since !== undefined && this.now() - since < GATE_SEAT_STALE_MS) return undefined;
    this.inFlight.set(name, this.now());
    return () => this.inFlight.delete(name);
  }
}
