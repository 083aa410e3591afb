/**
 * An Idempotency-Key belongs to the buyer who sent it: the same key from two buyers is two
 * records, and neither learns anything of the other's. "<userId>\n<key>" (neither may hold a
 * line break: both are visible ASCII) names a key wherever the gate or an isolate keeps it: the
 * idempotency hash's field, the key filters' member, an isolate's remembered answers.
 */
export const buyerKey = (userId: string, key: string) => `${userId}\n${key}`;
/** buyerKey, from Lua expressions. */
export const buyerKeyLua = (userId: string, key: string) => `${userId} .. '\\n' .. ${key}`;
/** The buyer and the key of a record's field (buyerKey). */
export function splitBuyerKey(field: string): { userId: string; key: string } | undefined {
  const at = field.indexOf("\n");
  return at < 0 ? undefined : { userId: field.slice(0, at), key: field.slice(at + 1) };
}

/**
 * The gate's record of an Idempotency-Key (`saleKeys(productId).idem`, one hash field per buyerKey):
 * "<requestHash>|<status>|<payload>". Final outcomes keep their payload (the order's JSON for
 * "accepted"), a queued key its ticket number, a pre-queued key its pre-queue entry. Written by gate.lua (through idemRecordLua),
 * read there and by the audit.
 */
export const IdemStatus = { accepted: "accepted", queued: "queued", prequeued: "prequeued", limitReached: "limit_reached" } as const;

export interface IdemRecord {
  requestHash: string;
  status: string;
  payload: string;
}

export function parseIdemRecord(raw: string): IdemRecord | undefined {
  const first = raw.indexOf("|");
  const second = first < 0 ? -1 : raw.indexOf("|", first + 1);
  if (second < 0) return undefined;
  return { requestHash: raw.slice(0, first), status: raw.slice(first + 1, second), payload: raw.slice(second + 1) };
}

/** The record as the gate's Lua writes it, from Lua expressions. */
export const idemRecordLua = (requestHash: string, status: string, payload: string) => `${requestHash} .. '|' .. ${status} .. '|' .. ${payload}`;
