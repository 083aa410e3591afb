import type { Queryable } from "../db";

/** The highest `sale.added` a batch's messages carried for a sale. */
export interface AddedLevel {
  saleId: string;
  added: number;
}

/**
 * Raises each sale's added_stock to the level given, adding the difference to its stock; a sale
 * already at or above it is left alone, so a redelivered or overtaken message adds nothing. No
 * version check is needed: the WHERE is evaluated again on the locked row (READ COMMITTED), so two
 * transactions raising the same sale add the difference once. The version bump makes a concurrent
 * stock take re-read. Returns the ids raised.
 */
export async function raiseAddedStock(db: Queryable, levels: AddedLevel[]): Promise<string[]> {
  if (levels.length === 0) return [];
  const { rows } = await db.query<{ sale_id: string }>(
    `UPDATE sales
        SET stock = sales.stock + (l.added - sales.added_stock), added_stock = l.added, version = sales.version + 1, updated_at = now()
       FROM unnest($1::text[], $2::int[]) AS l(sale_id, added)
      WHERE sales.sale_id = l.sale_id AND sales.added_stock < l.added
     RETURNING sales.sale_id`,
    [levels.map((l) => l.saleId), levels.map((l) => l.added)],
  );
  return rows.map((r) => r.sale_id);
}
