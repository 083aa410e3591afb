import type pg from "pg";
import { inTransaction, type Queryable } from "./db";
import { parseMessage, type DlqReason } from "./parse";
import { deleteOrders } from "./sql/deleteOrders";
import { insertOrders, type OrderRow } from "./sql/insertOrders";
import { insertSaleEvents, type SaleControlRow } from "./sql/insertSaleEvents";
import { insertSales, type SaleRow } from "./sql/insertSales";
import { insertTransitions, type TransitionRow } from "./sql/insertTransitions";
import { lockOrders } from "./sql/lockOrders";
import { raiseAddedStock } from "./sql/raiseAddedStock";
import { releaseStock } from "./sql/releaseStock";
import { selectSales, type SaleStock } from "./sql/selectSales";
import { setOrderStatuses } from "./sql/setOrderStatuses";
import { takeStock, type StockTake } from "./sql/takeStock";
import { applyTransition, type OrderState } from "./transitions";

export interface BatchInput {
  partition: number;
  messages: ReadonlyArray<{ offset: string; value: Buffer | null }>;
}

export interface DeadLetter {
  /** Index into the batch's messages. */
  index: number;
  reason: DlqReason;
  detail: string;
}

export interface BatchResult {
  /** Sales this batch created. */
  salesCreated: number;
  /** Operators' controls this batch recorded in sale_events (not those already there). */
  controlsRecorded: number;
  /** Sales whose added stock this batch raised. */
  stockRaised: number;
  /** Orders this batch inserted and kept (their stock taken), with the trace each was accepted in. */
  persisted: Array<{ orderId: string; productId: string; acceptedAt: Date; traceId: string | null }>;
  /** Orders already persisted, by an earlier delivery or earlier in this batch. */
  duplicates: number;
  /** Held orders' ends (OrderStatus events) this batch recorded in order_transitions (not those already there). */
  transitionsRecorded: number;
  /** Units expired or cancelled orders gave back to their sales' stock. */
  unitsReleased: number;
  /** Transitions recorded that could not follow their order's status: kept, and changing nothing. */
  conflicts: TransitionConflict[];
  dead: DeadLetter[];
  /** Stock updates that found the version moved and were retried. */
  stockConflicts: number;
}

export interface TransitionConflict {
  orderId: string;
  status: TransitionRow["status"];
  by: TransitionRow["by"];
  /** The order's status, which stays. */
  current: OrderState;
}

/** The stock update found the sale changed this many times in a row: give the batch back (it is retried). */
class StockConflictError extends Error {
  override name = "StockConflictError";
}

const MAX_STOCK_ATTEMPTS = 50;

interface Inserted {
  orderId: string;
  quantity: number;
  /** Position in the batch: stock goes to the earliest orders first. */
  index: number;
  /** Held for payment: always kept (a release in flight may be what this unit was sold from, see migration 000004). */
  held: boolean;
}

/**
 * One batch, one transaction: create the sales of its sale events, and of its orders and controls
 * whose sale is not known yet from the terms they carry (nothing ever waits for its sale), raise each
 * sale's added stock to the highest level its messages carried, record the controls, insert every
 * order in one statement, then take from each sale's stock what was actually inserted (optimistic,
 * retried on a version conflict); last, record the held orders' ends and apply those recorded now,
 * in the batch's order, giving the units of the expired and cancelled back to the stock. A status
 * ahead of its order creates the order from the copy it carries. Nothing here produces or commits
 * offsets: the caller does, after COMMIT.
 */
