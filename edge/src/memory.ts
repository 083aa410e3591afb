import type { SaleSnapshot } from "./gate/gate";

/**
 * What this isolate learned about each sale from its last gate call. Sold-out is final for a
 * saleId, so it is answered from here without Redis; the bound below is how long an isolate may
 * keep saying so after an operator restarts the sale elsewhere.
 */
export const SOLD_OUT_MEMORY_MS = 3_000;

export interface Known {
  snapshot: SaleSnapshot;
  seenAt: number;
}

const sales = new Map<string, Known>();
/** When one request of this isolate went to re-check a stale sold-out (the others keep answering from memory). */
const rechecking = new Map<string, number>();

export function remember(productId: string, snapshot: SaleSnapshot, now = Date.now()): void {
  rechecking.delete(productId);
  const known = sales.get(productId);
  // Several gate calls resolve out of order; never let an older view replace a newer one of the same sale.
  if (known && known.snapshot.saleId === snapshot.saleId && known.snapshot.remaining < snapshot.remaining) {
    known.seenAt = now;
    // An end set meanwhile (the operator's close) is news even in an older view.
    if (snapshot.endsAt > 0 && (known.snapshot.endsAt === 0 || snapshot.endsAt < known.snapshot.endsAt)) known.snapshot = { ...known.snapshot, endsAt: snapshot.endsAt };
    return;
  }
  sales.set(productId, { snapshot, seenAt: now });
}

export function forget(productId: string): void {
  sales.delete(productId);
}

export function knownSale(productId: string): Readonly<Known> | undefined {
  return sales.get(productId);
}

/**
 * Whether to answer sold-out from memory. Once the memory is stale, exactly one request re-checks
 * in Redis while the others keep answering from memory (for at most a second more), so the expiry
 * costs one command, not one per request in flight.
 */
export function soldOutInMemory(productId: string, now = Date.now()): boolean {
  return finalInMemory(productId, now, (s) => s.remaining <= 0);
}

/** Whether to answer "ended" from memory: the sale's end time passed (by this isolate's clock), with the same re-check as sold-out. */
export function endedInMemory(productId: string, now = Date.now()): boolean {
  return finalInMemory(productId, now, (s) => s.endsAt > 0 && now >= s.endsAt);
}

function finalInMemory(productId: string, now: number, isFinal: (snapshot: SaleSnapshot) => boolean): boolean {
  const known = sales.get(productId);
  if (known === undefined || !isFinal(known.snapshot)) return false;
  if (now - known.seenAt < SOLD_OUT_MEMORY_MS) return true;
  const since = rechecking.get(productId);
  if (since !== undefined && now - since < 1_000) return true;
  rechecking.set(productId, now);
  return false;
}

/**
 * Final answers this isolate gave, by sale and Idempotency-Key, so a retry that arrives after the
 * isolate started answering sold-out from memory still gets its original 200. Bounded: the oldest
 * entries go first (a Map iterates in insertion order).
 */
const MAX_ANSWERS = 10_000;
const answers = new Map<string, { requestHash: string; status: number; body: unknown }>();

export function rememberAnswer(productId: string, key: string, requestHash: string, status: number, body: unknown): void {
  const id = `${productId}\n${key}`;
  answers.delete(id);
  answers.set(id, { requestHash, status, body });
  if (answers.size > MAX_ANSWERS) answers.delete(answers.keys().next().value!);
}

export function answerFor(productId: string, key: string) {
  return answers.get(`${productId}\n${key}`);
}

/** Sold-out answers given from memory, per sale, not yet counted in Redis (the next gate call carries them). */
const soldOutAnswers = new Map<string, number>();

export function countSoldOutAnswer(productId: string): void {
  soldOutAnswers.set(productId, (soldOutAnswers.get(productId) ?? 0) + 1);
}

export function takeSoldOutAnswers(productId: string): number {
  const n = soldOutAnswers.get(productId) ?? 0;
  soldOutAnswers.delete(productId);
  return n;
}
