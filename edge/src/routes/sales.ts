import type { Redis } from "@upstash/redis/cloudflare";
import { Hono, type Context } from "hono";
import type { EdgeEnv } from "../env";
import { LOTTERY_ALGORITHM, ProductId, saleKeys, type SaleView } from "@fluxgate/common";
import { scripts } from "../gate/scripts";
import { readSaleView } from "../gate/sale-view";
import { adminOnly } from "../http/admin-auth";
import { viewLine } from "../gate/gate";
import { drawIfLead } from "../lottery/draw";
import { publishedDraw } from "../lottery/published";
import type { Isolate } from "../isolate";
import { announceOutbox } from "../outbox-registry";
import { UPSTASH_TIMEOUT_MS } from "../upstash-health";

/** How often a request waiting for another's first read of a public view looks whether it landed. */
const READ_WAIT_STEP_MS = 5;

/**
 * The sale the path names, as Redis had it within the last PUBLIC_VIEW_MS, or the 400/404 to
 * answer. One request per product per isolate reads it (one HMGET per window, however many ask:
 * a product page polled by a crowd); the others answer the last view meanwhile, or wait for the
 * first. A product the catalog has never heard of is answered 404 from it (made-up ids).
 */
async function saleOfPath(
  c: Context<EdgeEnv>,
  { memory, catalog }: Isolate,
): Promise<Response | { productId: { data: string }; redis: Redis; view: SaleView }> {
  const productId = ProductId.safeParse(c.req.param("productId"));
  if (!productId.success) return c.json({ error: productId.error.issues[0]?.message ?? "bad productId" }, 400);
  const redis = c.var.redis;
  const id = productId.data;
  let view = memory.publicView(id);
  if (view === undefined && !(await catalog.mayHaveSale(redis, id))) view = null;
  for (let waited = 0; view === undefined; waited += READ_WAIT_STEP_MS) {
    if (memory.startPublicRead(id) || waited >= UPSTASH_TIMEOUT_MS) {
      view =
        (await catalog.lookUp(
          id,
          () => readSaleView(redis, id),
          (v) => v !== undefined,
        )) ?? null;
      memory.rememberPublicView(id, view ?? undefined);
      break;
    }
    view = memory.lastPublicView(id);
    if (view !== undefined) break;
    await scheduler.wait(READ_WAIT_STEP_MS);
    view = memory.publicView(id);
  }
  if (!view) return c.json({ error: "unknown product", productId: id }, 404);
  return { productId, redis, view };
}

export function sales(isolate: Isolate) {
  const { memory } = isolate;
  return (
    new Hono<EdgeEnv>()
      .get("/:productId", async (c) => {
        const found = await saleOfPath(c, isolate);
        if (found instanceof Response) return found;
        const { productId, view } = found;
        // The sale page teaches this isolate the sale's proof-of-work setting, so the attempts that
        // follow are challenged from memory, with no Redis command.
        memory.learnPowRequirement(productId.data, view.saleId, view.powDifficulty);
        const { saleId, quantity: q, issued, admitted, endsAt: end, prequeue } = view;
        const left = Math.max(0, view.remaining);
        // Once sold out nobody waits any more: the line is told so (from memory) and goes home.
        const ended = left === 0 || (end > 0 && Date.now() >= end);
        return c.json({
          productId: productId.data,
          saleId,
          quantity: q,
          added: view.added,
          remaining: left,
          sold: q + view.added - left,
          queued: ended ? 0 : Math.max(0, issued - admitted),
          startsAt: new Date(view.startsAt || view.createdAt).toISOString(),
          endsAt: end ? new Date(end).toISOString() : null,
          ended,
          ...(prequeue
            ? {
                prequeue: {
                  opensAt: new Date(prequeue.opensAt).toISOString(),
                  commitment: prequeue.commitment,
                  algorithm: LOTTERY_ALGORITHM,
                  entries: prequeue.entries,
                  drawn: prequeue.drawn,
                  published: `/sales/${encodeURIComponent(productId.data)}/prequeue`,
                },
              }
            : {}),
        });
      })
      /**
       * The pre-queue's draw, for anyone to check: before it is drawn only the commitment (the seed
       * stays secret until the list of entries is fixed); after, the seed, the entries in the order
       * of their places and how to recompute them (common/src/lottery.ts).
       */
      .get("/:productId/prequeue", async (c) => {
        const found = await saleOfPath(c, isolate);
        if (found instanceof Response) return found;
        const { productId, redis, view } = found;
        const { prequeue } = view;
        if (!prequeue) return c.json({ error: "this sale has no pre-queue", productId: productId.data, saleId: view.saleId }, 404);
        // Started and not drawn yet: a look at the line (one gate call, at most one a second per
        // isolate however many ask) closes the pre-queue and hands out the draw's lease, so the draw
        // happens even when only someone checking it comes by.
        const started = Date.now() >= view.startsAt;
        if (!prequeue.drawn && started && memory.startRefresh(productId.data))
          drawIfLead(c.executionCtx, redis, productId.data, await viewLine(redis, productId.data, {}));
        if (!prequeue.drawn)
          return c.json(
            {
              status: "not_drawn",
              productId: productId.data,
              saleId: view.saleId,
              commitment: prequeue.commitment,
              algorithm: LOTTERY_ALGORITHM,
              startsAt: new Date(view.startsAt).toISOString(),
              entries: prequeue.entries,
              ...(started ? { drawing: true } : {}),
            },
            425,
          );
        return c.body(await publishedDraw(redis, memory, productId.data, { ...view, prequeue }), 200, { "content-type": "application/json" });
      })
      /** The operator ends the sale now: 409 "ended" for every purchase from then on, the outbox drains and is retired. */
      .post("/:productId/close", adminOnly, async (c) => {
        const productId = ProductId.safeParse(c.req.param("productId"));
        if (!productId.success) return c.json({ error: productId.error.issues[0]?.message ?? "bad productId" }, 400);
        const redis = c.var.redis;
        const [saleId, endsAt] = await scripts.closeSale.run<[string?, number?]>(redis, [saleKeys(productId.data).sale], []);
        if (!saleId) return c.json({ error: "unknown product", productId: productId.data }, 404);
        await announceOutbox(redis, productId.data, "ended");
        // This isolate knows at once; the others on their next gate call, which answers "ended".
        memory.forget(productId.data);
        return c.json({ productId: productId.data, saleId, status: "ended", endsAt: new Date(Number(endsAt)).toISOString() });
      })
  );
}
