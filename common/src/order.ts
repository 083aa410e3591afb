import { z } from "zod";
import { parseTraceparent } from "./trace-context";

/** Product ids travel in URLs, Redis keys and Kafka keys: keep them short and unambiguous. */
export const ProductId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "productId: 1-64 characters, letters, digits, '.', '_' or '-'");
export type ProductId = z.infer<typeof ProductId>;

export const UserId = z
  .string()
  .min(1, "userId must not be empty")
  .max(128, "userId: at most 128 characters")
  .regex(/^[\x21-\x7e]+$/, "userId: visible ASCII characters only");
export type UserId = z.infer<typeof UserId>;

/** The Idempotency-Key header: 1-128 visible ASCII characters. */
export const IdempotencyKey = z
  .string()
  .min(1, "Idempotency-Key must not be empty")
  .max(128, "Idempotency-Key: at most 128 characters")
  .regex(/^[\x21-\x7e]+$/, "Idempotency-Key: visible ASCII characters only");

/**
 * What the worker needs to create a sale's stock row. The sale event carries it, and so does every
 * order: an order whose sale event is late (the origin was away during /init, the relay has not
 * delivered it yet) still creates its sale, so no accepted order ever waits on, or is lost for, a
 * sale the worker has not seen.
 */
export const SaleTerms = z.object({
  /** The sale's whole stock at its start. */
  quantity: z.number().int().min(0),
  perUserLimit: z.number().int().min(1),
  /** Milliseconds since the epoch, from Redis' clock when /init ran. */
  startedAt: z.number().int().nonnegative(),
  /**
   * Units operators added to the sale so far (PATCH addStock), as known when the message was made:
   * a level, not a delta, so the worker applies it once whatever the order of delivery, and an
   * order for an added unit that overtakes its SaleSteered still finds the stock. Messages from
   * before restocking existed read as 0.
   */
  added: z.number().int().min(0).default(0),
});
export type SaleTerms = z.infer<typeof SaleTerms>;

/**
 * An order the edge accepted. This one schema is what the edge forwards and appends to the
 * outbox, what the origin produces to Kafka and what the worker persists: change it here only.
 */
export const OrderMessage = z.object({
  /** Schema version, so a consumer can refuse what it does not understand instead of guessing. */
  v: z.literal(1),
  type: z.literal("order"),
  orderId: z.string().min(1).max(64),
  /** Which run of the sale (POST /init restarts it): orders of an earlier run never mix with this one. */
  saleId: z.string().min(1).max(64),
  productId: ProductId,
  userId: UserId,
  quantity: z.number().int().min(1).max(1000),
  idempotencyKey: IdempotencyKey,
  /** Milliseconds since the epoch, from Redis' clock at the moment the stock was taken. */
  acceptedAt: z.number().int().nonnegative(),
  sale: SaleTerms,
  /**
   * The W3C traceparent of the edge's span that accepted the order (trace-context.ts): the origin's
   * span continues it, the worker stores its trace id with the row. Optional (orders from before it,
   * or from tools); one that is not a valid version-00 value reads as none — a trace is never a
   * reason to refuse or dead-letter an accepted order.
   */
  /**
   * When the sale holds accepted units for payment (its `holdSeconds`): until then (Redis' clock, ms)
   * the order is "held"; the shop's confirmation makes it "paid", else it expires and its units go
   * back to the line (an OrderStatus says which). Absent: the order is final as accepted.
   */
  holdExpiresAt: z.number().int().positive().optional(),
  traceparent: z
    .string()
    .refine((value) => parseTraceparent(value) !== undefined)
    .optional()
    .catch(undefined),
});
export type OrderMessage = z.infer<typeof OrderMessage>;

/**
 * A sale was started (or restarted) at the edge: the worker creates its stock row from this. It
 * travels the same way as the orders (outbox, origin, Kafka keyed by productId), so within a
 * partition it always comes before the sale's orders.
 */
