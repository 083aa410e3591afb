import type { Queryable } from "../db";

export interface StockTake {
  saleId: string;
  /** Units to take: the quantities of the orders this transaction inserted. */
  quantity: number;
  /** The version read: the update only applies when nobody changed the sale since. */
  version: number;
  /** The orders are held for payment (a sale with holds): from now on its stock may dip below 0 (migration 000004). */
  holds?: boolean;
}

/**
 * Takes stock from each sale with optimistic concurrency: a sale whose version moved since it was
 * read is left alone and missing from the result (the caller re-reads and retries). The CHECK
 * (stock >= 0 unless the sale has holds) is the last line: a take that would go negative fails the transaction.
 */
export async function takeStock(db: Queryable, takes: StockTake[]): Promise<Set<string>> {
  if (takes.length === 0) return new Set();
  const { rows } = await db.query<{ sale_id: string }>(
    `UPDATE sales
        SET stock = sales.stock - t.quantity, version = sales.version + 1, updated_at = now(), has_holds = sales.has_holds OR t.holds
       FROM unnest($1::text[], $2::int[], $3::int[], $4::boolean[]) AS t(sale_id, quantity, version, holds)
      WHERE sales.sale_id = t.sale_id AND sales.version = t.version
     RETURNING sales.sale_id`,
    [takes.map((t) => t.saleId), takes.map((t) => t.quantity), takes.map((t) => t.version), takes.map((t) => t.holds ?? false)],
  );
  return new Set(rows.map((r) => r.sale_id));
}
