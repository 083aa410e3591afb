import type { Queryable } from "../db";

/** Removes orders this transaction inserted but cannot keep (no stock left for them). */
export async function deleteOrders(db: Queryable, orderIds: string[]): Promise<number> {
  if (orderIds.length === 0) return 0;
  const { rowCount } = await db.query("DELETE FROM orders WHERE order_id = ANY($1::text[])", [orderIds]);
  return rowCount ?? 0;
}
