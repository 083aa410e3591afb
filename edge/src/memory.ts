import { buyerKey, type SaleView } from "@fluxgate/common";
import { LRUCache } from "lru-cache";
import { ExpiringCache } from "./expiring-cache";
import type { GateFilters, SaleSnapshot } from "./gate/gate";
import type { KeyFilter } from "./gate/key-filter";
import { lineCovers, unitsUncovered } from "./queue-view";
import { FRESH_VIEW_MS, NEGATIVE_MEMORY_MS, PAUSED_RECHECK_MS, PUBLIC_VIEW_MS, RECHECK_MS, SOLD_OUT_MEMORY_MS } from "./time-windows";

/** Final answers kept per sale; the oldest go first. */
const MAX_ANSWERS = 10_000;
/** Buyers past the limit kept per sale, least recently used first (a buyer is a signed-in account). */
export const MAX_BUYERS_AT_LIMIT = 10_000;
/**
 * Product ids a client may make up, remembered per isolate: the names Redis said have no sale, and
 * the public views read. Bounded (least recently used first), so a million random ids cost at most
 * this many entries each (a product id is at most 64 characters).
 */
export const MAX_NAMED_PRODUCTS = 10_000;
/**
 * Gate calls resolve out of order. Within a sale Redis only ever takes stock and issues places,
 * so the newer of two replies has less left, or as much left and more places issued, or both
 * the same and a later clock: an older reply must not reopen places a newer one saw taken.
 */
function newerOrSame(a: SaleSnapshot, b: SaleSnapshot): boolean {
  // An operator's control (a restock, a resume) moves the sale the other way: its version says which is newer.
  if ((a.version ?? 0) !== (b.version ?? 0)) return (a.version ?? 0) > (b.version ?? 0);
  // With holds, units come back when a hold ends: Redis' clock says which reply is newer (its
  // scripts run one at a time).
  if ((a.held ?? 0) > 0 || (b.held ?? 0) > 0) return a.at >= b.at;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining;
  if (a.issued !== b.issued) return a.issued > b.issued;
  return a.at >= b.at;
}

/** Nothing left, and nothing held for payment that could come back: "sold out" is final. */
const finallySoldOut = (snapshot: SaleSnapshot) => snapshot.remaining <= 0 && !snapshot.held;

export interface Answer {
  /** The request the key was first used with (product, buyer, quantity): a retry with another gets 422. */
  request: string;
  status: number;
  body: unknown;
}

/** One isolate's memory of a sale as one decision sees it (SaleMemory.recall). */
export interface Recall {
  /** The last view of the sale and when this isolate learned it. */
  view: Readonly<{ snapshot: SaleSnapshot; seenAt: number }> | undefined;
  /** Redis said, within NEGATIVE_MEMORY_MS, that there is no sale of this product. */
  unknown: boolean;
  /** Set while "sold out" may be answered from memory to any key this filter has never seen. */
  soldOut: KeyFilter | undefined;
  /** Likewise for a sale that has ended. */
  ended: KeyFilter | undefined;
  /** Likewise while the operator has paused the sale ("paused" to any key the filter never saw). */
  paused: KeyFilter | undefined;
  /** The final answer this isolate gave to the same key of the same buyer in this sale. */
  answer: Answer | undefined;
  /**
   * The buyer has bought the limit (the gate said so), and this key is none of their accepted
   * orders' (a retry of one of those goes to Redis, which replays the order).
   */
  limitReached: BuyerAtLimit | undefined;
  /** Set while the line covers the stock: a key (or pre-queue buyer) the filter never saw waits on standby. */
  standby: { snapshot: SaleSnapshot; queuedKeys: KeyFilter } | undefined;
  /** The sale's proof-of-work difficulty as last learned (0 = off or unknown). */
  powDifficulty: number;
}

/** What the gate said of a buyer who bought the limit. */
export interface BuyerAtLimit {
  saleId: string;
  /** The gate's limit_reached payload ({ bought, limit }). */
  payload: string;
  /** The Idempotency-Keys of the buyer's accepted orders. */
  acceptedKeys: ReadonlySet<string>;
}

