import type { SaleSnapshot } from "../src/gate/gate";

/** A gate's view of a running sale ("s1", 10 left, nobody in line), with the fields a test cares about changed. */
export const snapshot = (over: Partial<SaleSnapshot> = {}): SaleSnapshot => ({
  saleId: "s1",
  remaining: 10,
  issued: 0,
  admitted: 0,
  rate: 1,
  at: 1,
  claimed: 0,
  endsAt: 0,
  ...over,
});
