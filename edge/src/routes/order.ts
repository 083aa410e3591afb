import { IdempotencyKey, ProductId, UserId } from "@fluxgate/common";
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { edgeConfig, type EdgeConfig } from "../config";
import type { EdgeEnv } from "../env";
import { challengeResponse, proofOfWork } from "../challenge";
import { forwardToOrigin } from "../forward";
import { buyerOf, identity } from "../identity";
import { passGate, type GateOutcome, type SaleSnapshot } from "../gate/gate";
import { jsonBody } from "../http/json-body";
import { memory, type GateSeat } from "../memory";
import { projectedAdmitted } from "../queue-view";
import { drawIfLead } from "../lottery/draw";
import { redisFor } from "../redis";
import { etaSeconds, signTicket, TICKET_HEADER, ticketCookie, verifyTicket, type Ticket } from "../tickets";

export const OrderRequest = z.strictObject({
  productId: ProductId,
  /** Optional with a verified token (then it must be the token's sub); required when IDENTITY=anonymous. */
  userId: UserId.optional(),
  quantity: z.number().int().min(1).max(100).default(1),
});
type OrderRequest = z.output<typeof OrderRequest> & { userId: string };

/** What an Idempotency-Key is bound to: a retry must send the same product, buyer and quantity. */
const requestTextOf = (req: OrderRequest) => `${req.productId}\n${req.userId}\n${req.quantity}`;
/** The gate stores a fixed-size hash of it; an isolate compares the short text itself (no hashing on a replay). */
const sha256Hex = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");

const JSON_HEADERS = { "content-type": "application/json" } as const;

/** The 200 a buyer gets, built from the order itself so a replay answers byte for byte the same. */
function acceptedBody(order: string) {
  const o = JSON.parse(order) as { orderId: string; productId: string; userId: string; quantity: number; acceptedAt: number };
  return {
    status: "accepted",
    orderId: o.orderId,
    productId: o.productId,
    userId: o.userId,
    quantity: o.quantity,
    acceptedAt: new Date(o.acceptedAt).toISOString(),
  };
}

const limitBody = (productId: string, payload: string) => ({ status: "limit_reached", productId, limit: (JSON.parse(payload) as { limit: number }).limit });

/**
 * Where a queued browser goes: the page learns from the query who it waits for and what to send
 * again (with the same key, so the whole flow stays idempotent) when the turn comes.
 */
function waitingRoomUrl(req: OrderRequest, key: string): string {
  const query = new URLSearchParams({ productId: req.productId, userId: req.userId, quantity: String(req.quantity), key });
  return `/waiting-room?${query}`;
}

async function queuedResponse(c: Context<EdgeEnv>, config: EdgeConfig, req: OrderRequest, key: string, outcome: Extract<GateOutcome, { kind: "queued" }>) {
  const ticket: Ticket = {
    productId: req.productId,
    saleId: outcome.saleId,
    number: outcome.ticket,
    admittedAtIssue: outcome.admitted,
    rate: outcome.rate,
    issuedAt: outcome.at,
  };
  return redirectToWaitingRoom(c, config, req, key, ticket, Math.max(0, ticket.number - outcome.admitted), { expired: outcome.expired });
}

/** A standby ticket (number 0): behind everyone with a place, re-invited if the line stops covering the stock. */
async function standbyResponse(c: Context<EdgeEnv>, config: EdgeConfig, req: OrderRequest, key: string, snapshot: SaleSnapshot) {
  const now = Date.now();
  const ticket: Ticket = { productId: req.productId, saleId: snapshot.saleId, number: 0, admittedAtIssue: snapshot.issued, rate: snapshot.rate, issuedAt: now };
  return redirectToWaitingRoom(c, config, req, key, ticket, snapshot.issued - projectedAdmitted(snapshot, now) + 1, { standby: true });
}

/** Hands the buyer a signed ticket (cookie and header) and points it at the waiting room. */
async function giveTicket(c: Context<EdgeEnv>, config: EdgeConfig, req: OrderRequest, key: string, ticket: Ticket): Promise<string> {
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
  return token;
}

async function redirectToWaitingRoom(
  c: Context<EdgeEnv>,
  config: EdgeConfig,
  req: OrderRequest,
  key: string,
  ticket: Ticket,
  ahead: number,
  extra: Record<string, unknown>,
) {
  const token = await giveTicket(c, config, req, key, ticket);
  return c.json({ status: "queued", productId: req.productId, position: ahead, etaSeconds: etaSeconds(ahead, ticket.rate), ...extra, ticket: token }, 302);
}

