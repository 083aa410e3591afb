import { Outbox, outboxEventsKey, OUTBOXES_KEY, saleKeys } from "@fluxgate/common";
import type { Redis } from "@upstash/redis/cloudflare";

/**
 * Tells the origin's relay about a sale's outbox: `opened` registers it (the registry set is what
 * a relay reads at start) and wakes the relay's blocking read, which adds it; `ended` lets the
 * relay retire it as soon as it drained. Admin path only (two commands per sale start, one per close).
 */
export async function announceOutbox(redis: Pick<Redis, "pipeline">, productId: string, event: "opened" | "ended"): Promise<void> {
  const stream = saleKeys(productId).outbox;
  const pipeline = redis.pipeline();
  if (event === "opened") pipeline.sadd(OUTBOXES_KEY, stream);
  const field = event === "opened" ? Outbox.openedField : Outbox.endedField;
  pipeline.xadd(outboxEventsKey(), "*", { [field]: stream }, { trim: { type: "MAXLEN", threshold: 1000, comparison: "~" } });
  await pipeline.exec();
}
