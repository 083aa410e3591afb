import type { Redis } from "@upstash/redis/cloudflare";
import { drawPlaces, entriesDigest, saleKeys } from "@fluxgate/common";
import { scripts } from "../gate/scripts";
import { logEvent } from "../log";

/** Entries per HSCAN page and per written chunk: a chunk is a few ms of Redis time, so gate calls never wait long behind one. */
const SCAN_COUNT = 5000;
const WRITE_CHUNK = 2000;

export type DrawResult = "drawn" | "stale" | "incomplete";

/**
 * Draws a sale's line at its start, once the gate closed the pre-queue and gave this caller the
 * lease: reads every entry, orders them by the lottery (common/src/lottery.ts) and writes the
 * places in bounded chunks, then commits. Work done once per sale, never per request: about
 * N/5000 reads and N/2000 writes. Every step is idempotent, so a second drawer (after a lease ran
 * out) writes the same values; a restart of the sale meanwhile makes it stop ("stale").
 */
export async function drawLine(redis: Redis, productId: string, saleId: string): Promise<DrawResult> {
  const k = saleKeys(productId);
  const seed = await redis.hget<string>(k.lottery, "seed");
  if (!seed) return "stale";
  const entries = new Set<string>();
  let cursor = "0";
  do {
    // HSCAN may repeat a field; the set takes each once.
    const [next, flat] = await redis.hscan(k.prequeue, cursor, { count: SCAN_COUNT });
    for (let i = 0; i < flat.length; i += 2) entries.add(String(flat[i]));
    cursor = String(next);
  } while (cursor !== "0");
  const places = drawPlaces(String(seed), [...entries]);
  const writeKeys = [k.sale, k.prequeue, k.places, k.claims, k.draw];
  for (let i = 0; i < places.length; i += WRITE_CHUNK) {
    const written = await scripts.drawWrite.run<string>(redis, writeKeys, [saleId, i + 1, ...places.slice(i, i + WRITE_CHUNK)]);
    if (written === "drawn") return "drawn";
    if (written !== "ok") return "stale";
  }
  return scripts.drawCommit.run<DrawResult>(redis, [k.sale, k.prequeue, k.places, k.lottery], [saleId, entriesDigest(places)]);
}

/**
 * What a gate reply's `draw` asks of its caller: the one given the lease draws the line in the
 * background (the request that got it is answered at once).
 */
export function drawIfLead(
  ctx: { waitUntil(promise: Promise<unknown>): void },
  redis: Redis,
  productId: string,
  reply: { draw?: string; saleId?: string },
): void {
  if (reply.draw !== "lead" || !reply.saleId) return;
  const saleId = reply.saleId;
  ctx.waitUntil(
    drawLine(redis, productId, saleId).then(
      (result) => result !== "drawn" && logEvent("warn", "draw ended early; the next lease retries it", { productId, saleId, result }),
      (error: unknown) => logEvent("error", "draw failed; the next lease retries it", { productId, saleId, error: String(error) }),
    ),
  );
}
