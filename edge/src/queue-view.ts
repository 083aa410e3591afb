import type { SaleSnapshot } from "./gate/gate";

type View = Pick<SaleSnapshot, "admitted" | "issued" | "rate" | "at" | "remaining" | "claimed" | "paused">;

/**
 * While people wait, the watermark moves at the sale's rate (gate.lua), whether or not anyone
 * calls: project it from a snapshot to now, never past the last ticket issued, and never past
 * the units free of claims (the gate stops there too).
 */
export function projectedAdmitted(snapshot: View, now: number): number {
  // Paused: the line stands where it stood until the operator resumes.
  if (snapshot.paused) return Math.min(snapshot.issued, snapshot.admitted);
  const byRate = snapshot.admitted + Math.floor((snapshot.rate * Math.max(0, now - snapshot.at)) / 1000);
  const byStock = snapshot.admitted + Math.max(0, snapshot.remaining - snapshot.claimed);
  return Math.min(snapshot.issued, byRate, byStock);
}

/**
 * The units left that the people already in line would not take: those waiting take at least one
 * unit each, those admitted hold a claim. Admission only turns a waiting place into a claim, so
 * this holds for the whole projection, until someone buys or walks away.
 */
export const unitsUncovered = (snapshot: View) => snapshot.remaining - snapshot.claimed - (snapshot.issued - snapshot.admitted);

/** True when the people already in line would take every unit left (unitsUncovered). */
export const lineCovers = (snapshot: View) => unitsUncovered(snapshot) <= 0;