export async function processBatch(pool: pg.Pool, input: BatchInput): Promise<BatchResult> {
  /** Sales from their own events, and from the terms orders and controls carry (used only for a sale not known yet). */
  const sales = new Map<string, SaleRow>();
  const carried = new Map<string, SaleRow>();
  /** The highest `added` each sale's messages carried. */
  const added = new Map<string, number>();
  const orders = new Map<string, { row: OrderRow; index: number }>();
  const controls = new Map<string, SaleControlRow>();
  /** By "<orderId> <status>": one per order and status, whatever the deliveries. */
  const transitions = new Map<string, { row: TransitionRow; index: number }>();
  const dead: DeadLetter[] = [];
  let duplicates = 0;
  input.messages.forEach((message, index) => {
    const parsed = parseMessage(message.value, input.partition, message.offset);
    if (parsed.kind === "invalid") {
      dead.push({ index, reason: parsed.reason, detail: parsed.detail });
      return;
    }
    const { saleId } = parsed.sale;
    added.set(saleId, Math.max(added.get(saleId) ?? 0, parsed.sale.added));
    if (parsed.kind === "sale") sales.set(saleId, parsed.sale);
    else if (!carried.has(saleId)) carried.set(saleId, parsed.sale);
    if (parsed.kind === "control") controls.set(`${saleId} ${parsed.control.version}`, parsed.control);
    else if (parsed.kind === "order") {
      if (orders.has(parsed.order.orderId)) duplicates++;
      else orders.set(parsed.order.orderId, { row: parsed.order, index });
    } else if (parsed.kind === "status") {
      // The order it carries is inserted like a delivery of the order itself (nothing if it is there).
      if (!orders.has(parsed.order.orderId)) orders.set(parsed.order.orderId, { row: parsed.order, index });
      const key = `${parsed.transition.orderId} ${parsed.transition.status}`;
      if (!transitions.has(key)) transitions.set(key, { row: parsed.transition, index });
    }
  });
  if (sales.size === 0 && carried.size === 0) return { ...NOTHING, duplicates, dead };

  return inTransaction(pool, async (db) => {
    const created = await insertSales(db, [...sales.values()]);
    // An order or a control ahead of its sale event (the event still in the outbox, or behind in
    // the partition) creates the sale from the terms it carries; the event, when it comes, changes nothing.
    const others = [...carried.keys()];
    const found = await selectSales(db, others);
    const missing = others.filter((id) => !found.has(id)).map((id) => carried.get(id)!);
    if (missing.length > 0) created.push(...(await insertSales(db, missing)));

    // Before the stock is taken: an order for an added unit may come before the control that added it.
    const raised = await raiseAddedStock(
      db,
      [...added].filter(([, level]) => level > 0).map(([saleId, level]) => ({ saleId, added: level })),
    );
    const controlsRecorded = await insertSaleEvents(db, [...controls.values()]);

    const rows = [...orders.values()].map((o) => o.row);
    // `found` holds every order's sale, as read: read again only what this transaction changed.
    let known = missing.length === 0 && raised.length === 0 ? found : await selectSales(db, [...new Set(rows.map((r) => r.saleId))]);
    const inserted = await insertOrders(db, rows);
    duplicates += rows.length - inserted.length;

    // What each sale gives: its inserted orders, earliest first.
    const pending = new Map<string, Inserted[]>();
    for (const r of inserted) {
      const list = pending.get(r.saleId) ?? [];
      list.push({ orderId: r.orderId, quantity: r.quantity, index: orders.get(r.orderId)!.index, held: r.held });
      pending.set(r.saleId, list);
    }
    for (const list of pending.values()) list.sort((a, b) => a.index - b.index);

    const exhausted: Inserted[] = [];
    let stockConflicts = 0;
    for (let attempt = 1; pending.size > 0; attempt++) {
      if (attempt > 1) {
        if (attempt > MAX_STOCK_ATTEMPTS) throw new StockConflictError(`stock of ${[...pending.keys()].join(", ")} kept changing`);
        stockConflicts += pending.size;
        known = await selectSales(db, [...pending.keys()]);
      }
      const takes: StockTake[] = [];
      for (const [saleId, list] of pending) {
        const sale = known.get(saleId) as SaleStock; // the orders' foreign key keeps it there
        const holds = list.some((o) => o.held);
        const kept = holds ? list : fitStock(list, sale.stock, exhausted);
        pending.set(saleId, kept);
        const quantity = kept.reduce((sum, o) => sum + o.quantity, 0);
        if (quantity > 0) takes.push({ saleId, quantity, version: sale.version, holds });
        else pending.delete(saleId);
      }
      const done = await takeStock(db, takes);
      for (const saleId of done) pending.delete(saleId);
    }

    // The edge never sells more than the stock, so this is for a broken upstream: keep the rows
    // consistent with the stock and hand the rest to a human, rather than retry forever.
    await deleteOrders(
      db,
      exhausted.map((o) => o.orderId),
    );
    const gone = new Set(exhausted.map((o) => o.orderId));
    for (const o of exhausted) dead.push({ index: o.index, reason: "stock_exhausted", detail: "no stock left for this order" });

    const persisted = inserted
      .filter((r) => !gone.has(r.orderId))
      .map((r) => {
        const { productId, acceptedAt, traceId } = orders.get(r.orderId)!.row;
        return { orderId: r.orderId, productId, acceptedAt, traceId };
      });
    const ends = await applyTransitions(db, transitions);
    return { salesCreated: created.length, controlsRecorded, stockRaised: raised.length, persisted, duplicates, dead, stockConflicts, ...ends };
  });
}

