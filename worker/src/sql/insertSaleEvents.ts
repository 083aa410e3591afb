import type { SaleChanges, SaleSteered } from "@fluxgate/common";
import type { Queryable } from "../db";

/** One operator's control of a sale (a SaleSteered event), as `sale_events` keeps it. */
export interface SaleControlRow {
  saleId: string;
  /** The sale's settings version after the control: with saleId, the row's key. */
  version: number;
  action: SaleSteered["action"];
  by: string;
  at: Date;
  changes: SaleChanges;
  partition: number | null;
  offset: string | null;
}

/**
 * Records the controls in one statement; one already there (a redelivery, a relay duplicate) is
 * skipped. Returns how many were recorded.
 */
export async function insertSaleEvents(db: Queryable, controls: SaleControlRow[]): Promise<number> {
  if (controls.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO sale_events (sale_id, version, action, by_label, at, changes, kafka_partition, kafka_offset)
     SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::int[], $8::bigint[])
     ON CONFLICT (sale_id, version) DO NOTHING`,
    [
      controls.map((c) => c.saleId),
      controls.map((c) => c.version),
      controls.map((c) => c.action),
      controls.map((c) => c.by),
      controls.map((c) => c.at.toISOString()),
      controls.map((c) => JSON.stringify(c.changes)),
      controls.map((c) => c.partition),
      controls.map((c) => c.offset),
    ],
  );
  return rowCount ?? 0;
}
