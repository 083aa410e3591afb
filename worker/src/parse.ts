import { describeIssues, parseTraceparent, SaleEvent, type SaleTerms } from "@fluxgate/common";
import type { OrderRow } from "./sql/insertOrders";
import type { SaleControlRow } from "./sql/insertSaleEvents";
import type { SaleRow } from "./sql/insertSales";

/** Why a message went to the dead-letter topic (the `x-dlq-reason` header). */
export type DlqReason = "invalid_json" | "invalid_schema" | "stock_exhausted" | "rejected";

/** Every valid event names its sale's terms: the row a sale start creates, or one an event ahead of it would. */
export type Parsed =
  | { kind: "sale"; sale: SaleRow }
  /** An order, and the sale it creates if the sale's own event has not come yet. */
  | { kind: "order"; order: OrderRow; sale: SaleRow }
  /** An operator's control, and likewise its sale. */
  | { kind: "control"; control: SaleControlRow; sale: SaleRow }
  | { kind: "invalid"; reason: DlqReason; detail: string };

const INT4_MAX = 2_147_483_647;
/** 9999-12-31T23:59:59.999Z: beyond it an ISO string is no longer four-digit and PostgreSQL would refuse it. */
const MAX_EPOCH_MS = 253_402_300_799_999;

/** A sale event's own terms, or those its order or control carries. */
const termsOf = (event: SaleEvent): SaleTerms => (event.type === "sale" ? event : event.sale);

/** The event's own moment besides its sale's start. */
const momentOf = (event: SaleEvent): number => (event.type === "order" ? event.acceptedAt : event.type === "sale_steered" ? event.at : 0);

/**
 * What SaleEvent lets through but a PostgreSQL column would refuse — retrying such a message
 * would block its partition forever, so it is invalid here.
 */
function unstorable(event: SaleEvent): string | undefined {
  const texts = event.type === "order" ? [event.orderId, event.saleId] : [event.saleId];
  if (texts.some((t) => t.includes("\u0000"))) return "text contains a NUL character";
  const terms = termsOf(event);
  if (Math.max(terms.startedAt, momentOf(event)) > MAX_EPOCH_MS) return "timestamp beyond year 9999";
  // The stock column holds quantity + added.
  if (terms.quantity + terms.added > INT4_MAX || terms.perUserLimit > INT4_MAX) return "quantity beyond 2^31-1";
  if (event.type === "sale_steered" && event.version > INT4_MAX) return "version beyond 2^31-1";
  return undefined;
}

/** One Kafka message value → a sale, an order, a control, or the reason it can never be persisted. */
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
    added: terms.added,
    perUserLimit: terms.perUserLimit,
    startedAt: new Date(terms.startedAt),
  };
  if (event.type === "sale") return { kind: "sale", sale };
  if (event.type === "sale_steered") {
    const { saleId, version, action, by, at, changes } = event;
    return { kind: "control", sale, control: { saleId, version, action, by, at: new Date(at), changes, partition, offset } };
  }
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
