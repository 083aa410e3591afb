import { hmacKey } from "@fluxgate/common";

/**
 * A queue ticket: the user's place in a sale's line, signed so it cannot be forged and bound to
 * the userId (the MAC covers it) so it cannot be handed to someone else. It also carries what the
 * waiting room needs to show a position and an ETA without asking Redis: the watermark and the
 * rate when it was issued.
 */
export interface Ticket {
  productId: string;
  saleId: string;
  /** Place in line: tickets are admitted in increasing order. */
  number: number;
  /** The queue's watermark when the ticket was issued (tickets up to it could buy). */
  admittedAtIssue: number;
  /** Admissions per second when the ticket was issued. */
  rate: number;
  /** Redis' clock (ms) when the ticket was issued: the base of the ETA projection. */
  issuedAt: number;
  /**
   * A pre-queue ticket (number 0): the buyer's entry in the sale's lottery and when the sale
   * starts. Its holder learns the place by ordering again after the start; the entry lets anyone
   * holding the ticket check that place against the published draw (npm run verify-lottery).
   */
  prequeue?: { entry: string; startsAt: number };
}

const encoder = new TextEncoder();

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
function fromB64url(text: string): Uint8Array | undefined {
  try {
    const bin = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

const macInput = (payload: string, userId: string) => encoder.encode(`${payload}\n${userId}`);

export async function signTicket(secret: string, ticket: Ticket, userId: string): Promise<string> {
  const fields = [ticket.productId, ticket.saleId, ticket.number, ticket.admittedAtIssue, ticket.rate, ticket.issuedAt];
  if (ticket.prequeue) fields.push(ticket.prequeue.entry, ticket.prequeue.startsAt);
  const payload = b64url(encoder.encode(JSON.stringify(fields)));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), macInput(payload, userId)));
  return `${payload}.${b64url(mac)}`;
}

/** The ticket if `token` is one we signed for this user; undefined for anything forged, borrowed or malformed. */
export async function verifyTicket(secret: string, token: string, userId: string): Promise<Ticket | undefined> {
  const [payload, macText, extra] = token.split(".");
  if (!payload || !macText || extra !== undefined || token.length > 512) return undefined;
  const mac = fromB64url(macText);
  if (!mac || !(await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, macInput(payload, userId)))) return undefined;
  const bytes = fromB64url(payload);
  if (!bytes) return undefined;
  const [productId, saleId, number, admittedAtIssue, rate, issuedAt, entry, startsAt] = JSON.parse(new TextDecoder().decode(bytes)) as [
    string,
    string,
    number,
    number,
    number,
    number,
    string?,
    number?,
  ];
  const ticket: Ticket = { productId, saleId, number, admittedAtIssue, rate, issuedAt };
  if (typeof entry === "string" && typeof startsAt === "number") ticket.prequeue = { entry, startsAt };
  return ticket;
}

/** Seconds until the watermark reaches this ticket at `rate` admissions per second. */
export const etaSeconds = (ahead: number, rate: number) => (rate > 0 ? Math.ceil(ahead / rate) : Infinity);

export const ticketCookie = (productId: string) => `fg_ticket_${productId}`;
export const TICKET_HEADER = "x-queue-ticket";
