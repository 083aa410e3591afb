import { LOTTERY_ENTRY, placeOf, verifyLottery, type LotteryCheck } from "@fluxgate/common";

/** What the edge publishes at GET /sales/:productId/prequeue once the line is drawn (edge/src/lottery/published.ts). */
interface Published {
  productId: string;
  saleId: string;
  algorithm: string;
  commitment: string;
  seed: string;
  digest: string;
  entries: number;
  places: string[];
}

export interface SaleLotteryCheck extends LotteryCheck {
  productId: string;
  saleId: string;
  algorithm: string;
  entries: number;
  commitment: string;
  /** Whether a commitment recorded before the pre-queue opened was compared (else the published one was trusted). */
  againstRecordedCommitment: boolean;
  /** The buyer's own entry (from a pre-queue ticket) and its recomputed place. */
  ticket?: { entry: string; place: number | undefined; toldPlace?: number; agrees: boolean };
}

/**
 * The entry a pre-queue ticket carries: the ticket's payload is readable by anyone holding it
 * (base64url JSON; only the MAC needs the edge's secret), and its 7th field is the entry.
 */
export function entryOfTicket(token: string): string | undefined {
  try {
    const fields = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")) as unknown[];
    const entry = fields[6];
    return typeof entry === "string" && LOTTERY_ENTRY.test(entry) ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** The place a numbered queue ticket holds (its 3rd field), for comparing with the recomputed one. */
export function placeOfTicket(token: string): number | undefined {
  try {
    const fields = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")) as unknown[];
    return typeof fields[2] === "number" && fields[2] > 0 ? fields[2] : undefined;
  } catch {
    return undefined;
  }
}

export interface CheckOptions {
  /** The commitment as published before the pre-queue opened (GET /sales/:productId), if the checker recorded it. */
  commitment?: string;
  /** A buyer's pre-queue ticket (the 202's `ticket`), to find its entry's place. */
  ticket?: string;
  /** The place the edge gave that buyer (its queue ticket's number), to compare. */
  place?: number;
}

/** Fetches a sale's published draw from an edge and checks it from public data only. */
export async function checkSaleLottery(edgeUrl: string, productId: string, options: CheckOptions = {}): Promise<SaleLotteryCheck> {
  const res = await fetch(new URL(`/sales/${encodeURIComponent(productId)}/prequeue`, edgeUrl));
  const body = (await res.json()) as Published & { status?: string; error?: string };
  if (res.status !== 200) throw new Error(`the edge answered ${res.status}: ${body.status ?? body.error ?? JSON.stringify(body)}`);
  const check = verifyLottery(body, options.commitment);
  const result: SaleLotteryCheck = {
    ...check,
    productId: body.productId,
    saleId: body.saleId,
    algorithm: body.algorithm,
    entries: body.places.length,
    commitment: body.commitment,
    againstRecordedCommitment: options.commitment !== undefined,
  };
  if (body.entries !== body.places.length) result.problems.push(`says ${body.entries} entries but lists ${body.places.length}`);
  if (options.ticket !== undefined) {
    const entry = entryOfTicket(options.ticket);
    if (!entry) result.problems.push("the ticket is not a pre-queue ticket (it carries no entry)");
    else {
      const place = placeOf(body, entry);
      const agrees = place !== undefined && (options.place === undefined || options.place === place);
      result.ticket = { entry, place, ...(options.place !== undefined ? { toldPlace: options.place } : {}), agrees };
      if (place === undefined) result.problems.push("the ticket's entry is not in the published list");
      else if (!agrees) result.problems.push(`the ticket's entry has place ${place}, but the edge gave place ${options.place}`);
    }
  }
  result.ok = result.problems.length === 0;
  return result;
}
