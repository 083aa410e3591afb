import type { Queryable } from "../db";

export interface OrderRow {
  orderId: string;
  saleId: string;
  productId: string;
  userId: string;
  quantity: number;
  idempotencyKey: string;
  acceptedAt: Date;
  /** When its hold ends unless paid; null for an order final as accepted (a sale without holds). */
  holdExpiresAt: Date | null;
  partition: number | null;
  offset: string | null;
  /** The W3C trace id the order was accepted in (32 hex digits), when its message named one. */
  traceId: string | null;
}

/**
 * Inserts the whole batch in one statement (one array per column). An order already there — a
 * redelivery, a relay duplicate — is skipped; only the rows actually inserted come back, so the
 * caller takes stock for those only. An order with a hold starts as 'held', any other as 'accepted'.
 */
export async function insertOrders(db: Queryable, orders: OrderRow[]): Promise<Array<{ orderId: string; saleId: string; quantity: number; held: boolean }>> {
  if (orders.length === 0) return [];
  const { rows } = await db.query<{ order_id: string; sale_id: string; quantity: number; status: string }>(
    `INSERT INTO orders (order_id, sale_id, product_id, user_id, quantity, idempotency_key, accepted_at, kafka_partition, kafka_offset, trace_id,
                         hold_expires_at, status)
     SELECT o.*, CASE WHEN o.hold_expires_at IS NULL THEN 'accepted' ELSE 'held' END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::int[], $9::bigint[], $10::text[],
                   $11::timestamptz[])
         AS o(order_id, sale_id, product_id, user_id, quantity, idempotency_key, accepted_at, kafka_partition, kafka_offset, trace_id, hold_expires_at)
     ON CONFLICT (order_id) DO NOTHING
     RETURNING order_id, sale_id, quantity, status`,
    [
      orders.map((o) => o.orderId),
      orders.map((o) => o.saleId),
      orders.map((o) => o.productId),
      orders.map((o) => o.userId),
      orders.map((o) => o.quantity),
      orders.map((o) => o.idempotencyKey),
      orders.map((o) => o.acceptedAt.toISOString()),
      orders.map((o) => o.partition),
      orders.map((o) => o.offset),
      orders.map((o) => o.traceId),
      orders.map((o) => o.holdExpiresAt?.toISOString() ?? null),
    ],
  );
  return rows.map((r) => ({ orderId: r.order_id, saleId: r.sale_id, quantity: r.quantity, held: r.status === "held" }));
}
