/**
 * The origin's Lua scripts against the real Redis: each one's hash is what Redis computes, and the
 * confirmations go through whole however many ids a batch holds (they are sent 500 at a time).
 */
import { BILL_WINDOW_MINUTES, billField, Outbox, readBookedBill, saleKeys, type OriginComponent } from "@fluxgate/common";
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

const billKey = `test:origin:${tag}:bill`;

afterAll(async () => {
  await redis?.del(big, small, billKey);
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

  it("book the origin's commands in a bounded window: the last minutes, and a running total for the rest", async () => {
    const minutes = 2.5 * BILL_WINDOW_MINUTES;
    const first = 29_000_000;
    // Each minute two script calls book their commands: 1 and 2 (forward), 3 (relay, every other minute).
    for (let m = first; m < first + minutes; m++) {
      const bookings: [OriginComponent, number][] = [
        ["forward", 1],
        ["forward", 2],
      ];
      if (m % 2) bookings.push(["relay", 3]);
      for (const [component, booked] of bookings) {
        await redis.eval(ackScript.lua, 1, billKey, billField(component, m * 60_000), booked, Outbox.relayGroup);
      }
    }
    const hash = await redis.hgetall(billKey);
    // Per component: a minute field and a slot per minute of the window, and the total.
    expect(Object.keys(hash).length).toBeLessThanOrEqual(2 * (2 * BILL_WINDOW_MINUTES + 1));
    const bill = readBookedBill(hash);
    expect(bill.totals).toEqual({ forward: 3 * minutes, relay: 3 * (minutes / 2) });
    const kept = [...bill.minutes.keys()].sort((a, b) => a - b);
    expect(kept).toEqual(Array.from({ length: BILL_WINDOW_MINUTES }, (_, i) => first + minutes - BILL_WINDOW_MINUTES + i));
    expect(bill.minutes.get(first + minutes - 1)).toEqual({ forward: 3, relay: 3 });
  });
});
