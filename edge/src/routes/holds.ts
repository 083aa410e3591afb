import { ProductId, saleKeys } from "@fluxgate/common";
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { EdgeEnv } from "../env";
import { forwardToOrigin } from "../forward";
import { endHoldKeys } from "../gate/end-hold.lua";
import { scripts } from "../gate/scripts";
import { bearerIs, shopOnly } from "../http/admin-auth";
import { buyerOf, identity } from "../identity";
import type { Isolate } from "../isolate";
import { logEvent } from "../log";

const OrderId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9-]+$/, "orderId: the order's id as accepted");

type Action = "pay" | "cancel";
type By = "shop" | "buyer" | "operator";

/**
 * After "accepted", for a sale with holds (`holdSeconds`): the shop's backend confirms the payment
 * of a held order before its hold expires (`pay`, SHOP_API_TOKEN), the buyer gives their hold back
 * (`cancel`, signed in) or the operator cancels any order (`cancel`, ADMIN_TOKEN). Each is one
 * script call that decides against the expiry by Redis' clock, so a confirmation racing the
 * expiry ends the order exactly one way, and a retry answers the same.
 */
export function holds(isolate: Isolate) {
  async function end(c: Context<EdgeEnv>, action: Action, by: By, userId = ""): Promise<Response> {
    const productId = ProductId.safeParse(c.req.param("productId"));
    const orderId = OrderId.safeParse(c.req.param("orderId"));
    if (!productId.success || !orderId.success) return c.json({ error: (productId.error ?? orderId.error)?.issues[0]?.message ?? "bad path" }, 400);
    const [state, order, entry, event] = await scripts.endHold.run<[string, string?, string?, string?]>(c.var.redis, endHoldKeys(saleKeys(productId.data)), [
      orderId.data,
      action,
      by,
      userId,
    ]);
    const named = { productId: productId.data, orderId: orderId.data };
    if (state === "unknown") return c.json({ error: "no held order with this id in this sale", ...named }, 404);
    if (state === "forbidden") return c.json({ error: "not your order", ...named }, 403);
    if (entry && event) {
      // On its way to PostgreSQL like an order: forwarded now, relayed from the outbox if this fails.
      c.executionCtx.waitUntil(forwardToOrigin(c.var.config, event, entry));
      logEvent("info", `order ${state}`, { ...named, by });
    }
    const held = JSON.parse(order!) as { quantity: number; holdExpiresAt?: number };
    const body = {
      status: state,
      ...named,
      quantity: held.quantity,
      ...(held.holdExpiresAt ? { holdExpiresAt: new Date(held.holdExpiresAt).toISOString() } : {}),
    };
    const wanted = action === "pay" ? "paid" : "cancelled";
    if (state === wanted) return c.json(body, 200);
    const why: Record<string, string> = {
      expired: "the hold expired before this: the units went back to the sale (refund the buyer)",
      cancelled: "the order was cancelled",
      paid: "the order is paid: a refund goes through the shop",
    };
    return c.json({ ...body, error: why[state] ?? state }, 409);
  }

  const buyer = identity(isolate);
  return new Hono<EdgeEnv>()
    .post("/:productId/orders/:orderId/pay", shopOnly, (c) => end(c, "pay", "shop"))
    .post(
      "/:productId/orders/:orderId/cancel",
      // The operator may cancel any order; anyone else is a buyer (signed in), and only their own.
      async (c, next) => ((await bearerIs(c.req.header("authorization"), c.var.config.ADMIN_TOKEN)) ? end(c, "cancel", "operator") : buyer(c, next)),
      (c) => {
        const who = buyerOf(c, undefined);
        return who.ok ? end(c, "cancel", "buyer", who.userId) : who.res;
      },
    );
}
