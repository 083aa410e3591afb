import { createHash } from "node:crypto";
import { BILL_KEY, billField } from "@fluxgate/common";
import type { Redis } from "ioredis";

export interface LuaScript {
  name: string;
  lua: string;
  sha: string;
}

/**
 * Every origin script opens the same way: KEYS[1] the bill HASH, ARGV[1] its field, ARGV[2] how
 * many commands to book there (the origin's own count, this call included: common/billing.ts).
 * They are taken off, so each script's own KEYS and ARGV start at 1 as its header says.
 */
const BOOK_BILL = `
local bill, billField, billed = table.remove(KEYS, 1), table.remove(ARGV, 1), tonumber(table.remove(ARGV, 1))
if billed > 0 then redis.call('HINCRBY', bill, billField, billed) end
`;

export const luaScript = (name: string, body: string): LuaScript => {
  const lua = BOOK_BILL + body;
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex") };
};

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

/**
 * One EVALSHA (one billed command, whatever the script does inside), EVAL only when redis lost
 * the script (a restart, SCRIPT FLUSH). Replies keep their bytes: outbox values are produced as stored.
 */
export async function runLua(redis: LuaRedis, count: CommandCount, script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  const booked = count.take();
  const k = [BILL_KEY, ...keys];
  const a = [billField(count.component, Date.now()), booked, ...args];
  try {
    try {
      return await redis.callBuffer("EVALSHA", script.sha, k.length, ...k, ...a);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
      // The EVALSHA was sent (billed) and booked nothing: the EVAL books it.
      a[1] = booked + 1;
      return await redis.callBuffer("EVAL", script.lua, k.length, ...k, ...a);
    }
  } catch (error) {
    count.putBack(booked);
    throw error;
  }
}
