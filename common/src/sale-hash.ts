/**
 * The sale hash (`saleKeys(productId).sale`) as readers outside the gate see it: one list of the
 * fields they read, and one parse of an HMGET of them. The gate script writes it (init-sale.lua,
 * gate.lua); the edge's snapshot, stats and sales routes and the audit read it through here.
 */
export const SALE_VIEW_FIELDS = [
  "saleId",
  "quantity",
  "added",
  "remaining",
  "issued",
  "admitted",
  "rate",
  "refilledAt",
  "claimed",
  "createdAt",
  "endsAt",
  "powDifficulty",
  "startsAt",
  "prequeueOpensAt",
  "prequeueEntries",
  "drawn",
  "commitment",
] as const;

export interface SaleView {
  saleId: string;
  /** The sale's stock at its start. */
  quantity: number;
  /** Units operators added since (PATCH addStock): quantity + added = sold + remaining. */
  added: number;
  /** Units not sold yet: below 0 only if something oversold (the audit looks). */
  remaining: number;
  /** Queue tickets issued, and the watermark: tickets up to it may buy. */
  issued: number;
  admitted: number;
  /** Admissions per second (may be a fraction). */
  rate: number;
  /** Redis' clock (ms) when the bucket and the watermark were last moved. */
  refilledAt: number;
  /** Units held by admitted, unused, unexpired tickets. */
  claimed: number;
  createdAt: number;
  /** When the sale ends (ms; 0 = when sold out or closed). */
  endsAt: number;
  /** Proof-of-work bits a fresh attempt must bring (0 = none). */
  powDifficulty: number;
  /** When the sale starts (ms; 0 = at once). */
  startsAt: number;
  /** The pre-queue (lottery.ts), when the sale has one. */
  prequeue?: {
    opensAt: number;
    /** SHA-256 of the lottery's secret seed, published before the pre-queue opens. */
    commitment: string;
    /** Entries so far; fixed at the start. */
    entries: number;
    /** Whether the draw has given every entry its place. */
    drawn: boolean;
  };
}

/** The HMGET reply of SALE_VIEW_FIELDS (in that order) as a SaleView; undefined when there is no sale. */
export function parseSaleView(values: readonly (string | null | undefined)[]): SaleView | undefined {
  const [saleId, ...rest] = values;
  if (!saleId) return undefined;
  const commitment = rest.pop();
  const [quantity, added, remaining, issued, admitted, rate, refilledAt, claimed, createdAt, endsAt, powDifficulty, startsAt, opensAt, entries, drawn] =
    rest.map((v) => Number(v ?? 0));
  const view: SaleView = {
    saleId,
    quantity: quantity!,
    added: added!,
    remaining: remaining!,
    issued: issued!,
    admitted: admitted!,
    rate: rate!,
    refilledAt: refilledAt!,
    claimed: claimed!,
    createdAt: createdAt!,
    endsAt: endsAt!,
    powDifficulty: powDifficulty!,
    startsAt: startsAt!,
  };
  if (opensAt) view.prequeue = { opensAt, commitment: commitment ?? "", entries: entries!, drawn: drawn === 1 };
  return view;
}

/** People waiting in line: nobody once nothing is left (the line is told so from memory and goes home). */
export const waitingIn = (sale: Pick<SaleView, "remaining" | "issued" | "admitted">) => (sale.remaining > 0 ? Math.max(0, sale.issued - sale.admitted) : 0);
