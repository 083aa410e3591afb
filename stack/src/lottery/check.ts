import { placeOf, readTicketPayload, verifyLottery, type LotteryCheck } from "@fluxgate/common";

/** What the edge publishes at GET /sales/:productId/prequeue once the line is drawn (edge/src/lottery/published.ts). */
export interface PublishedDraw {
  productId: string;
  saleId: string;
  algorithm: string;
  commitment: string;
  seed: string;
  digest: string;
  entries: number;
  places: string[];
}

/** A buyer's entry and, when the edge gave one, the place it gave (a queue ticket's number). */
export interface BuyerPlace {
  entry: string;
  place?: number | undefined;
}

export interface DrawCheck extends LotteryCheck {
  productId: string;
  saleId: string;
  algorithm: string;
  entries: number;
  commitment: string;
  /** Whether a commitment recorded before the pre-queue opened was compared (else the published one was trusted). */
  againstRecordedCommitment: boolean;
  /** Each buyer checked: the place the published draw gives its entry, and whether the edge gave the same. */
  buyers: (BuyerPlace & { drawn: number | undefined; agrees: boolean })[];
}

export async function fetchPublishedDraw(edgeUrl: string | URL, productId: string): Promise<PublishedDraw> {
  const res = await fetch(new URL(`/sales/${encodeURIComponent(productId)}/prequeue`, edgeUrl));
  const body = (await res.json()) as PublishedDraw & { status?: string; error?: string };
  if (res.status !== 200) throw new Error(`the edge answered ${res.status}: ${body.status ?? body.error ?? JSON.stringify(body)}`);
  return body;
}

/**
 * A published draw checked from public data only: the seed against the commitment (the one
 * recorded before the pre-queue opened, when given), every place recomputed, and each buyer's
 * entry found in it at the place the edge gave.
 */
export function checkDraw(published: PublishedDraw, options: { commitment?: string | undefined; buyers?: BuyerPlace[] } = {}): DrawCheck {
  const check = verifyLottery(published, options.commitment);
  const problems = [...check.problems];
  if (published.entries !== published.places.length) problems.push(`says ${published.entries} entries but lists ${published.places.length}`);
  const buyers = (options.buyers ?? []).map((b) => {
    const drawn = placeOf(published, b.entry);
    return { ...b, drawn, agrees: drawn !== undefined && (b.place === undefined || b.place === drawn) };
  });
  const missing = buyers.filter((b) => b.drawn === undefined).length;
  const moved = buyers.filter((b) => b.drawn !== undefined && !b.agrees);
  // One buyer checking its own ticket, or a crowd's (the demo).
  if (buyers.length === 1 && missing === 1) problems.push("the ticket's entry is not in the published list");
  else if (missing > 0) problems.push(`${missing} of the ${buyers.length} entries are not in the published list`);
  if (buyers.length === 1 && moved.length === 1) problems.push(`the ticket's entry has place ${moved[0]!.drawn}, but the edge gave place ${moved[0]!.place}`);
  else if (moved.length > 0) problems.push(`${moved.length} of the ${buyers.length} places the edge gave differ from the published draw`);
  return {
    ok: problems.length === 0,
    problems,
    productId: published.productId,
    saleId: published.saleId,
    algorithm: published.algorithm,
    entries: published.places.length,
    commitment: published.commitment,
    againstRecordedCommitment: options.commitment !== undefined,
    buyers,
  };
}

/** The entry a pre-queue ticket carries (its payload is readable without the edge's key). */
export const entryOfTicket = (token: string) => readTicketPayload(token)?.prequeue?.entry;

/** The place a numbered queue ticket holds. */
export const placeOfTicket = (token: string) => {
  const number = readTicketPayload(token)?.number;
  return number ? number : undefined;
};
