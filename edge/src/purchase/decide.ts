import type { ChallengeProblem } from "../challenge";
import type { GateReply, SaleSnapshot } from "../gate/gate";
import type { KeyProbe } from "../gate/key-filter";
import type { Answer, Recall } from "../memory";
import { projectedAdmitted } from "../queue-view";
import type { Ticket } from "../tickets";
import { FRESH_VIEW_MS, PAUSED_RECHECK_MS } from "../time-windows";

/**
 * What a purchase attempt is known to ask, gathered by the route as the decision needs it: a fact
 * left undefined has not been looked at yet, and the decision says when it needs one (so the
 * sold-out flood never pays for a ticket check, and nobody pays for a proof-of-work check that
 * memory would not use).
 */
export interface PurchaseFacts {
  productId: string;
  userId: string;
  /** The units the body asked for; undefined when it left them to the ticket (unitsOf). */
  asked?: number;
  /** The buyer's Idempotency-Key's hash words (buyerKey), for the isolate's key filters. */
  keyProbe?: KeyProbe;
  /** The buyer's ("u:<userId>"): a buyer with a place (or a pre-queue entry) keeps it, whatever the key. */
  buyerProbe?: KeyProbe;
  /** The queue ticket presented: null when none, "invalid" when a header carried one not this buyer's. */
  ticket?: Ticket | "invalid" | null;
  /** The proof of work sent with the attempt, checked in this isolate. */
  proof?: Proof;
  /** The isolate looked at the sale for this attempt (the step "look"), so it does not again. */
  looked?: boolean;
}

/** The units an attempt buys when neither the body nor a ticket names them. */
export const DEFAULT_QUANTITY = 1;

/**
 * The units an attempt buys: the body's, else the presented ticket's (the place's own, fixed when
 * the buyer first ordered), else DEFAULT_QUANTITY. Undefined while the ticket has not been looked
 * at and the body named none.
 */
export function unitsOf(facts: Pick<PurchaseFacts, "asked" | "ticket">): number | undefined {
  if (facts.asked !== undefined) return facts.asked;
  if (facts.ticket === undefined) return undefined;
  return facts.ticket && facts.ticket !== "invalid" ? facts.ticket.quantity : DEFAULT_QUANTITY;
}

/**
 * What an Idempotency-Key is bound to: product, buyer and units (unitsOf), so a retry that buys
 * the same gets the first answer and one that would buy otherwise gets 422. Undefined until the
 * units are known.
 */
export function requestOf(facts: Pick<PurchaseFacts, "productId" | "userId" | "asked" | "ticket">): string | undefined {
  const units = unitsOf(facts);
  return units === undefined ? undefined : `${facts.productId}\n${facts.userId}\n${units}`;
}

export type Proof = { kind: "none" } | { kind: "solved"; argument: string } | { kind: "problem"; problem: ChallengeProblem };

export type NeededFact = "keyProbe" | "buyerProbe" | "ticket" | "proof";

/** Everything a purchase attempt can be answered, before it is written as HTTP (routes/order.ts). */
export type PurchaseOutcome =
  | { kind: "sold_out"; fromMemory: boolean; saleId?: string }
  | { kind: "ended"; fromMemory: boolean; saleId?: string }
  /** The operator paused the sale: try again later, the place (if any) is kept. */
  | { kind: "paused" }
  /** A final answer this isolate gave to the same key in this sale. */
  | { kind: "replay"; answer: Answer }
  /** The key was used with another request. */
  | { kind: "conflict" }
  | { kind: "invalid_ticket" }
  /** The body names other units than the ticket's place buys (`quantity`). */
  | { kind: "quantity_differs"; quantity: number }
  | { kind: "challenge"; problem: ChallengeProblem }
  | { kind: "unknown_product" }
  | { kind: "not_started"; startsAt: number; prequeueOpensAt: number }
  /**
   * A place in line (a numbered ticket, or number 0 on standby), `ahead` people before it;
   * `soldOutForNow`: no unit is free, but some are held for payment and may come back.
   */
  | { kind: "queued"; ticket: Ticket; ahead: number; expired?: boolean; standby?: boolean; soldOutForNow?: boolean }
  /** The key's order was held, and the hold ended unpaid (expired, or cancelled). */
  | { kind: "order_ended"; status: "expired" | "cancelled"; order: string }
  | { kind: "prequeued"; ticket: Ticket; entries?: number; drawing: boolean; at: number }
  | { kind: "insufficient"; payload: string }
  /** The buyer bought the limit, or asks for more than it leaves; `acceptedKeys` when the gate said (a newline list). */
  | { kind: "limit_reached"; saleId: string; payload: string; acceptedKeys?: string; fromMemory?: boolean }
  | { kind: "accepted"; saleId: string; order: string; forward?: { outboxId: string } };

