import { ProductId, UserId } from "@fluxgate/common";
import { Hono } from "hono";
import page from "@fluxgate/waiting-room/index.html";
import { getCookie } from "hono/cookie";
import { buyerOf, identity } from "../identity";
import type { EdgeEnv } from "../env";
import type { Redis } from "@upstash/redis/cloudflare";
import { lookAtSale } from "../look-at-sale";
import type { Isolate } from "../isolate";
import { STATUS_REFRESH_MS } from "../time-windows";
import { lineCovers, projectedAdmitted } from "../queue-view";
import { etaSeconds, TICKET_HEADER, ticketCookie, verifyTicket, type Ticket } from "../tickets";

/**
 * What the page shows on its Buy button and keys its Idempotency-Key by: the units the place buys
 * and which place it is (the sale and the ticket's number; neither is secret, both are in the
 * ticket's readable payload).
 */
const placeOf = (ticket: Ticket) => ({ quantity: ticket.quantity, place: `${ticket.saleId}/${ticket.number}` });

/**
 * At most one refresh per sale per isolate at a time, and only when the view is stale: thousands
 * of waiting pages polling cost Redis one command a second, not one per poll. The refresh moves
 * the line (lookAtSale), so claims that expired while nobody bought go back at once.
 */
async function refreshIfStale(
  { memory, catalog }: Isolate,
  ctx: { waitUntil(promise: Promise<unknown>): void },
  redis: Redis,
  productId: string,
  now: number,
): Promise<void> {
  const known = memory.view(productId);
  if (known && now - known.seenAt < STATUS_REFRESH_MS) return;
  if (!memory.startRefresh(productId)) return;
  // A ticket of a sale since deleted: the catalog says so with no command.
  if (!known && !(await catalog.mayHaveSale(redis, productId))) return;
  await lookAtSale({ memory, catalog }, ctx, redis, productId);
}

export const waitingRoom = (isolate: Isolate) => {
  const { memory } = isolate;
  return (
    new Hono<EdgeEnv>()
      // One static page: everything user-specific comes from its status polls (the query names only the product), so it caches well.
      .get("/", (c) => c.html(page, 200, { "cache-control": "public, max-age=60" }))
      /**
       * Where a waiting user stands, from the signed ticket and this isolate's memory of the sale.
       * "your_turn" tells the page to offer the buyer the Buy button (the order goes with the ticket on
       * a click, never by itself); the gate has the final word.
       */
      .get("/status", identity(isolate), async (c) => {
        const productId = ProductId.safeParse(c.req.query("productId"));
        const named = c.req.query("userId");
        const userId = UserId.optional().safeParse(named);
        if (!productId.success || !userId.success) return c.json({ error: "productId query parameter required (and userId, if given, a valid one)" }, 400);
        const buyer = buyerOf(c, userId.data);
        if (!buyer.ok) return buyer.res;
        const config = c.var.config;
        const token = c.req.header(TICKET_HEADER) ?? getCookie(c, ticketCookie(productId.data));
        const ticket = token ? await verifyTicket(config.TICKET_SECRET, token, buyer.userId) : undefined;
        if (!ticket || ticket.productId !== productId.data)
          return c.json({ state: "no_ticket", error: "no valid queue ticket for this user and product" }, 403);

        const now = Date.now();
        await refreshIfStale(isolate, c.executionCtx, c.var.redis, productId.data, now);
        const known = memory.view(productId.data);
        if (memory.hasEnded(productId.data)) return c.json({ state: "ended", productId: productId.data });
        if (ticket.prequeue) {
          // The refresh (at most one a second per isolate) is how a restarted sale is noticed before its start.
          if (known && known.snapshot.saleId !== ticket.saleId)
            return c.json({ state: "expired", productId: productId.data, error: "the sale was restarted: order again", ...placeOf(ticket) });
          // Entered in the draw: a countdown until the start, then the buyer orders (a click) to buy or learn its place.
          const startsAt = new Date(ticket.prequeue.startsAt).toISOString();
          if (now < ticket.prequeue.startsAt)
            return c.json({
              state: "prequeued",
              productId: productId.data,
              startsAt,
              secondsToStart: Math.ceil((ticket.prequeue.startsAt - now) / 1000),
              entry: ticket.prequeue.entry,
              ...placeOf(ticket),
            });
          return c.json({ state: "started", productId: productId.data, startsAt, entry: ticket.prequeue.entry, ...placeOf(ticket) });
        }
        if (memory.saysSoldOut(productId.data)) return c.json({ state: "sold_out", productId: productId.data });
        if (known?.snapshot.paused && known.snapshot.saleId === ticket.saleId)
          // Paused by the operator: the place stands still and is kept; no ETA until the resume.
          return c.json({ state: "paused", productId: productId.data, position: Math.max(0, ticket.number - known.snapshot.admitted), ...placeOf(ticket) });
        if (known && known.snapshot.saleId !== ticket.saleId)
          return c.json({ state: "expired", productId: productId.data, error: "the sale was restarted: order again", ...placeOf(ticket) });

        // No unit free, but some held for payment: "sold out for now" (they may come back to the line).
        const forNow = known && known.snapshot.remaining <= 0 && (known.snapshot.held ?? 0) > 0 ? { soldOutForNow: true, held: known.snapshot.held } : {};
        const remaining = known ? { remaining: Math.max(0, known.snapshot.remaining), ...forNow } : {};
        const view = known?.snapshot ?? {
          admitted: ticket.admittedAtIssue,
          issued: Number.MAX_SAFE_INTEGER,
          rate: ticket.rate,
          at: ticket.issuedAt,
          remaining: Number.MAX_SAFE_INTEGER,
          claimed: 0,
        };
        const admitted = projectedAdmitted(view, now);
        if (ticket.number === 0) {
          // Standby: invited to order again as soon as the line (waiting, or holding a claim) no longer covers what is left.
          const waiting = Math.max(0, view.issued - admitted);
          if (!lineCovers(view))
            return c.json({ state: "your_turn", productId: productId.data, position: 0, etaSeconds: 0, standby: true, ...remaining, ...placeOf(ticket) });
          return c.json({
            state: "waiting",
            productId: productId.data,
            position: waiting + 1,
            etaSeconds: etaSeconds(waiting + 1, view.rate),
            standby: true,
            ...remaining,
            ...placeOf(ticket),
          });
        }
        const ahead = Math.max(0, ticket.number - admitted);
        return c.json({
          state: ahead === 0 ? "your_turn" : "waiting",
          productId: productId.data,
          position: ahead,
          etaSeconds: etaSeconds(ahead, view.rate),
          ...remaining,
          ...placeOf(ticket),
        });
      })
  );
};
