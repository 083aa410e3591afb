import { encodeTicketPayload, hmacKey, readTicketPayload, type TicketFields } from "@fluxgate/common";
import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";

/**
 * A queue ticket: the user's place in a sale's line (its payload: common/src/ticket-payload.ts),
 * signed so it cannot be forged and bound to the userId (the MAC covers it) so it cannot be
 * handed to someone else.
 */
export type Ticket = TicketFields;

const encoder = new TextEncoder();
const b64url = (bytes: Uint8Array) => encodeBase64Url(bytes.buffer as ArrayBuffer).replace(/=+$/, "");

const macInput = (payload: string, userId: string) => encoder.encode(`${payload}\n${userId}`);

export async function signTicket(secret: string, ticket: Ticket, userId: string): Promise<string> {
  const payload = encodeTicketPayload(ticket);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), macInput(payload, userId)));
  return `${payload}.${b64url(mac)}`;
}

/** The ticket if `token` is one we signed for this user; undefined for anything forged, borrowed or malformed. */
export async function verifyTicket(secret: string, token: string, userId: string): Promise<Ticket | undefined> {
  const [payload, macText, extra] = token.split(".");
  if (!payload || !macText || extra !== undefined || token.length > 512) return undefined;
  let mac: Uint8Array;
  try {
    mac = decodeBase64Url(macText);
  } catch {
    return undefined;
  }
  if (!(await crypto.subtle.verify("HMAC", await hmacKey(secret), mac as Uint8Array<ArrayBuffer>, macInput(payload, userId)))) return undefined;
  return readTicketPayload(payload);
}

/** Seconds until the watermark reaches this ticket at `rate` admissions per second. */
export const etaSeconds = (ahead: number, rate: number) => (rate > 0 ? Math.ceil(ahead / rate) : Infinity);

export const ticketCookie = (productId: string) => `fg_ticket_${productId}`;
export const TICKET_HEADER = "x-queue-ticket";
