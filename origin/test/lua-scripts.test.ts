/**
 * The origin's Lua scripts against the real Redis: each one's hash is what Redis computes, and the
 * confirmations go through whole however many ids a batch holds (they are sent 500 at a time).
 */
import { Outbox, saleKeys } from "@fluxgate/common";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ackScript } from "../src/lua/ack.lua";
import { claimScript } from "../src/lua/claim.lua";
import { holdsSweepScript } from "../src/lua/holds-sweep.lua";
import { CommandCount, runLua } from "../src/lua/run";
import { sweepScript } from "../src/lua/sweep.lua";
import { tickScript } from "../src/lua/tick.lua";
import { batchArgs } from "../src/outbox";
import { newRedis, uniqueTag } from "./helpers";

const tag = uniqueTag();
const [big, small] = [saleKeys(`t-${tag}-big`).outbox, saleKeys(`t-${tag}-small`).outbox];
let redis: Redis;

/** A stream with `n` entries read by the relay group: all pending. */
async function pendingStream(stream: string, n: number): Promise<string[]> {
  await redis.xgroup("CREATE", stream, Outbox.relayGroup, "0", "MKSTREAM");
  const add = redis.pipeline();
  for (let i = 0; i < n; i++) add.xadd(stream, "*", Outbox.orderField, String(i));
  const ids = ((await add.exec()) ?? []).map(([, id]) => String(id));
  await redis.xreadgroup("GROUP", Outbox.relayGroup, "test", "COUNT", n, "STREAMS", stream, ">");
  return ids;
}

beforeAll(() => {
  redis = newRedis();
});

afterAll(async () => {
  await redis?.del(big, small);
  await redis?.quit();
});

describe("the origin's Lua scripts", () => {
  it.each([ackScript, claimScript, holdsSweepScript, sweepScript, tickScript])("$name: SCRIPT LOAD yields its SHA-1", async (script) => {
    expect(await redis.script("LOAD", script.lua)).toBe(script.sha);
  });

  it("confirm a batch across the 500-id chunks of two streams: every entry acknowledged and deleted", async () => {
    const ids = new Map([
      [big, await pendingStream(big, 1_201)],
      [small, await pendingStream(small, 3)],
    ]);
    await redis.script("FLUSH");
    const { keys, args } = batchArgs(ids);
    const deleted = await runLua(redis, new CommandCount("forward"), ackScript, keys, [Outbox.relayGroup, ...args]);
    expect(deleted).toBe(1_204);
    for (const stream of [big, small]) {
      expect(await redis.xlen(stream)).toBe(0);
      expect(((await redis.xpending(stream, Outbox.relayGroup)) as [number])[0]).toBe(0);
    }
  });
});
