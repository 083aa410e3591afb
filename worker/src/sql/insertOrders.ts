import type { Queryable } from "../db";

export interface OrderRow {
  orderId: string;
  saleId: string;
  productId: string;
  userId: string;
  quantity: number;
  idempotencyKey: string;
  acceptedAt: Date;
  partition: number | null;
  offset: string | null;
  /** The W3C trace id the order was accepted in (32 hex digits), when its message named one. */
  traceId: string | null;
}

/**
 * Inserts the whole batch in one statement (one array per column). An order already there — a
 * redelivery, a relay duplicate — is skipped; only the rows actually inserted come back, so the
 * caller takes stock for those only.
 */
export async function insertOrders(db: Queryable, orders: OrderRow[]): Promise<Array<{ orderId: string; saleId: string; quantity: number }>> {
  if (orders.length === 0) return [];
  const { rows } = await db.query<{ order_id: string; sale_id: string; quantity: number }>(
    `INSERT INTO orders (order_id, sale_id, product_id, user_id, quantity, idempotency_key, accepted_at, kafka_partition, kafka_offset, trace_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::int[], $9::bigint[], $10::text[])
     ON CONFLICT (order_id) DO NOTHING
     RETURNING order_id, sale_id, quantity`,
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
    ],
  );
  return rows.map((r) => ({ orderId: r.order_id, saleId: r.sale_id, quantity: r.quantity }));
}
