import { CATALOG_KEYS, type ScriptEvaluator } from "@fluxgate/common";
import { LRUCache } from "lru-cache";
import { scripts } from "./gate/scripts";
import { logEvent } from "./log";
import { CATALOG_COPY_MS, UNKNOWN_PRODUCT_FLOOD_MS } from "./time-windows";
import { UPSTASH_TIMEOUT_MS } from "./upstash-health";

/**
 * The most product ids an isolate keeps of the catalog (a product id is at most 64 characters:
 * a few MB at worst). A larger catalog is not copied: the isolate then looks every id up, as it
 * would without a catalog, and says so in its log.
 */
export const MAX_CATALOG_PRODUCTS = 50_000;
/** Sales this isolate found by looking them up (or started), kept until the copy has them: bounded, least recently used first. */
const MAX_FOUND = 10_000;
/** How often an isolate whose catalog was too large to copy reads it again (it may have shrunk). */
const TOO_LARGE_RECHECK_MS = 60_000;
/** How often a request waiting for another's lookup or refresh looks whether it landed. */
const WAIT_STEP_MS = 5;

interface Copy {
  /** The catalog's version when it was read, as the refresh script returns it. */
  version: string;
  /** undefined: the catalog held more than MAX_CATALOG_PRODUCTS, so this isolate keeps none of it. */
  ids: Set<string> | undefined;
  readAt: number;
}

/**
 * Which products have a sale, as one isolate knows it: the routes a product id reaches Redis
 * through (the public sale view, an order, a waiting room's status) ask here before they spend a
 * command on a product the isolate knows nothing of. It knows the catalog's copy (common/redis-keys.ts
 * CATALOG_KEYS, written by the init script) and the sales its own lookups found.
 *
 * With no flood, a product it does not know is looked up by the route itself, as before: one such
 * lookup at a time (another product's waits for it, a crowd for the same product goes along), so
 * nobody gets a false 404 and a sale's first buyers cost nothing extra. A lookup that finds no
 * sale starts a flood: until UNKNOWN_PRODUCT_FLOOD_MS pass with no such miss, ids it does not know
 * are answered from the copy, read again when it is CATALOG_COPY_MS old (one call, a version check
 * when nothing changed). So a flood of made-up ids costs one lookup and one read when it starts,
 * then at most one read per isolate per second, whatever its rate. The trade-off: during a flood
 * (and for UNKNOWN_PRODUCT_FLOOD_MS after it), a sale started on another isolate after the copy was
 * read is answered 404 here until the next read (at most CATALOG_COPY_MS); the isolate that
 * started it knows it at once.
 *
 * The clock and the wait are passed in, so a test can hold time still and count the calls.
 */
export class ProductCatalog {
  private copy: Copy | undefined;
  private readonly found = new LRUCache<string, true>({ max: MAX_FOUND });
  /** The one lookup of a product this isolate did not know, while it is under way. */
  private lookup: { productId: string; since: number } | undefined;
  /** When a product this isolate did not know last turned out to have no sale. */
  private missedAt = -Infinity;
  /** When the refresh in flight started (one at a time: the others wait for it, not ask again). */
  private refreshingSince: number | undefined;
  private warnedTooLarge = false;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly wait: (ms: number) => Promise<unknown> = (ms) => scheduler.wait(ms),
  ) {}

  /**
   * Whether the route should look `productId` up in Redis (true); false is "no such sale", to be
   * answered with no command. A route that looks up tells the outcome through lookUp().
   */
  async mayHaveSale(redis: ScriptEvaluator, productId: string): Promise<boolean> {
    for (let waited = 0; ; waited += WAIT_STEP_MS) {
      if (this.knows(productId)) return true;
      const t = this.now();
      if (t - this.missedAt < UNKNOWN_PRODUCT_FLOOD_MS) break;
      const lookup = this.lookup && t - this.lookup.since < UPSTASH_TIMEOUT_MS ? this.lookup : undefined;
      if (!lookup) {
        this.lookup = { productId, since: t };
        return true;
      }
      if (lookup.productId === productId) return true;
      // Another product's lookup is under way: its outcome decides (a miss starts a flood window).
      if (waited >= UPSTASH_TIMEOUT_MS) break;
      await this.wait(WAIT_STEP_MS);
    }
    return this.fromCopy(redis, productId);
  }

  /**
   * The route's own lookup of a product (`read`, one command), and what it found: a sale (`has`)
   * is known from then on; none starts a flood window. Whatever happens, it no longer holds up
   * the lookups of other products.
   */
  async lookUp<T>(productId: string, read: () => Promise<T>, has: (reply: T) => boolean): Promise<T> {
    try {
      const reply = await read();
      if (has(reply)) this.found.set(productId, true);
      else this.missedAt = this.now();
      return reply;
    } finally {
      if (this.lookup?.productId === productId) this.lookup = undefined;
    }
  }

  /** A sale this isolate just started (/init): known at once. */
  learn(productId: string): void {
    this.found.set(productId, true);
  }

  /** How many product ids this isolate holds: the copy's and those it found (for the bound's test and the bench). */
  sizes(): { copy: number; found: number } {
    return { copy: this.copy?.ids?.size ?? 0, found: this.found.size };
  }

  private knows(productId: string): boolean {
    return this.copy?.ids?.has(productId) === true || this.found.has(productId);
  }

  /** During a flood: the copy answers, read again if it is CATALOG_COPY_MS old (or another request's read lands first). */
  private async fromCopy(redis: ScriptEvaluator, productId: string): Promise<boolean> {
    const t = this.now();
    if (this.copy && !this.copy.ids && t - this.copy.readAt < TOO_LARGE_RECHECK_MS) return true;
    if (!this.refreshing(t) && (!this.copy || t - this.copy.readAt >= CATALOG_COPY_MS)) await this.refresh(redis);
    else for (let waited = 0; this.refreshing(this.now()) && waited < UPSTASH_TIMEOUT_MS; waited += WAIT_STEP_MS) await this.wait(WAIT_STEP_MS);
    // No copy (the read failed) or one too large to keep: the route looks the id up itself.
    const ids = this.copy?.ids;
    if (!ids) return true;
    if (ids.has(productId) || this.found.has(productId)) return true;
    this.missedAt = this.now();
    return false;
  }

  /** A request that started a refresh and was cut (its client went away) holds it no longer than a Redis call may take. */
  private refreshing(t: number): boolean {
    return this.refreshingSince !== undefined && t - this.refreshingSince < UPSTASH_TIMEOUT_MS;
  }

  private async refresh(redis: ScriptEvaluator): Promise<void> {
    const startedAt = this.now();
    this.refreshingSince = startedAt;
    try {
      // Replies are raw (redis.ts): the version is text, the count a number, the members an array of text.
      const [version, count, members] = await scripts.catalog.run<[string, number?, string[]?]>(
        redis,
        [CATALOG_KEYS.products, CATALOG_KEYS.version],
        [this.copy?.version ?? "", MAX_CATALOG_PRODUCTS],
      );
      if (members) this.copy = { version, ids: new Set(members), readAt: startedAt };
      else if (count !== undefined) {
        this.copy = { version, ids: undefined, readAt: startedAt };
        if (!this.warnedTooLarge) logEvent("warn", "catalog too large to copy: every unknown product id is looked up", { count, max: MAX_CATALOG_PRODUCTS });
        this.warnedTooLarge = true;
      } else if (this.copy) this.copy.readAt = startedAt;
    } finally {
      if (this.refreshingSince === startedAt) this.refreshingSince = undefined;
    }
  }
}
