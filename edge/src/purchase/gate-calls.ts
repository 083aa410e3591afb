import { GATE_CALL_IDLE_MS, GATE_SEAT_STALE_MS, GATE_WAIT_MAX_MS, GATE_WAIT_MS } from "../time-windows";

/**
 * Newcomers' gate calls one isolate keeps in flight per sale at most: at a few ms a round trip to
 * Upstash that is thousands of places a second per isolate, and a crowd meeting many isolates
 * at once costs at most this many commands each before the first reply says the line is full.
 */
export const MAX_NEWCOMER_CALLS = 8;

/** A newcomer's place in an isolate's queue for a gate call (GateCalls.start). */
export interface GateSeat {
  readonly productId: string;
  readonly number: number;
  /** When it joined: a call left idle is lent only to a seat that has itself waited that long. */
  readonly since: number;
}

export type GateTurn = { release: () => void } | { waitMs: number };

/**
 * The isolate's queue of newcomers for gate calls, per sale: the requests that could not be
 * answered from memory wait here, oldest first, and take the calls as they free up.
 */
export class GateCalls {
  /** Newcomers' gate calls in flight per product. */
  private readonly inFlight = new Map<string, number>();
  /** Since when a newcomer's gate call has been free and not taken, per product. */
  private readonly freeSince = new Map<string, number>();
  /** Newcomers waiting for a gate call per product: seat number → when it last asked, oldest first. */
  private readonly queues = new Map<string, Map<number, number>>();
  private nextSeat = 0;

  constructor(private readonly now: () => number = Date.now) {}

  join(productId: string): GateSeat {
    const seat = { productId, number: this.nextSeat++, since: this.now() };
    this.queueOf(productId).set(seat.number, seat.since);
    return seat;
  }

  leave(seat: GateSeat): void {
    const queue = this.queues.get(seat.productId);
    queue?.delete(seat.number);
    if (queue?.size === 0) this.queues.delete(seat.productId);
  }

  private queueOf(productId: string): Map<number, number> {
    let queue = this.queues.get(productId);
    if (!queue) this.queues.set(productId, (queue = new Map()));
    return queue;
  }

  /**
   * A newcomer's gate call may start when fewer are in flight than the units the last view says
   * the line does not cover yet (`uncovered`: remaining, less the claims and the places already
   * given; undefined with no view), never more than MAX_NEWCOMER_CALLS at once (one with no view
   * yet, or once the line covers the stock: that one refreshes the view), and only for the oldest
   * seats waiting. Every isolate decides from its own view, so an allowance of `remaining` each
   * would let N isolates hand out N times the places the stock needs before any reply comes back;
   * the cap bounds that to N × the cap per round trip, and taking seats in order keeps the gate's
   * order the crowd's. Those still seated decide again from what the calls in flight bring back
   * (sold out, standby). (Ticket holders do not queue: their call is needed whatever the others learn.)
   *
   * Returns the release, or how long to wait before asking again: a seat near the front asks
   * often, one far back seldom. Each waits on a timer of its own: a release cannot wake the next
   * seat, since a promise one request settles for another waiting on it fails in workerd ("Cannot
   * perform I/O on behalf of a different request", then the waiter is canceled as hung). A busy
   * isolate runs timers late, so a call the seats ahead leave free (they are late, or their
   * requests were dropped) is lent to one further back, but only after GATE_CALL_IDLE_MS for each
   * round of calls ahead of it, and only to a seat that has waited as long itself: those ahead ask
   * more often (shorter waits) and get every chance first, while a newcomer, who asks the moment it
   * arrives, never takes a call from those seated before it. (Lent at a fixed 40 ms, a crowd of
   * 2,000 on 4 busy isolates saw seats from the back take calls from seats 1.5 s older.)
   */
  start(seat: GateSeat, uncovered: number | undefined): GateTurn {
    const { productId } = seat;
    const t = this.now();
    // (A seat that was forgotten, asked for too late, goes to the back.)
    const queue = this.queueOf(productId);
    queue.set(seat.number, t);
    const limit = Math.min(MAX_NEWCOMER_CALLS, Math.max(1, uncovered ?? 1));
    const free = limit - (this.inFlight.get(productId) ?? 0);
    // Roughly how many seats are ahead (some may have left): a wait for each round of calls.
    const first = queue.keys().next().value ?? seat.number;
    const rounds = 1 + Math.floor(Math.max(0, seat.number - first) / limit);
    if (free > 0) {
      let freeSince = this.freeSince.get(productId);
      if (freeSince === undefined) this.freeSince.set(productId, (freeSince = t));
      let ahead = 0;
      for (const [number, lookedAt] of queue) {
        if (number === seat.number || ahead >= free) break;
        if (t - lookedAt > GATE_SEAT_STALE_MS) queue.delete(number);
        else ahead++;
      }
      const lendAfter = GATE_CALL_IDLE_MS * rounds;
      if (ahead < free || (t - freeSince >= lendAfter && t - seat.since >= lendAfter)) {
        this.leave(seat);
        if (free === 1) this.freeSince.delete(productId);
        return { release: this.take(productId) };
      }
    } else this.freeSince.delete(productId);
    return { waitMs: Math.min(GATE_WAIT_MAX_MS, GATE_WAIT_MS * rounds) };
  }

  private take(productId: string): () => void {
    this.inFlight.set(productId, (this.inFlight.get(productId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(productId) ?? 1) - 1;
      if (left > 0) this.inFlight.set(productId, left);
      else this.inFlight.delete(productId);
      // With nobody seated there is nobody to lend to: the next newcomer takes the call anyway.
      if (left === 0 && !this.queues.has(productId)) this.freeSince.delete(productId);
      else if (!this.freeSince.has(productId)) this.freeSince.set(productId, this.now());
    };
  }
}