export type PurchaseStep =
  | { kind: "need"; fact: NeededFact }
  | { kind: "answer"; outcome: PurchaseOutcome }
  /**
   * Only Redis can answer: one gate call. A newcomer (no numbered ticket) first takes a seat in
   * the isolate's queue for gate calls (purchase/gate-calls.ts); a ticket holder goes at once.
   */
  | { kind: "call_gate"; newcomer: boolean; challenge?: string }
  /**
   * Only a fresh view can answer, and this attempt's key is no reason to ask: a look at the sale
   * without it (a gate call with no key, one command), in the newcomers' queue for gate calls like
   * theirs, then the attempt is decided again.
   */
  | { kind: "look" };

const need = (fact: NeededFact): PurchaseStep => ({ kind: "need", fact });
const answer = (outcome: PurchaseOutcome): PurchaseStep => ({ kind: "answer", outcome });

/**
 * The purchase decision an isolate makes before (or instead of) a gate call, from the request's
 * facts and its memory of the sale: pure, so every branch is unit-tested on a clock the test
 * holds. Nothing here answers what only Redis knows: a key a filter may hold, a ticket the line
 * may have reached, goes to the gate.
 */
export function decidePurchase(facts: PurchaseFacts, memory: Recall, now: number): PurchaseStep {
  if (memory.unknown) return answer({ kind: "unknown_product" });
  // The hot path of a sold-out (or ended) sale: no ticket or body hash for a key this sale's
  // accepted-keys filter has never seen; a key it may hold goes to Redis (which knows).
  const finished = memory.soldOut ?? memory.ended;
  if (finished && !memory.answer) {
    if (!facts.keyProbe) return need("keyProbe");
    if (!finished.mayContain(facts.keyProbe)) return answer(memory.soldOut ? { kind: "sold_out", fromMemory: true } : { kind: "ended", fromMemory: true });
  }
  // Paused by the operator: the same from memory, and a key that may have bought goes to Redis for its 200.
  if (memory.paused && !memory.answer) {
    if (!facts.keyProbe) return need("keyProbe");
    if (!memory.paused.mayContain(facts.keyProbe)) return answer({ kind: "paused" });
  }
  if (memory.answer) {
    // A body that names no units leaves them to its ticket: which request this is depends on it.
    const request = requestOf(facts);
    if (request === undefined) return need("ticket");
    return answer(memory.answer.request === request ? { kind: "replay", answer: memory.answer } : { kind: "conflict" });
  }
  // A buyer who bought the limit gets nothing more, whatever the key: no Redis command for it.
  if (memory.limitReached) return answer({ kind: "limit_reached", saleId: memory.limitReached.saleId, payload: memory.limitReached.payload, fromMemory: true });

  if (facts.ticket === undefined) return need("ticket");
  if (facts.ticket === "invalid") return answer({ kind: "invalid_ticket" });
  const ticket = facts.ticket ?? undefined;
  if (ticket && facts.asked !== undefined && facts.asked !== ticket.quantity) return answer({ kind: "quantity_differs", quantity: ticket.quantity });
  if (ticket?.number) {
    const waiting = stillQueued(memory.view, ticket, now);
    return waiting ? answer(waiting) : { kind: "call_gate", newcomer: false };
  }

  // A pre-queue entry is a place too (the gate knows it by the buyer): neither proof of work nor standby.
  if (ticket?.prequeue) return { kind: "call_gate", newcomer: true };
  if (!facts.proof) return need("proof");
  if (facts.proof.kind === "problem") return answer({ kind: "challenge", problem: facts.proof.problem });
  if (facts.proof.kind === "none" && memory.powDifficulty > 0) {
    // Asked for the work from memory only while a fresh view says units are left: a sold-out,
    // ended or paused sale says so before it asks for any work.
    if (stillSelling(memory.view, now)) return answer({ kind: "challenge", problem: "required" });
    // Memory cannot say which (no view, a stale one, or one past the re-check this attempt took),
    // but the attempt cannot buy whatever Redis says: no work was done. Its key is no reason to
    // ask: the isolate looks at the sale without it (in place of the gate call, in the same queue
    // for calls) and decides again from the fresh view. Nothing is written or spent in the name
    // of attempts that skip the work: where the look left memory unsure ("sold out for now", for
    // which the gate asks a newcomer for work too), or a key filter may hold the key (a paid
    // buyer's retry, or one of the filter's false positives, which a bot fleet's thousands of keys
    // find), the work is asked for from memory; the solved retry then goes to the gate, which
    // replays a key it knows before it looks at the work.
    const keyMayBeKnown = memory.soldOut ?? memory.ended ?? memory.paused;
    if (!facts.looked && !keyMayBeKnown) return { kind: "look" };
    return answer({ kind: "challenge", problem: "required" });
  }
  const challenge = facts.proof.kind === "solved" ? facts.proof.argument : undefined;

  // Standby: the line ahead already covers the stock, so no numbered place (and no Redis call) yet.
  // The filter also holds each buyer with a place or a pre-queue entry ("u:<userId>"): any key of
  // theirs goes to the gate, which gives back that place.
  const standby = memory.standby;
  if (standby) {
    if (!facts.keyProbe) return need("keyProbe");
    if (!facts.buyerProbe) return need("buyerProbe");
    const known = standby.queuedKeys.mayContain(facts.keyProbe) || standby.queuedKeys.mayContain(facts.buyerProbe);
    if (!known) return answer(standbyPlace(facts, standby.snapshot, now));
  }
  return { kind: "call_gate", newcomer: true, ...(challenge ? { challenge } : {}) };
}

