import type { SaleSnapshot } from "./gate/gate";

type View = Pick<SaleSnapshot, "admitted" | "issued" | "rate" | "at" | "remaining" | "claimed">;

/**
 * While people wait, the watermark moves at the sale's rate (gate.lua), whether or not anyone
 * calls: project it from a snapshot to now, never past the last ticket issued, and never past
 * the units free of claims (the gate stops there too).
 */
export function projectedAdmitted(snapshot: View, now: number): number {
  const byRate = snapshot.admitted + Math.floor((snapshot.rate * Math.max(0, now - snapshot.at)) / 1000);
  const byStock = snapshot.admitted + Math.max(0, snapshot.remaining - snapshot.claimed);
  return Math.min(snapshot.issued, byRate, byStock);
}

/**
 * True when the people already in line would take every unit left: those waiting (at least one
 * unit each) and those admitted who hold a claim. Admission only turns a waiting place into a
 * claim, so this holds for the whole projection, until someone buys or walks away.
 */
export const lineCovers = (snapshot: View) => snapshot.claimed + snapshot.issued - snapshot.admitted >= snapshot.remaining;
