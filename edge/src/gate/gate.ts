import type { Redis } from "@upstash/redis/cloudflare";
import { saleKeys, type SaleKeys } from "@fluxgate/common";
import { KeyFilter } from "./key-filter";
import { decodeGateReply, type GateReplyFields } from "./reply";
import { scripts } from "./scripts";

export interface Attempt {
  productId: string;
  userId: string;
  quantity: number;
  idempotencyKey: string;
  /** Hex SHA-256 of what the request asks for: the same key with another body is refused. */
  requestHash: string;
  orderId: string;
  /** Sold-out answers this isolate gave from memory since its last gate call: counted in Redis now. */
  soldOutFromMemory?: number;
  /** Which key filters to send back: the accepted keys' (only once sold out) and/or the queued keys'. */
  filters?: { accepted?: boolean; queued?: boolean };
  /** A solved proof-of-work challenge the edge checked (challenge/gateArgument), for the gate to spend. */
  challenge?: string;
  /** The edge's span (a valid W3C traceparent), stored in the order it accepts so the relay's path keeps the trace too. */
  traceparent?: string;
}

/** What the gate saw of the sale while deciding: the edge caches it to answer later requests from memory. */
export interface SaleSnapshot {
  saleId: string;
  remaining: number;
  issued: number;
  admitted: number;
  rate: number;
  /** Redis' clock (ms) when `admitted` was computed: waiting pages project the watermark from here. */
  at: number;
  /** Units held by admitted, unused, unexpired tickets: nobody behind them can buy these. */
  claimed: number;
  /** When the sale ends (Redis' clock, ms; an operator's close sets it to then); 0 = when sold out. */
  endsAt: number;
  /** When the sale starts (ms; 0 = at once) and when its pre-queue opens (0 = it has none). */
  startsAt?: number;
  prequeueOpensAt?: number;
  /** The operator paused the sale: nothing moves until it resumes. */
  paused?: boolean;
  /** The sale's settings version (each operator control raises it); 0 before any. */
  version?: number;
  /** Units held for payment: while any are, "no unit left" is not final (they may come back). */
  held?: number;
}

/** Filters the gate sent back with its answer (see KeyFilter). */
export interface GateFilters {
  acceptedKeys: KeyFilter | undefined;
  queuedKeys: KeyFilter | undefined;
}

export type GateOutcome = GateDecision & { filters?: GateFilters };

/**
 * Every reply also says the sale's proof-of-work difficulty (0 = off), so the edge learns it, and
 * for a sale with a pre-queue, where its draw stands ("lead": this caller must draw the line).
 */
export type GateReply = GateOutcome & { powDifficulty?: number; draw?: DrawState };

export type DrawState = "drawing" | "lead" | "drawn";

type GateDecision =
  | { kind: "unknown" }
  | ({ kind: "conflict" } & SaleSnapshot)
  | ({ kind: "not_started"; startsAt: number } & SaleSnapshot)
  | ({ kind: "sold_out" } & SaleSnapshot)
  | ({ kind: "ended" } & SaleSnapshot)
  /** The line as it stands now, moved on (expired claims returned): a look without an attempt. */
  | ({ kind: "view" } & SaleSnapshot)
  /** `soldOutForNow`: no unit is free now, but some are held for payment and may come back. */
  | ({ kind: "queued"; ticket: number; expired: boolean; soldOutForNow: boolean } & SaleSnapshot)
  | ({ kind: "accepted"; order: string; outboxId: string } & SaleSnapshot)
  /** A final outcome decided earlier for the same Idempotency-Key (accepted or limit_reached). */
  | ({ kind: "replay"; status: string; payload: string } & SaleSnapshot)
  /** `acceptedKeys`: the buyer's accepted Idempotency-Keys, one a line. */
  | ({ kind: "limit_reached"; payload: string; acceptedKeys: string } & SaleSnapshot)
  | ({ kind: "insufficient"; payload: string } & SaleSnapshot)
  /** In the pre-queue (before the start): the buyer's entry, and how many entries there are so far. */
  | ({ kind: "prequeued"; entry: string; entries: number } & SaleSnapshot)
  /** Started, and the buyer is in the pre-queue, but the draw has not given places yet. */
  | ({ kind: "drawing"; entry: string } & SaleSnapshot)
  /** The sale asks for proof of work and this attempt brought none valid for it (or a spent one). */
  | ({ kind: "challenge"; difficulty: number; reason: "required" | "stale" | "replayed" } & SaleSnapshot)
  /** The operator paused the sale: places and claims are kept for the resume. */
  | ({ kind: "paused" } & SaleSnapshot);