function stillSelling(view: Recall["view"], now: number): boolean {
  if (!view || now - view.seenAt > FRESH_VIEW_MS || view.snapshot.remaining <= 0 || view.snapshot.paused) return false;
  return !(view.snapshot.endsAt > 0 && now >= view.snapshot.endsAt);
}

/**
 * A numbered ticket the line has certainly not reached, by a fresh view of its sale: "keep
 * waiting" from memory (the gate would say the same). By the rate alone: where only claims hold
 * the line back, the gate must look (claims expire).
 */
function stillQueued(view: Recall["view"], ticket: Ticket, now: number): PurchaseOutcome | undefined {
  if (!view || view.snapshot.saleId !== ticket.saleId || view.snapshot.remaining <= 0 || now - view.seenAt > FRESH_VIEW_MS) return undefined;
  // A view from before the ticket was issued knows nothing of it (it may be spent already).
  if (ticket.number > view.snapshot.issued) return undefined;
  // A paused view stands still: past PAUSED_RECHECK_MS the gate is asked (it may have resumed).
  if (view.snapshot.paused && now - view.seenAt > PAUSED_RECHECK_MS) return undefined;
  const reached = projectedAdmitted({ ...view.snapshot, claimed: 0, remaining: Number.MAX_SAFE_INTEGER }, now);
  if (ticket.number <= reached) return undefined;
  const admitted = projectedAdmitted(view.snapshot, now);
  return {
    kind: "queued",
    ticket: placeTicket(ticket, view.snapshot, ticket.number, admitted, view.snapshot.at),
    ahead: Math.max(0, ticket.number - admitted),
  };
}

