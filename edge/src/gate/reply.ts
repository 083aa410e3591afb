import { z } from "zod";

const count = z.coerce.number();

/** Every outcome gate.lua's reply() may name (besides "unknown": no sale, and nothing else in the reply). */
export const GATE_OUTCOMES = [
  "conflict",
  "not_started",
  "sold_out",
  "ended",
  "view",
  "queued",
  "accepted",
  "replay",
  "limit_reached",
  "insufficient",
  "prequeued",
  "drawing",
  "challenge",
  "paused",
] as const;
const text = z.union([z.string(), z.number()]).transform(String);

/**
 * The gate script's reply, field by field, in one place: each field's Lua expression (what
 * gate.lua's `reply()` returns, generated from this list so the two cannot drift) and how the edge
 * reads it. Through the Upstash REST API a Lua number arrives as a JSON number and a Lua string
 * as a string; the rate goes as a string (Lua would truncate a fraction).
 */
const FIELDS = {
  kind: ["outcome", z.enum(GATE_OUTCOMES)],
  saleId: ["saleId", text],
  remaining: ["remaining", count],
  issued: ["issued", count],
  admitted: ["admitted", count],
  rate: ["tostring(rate)", count],
  /** Redis' clock (ms) when the reply was made. */
  at: ["now", count],
  /** The outcome's own values (gate.lua's header says which). */
  a: ["a or ''", text],
  b: ["b or ''", text],
  claimed: ["claimed", count],
  /** "<bytes>:<filter>" or "" (key-filter.ts). */
  acceptedKeys: ["accepted", z.string()],
  queuedKeys: ["queued", z.string()],
  endsAt: ["endsAt", count],
  powDifficulty: ["powDifficulty", count],
  prequeueOpensAt: ["prequeueOpensAt", count],
  draw: ["draw", z.enum(["", "drawing", "lead", "drawn"])],
  startsAt: ["startsAt", count],
  /** 1 while the operator has paused the sale. */
  paused: ["pausedAt > 0 and 1 or 0", count],
  /** The sale's settings version: every operator control raises it (an isolate drops what an older one implied). */
  version: ["settingsVersion", count],
  /** Units held for payment now (they come back to the stock if the hold expires or is cancelled). */
  held: ["held", count],
} as const;

type Fields = typeof FIELDS;
const names = Object.keys(FIELDS) as (keyof Fields)[];

/** What gate.lua's `reply()` returns: the fields' Lua expressions in order. */
export const GATE_REPLY_LUA = `{${names.map((name) => FIELDS[name][0]).join(", ")}}`;

const Tuple = z.tuple(names.map((name) => FIELDS[name][1]) as unknown as [z.ZodType, ...z.ZodType[]]);

export type GateReplyFields = { [K in keyof Fields]: z.output<Fields[K][1]> };

/** The gate's reply as named fields, or { kind: "unknown" } (no such sale: the script returns nothing else); throws on anything else. */
export function decodeGateReply(raw: unknown): GateReplyFields | { kind: "unknown" } {
  if (Array.isArray(raw) && raw.length === 1 && raw[0] === "unknown") return { kind: "unknown" };
  const values = Tuple.parse(raw) as unknown[];
  const fields = {} as Record<string, unknown>;
  for (let i = 0; i < names.length; i++) fields[names[i]!] = values[i];
  return fields as GateReplyFields;
}
