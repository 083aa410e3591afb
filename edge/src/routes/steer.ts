import { IdempotencyKey, ProductId, saleKeys, sha256Hex } from "@fluxgate/common";
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { EdgeEnv } from "../env";
import { forwardToOrigin } from "../forward";
import { steerSaleKeys } from "../gate/steer-sale.lua";
import { scripts } from "../gate/scripts";
import { adminOnly } from "../http/admin-auth";
import { jsonBody } from "../http/json-body";
import type { Isolate } from "../isolate";
import { logEvent } from "../log";
import { lookAtSale } from "../look-at-sale";
import { OperatorHeader, SaleSettings } from "../sale-settings";

const SaleChanges = z
  .strictObject({
    ratePerSecond: SaleSettings.ratePerSecond.optional(),
    burst: SaleSettings.burst.optional(),
    /** A new end (in the future), or null for none. */
    endsAt: SaleSettings.endsAt.nullable().optional(),
    ticketTtlSeconds: SaleSettings.ticketTtlSeconds.optional(),
    /** Units to add to the stock (a live or sold-out sale): they go to the people in line first. */
    addStock: z.number().int().min(1).max(1_000_000_000).optional(),
  })
  .refine((r) => Object.keys(r).length > 0, { message: "name at least one of ratePerSecond, burst, endsAt, ticketTtlSeconds, addStock" })
  .refine((r) => !r.endsAt || Date.parse(r.endsAt) > Date.now(), { message: "endsAt must be in the future", path: ["endsAt"] });

type Action = "pause" | "resume" | "update";

/** What steer-sale.lua answers with the sale's settings after the control. */
interface SteerReply {
  saleId: string;
  version: number;
  paused: boolean;
  ratePerSecond: string;
  burst: number;
  endsAt: number;
  ticketTtlSeconds: number;
  remaining: number;
  added: number;
}

/**
 * The operator's controls of a live sale (admin token): pause, resume, and a change of pace, end or
 * stock. Each is one script call that applies it atomically and appends the event the pipeline
 * takes to PostgreSQL's sale_events; every isolate learns it from the version the gate's replies
 * carry (no command of its own). An Idempotency-Key binds a control, so one sent to two isolates
 * at once, or retried, applies once.
 */
export function steer(isolate: Isolate) {
  const { memory } = isolate;
  async function control(c: Context<EdgeEnv>, action: Action, changes: Record<string, number>): Promise<Response> {
    const productId = ProductId.safeParse(c.req.param("productId"));
    if (!productId.success) return c.json({ error: productId.error.issues[0]?.message ?? "bad productId" }, 400);
    const key = IdempotencyKey.safeParse(c.req.header("idempotency-key"));
    if (!key.success) return c.json({ error: "Idempotency-Key header required: 1-128 visible characters (a control applies once per key)" }, 400);
    const by = OperatorHeader.safeParse(c.req.header("x-operator") ?? undefined);
    if (!by.success) return c.json({ error: by.error.issues[0]?.message ?? "bad X-Operator" }, 400);
    const body = JSON.stringify(changes);
    const requestHash = sha256Hex(`${action}\n${productId.data}\n${body}`);
    const redis = c.var.redis;
    const [outcome, reply, event, outboxId] = await scripts.steerSale.run<[string, string?, string?, string?]>(redis, steerSaleKeys(saleKeys(productId.data)), [
      action,
      body,
      by.data,
      key.data,
      requestHash,
      productId.data,
    ]);
    if (outcome === "unknown") return c.json({ error: "unknown product", productId: productId.data }, 404);
    if (outcome === "conflict") return c.json({ error: "Idempotency-Key was already used with a different control" }, 422);
    if (event && outboxId) {
      // Waited for, like a sale's start: the event should be in Kafka beside the orders it bears on.
      // If the origin cannot take it now, the relay delivers it from the outbox.
      await forwardToOrigin(c.var.config, event, outboxId);
      logEvent("info", "sale steered", { productId: productId.data, action, by: by.data, changes: body });
    }
    // This isolate knows at once (a look at the sale, so no attempt's own key is what teaches it);
    // the others from the version in their next gate reply.
    if (outcome === "applied") {
      memory.forget(productId.data);
      await lookAtSale(isolate, c.executionCtx, redis, productId.data);
    }
    const sale = JSON.parse(reply!) as SteerReply;
    return c.json({
      productId: productId.data,
      saleId: sale.saleId,
      applied: outcome !== "unchanged",
      version: sale.version,
      status: sale.paused ? "paused" : "running",
      ratePerSecond: Number(sale.ratePerSecond),
      burst: sale.burst,
      endsAt: sale.endsAt ? new Date(sale.endsAt).toISOString() : null,
      ticketTtlSeconds: sale.ticketTtlSeconds,
      remaining: sale.remaining,
      added: sale.added,
    });
  }

  return new Hono<EdgeEnv>()
    .post("/:productId/pause", adminOnly, (c) => control(c, "pause", {}))
    .post("/:productId/resume", adminOnly, (c) => control(c, "resume", {}))
    .patch("/:productId", adminOnly, async (c) => {
      const req = await jsonBody(c, SaleChanges);
      const changes: Record<string, number> = {};
      if (req.ratePerSecond !== undefined) changes.ratePerSecond = req.ratePerSecond;
      if (req.burst !== undefined) changes.burst = req.burst;
      if (req.endsAt !== undefined) changes.endsAt = req.endsAt === null ? 0 : Date.parse(req.endsAt);
      if (req.ticketTtlSeconds !== undefined) changes.ticketTtlSeconds = req.ticketTtlSeconds;
      if (req.addStock !== undefined) changes.addStock = req.addStock;
      return control(c, "update", changes);
    });
}