export const SaleStarted = z.object({
  v: z.literal(1),
  type: z.literal("sale"),
  saleId: z.string().min(1).max(64),
  productId: ProductId,
  ...SaleTerms.shape,
});
export type SaleStarted = z.infer<typeof SaleStarted>;

/** The operator's label on a control (the admin token's name, or one they gave): 1-64 visible ASCII characters. */
export const OperatorLabel = z
  .string()
  .min(1, "by must not be empty")
  .max(64, "by: at most 64 characters")
  .regex(/^[\x21-\x7e]+$/, "by: visible ASCII characters only");

/** What an `update` control changed; pause and resume change nothing here (their action says it all). */
export const SaleChanges = z.object({
  ratePerSecond: z.number().positive().optional(),
  burst: z.number().int().min(1).optional(),
  /** Milliseconds since the epoch; 0 = no end (the sale ends when sold out or closed). */
  endsAt: z.number().int().min(0).optional(),
  ticketTtlSeconds: z.number().int().min(1).max(3600).optional(),
  /** Units added by this control; the sale's `added` level after it is in `sale.added`. */
  addStock: z.number().int().min(1).optional(),
});
export type SaleChanges = z.infer<typeof SaleChanges>;

/**
 * An operator steered a live sale (pause, resume, or an update of its pace, end, ticket TTL or
 * stock) at the edge. It travels like the other events (outbox field `sale`, origin, Kafka keyed by
 * productId); the worker keeps one row per version in `sale_events` (the audit trail) and raises
 * the sale's stock to `sale.added`.
 */
export const SaleSteered = z
  .object({
    v: z.literal(1),
    type: z.literal("sale_steered"),
    saleId: z.string().min(1).max(64),
    productId: ProductId,
    /** The sale's settings version after this control: one per control, so a redelivery is recognised. */
    version: z.number().int().min(1),
    action: z.enum(["pause", "resume", "update"]),
    by: OperatorLabel,
    /** Milliseconds since the epoch, from Redis' clock when the control applied. */
    at: z.number().int().nonnegative(),
    changes: SaleChanges,
    /** The sale's terms, `added` being the level after this control. */
    sale: SaleTerms,
  })
  .refine((e) => (e.action === "update") === Object.values(e.changes).some((v) => v !== undefined), {
    message: "changes: an update changes at least one setting; pause and resume change none",
    path: ["changes"],
  });
export type SaleSteered = z.infer<typeof SaleSteered>;

/** How a held order ended: paid (the shop confirmed it in time), expired, or cancelled (by the buyer or the operator). */
export const ORDER_ENDINGS = ["paid", "expired", "cancelled"] as const;
export type OrderEnding = (typeof ORDER_ENDINGS)[number];
/** Who ended it: the shop's payment confirmation, the buyer, the operator, or the clock. */
export const ORDER_ENDED_BY = ["shop", "buyer", "operator", "expiry"] as const;

/**
 * A held order's end (or an operator's cancel of a paid one), decided atomically in Redis against
 * the hold's expiry: one per order and status, on the same path as the order (outbox field `sale`,
 * origin, Kafka keyed by productId). The worker keeps the order's status and its transitions; an
 * expired or cancelled order gives its units back to `sales.stock`.
 */
export const OrderStatus = z.object({
  v: z.literal(1),
  type: z.literal("order_status"),
  /** The order's, as on every event (Kafka's key, the sale it bears on). */
  orderId: z.string().min(1).max(64),
  saleId: z.string().min(1).max(64),
  productId: ProductId,
  status: z.enum(ORDER_ENDINGS),
  by: z.enum(ORDER_ENDED_BY),
  /** Milliseconds since the epoch, from Redis' clock when it was decided. */
  at: z.number().int().nonnegative(),
  /** The order as accepted: the worker creates its row from it if this arrives first. */
  order: OrderMessage,
});
export type OrderStatus = z.infer<typeof OrderStatus>;

/** Everything on the `orders` topic and in the outbox. */
export const SaleEvent = z.discriminatedUnion("type", [OrderMessage, SaleStarted, SaleSteered, OrderStatus]);
export type SaleEvent = z.infer<typeof SaleEvent>;