interface SaleState {
  snapshot: SaleSnapshot;
  seenAt: number;
  /** When one request went to re-check a stale view (the others keep answering from memory meanwhile). */
  recheckingSince: number | undefined;
  /** The request that took the re-check (recall's claimant): it goes on to Redis however often it recalls. */
  recheckingBy: object | undefined;
  /** Every key this sale accepted may be in it (the gate sends it once the stock is gone). */
  acceptedKeys: KeyFilter | undefined;
  /** Every key queued before `at` may be in it: the first `issued` tickets' keys. */
  queuedKeys: { filter: KeyFilter; at: number; issued: number } | undefined;
  /** When a gate call went to fetch the queued-keys filter (-Infinity once it came back). */
  queuedKeysAskedAt: number;
  /** Final answers this isolate gave in this sale, by buyerKey. */
  answers: Map<string, Answer>;
  /** Buyers who bought the limit, by userId: any new key of theirs is answered here. */
  atLimit: LRUCache<string, BuyerAtLimit>;
  /** Sold-out answers given from memory and not yet counted in Redis (the next gate call carries them). */
  soldOutAnswers: number;
  soldOutBody: string | undefined;
}

/**
 * What one isolate knows about each sale: the last view the gate (or a status refresh) gave it,
 * the filters of accepted and queued keys, and the answers it gave. Everything is per saleId: a
 * view of a new sale replaces all of it. Another isolate knows none of this, so nothing here
 * ever answers what only Redis can: a key an accepted-keys filter may hold goes to Redis.
 */
export class SaleMemory {
  private readonly sales = new Map<string, SaleState>();
  /** When a request of this isolate last went to refresh a waiting room's view, per product. */
  private readonly refreshes = new Map<string, number>();
  private readonly powRequirements = new Map<string, { saleId: string; difficulty: number }>();
  /** Each sale's drawn line as published (JSON): it never changes once drawn, so one read per isolate and sale. */
  private readonly draws = new Map<string, { saleId: string; json: string }>();
  private readonly unknown: ExpiringCache<object>;
  private readonly publicViews: ExpiringCache<{ view: SaleView; readAt: number }>;
  /** Products whose public view a request of this isolate is reading now. */
  private readonly publicReads: ExpiringCache<object>;

  constructor(private readonly now: () => number = Date.now) {
    this.unknown = new ExpiringCache(MAX_NAMED_PRODUCTS, now);
    this.publicViews = new ExpiringCache(MAX_NAMED_PRODUCTS, now);
    this.publicReads = new ExpiringCache(MAX_NAMED_PRODUCTS, now);
  }

  /**
   * What this isolate knows that bears on one purchase attempt, read once per decision (decide.ts
   * takes it as plain data). Reading it claims the re-check of a stale sold-out or ended view, as
   * soldOut()/ended() do: one request in a window goes to Redis, the rest answer from memory.
   */
  recall(productId: string, userId: string, key: string, claimant?: object): Recall {
    const s = this.sales.get(productId);
    const unknown = !s && this.unknown.get(productId) !== undefined;
    const soldOut = this.soldOut(productId, claimant);
    const answer = this.answerFor(productId, buyerKey(userId, key));
    const atLimit = s && !answer && this.current(s, this.now()) ? s.atLimit.get(userId) : undefined;
    return {
      view: s && { snapshot: s.snapshot, seenAt: s.seenAt },
      unknown,
      soldOut,
      ended: !answer && !soldOut ? this.ended(productId, claimant) : undefined,
      paused: !answer && !soldOut ? this.paused(productId, claimant) : undefined,
      answer,
      limitReached: atLimit && !atLimit.acceptedKeys.has(key) ? atLimit : undefined,
      standby: this.standby(productId),
      powDifficulty: this.powRequirements.get(productId)?.difficulty ?? 0,
    };
  }

  /** Takes in what a gate call or a status refresh saw; an older view never replaces a newer one. */
  learn(productId: string, snapshot: SaleSnapshot, filters?: GateFilters): void {
    const t = this.now();
    let s = this.sales.get(productId);
    if (s && s.snapshot.saleId !== snapshot.saleId && snapshot.at < s.snapshot.at) return;
    if (!s || s.snapshot.saleId !== snapshot.saleId) {
      s = {
        snapshot,
        seenAt: t,
        recheckingSince: undefined,
        recheckingBy: undefined,
        acceptedKeys: undefined,
        queuedKeys: undefined,
        queuedKeysAskedAt: -Infinity,
        answers: new Map(),
        atLimit: new LRUCache({ max: MAX_BUYERS_AT_LIMIT }),
        soldOutAnswers: 0,
        soldOutBody: undefined,
      };
      this.sales.set(productId, s);
    } else if (newerOrSame(snapshot, s.snapshot)) {
      if ((snapshot.version ?? 0) > (s.snapshot.version ?? 0)) this.steered(s);
      s.snapshot = snapshot;
    } else if (snapshot.endsAt > 0 && (s.snapshot.endsAt === 0 || snapshot.endsAt < s.snapshot.endsAt)) {
      // An end set meanwhile (the operator's close) is news even in an older view.
      s.snapshot = { ...s.snapshot, endsAt: snapshot.endsAt };
    }
    s.seenAt = t;
    s.recheckingSince = undefined;
    s.recheckingBy = undefined;
    if (filters?.acceptedKeys) s.acceptedKeys = filters.acceptedKeys;
    if (filters?.queuedKeys) {
      s.queuedKeys = { filter: filters.queuedKeys, at: t, issued: snapshot.issued };
      s.queuedKeysAskedAt = -Infinity;
    }
  }

