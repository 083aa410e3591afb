import { IdempotencyKey, ProductId, UserId } from "@fluxgate/common";
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { edgeConfig, type EdgeConfig } from "../config";
import type { EdgeEnv } from "../env";
import { challengeResponse, learnRequirement, proofOfWork } from "../challenge";
import { forwardToOrigin } from "../forward";
import { buyerOf, identity } from "../identity";
import { passGate, type GateOutcome, type SaleSnapshot } from "../gate/gate";
import { jsonBody } from "../http/json-body";
import { answerFor, countSoldOutAnswer, remember, rememberAnswer, soldOutInMemory, takeSoldOutAnswers } from "../memory";
import { lineCoversStock, projectedAdmitted } from "../queue-view";
import { redisFor } from "../redis";
import { etaSeconds, signTicket, TICKET_HEADER, ticketCookie, verifyTicket, type Ticket } from "../tickets";

export const OrderRequest = z.strictObject({
  productId: ProductId,
  /** Optional with a verified token (then it must be the token's sub); required when IDENTITY=anonymous. */
  userId: UserId.optional(),
  quantity: z.number().int().min(1).max(100).default(1),
});
type OrderRequest = z.output<typeof OrderRequest> & { userId: string };

const sha256Hex = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");
const requestHashOf = (req: OrderRequest) => sha256Hex(`${req.productId}\n${req.userId}\n${req.quantity}`);

const JSON_HEADERS = { "content-type": "application/json" } as const;
const soldOutBodies = new Map<string, string>();
/** The hottest answer of a sold-out sale, serialised once per product. */
function soldOutBody(productId: string): string {
  let body = soldOutBodies.get(productId);
  if (!body) {
    body = JSON.stringify({ status: "sold_out", productId });
    if (soldOutBodies.size > 1000) soldOutBodies.clear();
    soldOutBodies.set(productId, body);
  }
  return body;
}

/** The 200 a buyer gets, built from the order itself so a replay answers byte for byte the same. */
function acceptedBody(order: string) {
  const o = JSON.parse(order) as { orderId: string; productId: string; userId: string; quantity: number; acceptedAt: number };
  return { status: "accepted", orderId: o.orderId, productId: o.productId, userId: o.userId, quantity: o.quantity, acceptedAt: new Date(o.acceptedAt).toISOString() };
}

const limitBody = (productId: string, payload: string) => ({ status: "limit_reached", productId, limit: (JSON.parse(payload) as { limit: number }).limit });

/**
 * Where a queued browser goes: the page learns from the query who it waits for and what to send
 * again (with the same key, so the whole flow stays idempotent) when the turn comes.
 */
export function waitingRoomUrl(req: OrderRequest, key: string): string {
  const query = new URLSearchParams({ productId: req.productId, userId: req.userId, quantity: String(req.quantity), key });
  return `/waiting-room?${query}`;
}

async function queuedResponse(c: Context<EdgeEnv>, config: EdgeConfig, req: OrderRequest, key: string, outcome: Extract<GateOutcome, { kind: "queued" }>) {
  const ticket: Ticket = { productId: req.productId, saleId: outcome.saleId, number: outcome.ticket, admittedAtIssue: outcome.admitted, rate: outcome.rate, issuedAt: outcome.at };
  return redirectToWaitingRoom(c, config, req, key, ticket, Math.max(0, ticket.number - outcome.admitted), { expired: outcome.expired });
}

/** A standby ticket (number 0): behind everyone with a place, re-invited if the line stops covering the stock. */
async function standbyResponse(c: Context<EdgeEnv>, config: EdgeConfig, req: OrderRequest, key: string, snapshot: SaleSnapshot) {
  const now = Date.now();
  const ticket: Ticket = { productId: req.productId, saleId: snapshot.saleId, number: 0, admittedAtIssue: snapshot.issued, rate: snapshot.rate, issuedAt: now };
  return redirectToWaitingRoom(c, config, req, key, ticket, snapshot.issued - projectedAdmitted(snapshot, now) + 1, { standby: true });
}

async function redirectToWaitingRoom(c: Context<EdgeEnv>, config: EdgeConfig, req: OrderRequest, key: string, ticket: Ticket, ahead: number, extra: Record<string, unknown>) {
  const token = await signTicket(config.TICKET_SECRET, ticket, req.userId);
  setCookie(c, ticketCookie(req.productId), token, {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    secure: new URL(c.req.url).protocol === "https:",
    maxAge: 3600,
  });
  c.header(TICKET_HEADER, token);
  c.header("location", waitingRoomUrl(req, key));
  return c.json({ status: "queued", productId: req.productId, position: ahead, etaSeconds: etaSeconds(ahead, ticket.rate), ...extra, ticket: token }, 302);
}

