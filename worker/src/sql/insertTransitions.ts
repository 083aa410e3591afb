import type { OrderStatus } from "@fluxgate/common";
import type { Queryable } from "../db";

/** One end of a held order (an OrderStatus event), as `order_transitions` keeps it. */
export interface TransitionRow {
  orderId: string;
  status: OrderStatus["status"];
  by: OrderStatus["by"];
  /** When Redis decided it (its clock). */
  at: Date;
  partition: number | null;
  offset: string | null;
}

/**
 * Records the transitions in one statement; one already there (a redelivery, a relay duplicate)
 * is skipped. Returns those recorded: only they may change their order.
 */
export async function insertTransitions(db: Queryable, transitions: TransitionRow[]): Promise<Array<{ orderId: string; status: TransitionRow["status"] }>> {
  if (transitions.length === 0) return [];
  const { rows } = await db.query<{ order_id: string; status: TransitionRow["status"] }>(
    `INSERT INTO order_transitions (order_id, status, by_label, at, kafka_partition, kafka_offset)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[], $6::bigint[])
     ON CONFLICT (order_id, status) DO NOTHING
     RETURNING order_id, status`,
    [
      transitions.map((t) => t.orderId),
      transitions.map((t) => t.status),
      transitions.map((t) => t.by),
      transitions.map((t) => t.at.toISOString()),
      transitions.map((t) => t.partition),
      transitions.map((t) => t.offset),
    ],
  );
  return rows.map((r) => ({ orderId: r.order_id, status: r.status }));
}