  /**
   * Each sale's proof-of-work setting, learned from /init and from every gate reply (which carries
   * it), so an attempt without a solution is answered here with no Redis command. The gate has the
   * final word: a stale setting costs at most a round trip, never a sale.
   */
  learnPowRequirement(productId: string, saleId: string, difficulty: number): void {
    if (this.powRequirements.size > 1000 && !this.powRequirements.has(productId)) this.powRequirements.clear();
    this.powRequirements.set(productId, { saleId, difficulty });
  }

  powRequirement(productId: string): { saleId: string; difficulty: number } | undefined {
    return this.powRequirements.get(productId);
  }

  /** The published draw of `saleId`, if this isolate read it before (a restarted sale has another saleId). */
  publishedDraw(productId: string, saleId: string): string | undefined {
    const d = this.draws.get(productId);
    return d?.saleId === saleId ? d.json : undefined;
  }

  rememberPublishedDraw(productId: string, saleId: string, json: string): void {
    // A few large documents at most: an isolate keeps the draws of the last 20 products asked for.
    if (this.draws.size >= 20 && !this.draws.has(productId)) this.draws.delete(this.draws.keys().next().value!);
    this.draws.set(productId, { saleId, json });
  }

  forget(productId: string): void {
    this.sales.delete(productId);
    this.unknown.delete(productId);
    this.publicViews.delete(productId);
    this.publicReads.delete(productId);
  }

  /**
   * "No such sale", as Redis just said it: for NEGATIVE_MEMORY_MS this isolate says so itself, so a
   * flood of made-up product ids costs at most one command per id per isolate per window. A sale
   * started meanwhile is seen within the window (at once on the isolate that ran /init).
   */
  rememberUnknown(productId: string): void {
    this.unknown.set(productId, {}, this.now() + NEGATIVE_MEMORY_MS);
  }

  /** The sale as GET /sales/:productId last read it (or null: no sale), if read within PUBLIC_VIEW_MS. */
  publicView(productId: string): SaleView | null | undefined {
    if (this.unknown.get(productId)) return null;
    const kept = this.publicViews.get(productId);
    return kept && this.now() - kept.readAt < PUBLIC_VIEW_MS ? kept.view : undefined;
  }

  /** The last public view read, older than PUBLIC_VIEW_MS by up to RECHECK_MS: what others answer while one request reads it again. */
  lastPublicView(productId: string): SaleView | undefined {
    return this.publicViews.get(productId)?.view;
  }

  /**
   * Whether this request should read the public view: yes when no request of this isolate started
   * to within RECHECK_MS. The others answer the last view meanwhile (or wait for the first read):
   * a crowd polling a product page costs one HMGET per isolate per window, not one per request in flight.
   */
  startPublicRead(productId: string): boolean {
    if (this.publicReads.get(productId)) return false;
    this.publicReads.set(productId, {}, this.now() + RECHECK_MS);
    return true;
  }

  rememberPublicView(productId: string, view: SaleView | undefined): void {
    this.publicReads.delete(productId);
    if (view) this.publicViews.set(productId, { view, readAt: this.now() }, this.now() + PUBLIC_VIEW_MS + RECHECK_MS);
    else this.rememberUnknown(productId);
  }

  /** How many product ids this isolate holds anything for, in each of its maps (for the bound's test). */
  sizes(): Record<string, number> {
    return {
      sales: this.sales.size,
      unknown: this.unknown.size,
      publicViews: this.publicViews.size,
      publicReads: this.publicReads.size,
      powRequirements: this.powRequirements.size,
      draws: this.draws.size,
      refreshes: this.refreshes.size,
      buyersAtLimit: [...this.sales.values()].reduce((n, s) => n + s.atLimit.size, 0),
    };
  }