/** The KEYS of gate.lua, in the script's order. */
export const gateKeys = (k: SaleKeys) => [
  k.sale,
  k.idem,
  k.buyers,
  k.outbox,
  k.marks,
  k.claims,
  k.stats,
  k.acceptedKeys,
  k.queuedKeys,
  k.challenges,
  k.prequeue,
  k.places,
  k.lottery,
  k.ledger,
  k.holds,
  k.holdOrders,
];

/** One purchase attempt through the gate script: exactly one Redis command. */
export async function passGate(redis: Pick<Redis, "evalsha" | "eval">, attempt: Attempt): Promise<GateReply> {
  const filters = (attempt.filters?.accepted ? 1 : 0) + (attempt.filters?.queued ? 2 : 0);
  const reply = decodeGateReply(
    await scripts.gate.run<unknown>(redis, gateKeys(saleKeys(attempt.productId)), [
      attempt.idempotencyKey,
      attempt.requestHash,
      attempt.userId,
      attempt.quantity,
      attempt.orderId,
      attempt.productId,
      attempt.soldOutFromMemory ?? 0,
      filters,
      attempt.challenge ?? "",
      attempt.traceparent ?? "",
    ]),
  );
  if (reply.kind === "unknown") return { kind: "unknown" };
  const snapshot: SaleSnapshot = {
    saleId: reply.saleId,
    remaining: reply.remaining,
    issued: reply.issued,
    admitted: reply.admitted,
    rate: reply.rate,
    at: reply.at,
    claimed: reply.claimed,
    endsAt: reply.endsAt,
    startsAt: reply.startsAt,
    prequeueOpensAt: reply.prequeueOpensAt,
    paused: reply.paused === 1,
    version: reply.version,
    held: reply.held,
  };
  const decision: GateReply = { ...decide(reply.kind, snapshot, reply.a, reply.b), powDifficulty: reply.powDifficulty };
  if (reply.draw) decision.draw = reply.draw;
  const filter = { acceptedKeys: KeyFilter.parse(reply.acceptedKeys), queuedKeys: KeyFilter.parse(reply.queuedKeys) };
  return filter.acceptedKeys || filter.queuedKeys ? { ...decision, filters: filter } : decision;
}

function decide(kind: GateReplyFields["kind"], snapshot: SaleSnapshot, a: string, b: string): GateDecision {
  switch (kind) {
    case "challenge":
      return { kind, difficulty: Number(a), reason: b as "required" | "stale" | "replayed", ...snapshot };
    case "conflict":
    case "sold_out":
    case "ended":
    case "view":
    case "paused":
      return { kind, ...snapshot };
    case "not_started":
      return { kind, startsAt: Number(a), ...snapshot };
    case "prequeued":
      return { kind, entry: a, entries: Number(b), ...snapshot };
    case "drawing":
      return { kind, entry: a, ...snapshot };
    case "queued":
      return { kind, ticket: Number(a), expired: b === "expired", soldOutForNow: b === "held", ...snapshot };
    case "accepted":
      return { kind, order: a, outboxId: b, ...snapshot };
    case "replay":
      return { kind, status: a, payload: b, ...snapshot };
    case "limit_reached":
      return { kind, payload: a, acceptedKeys: b, ...snapshot };
    case "insufficient":
      return { kind, payload: a, ...snapshot };
  }
}

/**
 * The sale's line as it stands now (one EVALSHA, no attempt): the watermark moved and expired
 * claims returned, as they would be for a purchase, so waiting pages never wait on a stored state
 * that only a purchase would move.
 */
export function viewLine(redis: Pick<Redis, "evalsha" | "eval">, productId: string, extra: Pick<Attempt, "soldOutFromMemory" | "filters">): Promise<GateReply> {
  return passGate(redis, { productId, userId: "", quantity: 1, idempotencyKey: "", requestHash: "", orderId: "", ...extra });
}