/** A standby ticket (number 0): behind everyone with a place, re-invited if the line stops covering the stock. */
function standbyPlace(facts: PurchaseFacts, snapshot: SaleSnapshot, now: number): PurchaseOutcome {
  return {
    kind: "queued",
    ticket: { ...placeFor(facts), saleId: snapshot.saleId, number: 0, admittedAtIssue: snapshot.issued, rate: snapshot.rate, issuedAt: now },
    ahead: snapshot.issued - projectedAdmitted(snapshot, now) + 1,
    standby: true,
  };
}

/** Whose place a new ticket is and the units it buys: those this attempt asks for (known once its ticket is). */
type PlaceOf = Pick<Ticket, "productId" | "quantity">;

function placeFor(facts: PurchaseFacts): PlaceOf {
  const quantity = unitsOf(facts);
  if (quantity === undefined) throw new Error("a place was given before the ticket said its units");
  return { productId: facts.productId, quantity };
}

function placeTicket(place: PlaceOf, snapshot: SaleSnapshot, number: number, admitted: number, issuedAt: number): Ticket {
  return { productId: place.productId, quantity: place.quantity, saleId: snapshot.saleId, number, admittedAtIssue: admitted, rate: snapshot.rate, issuedAt };
}

/**
 * What the gate's reply means for the buyer (the isolate learns from it separately, routes/order.ts).
 * `place`: the product and the units the attempt bought or asked a place for (the ticket's, if it had one).
 */
export function outcomeOfGate(reply: GateReply, place: PlaceOf): PurchaseOutcome {
  switch (reply.kind) {
    case "unknown":
      return { kind: "unknown_product" };
    case "conflict":
      return { kind: "conflict" };
    case "not_started":
      return { kind: "not_started", startsAt: reply.startsAt, prequeueOpensAt: reply.prequeueOpensAt ?? 0 };
    case "prequeued":
    case "drawing":
      return {
        kind: "prequeued",
        ticket: {
          ...place,
          saleId: reply.saleId,
          number: 0,
          admittedAtIssue: 0,
          rate: reply.rate,
          issuedAt: reply.at,
          prequeue: { entry: reply.entry, startsAt: reply.startsAt ?? 0 },
        },
        ...(reply.kind === "prequeued" ? { entries: reply.entries } : {}),
        drawing: reply.kind === "drawing",
        at: reply.at,
      };
    case "sold_out":
      return { kind: "sold_out", fromMemory: false, saleId: reply.saleId };
    case "ended":
      return { kind: "ended", fromMemory: false, saleId: reply.saleId };
    case "view":
      throw new Error("the gate answered a look to a purchase");
    case "paused":
      return { kind: "paused" };
    case "challenge":
      return { kind: "challenge", problem: reply.reason };
    case "insufficient":
      return { kind: "insufficient", payload: reply.payload };
    case "limit_reached":
      return { kind: "limit_reached", saleId: reply.saleId, payload: reply.payload, acceptedKeys: reply.acceptedKeys };
    case "queued":
      return {
        kind: "queued",
        ticket: placeTicket(place, reply, reply.ticket, reply.admitted, reply.at),
        ahead: Math.max(0, reply.ticket - reply.admitted),
        expired: reply.expired,
        ...(reply.soldOutForNow ? { soldOutForNow: true } : {}),
      };
    case "accepted":
      return { kind: "accepted", saleId: reply.saleId, order: reply.order, forward: { outboxId: reply.outboxId } };
    case "replay":
      if (reply.status === "accepted") return { kind: "accepted", saleId: reply.saleId, order: reply.payload };
      // The key's order was held and its hold ended unpaid: the retry is told, and may order again.
      if (reply.status === "expired" || reply.status === "cancelled") return { kind: "order_ended", status: reply.status, order: reply.payload };
      return { kind: "limit_reached", saleId: reply.saleId, payload: reply.payload };
  }
}
