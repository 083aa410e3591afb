import { buyerKey, childSpan, formatTraceparent, IdempotencyKey, parseTraceparent, ProductId, TRACEPARENT_HEADER, UserId } from "@fluxgate/common";
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { challengeResponse, proofOf } from "../challenge";
import type { EdgeEnv } from "../env";
import { forwardToOrigin } from "../forward";
import { passGate } from "../gate/gate";
import { probeKey } from "../gate/key-filter";
import { jsonBody } from "../http/json-body";
import { buyerOf, identity } from "../identity";
import type { Isolate } from "../isolate";
import { logEvent } from "../log";
import { lookAtSale } from "../look-at-sale";
import { drawIfLead } from "../lottery/draw";
import type { Answer } from "../memory";
import { decidePurchase, outcomeOfGate, requestOf, unitsOf, type NeededFact, type PurchaseFacts, type PurchaseOutcome } from "../purchase/decide";
import type { GateSeat } from "../purchase/gate-calls";
import { unitsUncovered } from "../queue-view";
import { GATE_WAIT_MS, PAUSED_RETRY_AFTER_S } from "../time-windows";
import { etaSeconds, signTicket, TICKET_HEADER, ticketCookie, verifyTicket, type Ticket } from "../tickets";

export const OrderRequest = z.strictObject({
  productId: ProductId,
  /** Optional with a verified token (then it must be the token's sub); required when IDENTITY=anonymous. */
  userId: UserId.optional(),
  /** Optional: a ticket holder buys its place's units (a different number is refused), anyone else 1 (purchase/decide.ts unitsOf). */
  quantity: z.number().int().min(1).max(100).optional(),
});
type OrderRequest = z.output<typeof OrderRequest> & { userId: string };

/** The gate stores a fixed-size hash of it; an isolate compares the short text itself (no hashing on a replay). */
const sha256Hex = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");

const JSON_HEADERS = { "content-type": "application/json" } as const;

/**
 * The purchase route: it parses the request, gathers the facts the decision asks for
 * (purchase/decide.ts), makes the one gate call when only Redis can answer, and writes the answer.
 */
