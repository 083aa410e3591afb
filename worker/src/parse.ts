import { describeIssues, parseTraceparent, SaleEvent, type OrderMessage, type SaleTerms } from "@fluxgate/common";
import type { OrderRow } from "./sql/insertOrders";
import type { TransitionRow } from "./sql/insertTransitions";
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
  /** A held order's end, the order it carries (created from it if it is not there yet), and its sale. */
  | { kind: "status"; transition: TransitionRow; order: OrderRow; sale: SaleRow }
  | { kind: "invalid"; reason: DlqReason; detail: string };

const INT4_MAX = 2_147_483_647;
/** 9999-12-31T23:59:59.999Z: beyond it an ISO string is no longer four-digit and PostgreSQL would refuse it. */
const MAX_EPOCH_MS = 253_402_300_799_999;

/** A sale event's own terms, or those its order, control or status carries. */
const termsOf = (event: SaleEvent): SaleTerms => (event.type === "sale" ? event : event.type === "order_status" ? event.order.sale : event.sale);

/** The event's own moments besides its sale's start. */
function momentsOf(event: SaleEvent): number[] {
  const ofOrder = (o: OrderMessage) => [o.acceptedAt, o.holdExpiresAt ?? 0];
  if (event.type === "order") return ofOrder(event);
  if (event.type === "order_status") return [event.at, ...ofOrder(event.order)];
  return event.type === "sale_steered" ? [event.at] : [];
}

/**
 * What SaleEvent lets through but a PostgreSQL column would refuse — retrying such a message
 * would block its partition forever, so it is invalid here. Likewise a status that does not bear
 * on the order it carries, or on an order without a hold: it can never be applied.
 */
function unstorable(event: SaleEvent): string | undefined {
  if (event.type === "order_status") {
    const { order } = event;
    if (order.orderId !== event.orderId || order.saleId !== event.saleId || order.productId !== event.productId) {
      return "the order it carries is another order (orderId, saleId or productId differ)";
    }
    if (order.holdExpiresAt === undefined) return "the order it carries has no hold (holdExpiresAt)";
  }
  const texts = event.type === "order" || event.type === "order_status" ? [event.orderId, event.saleId] : [event.saleId];
  if (texts.some((t) => t.includes("\u0000"))) return "text contains a NUL character";
  const terms = termsOf(event);
  if (Math.max(terms.startedAt, ...momentsOf(event)) > MAX_EPOCH_MS) return "timestamp beyond year 9999";
  // The stock column holds quantity + added.
  if (terms.quantity + terms.added > INT4_MAX || terms.perUserLimit > INT4_MAX) return "quantity beyond 2^31-1";
  if (event.type === "sale_steered" && event.version > INT4_MAX) return "version beyond 2^31-1";
  return undefined;
}

/** An order as its row (the first delivery that got it in says where it was read from). */
const orderRow = (o: OrderMessage, partition: number | null, offset: string | null): OrderRow => ({
  orderId: o.orderId,
  saleId: o.saleId,
  productId: o.productId,
  userId: o.userId,
  quantity: o.quantity,
  idempotencyKey: o.idempotencyKey,
  acceptedAt: new Date(o.acceptedAt),
  holdExpiresAt: o.holdExpiresAt === undefined ? null : new Date(o.holdExpiresAt),
  partition,
  offset,
  // The order's own trace (the edge's), not the record header's: the row says which request it was.
  traceId: parseTraceparent(o.traceparent)?.traceId ?? null,
});

/** One Kafka message value → a sale, an order, a control, a status, or the reason it can never be persisted. */
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
  if (event.type === "order_status") {
    const { orderId, status, by, at } = event;
    return { kind: "status", sale, order: orderRow(event.order, partition, offset), transition: { orderId, status, by, at: new Date(at), partition, offset } };
  }
  return { kind: "order", sale, order: orderRow(event, partition, offset) };
}
