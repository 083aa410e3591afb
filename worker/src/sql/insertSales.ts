import type { Queryable } from "../db";

export interface SaleRow {
  saleId: string;
  productId: string;
  /** The sale's whole stock: initial_stock and stock start equal. */
  quantity: number;
  perUserLimit: number;
  startedAt: Date;
}

/** Creates the sales not known yet; a repeated SaleStarted (redelivery, relay) changes nothing. Returns the ids created. */
export async function insertSales(db: Queryable, sales: SaleRow[]): Promise<string[]> {
  if (sales.length === 0) return [];
  const { rows } = await db.query<{ sale_id: string }>(
    `INSERT INTO sales (sale_id, product_id, initial_stock, stock, per_user_limit, started_at)
     SELECT s.sale_id, s.product_id, s.quantity, s.quantity, s.per_user_limit, s.started_at
       FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::timestamptz[])
         AS s(sale_id, product_id, quantity, per_user_limit, started_at)
     ON CONFLICT (sale_id) DO NOTHING
     RETURNING sale_id`,
    [
      sales.map((s) => s.saleId),
      sales.map((s) => s.productId),
      sales.map((s) => s.quantity),
      sales.map((s) => s.perUserLimit),
      sales.map((s) => s.startedAt.toISOString()),
    ],
  );
  return rows.map((r) => r.sale_id);
}
