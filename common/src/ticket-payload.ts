import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";

/**
 * A queue ticket's payload (edge/src/tickets.ts signs it): the user's place in a sale's line and
 * what the waiting room needs to show a position and an ETA without asking Redis. The payload is
 * base64url JSON before the MAC, readable by anyone holding the ticket (only the MAC needs the
 * edge's secret): the load tools read places from it, and a buyer's pre-queue entry for
 * `npm run verify-lottery`. One layout, written and read here.
 */
export interface TicketFields {
  productId: string;
  saleId: string;
  /** Place in line: tickets are admitted in increasing order (0: standby, or a pre-queue entry). */
  number: number;
  /** The queue's watermark when the ticket was issued (tickets up to it could buy). */
  admittedAtIssue: number;
  /** Admissions per second when the ticket was issued. */
  rate: number;
  /** Redis' clock (ms) when the ticket was issued: the base of the ETA projection. */
  issuedAt: number;
  /**
   * The units the place buys: what the buyer asked for when it first ordered. The ticket holder's
   * purchase is for these (a body naming others is refused), so no link or page can change them.
   */
  quantity: number;
  /**
   * A pre-queue ticket (number 0): the buyer's entry in the sale's lottery and when the sale
   * starts. Its holder learns the place by ordering again after the start; the entry lets anyone
   * holding the ticket check that place against the published draw.
   */
  prequeue?: { entry: string; startsAt: number };
}

const encoder = new TextEncoder();

export function encodeTicketPayload(t: TicketFields): string {
  const fields: (string | number)[] = [t.productId, t.saleId, t.number, t.admittedAtIssue, t.rate, t.issuedAt, t.quantity];
  if (t.prequeue) fields.push(t.prequeue.entry, t.prequeue.startsAt);
  return encodeBase64Url(encoder.encode(JSON.stringify(fields)).buffer as ArrayBuffer).replace(/=+$/, "");
}

/**
 * The fields of a ticket (the whole token or its payload), unverified; undefined when it is not
 * one. A ticket without its units (issued before they were kept in it) is not one: a sale lasts
 * minutes, and its holder orders again.
 */
export function readTicketPayload(token: string): TicketFields | undefined {
  try {
    const fields = JSON.parse(new TextDecoder().decode(decodeBase64Url(token.split(".")[0] ?? ""))) as unknown[];
    const [productId, saleId, number, admittedAtIssue, rate, issuedAt, quantity, entry, startsAt] = fields;
    if (typeof productId !== "string" || typeof saleId !== "string" || typeof number !== "number") return undefined;
    if (!Number.isSafeInteger(quantity) || (quantity as number) < 1) return undefined;
    const ticket: TicketFields = {
      productId,
      saleId,
      number,
      admittedAtIssue: Number(admittedAtIssue),
      rate: Number(rate),
      issuedAt: Number(issuedAt),
      quantity: quantity as number,
    };
    if (typeof entry === "string" && typeof startsAt === "number") ticket.prequeue = { entry, startsAt };
    return ticket;
  } catch {
    return undefined;
  }
}