export function order(isolate: Isolate) {
  const { memory, gateCalls } = isolate;

  /** The facts a decision asked for, looked up only then (most requests never need a ticket or proof check). */
  async function gather(c: Context<EdgeEnv>, facts: PurchaseFacts, fact: NeededFact, key: string): Promise<void> {
    const secret = c.var.config.TICKET_SECRET;
    if (fact === "keyProbe") facts.keyProbe = await probeKey(buyerKey(facts.userId, key));
    else if (fact === "buyerProbe") facts.buyerProbe = await probeKey(`u:${facts.userId}`);
    else if (fact === "ticket") facts.ticket = await presentedTicket(c, secret, facts);
    else facts.proof = await proofOf(c, secret, facts.userId, facts.productId, isolate.solutions);
  }

  /** Decided from memory when it can be; else one gate call (a newcomer first waits for a seat's turn). */
  async function purchase(c: Context<EdgeEnv>, req: OrderRequest, key: string): Promise<Response> {
    const { productId } = req;
    const facts: PurchaseFacts = { productId, userId: req.userId, ...(req.quantity === undefined ? {} : { asked: req.quantity }) };
    // This request, as the one that may take a stale view's re-check (memory.recall): it then goes on to Redis.
    const claimant = {};
    let seat: GateSeat | undefined;
    let release: (() => void) | undefined;
    let buyerTurn: (() => void) | undefined;
    try {
      for (;;) {
        const step = decidePurchase(facts, memory.recall(productId, req.userId, key, claimant), isolate.now());
        if (step.kind === "need") {
          await gather(c, facts, step.fact, key);
          continue;
        }
        if (step.kind === "answer") {
          if (step.outcome.kind === "sold_out" && step.outcome.fromMemory) {
            memory.countSoldOutAnswer(productId);
            return c.body(memory.soldOutBody(productId), 409, JSON_HEADERS);
          }
          return respond(c, req, facts, key, step.outcome);
        }
        if (step.kind === "call_gate" && step.newcomer) {
          // The buyer's first new attempt asks Redis; their others decide again from its answer.
          buyerTurn ??= isolate.buyerCalls.take(productId, req.userId);
          if (!buyerTurn) {
            await scheduler.wait(GATE_WAIT_MS);
            continue;
          }
        }
        // One look per isolate and sale in a re-check window (RECHECK_MS), shared with the waiting
        // room's refreshes: meanwhile an attempt that did no work is asked for it, from memory. (A
        // paused view's looks are paced by its own re-check, PAUSED_RECHECK_MS.)
        const pausedView = memory.view(productId)?.snapshot.paused;
        if (step.kind === "look" && !pausedView && !memory.startRefresh(productId))
          return respond(c, req, facts, key, { kind: "challenge", problem: "required" });
        if (step.kind === "look" || step.newcomer) {
          seat ??= gateCalls.join(productId);
          const view = memory.view(productId);
          const turn = gateCalls.start(seat, view && unitsUncovered(view.snapshot));
          if (!("release" in turn)) {
            await scheduler.wait(turn.waitMs);
            continue;
          }
          release = turn.release;
          seat = undefined;
        }
        if (step.kind === "look") {
          facts.looked = true;
          try {
            await lookAtSale(isolate, c.executionCtx, c.var.redis, productId);
          } finally {
            release?.();
            release = undefined;
          }
          continue;
        }
        return await callGate(c, req, key, facts, step.challenge);
      }
    } finally {
      release?.();
      buyerTurn?.();
      if (seat) gateCalls.leave(seat);
    }
  }

  /**
   * One gate call (one EVALSHA), what the isolate learns from it, and the answer. The call is the
   * edge's span of the order's trace: a child of the buyer's traceparent, or a new trace. It
   * travels inside the order (outbox, forward, Kafka, the worker's row), so the answers from
   * memory, which accept nothing, never pay for it.
   */
  async function callGate(c: Context<EdgeEnv>, req: OrderRequest, key: string, facts: PurchaseFacts, challenge: string | undefined): Promise<Response> {
    const { productId } = req;
    const redis = c.var.redis;
    // The decision looked at the ticket before any gate call: the units are the body's or the ticket's.
    const quantity = unitsOf(facts);
    const request = requestOf(facts);
    if (quantity === undefined || request === undefined) throw new Error("a gate call before the ticket said the units");
    // A product this isolate has no view of and the catalog has never heard of: made up (no command).
    if (!memory.view(productId) && !(await isolate.catalog.mayHaveSale(redis, productId))) return respond(c, req, facts, key, { kind: "unknown_product" });
    const span = childSpan(parseTraceparent(c.req.header(TRACEPARENT_HEADER)));
    const orderId = crypto.randomUUID();
    const attempt = {
      soldOutFromMemory: memory.takeSoldOutAnswers(productId),
      filters: memory.filtersWanted(productId, true),
      productId,
      userId: req.userId,
      quantity,
      idempotencyKey: key,
      requestHash: await sha256Hex(request),
      orderId,
      traceparent: formatTraceparent(span),
      ...(challenge ? { challenge } : {}),
    };
    const reply = await isolate.catalog
      .lookUp(
        productId,
        () => passGate(redis, attempt),
        (r) => r.kind !== "unknown",
      )
      .catch((error: unknown) => {
        logEvent("error", "gate call failed", { traceId: span.traceId, spanId: span.spanId, productId, error: String(error) });
        throw error;
      });
    if (reply.kind === "unknown") memory.rememberUnknown(productId);
    else {
      memory.learn(productId, reply, reply.filters);
      drawIfLead(c.executionCtx, redis, productId, reply);
      memory.learnPowRequirement(productId, reply.saleId, reply.powDifficulty ?? 0);
    }
    const outcome = outcomeOfGate(reply, { productId, quantity });
    if (outcome.kind === "accepted" && outcome.forward) {
      const { outboxId } = outcome.forward;
      logEvent("info", "order accepted", {
        outcome: "accepted",
        traceId: span.traceId,
        spanId: span.spanId,
        orderId,
        productId,
        saleId: outcome.saleId,
        outboxId,
      });
      c.executionCtx.waitUntil(forwardToOrigin(c.var.config, outcome.order, outboxId, span));
    }
    return respond(c, req, facts, key, outcome);
  }

  /** The HTTP answer to an outcome; a final one is remembered for this sale, so a retry here costs no Redis command. */
  async function respond(c: Context<EdgeEnv>, req: OrderRequest, facts: PurchaseFacts, key: string, outcome: PurchaseOutcome): Promise<Response> {
    const { productId } = req;
    const final = (saleId: string | undefined, status: 200 | 409, body: object) => {
      // (Only the gate names the sale, and it is called once the units are known.)
      const request = requestOf(facts);
      if (saleId && request !== undefined) memory.rememberAnswer(productId, saleId, buyerKey(req.userId, key), { request, status, body });
      return c.json(body, status);
    };
    switch (outcome.kind) {
      case "sold_out":
        return final(outcome.saleId, 409, { status: "sold_out", productId });
      case "ended":
        return final(outcome.saleId, 409, { status: "ended", productId });
      case "order_ended": {
        // Not remembered: a retry of the key asks Redis, which keeps saying it.
        const o = JSON.parse(outcome.order) as { orderId: string };
        return c.json(
          {
            status: outcome.status,
            productId,
            orderId: o.orderId,
            error: `this order's hold ${outcome.status === "expired" ? "expired unpaid" : "was cancelled"}: order again with a new Idempotency-Key`,
          },
          409,
        );
      }
      case "paused":
        // Not final: nothing is remembered, and the buyer's place (if any) waits for the resume.
        return c.json({ status: "paused", productId, retryAfterSeconds: PAUSED_RETRY_AFTER_S }, 503, { "retry-after": String(PAUSED_RETRY_AFTER_S) });
      case "replay":
        return replay(c, outcome.answer);
      case "conflict":
        return c.json({ error: "Idempotency-Key was already used with a different body" }, 422);
      case "invalid_ticket":
        return c.json({ status: "invalid_ticket", error: "queue ticket is not valid for this user and product" }, 403);
      case "quantity_differs":
        return c.json(
          {
            status: "invalid_request",
            error: `quantity differs from your place in line (${outcome.quantity}): send ${outcome.quantity}, or no quantity`,
            quantity: outcome.quantity,
          },
          422,
        );
      case "unknown_product":
        return c.json({ error: "unknown product", productId }, 404);
      case "challenge":
        return challengeResponse(c, c.var.config.TICKET_SECRET, req.userId, productId, outcome.problem, memory.powRequirement(productId));
      case "not_started": {
        const opens = outcome.prequeueOpensAt ? { prequeueOpensAt: new Date(outcome.prequeueOpensAt).toISOString() } : {};
        return c.json({ status: "not_started", productId, startsAt: new Date(outcome.startsAt).toISOString(), ...opens }, 425);
      }
      case "insufficient":
        return c.json({ status: "insufficient_stock", productId, ...(JSON.parse(outcome.payload) as object) }, 409);
      case "limit_reached": {
        const { bought, limit } = JSON.parse(outcome.payload) as { bought: number; limit: number };
        const body = { status: "limit_reached", productId, limit };
        if (outcome.fromMemory) return c.json(body, 409);
        if (outcome.acceptedKeys !== undefined && bought >= limit) {
          // Nothing more for this buyer in this sale: their next keys are answered here, at no command.
          const acceptedKeys = new Set(outcome.acceptedKeys.split("\n").filter(Boolean));
          memory.rememberLimit(productId, req.userId, { saleId: outcome.saleId, payload: outcome.payload, acceptedKeys });
        }
        return final(outcome.saleId, 409, body);
      }
      case "accepted":
        return final(outcome.saleId, 200, acceptedBody(outcome.order));
      case "queued": {
        const token = await giveTicket(c, req, outcome.ticket);
        const extra = outcome.standby ? { standby: true } : { expired: outcome.expired ?? false, ...(outcome.soldOutForNow ? { soldOutForNow: true } : {}) };
        return c.json(
          { status: "queued", productId, position: outcome.ahead, etaSeconds: etaSeconds(outcome.ahead, outcome.ticket.rate), ...extra, ticket: token },
          302,
        );
      }
      case "prequeued":
        return prequeued(c, req, outcome);
    }
  }

  return new Hono<EdgeEnv>()
    .post("/", identity(isolate), async (c) => {
      const body = await jsonBody(c, OrderRequest);
      const buyer = buyerOf(c, body.userId);
      if (!buyer.ok) return buyer.res;
      const key = IdempotencyKey.safeParse(c.req.header("idempotency-key") ?? c.req.header("x-idempotency-key"));
      if (!key.success) return c.json({ error: "Idempotency-Key header required: 1-128 visible characters" }, 400);
      return purchase(c, { ...body, userId: buyer.userId }, key.data);
    })
    .all("/", (c) => c.json({ error: "method not allowed: use POST" }, 405, { allow: "POST" }));
}

