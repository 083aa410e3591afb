import type { Queryable } from "../db";

export interface SaleRow {
  saleId: string;
  productId: string;
  /** The sale's stock at its start (initial_stock). */
  quantity: number;
  /** Units operators added as far as the message knew (added_stock); stock starts at quantity + added. */
  added: number;
  perUserLimit: number;
  startedAt: Date;
}

/** Creates the sales not known yet; a repeated SaleStarted (redelivery, relay) changes nothing (raiseAddedStock.ts moves `added`). Returns the ids created. */
export async function insertSales(db: Queryable, sales: SaleRow[]): Promise<string[]> {
  if (sales.length === 0) return [];
  const { rows } = await db.query<{ sale_id: string }>(
    `INSERT INTO sales (sale_id, product_id, initial_stock, added_stock, stock, per_user_limit, started_at)
     SELECT s.sale_id, s.product_id, s.quantity, s.added, s.quantity + s.added, s.per_user_limit, s.started_at
       FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[], $6::timestamptz[])
         AS s(sale_id, product_id, quantity, added, per_user_limit, started_at)
     ON CONFLICT (sale_id) DO NOTHING
     RETURNING sale_id`,
    [
      sales.map((s) => s.saleId),
      sales.map((s) => s.productId),
      sales.map((s) => s.quantity),
      sales.map((s) => s.added),
      sales.map((s) => s.perUserLimit),
      sales.map((s) => s.startedAt.toISOString()),
    ],
  );
  return rows.map((r) => r.sale_id);
}