/**
 * 202 "prequeued": the buyer holds an entry in the sale's draw (the same for every key of theirs)
 * and a ticket that says so. At the start it orders again and gets its place; while the draw
 * runs (a second or so) the same answer comes back with `drawing: true`.
 */
async function prequeuedResponse(
  c: Context<EdgeEnv>,
  config: EdgeConfig,
  req: OrderRequest,
  key: string,
  outcome: Extract<GateOutcome, { kind: "prequeued" | "drawing" }>,
) {
  const ticket: Ticket = {
    productId: req.productId,
    saleId: outcome.saleId,
    number: 0,
    admittedAtIssue: 0,
    rate: outcome.rate,
    issuedAt: outcome.at,
    prequeue: { entry: outcome.entry, startsAt: outcome.startsAt ?? 0 },
  };
  const token = await giveTicket(c, config, req, key, ticket);
  if (outcome.kind === "drawing") c.header("retry-after", "1");
  return c.json(
    {
      status: "prequeued",
      productId: req.productId,
      saleId: outcome.saleId,
      startsAt: new Date(outcome.startsAt ?? 0).toISOString(),
      // By Redis' clock, so a page counts down right whatever its own clock says.
      secondsToStart: Math.max(0, Math.ceil(((outcome.startsAt ?? 0) - outcome.at) / 1000)),
      entry: outcome.entry,
      ...(outcome.kind === "prequeued" ? { entries: outcome.entries } : { drawing: true }),
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
async function presentedTicket(c: Context<EdgeEnv>, config: EdgeConfig, req: OrderRequest): Promise<Ticket | "invalid" | undefined> {
  const header = c.req.header(TICKET_HEADER);
  const token = header ?? getCookie(c, ticketCookie(req.productId));
  if (!token) return undefined;
  const ticket = await verifyTicket(config.TICKET_SECRET, token, req.userId);
  if (ticket && ticket.productId === req.productId) return ticket;
  return header === undefined ? undefined : "invalid";
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

    const { productId } = req;
    let ticket: Ticket | undefined;
    /** The solved challenge the gate spends; "" when the sale asks for none. */
    let challenge: string | undefined;
    let release: (() => void) | undefined;
    let seat: GateSeat | undefined;
    // Decided from memory when it can be; else the request takes a seat in the isolate's queue for
    // a gate call (startGateCall) and decides again with what the calls in flight brought back.
    try {
      for (;;) {
        // The hot path of a sold-out (or ended) sale: no Redis and no hashing of the body for a key
        // that this sale's accepted-keys filter has never seen; a key it may hold goes to Redis (which knows).
        const soldOut = memory.soldOut(productId);
        const earlier = memory.answerFor(productId, key.data);
        if (soldOut && !earlier && !(await soldOut.mayContain(key.data))) {
          memory.countSoldOutAnswer(productId);
          return c.body(memory.soldOutBody(productId), 409, JSON_HEADERS);
        }
        const ended = !earlier && !soldOut ? memory.ended(productId) : undefined;
        if (ended && !(await ended.mayContain(key.data))) return c.json({ status: "ended", productId }, 409);
        // A retry of an answer this isolate gave in this sale is answered from memory.
        if (earlier) {
          if (earlier.request !== requestTextOf(req)) return c.json({ error: "Idempotency-Key was already used with a different body" }, 422);
          return c.json(earlier.body, earlier.status as 200);
        }

        if (ticket === undefined) {
          const presented = await presentedTicket(c, config, req);
          if (presented === "invalid") return c.json({ status: "invalid_ticket", error: "queue ticket is not valid for this user and product" }, 403);
          ticket = presented;
        }

        if (ticket?.number) {
          // A place the line has certainly not reached: "keep waiting", from memory.
          const view = memory.stillQueued(productId, ticket);
          if (view)
            return queuedResponse(c, config, req, key.data, {
              ...view,
              admitted: projectedAdmitted(view, Date.now()),
              kind: "queued",
              ticket: ticket.number,
              expired: false,
            });
          break;
        }

        // Proof of work (when the sale asks for it), checked here with no Redis command; the gate spends it.
        // A pre-queue entry is a place too: the gate knows it by the buyer.
        if (challenge === undefined) {
          const pow = await proofOfWork(c, config.TICKET_SECRET, req.userId, productId, ticket?.prequeue !== undefined);
          if (pow instanceof Response) return pow;
          challenge = pow.challenge ?? "";
        }

        // Standby: the line ahead already covers the stock, so no numbered place (and no Redis call) yet.
        // (In a sale with a pre-queue the filter also holds each entered buyer, as "u:<userId>": an entry keeps its place.)
        // A pre-queue ticket holder is never put on standby: its place is in Redis, whatever this isolate's filter says.
        const standby = ticket?.prequeue ? undefined : memory.standby(productId);
        if (
          standby &&
          !(await standby.queuedKeys.mayContain(key.data)) &&
          !(standby.snapshot.prequeueOpensAt && (await standby.queuedKeys.mayContain(`u:${req.userId}`)))
        )
          return standbyResponse(c, config, req, key.data, standby.snapshot);

        seat ??= memory.joinGateQueue(productId);
        const turn = memory.startGateCall(seat);
        if ("release" in turn) {
          release = turn.release;
          break;
        }
        await scheduler.wait(turn.waitMs);
      }
      return await gateAndAnswer(c, config, req, key.data, ticket, challenge || undefined);
    } finally {
      release?.();
      if (seat) memory.leaveGateQueue(seat);
    }
  })
  .all("/", (c) => c.json({ error: "method not allowed: use POST" }, 405, { allow: "POST" }));

/** One gate call (one EVALSHA), what the isolate learns from it, and the answer. */
async function gateAndAnswer(
  c: Context<EdgeEnv>,
  config: EdgeConfig,
  req: OrderRequest,
  idempotencyKey: string,
  ticket: Ticket | undefined,
  challenge: string | undefined,
) {
  const { productId } = req;
  const request = requestTextOf(req);
  const outcome = await passGate(redisFor(config), {
    soldOutFromMemory: memory.takeSoldOutAnswers(productId),
    filters: memory.filtersWanted(productId),
    productId,
    userId: req.userId,
    quantity: req.quantity,
    idempotencyKey: idempotencyKey,
    requestHash: await sha256Hex(request),
    orderId: crypto.randomUUID(),
    ...(ticket?.number ? { ticket: { saleId: ticket.saleId, number: ticket.number } } : {}),
    ...(challenge ? { challenge } : {}),
  });
  if (outcome.kind === "unknown") return c.json({ error: "unknown product", productId }, 404);
  memory.learn(productId, outcome, outcome.filters);
  drawIfLead(c.executionCtx, redisFor(config), productId, outcome);
  memory.learnPowRequirement(productId, outcome.saleId, outcome.powDifficulty ?? 0);
  /** Final answers are remembered for this sale, so a retry here costs no Redis command. */
  const final = (status: 200 | 409, body: object) => {
    memory.rememberAnswer(productId, outcome.saleId, idempotencyKey, { request, status, body });
    return c.json(body, status);
  };

  switch (outcome.kind) {
    case "conflict":
      return c.json({ error: "Idempotency-Key was already used with a different body" }, 422);
    case "not_started": {
      const opens = outcome.prequeueOpensAt ? { prequeueOpensAt: new Date(outcome.prequeueOpensAt).toISOString() } : {};
      return c.json({ status: "not_started", productId: req.productId, startsAt: new Date(outcome.startsAt).toISOString(), ...opens }, 425);
    }
    case "prequeued":
    case "drawing":
      return prequeuedResponse(c, config, req, idempotencyKey, outcome);
    case "sold_out":
      return final(409, { status: "sold_out", productId });
    case "ended":
      return final(409, { status: "ended", productId });
    case "view":
      throw new Error("the gate answered a look to a purchase");
    case "challenge":
      return challengeResponse(c, config.TICKET_SECRET, req.userId, productId, outcome.reason);
    case "insufficient":
      return c.json({ status: "insufficient_stock", productId: req.productId, ...(JSON.parse(outcome.payload) as object) }, 409);
    case "limit_reached":
      return final(409, limitBody(productId, outcome.payload));
    case "queued":
      return queuedResponse(c, config, req, idempotencyKey, outcome);
    case "accepted": {
      c.executionCtx.waitUntil(forwardToOrigin(config, outcome.order, outcome.outboxId));
      return final(200, acceptedBody(outcome.order));
    }
    case "replay":
      return outcome.status === "accepted" ? final(200, acceptedBody(outcome.payload)) : final(409, limitBody(productId, outcome.payload));
  }
}