const replay = (c: Context, answer: Answer) => c.json(answer.body, answer.status as 200);

/** The 200 a buyer gets, built from the order itself so a replay answers byte for byte the same. */
function acceptedBody(order: string) {
  const o = JSON.parse(order) as { orderId: string; productId: string; userId: string; quantity: number; acceptedAt: number; holdExpiresAt?: number };
  return {
    status: "accepted",
    orderId: o.orderId,
    productId: o.productId,
    userId: o.userId,
    quantity: o.quantity,
    acceptedAt: new Date(o.acceptedAt).toISOString(),
    // With holds, the units are the buyer's until then: the shop's payment must confirm it before.
    ...(o.holdExpiresAt ? { holdExpiresAt: new Date(o.holdExpiresAt).toISOString() } : {}),
  };
}

/**
 * Where a queued browser goes: the product, and nothing else. Who waits comes from the sign-in,
 * the place and its units from the ticket cookie; the page makes its own Idempotency-Key when the
 * buyer clicks. A link is something anyone can send a signed-in browser: nothing in it may buy,
 * choose what is bought, or reveal a key or a buyer.
 */
const waitingRoomUrl = (productId: string) => `/waiting-room?${new URLSearchParams({ productId })}`;

/** Hands the buyer a signed ticket (cookie and header) and points it at the waiting room. */
async function giveTicket(c: Context<EdgeEnv>, req: OrderRequest, ticket: Ticket): Promise<string> {
  const token = await signTicket(c.var.config.TICKET_SECRET, ticket, req.userId);
  setCookie(c, ticketCookie(req.productId), token, {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    secure: new URL(c.req.url).protocol === "https:",
    maxAge: 3600,
  });
  c.header(TICKET_HEADER, token);
  c.header("location", waitingRoomUrl(req.productId));
  return token;
}

