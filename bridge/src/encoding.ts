import type { Outcome, RedisReply } from "./executor";

export type JsonReply = string | number | null | JsonReply[];
export type JsonOutcome = { result: JsonReply } | { error: string };

/**
 * Turns a raw reply into JSON. With base64 (what @upstash/redis asks for by default) every
 * string at every depth is the base64 of the exact bytes redis sent, so binary and invalid
 * UTF-8 values survive; integers and nil are left alone, as Upstash and SRH do.
 *
 * Status replies ("OK", "PONG", "QUEUED") arrive as bytes just like bulk strings and are encoded
 * too (SRH behaviour). The client decodes a base64 "T0s=" to "OK" and also accepts a bare "OK"
 * at the top level, but inside arrays it base64-decodes every string unconditionally, so only
 * encoding everything is correct at every depth.
 *
 * A redis error nested in an array (a Lua table holding redis.error_reply, say) has no slot of
 * its own in the Upstash format; it becomes its message text, encoded like any other string.
 */
export function encodeReply(reply: RedisReply, base64: boolean): JsonReply {
  if (reply === null || typeof reply === "number") return reply;
  if (Buffer.isBuffer(reply)) return reply.toString(base64 ? "base64" : "utf8");
  if (Array.isArray(reply)) {
    const out: JsonReply[] = new Array(reply.length);
    for (let i = 0; i < reply.length; i++) out[i] = encodeReply(reply[i]!, base64);
    return out;
  }
  if (reply instanceof Error) return base64 ? Buffer.from(reply.message).toString("base64") : reply.message;
  // Not produced by ioredis in buffer mode; kept so an unexpected type still yields valid JSON.
  const text = String(reply);
  return base64 ? Buffer.from(text).toString("base64") : text;
}

/** Errors are never encoded: the client reads them as plain text in either mode. */
export function encodeOutcome(outcome: Outcome, base64: boolean): JsonOutcome {
  return "error" in outcome ? { error: outcome.error } : { result: encodeReply(outcome.result, base64) };
}
