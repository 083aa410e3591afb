/**
 * An origin that takes the connection and never answers: /init still answers, its sale's outbox is
 * registered for the relay before the forward is even tried (the stack's origin relays it), and
 * /health says the origin is down.
 */
import { env } from "cloudflare:workers";
import { OUTBOXES_KEY, saleKeys } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { ADMIN, call, initSale, uniqueProduct, withBindings } from "./helpers";

const SILENT_ORIGIN_URL = (env as unknown as { SILENT_ORIGIN_URL: string }).SILENT_ORIGIN_URL;
const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });

describe("an origin that hangs", { timeout: 30_000 }, () => {
  it("/init registers the sale's outbox before waiting for the origin, and answers once the forward times out", async () => {
    const productId = uniqueProduct("hung-origin");
    const outbox = saleKeys(productId).outbox;
    await withBindings({ ORIGIN_URL: SILENT_ORIGIN_URL }, async () => {
      const started = Date.now();
      const answered = initSale({ productId, quantity: 10 }) as Promise<{ saleId: string; saleEvent?: string }>;
      let settled = false;
      void answered.finally(() => (settled = true));
      // While /init still waits on the origin (a cut request would end here), the relay can already find the outbox.
      await expect.poll(() => redis.sismember(OUTBOXES_KEY, outbox), { timeout: 2000, interval: 50 }).toBe(1);
      expect(settled).toBe(false);
      expect(await answered).toMatchObject({ saleEvent: "queued" });
      // Three tries of at most 3 s each, and the pauses between them: never the origin's whim.
      expect(Date.now() - started).toBeLessThan(15_000);
    });
    // The stack's origin relays what the forward could not deliver: the sale event leaves the outbox.
    await expect.poll(() => redis.xlen(outbox), { timeout: 15_000, interval: 250 }).toBe(0);
  });

  it("/health reports the origin down within its probe time", async () => {
    await withBindings({ ORIGIN_URL: SILENT_ORIGIN_URL }, async () => {
      const res = await call("/health", { headers: ADMIN });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ dependencies: { origin: { ok: false } } });
    });
  });
});
