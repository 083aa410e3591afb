import { LRUCache } from "lru-cache";

/**
 * A bounded map whose entries also expire at a time of their own (a token's `exp`, a challenge's
 * expiry): the least recently used entry goes first once `max` is reached, so keys a client
 * chooses can never grow an isolate's memory without end. The clock is passed in, for tests.
 */
export class ExpiringCache<V extends object> {
  private readonly entries: LRUCache<string, { value: V; until: number }>;

  constructor(
    max: number,
    private readonly now: () => number = Date.now,
  ) {
    this.entries = new LRUCache({ max });
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until > this.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `value` until `until` (ms since the epoch); one already past is not kept. */
  set(key: string, value: V, until: number): void {
    if (until > this.now()) this.entries.set(key, { value, until });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