/**
 * 202 "prequeued": the buyer holds an entry in the sale's draw (the same for every key of theirs)
 * and a ticket that says so. At the start it orders again and gets its place; while the draw
 * runs (a second or so) the same answer comes back with `drawing: true`.
 */
async function prequeued(c: Context<EdgeEnv>, req: OrderRequest, outcome: Extract<PurchaseOutcome, { kind: "prequeued" }>) {
  const { ticket } = outcome;
  const startsAt = ticket.prequeue?.startsAt ?? 0;
  const token = await giveTicket(c, req, ticket);
  if (outcome.drawing) c.header("retry-after", "1");
  return c.json(
    {
      status: "prequeued",
      productId: req.productId,
      saleId: ticket.saleId,
      startsAt: new Date(startsAt).toISOString(),
      // By Redis' clock, so a page counts down right whatever its own clock says.
      secondsToStart: Math.max(0, Math.ceil((startsAt - outcome.at) / 1000)),
      entry: ticket.prequeue?.entry,
      ...(outcome.drawing ? { drawing: true } : { entries: outcome.entries }),
      lottery: `/sales/${encodeURIComponent(req.productId)}/prequeue`,
      ticket: token,
    },
    202,
  );
}

/**
 * The ticket the request carries. A header is what the client means to present: one that is not
 * this user's is refused. A cookie may be left over from someone else on the same browser (a
 * shared computer, another account): one that is not this user's is ignored.
 */
async function presentedTicket(c: Context<EdgeEnv>, secret: string, facts: PurchaseFacts): Promise<Ticket | "invalid" | null> {
  const header = c.req.header(TICKET_HEADER);
  const token = header ?? getCookie(c, ticketCookie(facts.productId));
  if (!token) return null;
  const ticket = await verifyTicket(secret, token, facts.userId);
  if (ticket && ticket.productId === facts.productId) return ticket;
  return header === undefined ? null : "invalid";
}
