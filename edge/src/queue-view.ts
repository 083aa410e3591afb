import type { SaleSnapshot } from "./gate/gate";
import { knownSale } from "./memory";

/** How fresh this isolate's view must be to decide anything from it without asking Redis. */
export const FRESH_VIEW_MS = 1_000;

/**
 * While people wait, the watermark moves at the sale's rate (gate.lua), whether or not anyone
 * calls: project it from a snapshot to now, never past the last ticket issued.
 */
export function projectedAdmitted(snapshot: Pick<SaleSnapshot, "admitted" | "issued" | "rate" | "at">, now: number): number {
  return Math.min(snapshot.issued, snapshot.admitted + Math.floor((snapshot.rate * Math.max(0, now - snapshot.at)) / 1000));
}

/**
 * True when the people already in line would take every unit left: a newcomer cannot buy unless
 * some of them walk away, so it waits on standby (a signed ticket with no place, no Redis call)
 * instead of taking a numbered place. This is what keeps a crowd 20× the stock from costing Redis
 * one command per person.
 */
export function lineCoversStock(productId: string, now: number): SaleSnapshot | undefined {
  const known = knownSale(productId);
  if (!known || now - known.seenAt > FRESH_VIEW_MS) return undefined;
  const { snapshot } = known;
  if (snapshot.remaining <= 0) return undefined;
  return snapshot.issued - projectedAdmitted(snapshot, now) >= snapshot.remaining ? snapshot : undefined;
}
