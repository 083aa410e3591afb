import { describeIssues, parseTraceparent, SaleEvent, type SaleTerms } from "@fluxgate/common";
import type { OrderRow } from "./sql/insertOrders";
import type { SaleRow } from "./sql/insertSales";

/** Why a message went to the dead-letter topic (the `x-dlq-reason` header). */
export type DlqReason = "invalid_json" | "invalid_schema" | "stock_exhausted" | "rejected";

export type Parsed =
  /** An order, and the sale it creates if the sale's own event has not come yet. */
  { kind: "order"; order: OrderRow; sale: SaleRow } | { kind: "sale"; sale: SaleRow } | { kind: "invalid"; reason: DlqReason; detail: string };

const INT4_MAX = 2_147_483_647;
/** 9999-12-31T23:59:59.999Z: beyond it an ISO string is no longer four-digit and PostgreSQL would refuse it. */
const MAX_EPOCH_MS = 253_402_300_799_999;

/** A sale event's own terms, or those its order carries. */
const termsOf = (event: SaleEvent): SaleTerms => (event.type === "order" ? event.sale : event);

/**
 * What SaleEvent lets through but a PostgreSQL column would refuse — retrying such a message
 * would block its partition forever, so it is invalid here.
 */
function unstorable(event: SaleEvent): string | undefined {
  const texts = event.type === "order" ? [event.orderId, event.saleId] : [event.saleId];
  if (texts.some((t) => t.includes("\u0000"))) return "text contains a NUL character";
  const terms = termsOf(event);
  if (Math.max(terms.startedAt, event.type === "order" ? event.acceptedAt : 0) > MAX_EPOCH_MS) return "timestamp beyond year 9999";
  if (terms.quantity > INT4_MAX || terms.perUserLimit > INT4_MAX) return "quantity beyond 2^31-1";
  return undefined;
}

/** One Kafka message value → a sale, an order, or the reason it can never be persisted. */
export function parseMessage(value: Buffer | null, partition: number | null, offset: string | null): Parsed {
  let json: unknown;
  try {
    if (value === null) throw new Error("no value");
    json = JSON.parse(value.toString("utf8"));
  } catch (error) {
    return { kind: "invalid", reason: "invalid_json", detail: error instanceof Error ? error.message : String(error) };
  }
  const result = SaleEvent.safeParse(json);
  if (!result.success) {
    return {
      kind: "invalid",
      reason: "invalid_schema",
      detail: describeIssues(result.error),
    };
  }
  const event = result.data;
  const problem = unstorable(event);
  if (problem) return { kind: "invalid", reason: "invalid_schema", detail: problem };
  const terms = termsOf(event);
  const sale: SaleRow = {
    saleId: event.saleId,
    productId: event.productId,
    quantity: terms.quantity,
    perUserLimit: terms.perUserLimit,
    startedAt: new Date(terms.startedAt),
  };
  if (event.type === "sale") return { kind: "sale", sale };
  return {
    kind: "order",
    sale,
    order: {
      orderId: event.orderId,
      saleId: event.saleId,
      productId: event.productId,
      userId: event.userId,
      quantity: event.quantity,
      idempotencyKey: event.idempotencyKey,
      acceptedAt: new Date(event.acceptedAt),
      partition,
      offset,
      // The order's own trace (the edge's), not the record header's: the row says which request it was.
      traceId: parseTraceparent(event.traceparent)?.traceId ?? null,
    },
  };
}
