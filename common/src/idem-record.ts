/**
 * The gate's record of an Idempotency-Key (`saleKeys(productId).idem`, one hash field per key):
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
