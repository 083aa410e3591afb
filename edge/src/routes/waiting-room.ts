import { ProductId, UserId } from "@fluxgate/common";
import { Hono } from "hono";
import page from "@fluxgate/waiting-room/index.html";
import { getCookie } from "hono/cookie";
import { edgeConfig } from "../config";
import type { EdgeEnv } from "../env";
import { readSnapshot } from "../gate/snapshot";
import { knownSale, remember, endedInMemory, soldOutInMemory } from "../memory";
import { projectedAdmitted } from "../queue-view";
import { redisFor } from "../redis";
import { etaSeconds, TICKET_HEADER, ticketCookie, verifyTicket } from "../tickets";

/** How old this isolate's view of a sale may be before a status poll refreshes it (one HMGET). */
export const STATUS_REFRESH_MS = 1_000;

const refreshing = new Map<string, Promise<void>>();

/**
 * At most one refresh per sale per isolate at a time, and only when the view is stale: thousands
 * of waiting pages polling cost Redis one command a second, not one per poll.
 */
function refreshIfStale(redis: Parameters<typeof readSnapshot>[0], productId: string, now: number): Promise<void> {
  const known = knownSale(productId);
  if (known && now - known.seenAt < STATUS_REFRESH_MS) return Promise.resolve();
  let pending = refreshing.get(productId);
  if (!pending) {
    pending = readSnapshot(redis, productId)
      .then((snapshot) => {
        if (snapshot) remember(productId, snapshot);
      })
      .finally(() => refreshing.delete(productId));
    refreshing.set(productId, pending);
  }
  return pending;
}

export const waitingRoom = new Hono<EdgeEnv>()
  // One static page: everything user-specific comes from its query and its status polls, so it caches well.
  .get("/", (c) => c.html(page, 200, { "cache-control": "public, max-age=60" }))
  /**
   * Where a waiting user stands, from the signed ticket and this isolate's memory of the sale.
   * "your_turn" tells the page to send the order again with the ticket; the gate has the final word.
   */
  .get("/status", async (c) => {
    const productId = ProductId.safeParse(c.req.query("productId"));
    const userId = UserId.safeParse(c.req.query("userId"));
    if (!productId.success || !userId.success) return c.json({ error: "productId and userId query parameters required" }, 400);
    const config = edgeConfig(c.env);
    const token = c.req.header(TICKET_HEADER) ?? getCookie(c, ticketCookie(productId.data));
    const ticket = token ? await verifyTicket(config.TICKET_SECRET, token, userId.data) : undefined;
    if (!ticket || ticket.productId !== productId.data) return c.json({ state: "no_ticket", error: "no valid queue ticket for this user and product" }, 403);

    const now = Date.now();
    await refreshIfStale(redisFor(config), productId.data, now);
    if (soldOutInMemory(productId.data, now)) return c.json({ state: "sold_out", productId: productId.data });
    if (endedInMemory(productId.data, now)) return c.json({ state: "ended", productId: productId.data });
    const known = knownSale(productId.data);
    if (known && known.snapshot.saleId !== ticket.saleId) return c.json({ state: "expired", productId: productId.data, error: "the sale was restarted: order again" });

    const remaining = known ? { remaining: Math.max(0, known.snapshot.remaining) } : {};
    const view = known?.snapshot ?? { admitted: ticket.admittedAtIssue, issued: Number.MAX_SAFE_INTEGER, rate: ticket.rate, at: ticket.issuedAt, remaining: 1 };
    const admitted = projectedAdmitted(view, now);
    if (ticket.number === 0) {
      // Standby: invited to order again as soon as the line no longer covers what is left.
      const waiting = Math.max(0, view.issued - admitted);
      if (waiting < view.remaining) return c.json({ state: "your_turn", productId: productId.data, position: 0, etaSeconds: 0, standby: true, ...remaining });
      return c.json({ state: "waiting", productId: productId.data, position: waiting + 1, etaSeconds: etaSeconds(waiting + 1, view.rate), standby: true, ...remaining });
    }
    const ahead = Math.max(0, ticket.number - admitted);
    return c.json({
      state: ahead === 0 ? "your_turn" : "waiting",
      productId: productId.data,
      position: ahead,
      etaSeconds: etaSeconds(ahead, view.rate),
      ...remaining,
    });
  });
