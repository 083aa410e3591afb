import { BILL_KEY, BILL_WINDOW_MINUTES, billField, LuaScript, type ScriptEvaluator } from "@fluxgate/common";
import type { Redis } from "ioredis";

/**
 * Every origin script opens the same way: KEYS[1] the bill HASH, ARGV[1] its field
 * ("<minute>:<component>"), ARGV[2] how many commands to book there (the origin's own count, this
 * call included: common/billing.ts). They are taken off, so each script's own KEYS and ARGV start
 * at 1 as its header says. The minute's first booking takes over its slot in the ring and deletes
 * the minute that used it before: the hash keeps the last ${BILL_WINDOW_MINUTES} minutes, at one HGET,
 * HDEL and HSET a minute (not a call), and the running total keeps the rest.
 */
const BOOK_BILL = `
local bill, billField, billed = table.remove(KEYS, 1), table.remove(ARGV, 1), tonumber(table.remove(ARGV, 1))
if billed > 0 then
  local minute, component = string.match(billField, '^(%d+):(%a+)$')
  redis.call('HINCRBY', bill, component .. ':total', billed)
  if redis.call('HINCRBY', bill, billField, billed) == billed then
    local slot = component .. ':slot:' .. (tonumber(minute) % ${BILL_WINDOW_MINUTES})
    local old = redis.call('HGET', bill, slot)
    if old and old ~= minute then redis.call('HDEL', bill, old .. ':' .. component) end
    redis.call('HSET', bill, slot, minute)
  end
end
`;

export const luaScript = (name: string, body: string) => new LuaScript(name, BOOK_BILL + body);

/** The commands a component sent and has not booked yet; each script call books them, itself included. */
export class CommandCount {
  private unbooked = 0;
  constructor(readonly component: "forward" | "relay") {}
  /** A command sent that runs no script (a blocking read, a ping). */
  sent(n = 1): void {
    this.unbooked += n;
  }
  /** What the next script call books: the unbooked commands and itself. */
  take(): number {
    const n = this.unbooked + 1;
    this.unbooked = 0;
    return n;
  }
  /** The call failed: what it would have booked stays unbooked (the failed call itself was not billed). */
  putBack(n: number): void {
    this.unbooked += n - 1;
  }
}

export type LuaRedis = Pick<Redis, "callBuffer">;

/** ioredis as LuaScript.run wants it, replies kept as bytes: outbox values are produced as stored. */
const evaluator = (redis: LuaRedis, booked: number): ScriptEvaluator => ({
  evalsha: (sha, keys, args) => redis.callBuffer("EVALSHA", sha, keys.length, ...keys, ...args),
  // After a NOSCRIPT the EVALSHA was sent (billed) and booked nothing: the EVAL books it (ARGV[2] of BOOK_BILL).
  eval: (lua, keys, [field = "", , ...args]) => redis.callBuffer("EVAL", lua, keys.length, ...keys, field, booked + 1, ...args),
});

/** One script call (one billed command), booking the component's commands not booked yet. */
export async function runLua(redis: LuaRedis, count: CommandCount, script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  const booked = count.take();
  try {
    return await script.run(evaluator(redis, booked), [BILL_KEY, ...keys], [billField(count.component, Date.now()), booked, ...args]);
  } catch (error) {
    count.putBack(booked);
    throw error;
  }
}
