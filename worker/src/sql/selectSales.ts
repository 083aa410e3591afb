import type { Queryable } from "../db";

export interface SaleStock {
  saleId: string;
  stock: number;
  version: number;
}

/** The current stock and version of these sales; ids that are not there are unknown sales. */
export async function selectSales(db: Queryable, saleIds: string[]): Promise<Map<string, SaleStock>> {
  if (saleIds.length === 0) return new Map();
  const { rows } = await db.query<{ sale_id: string; stock: number; version: number }>(
    "SELECT sale_id, stock, version FROM sales WHERE sale_id = ANY($1::text[])",
    [saleIds],
  );
  return new Map(rows.map((r) => [r.sale_id, { saleId: r.sale_id, stock: r.stock, version: r.version }]));
}
