import type { Queryable } from "../db";
import type { OrderState } from "../transitions";

export interface LockedOrder {
  orderId: string;
  saleId: string;
  quantity: number;
  status: OrderState;
}

/** These orders' status and units, locked until the transaction ends (their transitions apply one after the other). */
export async function lockOrders(db: Queryable, orderIds: string[]): Promise<Map<string, LockedOrder>> {
  if (orderIds.length === 0) return new Map();
  const { rows } = await db.query<{ order_id: string; sale_id: string; quantity: number; status: OrderState }>(
    "SELECT order_id, sale_id, quantity, status FROM orders WHERE order_id = ANY($1::text[]) ORDER BY order_id FOR UPDATE",
    [orderIds],
  );
  return new Map(rows.map((r) => [r.order_id, { orderId: r.order_id, saleId: r.sale_id, quantity: r.quantity, status: r.status }]));
}
