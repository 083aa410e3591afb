import type { Queryable } from "../db";

/** Units an expired or cancelled order gave back to its sale. */
export interface StockRelease {
  saleId: string;
  units: number;
}

/**
 * Gives units back to each sale's stock. No version check: an addition needs no read first (the
 * row lock orders it against a concurrent take, whose version check then re-reads).
 */
export async function releaseStock(db: Queryable, releases: StockRelease[]): Promise<void> {
  if (releases.length === 0) return;
  await db.query(
    `UPDATE sales SET stock = sales.stock + r.units, version = sales.version + 1, updated_at = now()
       FROM unnest($1::text[], $2::int[]) AS r(sale_id, units)
      WHERE sales.sale_id = r.sale_id`,
    [releases.map((r) => r.saleId), releases.map((r) => r.units)],
  );
}