export const order = new Hono<EdgeEnv>()
  .post("/", identity, async (c) => {
    const config = edgeConfig(c.env);
    const body = await jsonBody(c, OrderRequest);
    const buyer = buyerOf(c, body.userId);
    if (!buyer.ok) return buyer.res;
    const req: OrderRequest = { ...body, userId: buyer.userId };
    const key = IdempotencyKey.safeParse(c.req.header("idempotency-key") ?? c.req.header("x-idempotency-key"));
    if (!key.success) return c.json({ error: "Idempotency-Key header required: 1-128 visible characters" }, 400);

    // The hot path of a sold-out sale: no Redis, no hashing, unless this isolate answered this key before.
    const soldOut = soldOutInMemory(req.productId);
    const earlier = answerFor(req.productId, key.data);
    if (soldOut && !earlier) {
      countSoldOutAnswer(req.productId);
      return c.body(soldOutBody(req.productId), 409, JSON_HEADERS);
    }
    const requestHash = await requestHashOf(req);
    // A retry of an answer this isolate gave is answered from memory whatever the sale does now.
    if (earlier) {
      if (earlier.requestHash !== requestHash) return c.json({ error: "Idempotency-Key was already used with a different body" }, 422);
      return c.json(earlier.body, earlier.status as 200);
    }

    let ticket: Ticket | undefined;
    const token = c.req.header(TICKET_HEADER) ?? getCookie(c, ticketCookie(req.productId));
    if (token) {
      ticket = await verifyTicket(config.TICKET_SECRET, token, req.userId);
      if (!ticket || ticket.productId !== req.productId) return c.json({ status: "invalid_ticket", error: "queue ticket is not valid for this user and product" }, 403);
    }

    // Proof of work (when the sale asks for it), checked here with no Redis command; the gate spends it.
    const pow = await proofOfWork(c, config.TICKET_SECRET, req.userId, req.productId, Boolean(ticket?.number));
    if (pow instanceof Response) return pow;

    // Standby: the line ahead already covers the stock, so no numbered place (and no Redis call) yet.
    const covered = !ticket?.number ? lineCoversStock(req.productId, Date.now()) : undefined;
    if (covered) return standbyResponse(c, config, req, key.data, covered);

    const outcome = await passGate(redisFor(config), {
      soldOutFromMemory: takeSoldOutAnswers(req.productId),
      productId: req.productId,
      userId: req.userId,
      quantity: req.quantity,
      idempotencyKey: key.data,
      requestHash,
      orderId: crypto.randomUUID(),
      ...(ticket?.number ? { ticket: { saleId: ticket.saleId, number: ticket.number } } : {}),
      ...pow,
    });
    if (outcome.kind !== "unknown") {
      remember(req.productId, outcome);
      learnRequirement(req.productId, outcome.saleId, outcome.powDifficulty ?? 0);
    }

    switch (outcome.kind) {
      case "unknown":
        return c.json({ error: "unknown product", productId: req.productId }, 404);
      case "conflict":
        return c.json({ error: "Idempotency-Key was already used with a different body" }, 422);
      case "not_started":
        return c.json({ status: "not_started", productId: req.productId, startsAt: new Date(outcome.startsAt).toISOString() }, 425);
      case "sold_out":
        return c.json({ status: "sold_out", productId: req.productId }, 409);
      case "insufficient":
        return c.json({ status: "insufficient_stock", productId: req.productId, ...(JSON.parse(outcome.payload) as object) }, 409);
      case "limit_reached":
        return c.json(limitBody(req.productId, outcome.payload), 409);
      case "queued":
        return queuedResponse(c, config, req, key.data, outcome);
      case "accepted": {
        c.executionCtx.waitUntil(forwardToOrigin(config, outcome.order, outcome.outboxId));
        const body = acceptedBody(outcome.order);
        rememberAnswer(req.productId, key.data, requestHash, 200, body);
        return c.json(body, 200);
      }
      case "challenge":
        return challengeResponse(c, config.TICKET_SECRET, req.userId, req.productId, outcome.reason);
      case "replay":
        return outcome.status === "accepted" ? c.json(acceptedBody(outcome.payload), 200) : c.json(limitBody(req.productId, outcome.payload), 409);
    }
  })
  .all("/", (c) => c.json({ error: "method not allowed: use POST" }, 405, { allow: "POST" }));
