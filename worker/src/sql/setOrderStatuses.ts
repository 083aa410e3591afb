import type { Queryable } from "../db";
import type { OrderState } from "../transitions";

/** Sets each order's status (the outcome of the transitions this batch applied to it). */
export async function setOrderStatuses(db: Queryable, statuses: Array<{ orderId: string; status: OrderState }>): Promise<void> {
  if (statuses.length === 0) return;
  await db.query(
    `UPDATE orders SET status = s.status
       FROM unnest($1::text[], $2::text[]) AS s(order_id, status)
      WHERE orders.order_id = s.order_id`,
    [statuses.map((s) => s.orderId), statuses.map((s) => s.status)],
  );
}
