import type { Redis } from "@upstash/redis/cloudflare";
import { viewLine } from "./gate/gate";
import { drawIfLead } from "./lottery/draw";
import type { Isolate } from "./isolate";

/**
 * One look at a sale for this isolate's memory: a gate call without a key (one command), which
 * decides nothing for anyone, moves the line (claims that expired go back) and brings the view
 * and the filters the memory wants. A waiting room's poll takes it when the view is stale, and a
 * purchase that needs a fresh view but has no reason to go to Redis with its own key.
 */
export async function lookAtSale(
  { memory, catalog }: Pick<Isolate, "memory" | "catalog">,
  ctx: { waitUntil(promise: Promise<unknown>): void },
  redis: Redis,
  productId: string,
): Promise<void> {
  // Through the catalog: a look that finds no sale counts as one of a made-up id's (a flood starts there).
  const outcome = await catalog.lookUp(
    productId,
    () => viewLine(redis, productId, { soldOutFromMemory: memory.takeSoldOutAnswers(productId), filters: memory.filtersWanted(productId) }),
    (o) => o.kind !== "unknown",
  );
  if (outcome.kind === "unknown") return;
  memory.learn(productId, outcome, outcome.filters);
  // At a pre-queue's start the pages waiting for it may be the first to look: the one given the lease draws.
  drawIfLead(ctx, redis, productId, outcome);
}