  view(productId: string): Readonly<{ snapshot: SaleSnapshot; seenAt: number }> | undefined {
    return this.sales.get(productId);
  }

  /**
   * The accepted-keys filter when this isolate may answer "sold out" from memory to any key the
   * filter has never seen. Once the view is stale exactly one request re-checks in Redis (undefined
   * for it) while the others keep answering from memory for at most RECHECK_MS more: the expiry
   * costs one command per window, not one per request in flight.
   */
  soldOut(productId: string, claimant?: object): KeyFilter | undefined {
    const s = this.sales.get(productId);
    if (!s || !finallySoldOut(s.snapshot) || !s.acceptedKeys) return undefined;
    return this.fromMemory(s, SOLD_OUT_MEMORY_MS, RECHECK_MS, claimant) ? s.acceptedKeys : undefined;
  }

  /**
   * Like soldOut(), for a sale whose end time has passed (endsAt, or the operator's close): the
   * accepted-keys filter while "ended" may be answered from memory to any key it has never seen.
   */
  ended(productId: string, claimant?: object): KeyFilter | undefined {
    const s = this.sales.get(productId);
    if (!s || s.snapshot.endsAt <= 0 || this.now() < s.snapshot.endsAt || !s.acceptedKeys) return undefined;
    return this.fromMemory(s, SOLD_OUT_MEMORY_MS, RECHECK_MS, claimant) ? s.acceptedKeys : undefined;
  }

  /** Like ended(), while the last view says the operator paused the sale. */
  paused(productId: string, claimant?: object): KeyFilter | undefined {
    const s = this.sales.get(productId);
    if (!s?.snapshot.paused || !s.acceptedKeys) return undefined;
    return this.fromMemory(s, PAUSED_RECHECK_MS, PAUSED_RECHECK_MS, claimant) ? s.acceptedKeys : undefined;
  }

  /**
   * Whether a stale view may still answer: within `freshMs` of learning it, or while another
   * request re-checks (for `recheckMs`). Otherwise this request takes the re-check (false) — and
   * keeps it: a claimant that recalls again on its way to Redis is not answered from memory by
   * its own claim.
   */
  private fromMemory(s: SaleState, freshMs: number, recheckMs: number, claimant: object | undefined): boolean {
    const t = this.now();
    if (t - s.seenAt < freshMs) return true;
    if (s.recheckingSince !== undefined && t - s.recheckingSince < recheckMs) return claimant === undefined || s.recheckingBy !== claimant;
    s.recheckingSince = t;
    s.recheckingBy = claimant;
    return false;
  }

  /** Whether the last view says the sale has ended (its end time passed, by this isolate's clock). */
  hasEnded(productId: string): boolean {
    const s = this.sales.get(productId);
    return s !== undefined && s.snapshot.endsAt > 0 && this.now() >= s.snapshot.endsAt;
  }

  /** Whether the last view says nothing is left (for waiting pages: no filter needed to say so). */
  saysSoldOut(productId: string): boolean {
    const s = this.sales.get(productId);
    return s !== undefined && finallySoldOut(s.snapshot) && this.current(s, this.now());
  }

  /**
   * Which filters the next gate call should bring back. `issuing`: a purchase attempt, which may
   * take a place in line; the filter its call brings back then already holds it.
   */
  filtersWanted(productId: string, issuing = false): { accepted: boolean; queued: boolean } {
    const s = this.sales.get(productId);
    if (!s) return { accepted: true, queued: true };
    const t = this.now();
    // Refreshed when the view knows of tickets the filter does not (or soon will: an attempt that
    // may take a place), or at half the freshness standby needs; one request at a time asks (not
    // every request in flight). Only once the line covers
    // half the units left: standby reads the filter only when it covers them all, and a line far
    // from that would bring it (up to 1 MiB for a huge stock) every second for nothing. Not later
    // than half: newcomers wait for a gate call while the line covers the stock, so the filter
    // that lets them stand by must already be here when it does.
    const behind = !s.queuedKeys || s.queuedKeys.issued < s.snapshot.issued || t - s.queuedKeys.at > FRESH_VIEW_MS / 2;
    const lineNear = unitsUncovered(s.snapshot) <= s.snapshot.remaining / 2;
    const queued = s.snapshot.remaining > 0 && lineNear && (behind || issuing) && t - s.queuedKeysAskedAt > RECHECK_MS;
    if (queued) s.queuedKeysAskedAt = t;
    return { accepted: !s.acceptedKeys, queued };
  }