/** A batch that changed nothing (what a skipped or rejected batch reports, with its dead letters). */
export const NOTHING: BatchResult = {
  salesCreated: 0,
  controlsRecorded: 0,
  stockRaised: 0,
  persisted: [],
  duplicates: 0,
  transitionsRecorded: 0,
  unitsReleased: 0,
  conflicts: [],
  dead: [],
  stockConflicts: 0,
};

/**
 * Records the transitions (their orders are in: inserted earlier in this transaction if need be)
 * and applies the ones recorded now to their orders, in the batch's order: exactly once, since a
 * redelivered one is already recorded.
 */
async function applyTransitions(
  db: Queryable,
  transitions: Map<string, { row: TransitionRow; index: number }>,
): Promise<Pick<BatchResult, "transitionsRecorded" | "unitsReleased" | "conflicts">> {
  const recorded = (
    await insertTransitions(
      db,
      [...transitions.values()].map((t) => t.row),
    )
  )
    .map((r) => transitions.get(`${r.orderId} ${r.status}`)!)
    .sort((a, b) => a.index - b.index)
    .map((t) => t.row);
  const locked = await lockOrders(db, [...new Set(recorded.map((t) => t.orderId))]);
  const changed = new Map<string, OrderState>();
  const released = new Map<string, number>();
  const conflicts: TransitionConflict[] = [];
  for (const t of recorded) {
    const order = locked.get(t.orderId)!; // the transition's foreign key keeps it there
    const outcome = applyTransition(order.status, t.status, t.by);
    if (outcome.kind === "conflict") {
      conflicts.push({ orderId: t.orderId, status: t.status, by: t.by, current: order.status });
      continue;
    }
    order.status = outcome.status;
    changed.set(order.orderId, outcome.status);
    if (outcome.released) released.set(order.saleId, (released.get(order.saleId) ?? 0) + order.quantity);
  }
  await setOrderStatuses(
    db,
    [...changed].map(([orderId, status]) => ({ orderId, status })),
  );
  await releaseStock(
    db,
    [...released].map(([saleId, units]) => ({ saleId, units })),
  );
  let unitsReleased = 0;
  for (const units of released.values()) unitsReleased += units;
  return { transitionsRecorded: recorded.length, unitsReleased, conflicts };
}

/** The earliest orders that fit in `stock`; the others are appended to `over`. */
function fitStock(list: Inserted[], stock: number, over: Inserted[]): Inserted[] {
  let total = 0;
  for (const o of list) total += o.quantity;
  if (total <= stock) return list;
  const kept: Inserted[] = [];
  let left = stock;
  for (const o of list) {
    if (o.quantity <= left) {
      kept.push(o);
      left -= o.quantity;
    } else over.push(o);
  }
  return kept;
}
