/** What the origin answered a forward: given again, as it was, to a replay of it. */
export interface ForwardAnswer {
  status: 202 | 503;
  body: Record<string, unknown>;
}

/**
 * How long a signed forward stays valid: verifyRequest takes timestamps up to 5 minutes either
 * side of the origin's clock, so a copy may arrive up to 10 minutes after the original did.
 */
export const REPLAY_WINDOW_MS = 2 * 300_000;

/** The most forwards remembered: ~150 bytes each; past this the oldest go first (see below). */
export const MAX_REMEMBERED_FORWARDS = 200_000;

/**
 * The forwards this origin produced in the replay window, so a copy of one (a replayed request, or
 * the edge's retry after a lost answer) is answered as the first was, without a second record in
 * Kafka and without a Redis command. A forward is known by its outbox entry (the edge's retries
 * carry the same one, signed) or, without one, by its signature.
 *
 * In memory, per process: a restart, or a flood pushing a forward out of the bound before its
 * window ends, lets one copy be produced again. That is the at-least-once the relay already lives
 * with: the worker writes an order once, by its id, however many records carry it.
 *
 * One at a time per forward: a copy arriving while the first is still being produced waits for
 * it and answers the same. A failed produce (503) is forgotten once answered, so the edge's next
 * retry tries Kafka again.
 */
export class RecentForwards {
  private readonly byKey = new Map<string, { expiresAt: number; answer: Promise<ForwardAnswer> }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly max = MAX_REMEMBERED_FORWARDS,
  ) {}

  /** The first answer to this forward if one is known (or on its way), else undefined: produce it, and `remember`. */
  seen(key: string): Promise<ForwardAnswer> | undefined {
    const entry = this.byKey.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry.answer;
    this.byKey.delete(key);
    return undefined;
  }

  /** Records the answer to a forward being handled now, before it is known. */
  remember(key: string, answer: Promise<ForwardAnswer>): void {
    const now = this.now();
    // Every entry lives as long, so the oldest (first in the Map) expire first: O(1) amortised.
    for (const [oldest, entry] of this.byKey) {
      if (entry.expiresAt > now && this.byKey.size < this.max) break;
      this.byKey.delete(oldest);
    }
    this.byKey.set(key, { expiresAt: now + REPLAY_WINDOW_MS, answer });
    void answer.then(
      (a) => {
        if (a.status !== 202) this.forget(key, answer);
      },
      () => this.forget(key, answer),
    );
  }

  get size(): number {
    return this.byKey.size;
  }

  private forget(key: string, answer: Promise<ForwardAnswer>): void {
    if (this.byKey.get(key)?.answer === answer) this.byKey.delete(key);
  }
}