  /**
   * When the people already in line (waiting, or admitted and holding a claim) would take every
   * unit left, a newcomer cannot buy unless some of them walk away: it waits on standby (no place,
   * no Redis call). Only from a fresh view, with a fresh filter of the queued keys (fetched again
   * as soon as a view shows tickets it does not know), and only for a key the filter has never
   * seen: a queued key keeps its place (it goes to Redis, which knows its ticket). A key queued
   * after this isolate's filter, in the last FRESH_VIEW_MS, can still be put on standby.
   */
  standby(productId: string): { snapshot: SaleSnapshot; queuedKeys: KeyFilter } | undefined {
    const s = this.sales.get(productId);
    const t = this.now();
    if (!s?.queuedKeys || t - s.seenAt > FRESH_VIEW_MS || t - s.queuedKeys.at > FRESH_VIEW_MS) return undefined;
    // The view knows tickets the filter does not: this request fetches a new one, unless another
    // already is (the others meanwhile decide from the filter they have). Not at a pre-queue's
    // start, when the view jumps by every entry at once: a filter from before it lacks buyers
    // who entered later, and only one from after it may put anyone on standby.
    if (s.queuedKeys.issued < s.snapshot.issued && (t - s.queuedKeysAskedAt > RECHECK_MS || (s.snapshot.prequeueOpensAt ?? 0) > 0)) return undefined;
    if (s.snapshot.remaining <= 0 || !lineCovers(s.snapshot)) return undefined;
    return { snapshot: s.snapshot, queuedKeys: s.queuedKeys.filter };
  }

  /** A buyer who bought the limit in `saleId`: their new keys are answered from memory while the view is current. */
  rememberLimit(productId: string, userId: string, atLimit: BuyerAtLimit): void {
    const s = this.sales.get(productId);
    if (s && s.snapshot.saleId === atLimit.saleId) s.atLimit.set(userId, atLimit);
  }

  /** A final answer given in `saleId` to a buyerKey, replayed to a retry of it while the view is current. */
  rememberAnswer(productId: string, saleId: string, key: string, answer: Answer): void {
    const s = this.sales.get(productId);
    if (!s || s.snapshot.saleId !== saleId) return;
    s.answers.delete(key);
    s.answers.set(key, answer);
    if (s.answers.size > MAX_ANSWERS) s.answers.delete(s.answers.keys().next().value!);
  }

  answerFor(productId: string, key: string): Answer | undefined {
    const s = this.sales.get(productId);
    return s && this.current(s, this.now()) ? s.answers.get(key) : undefined;
  }

  countSoldOutAnswer(productId: string): void {
    const s = this.sales.get(productId);
    if (s) s.soldOutAnswers++;
  }

  takeSoldOutAnswers(productId: string): number {
    const s = this.sales.get(productId);
    if (!s) return 0;
    const n = s.soldOutAnswers;
    s.soldOutAnswers = 0;
    return n;
  }

  /** The hottest answer of a sold-out sale, serialised once. */
  soldOutBody(productId: string): string {
    const s = this.sales.get(productId);
    const body = s?.soldOutBody ?? JSON.stringify({ status: "sold_out", productId });
    if (s) s.soldOutBody = body;
    return body;
  }

  /**
   * Whether this request should refresh the view: yes when none did in the last RECHECK_MS. The
   * others answer from the view they have meanwhile; none waits on another request's promise
   * (the Workers runtime cancels a continuation that crosses request contexts).
   */
  startRefresh(productId: string): boolean {
    const t = this.now();
    const since = this.refreshes.get(productId);
    if (since !== undefined && t - since < RECHECK_MS) return false;
    this.refreshes.set(productId, t);
    return true;
  }

  /**
   * An operator changed the sale: what the older settings implied is void. An accepted-keys filter
   * fetched while paused misses what sells after the resume; "sold out" and "ended" given to keys
   * may not hold after a restock or a later end. (Accepted orders and the limit stay final.)
   */
  private steered(s: SaleState): void {
    s.acceptedKeys = undefined;
    for (const [key, answer] of s.answers) {
      const status = (answer.body as { status?: string }).status;
      if (status === "sold_out" || status === "ended") s.answers.delete(key);
    }
  }

  private current(s: SaleState, t: number): boolean {
    if (t - s.seenAt < SOLD_OUT_MEMORY_MS) return true;
    return s.recheckingSince !== undefined && t - s.recheckingSince < RECHECK_MS;
  }
}
