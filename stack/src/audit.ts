import { buyerKey, IdemStatus, OrderMessage, Outbox, parseIdemRecord, parseSaleView, SALE_VIEW_FIELDS, saleKeys, SaleEvent, Topics } from "@fluxgate/common";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";

export interface AuditTargets {
  redisUrl: string;
  databaseUrl: string;
  databaseSchema?: string;
  kafkaBrokers: string[];
  topic?: string;
}

/** An order's state: 'accepted' is final as accepted (a sale without holds), the others those of a hold (common/src/holds-lua.ts). */
type OrderState = "accepted" | "held" | "paid" | "expired" | "cancelled";
/** Units of orders in each state. */
type UnitsByState = Record<OrderState, number>;

export interface AuditReport {
  productId: string;
  saleId: string | null;
  /**
   * initial + added = sold + remaining: `added` is what operators added since the start (PATCH
   * addStock), `sold` every unit not free (held for payment, paid, or final without a hold), and
   * `released` the units expired or cancelled holds gave back (counted in remaining again).
   */
  redis: { initial: number; added: number; remaining: number; sold: number; held: number; paid: number; released: number; acceptedOrders: number };
  outbox: { pending: number };
  /** Orders, and held orders' ends (one per order and status), in the topic. */
  kafka: { messages: number; distinctOrders: number; statuses: number; distinctStatuses: number };
  /** `units` are those still taken (accepted, held or paid); `byStatus` the units of the orders in each status. */
  postgres: {
    orders: number;
    units: number;
    byStatus: UnitsByState;
    initialStock: number | null;
    addedStock: number | null;
    stock: number | null;
  };
  /** Units persisted or taken at the edge beyond the initial and added stock. */
  oversold: number;
  /** Orders accepted at the edge that PostgreSQL does not have. */
  lost: number;
  /** Rows in PostgreSQL that no accepted order explains, plus Idempotency-Keys persisted more than once. */
  duplicates: number;
  /**
   * PostgreSQL learned every unit added at the edge (added_stock = Redis' added), and its stock
   * counts the free units: initial + added − units sold at the edge, and − the units of its own
   * orders still taken (accepted, held or paid).
   */
  stockConsistent: boolean;
  /** The holds (a sale's holdSeconds): each order ended one way, the same on every layer. */
  holds: {
    /**
     * At the edge, remaining + held + paid + the units of orders final without a hold = initial +
     * added, and the sale's held, paid and released counters are the units of its held orders in each state.
     */
    redisBalanced: boolean;
    /** PostgreSQL's held units = Redis' held (meaningful once drained). */
    heldAgrees: boolean;
    /** Orders both paid and released (expired, or cancelled by anyone but the operator, who may cancel a paid order). */
    paidAndReleased: number;
    /** Orders whose status in PostgreSQL is not the edge's (meaningful once drained). */
    statusMismatches: number;
  };
  /**
   * The real path's latency, edge → origin → Kafka → worker, from the timestamps PostgreSQL keeps:
   * persisted_at (the worker's transaction start) − accepted_at (Redis' clock when the gate took the stock).
   */
  latencyMs: RealPathLatency | null;
}

export interface RealPathLatency {
  orders: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nothing oversold, lost or duplicated, PostgreSQL's stock agrees with what the edge sold, and every hold ended one way on every layer. */
export const auditClean = (r: AuditReport) =>
  r.oversold === 0 &&
  r.lost === 0 &&
  r.duplicates === 0 &&
  r.stockConsistent &&
  r.holds.redisBalanced &&
  r.holds.heldAgrees &&
  r.holds.paidAndReleased === 0 &&
  r.holds.statusMismatches === 0;

/** persisted_at − accepted_at over a sale's persisted orders, in PostgreSQL's own arithmetic. */
export async function realPathLatency(db: pg.ClientBase | pg.Pool, saleId: string): Promise<RealPathLatency | null> {
  const { rows } = await db.query<{ orders: number; p: number[] | null; max: number | null }>(
    `select count(*)::int as orders,
            percentile_disc(array[0.5, 0.99]) within group (order by extract(epoch from persisted_at - accepted_at) * 1000) as p,
            max(extract(epoch from persisted_at - accepted_at) * 1000) as max
       from orders where sale_id = $1`,
    [saleId],
  );
  const r = rows[0]!;
  if (!r.orders || !r.p || r.max === null) return null;
  const ms = (x: number) => Math.round(Number(x));
  return { orders: r.orders, p50: ms(r.p[0]!), p99: ms(r.p[1]!), max: ms(r.max) };
}

interface Accepted {
  orderId: string;
  quantity: number;
  state: OrderState;
}

const noUnits = (): UnitsByState => ({ accepted: 0, held: 0, paid: 0, expired: 0, cancelled: 0 });

/** Every value of a hash, HSCANned (a sale's hashes may hold 100,000 fields). */
async function* hashValues(redis: Redis, key: string): AsyncGenerator<string> {
  let cursor = "0";
  do {
    const [next, flat] = await redis.hscan(key, cursor, "COUNT", 1000);
    cursor = next;
    for (let i = 1; i < flat.length; i += 2) yield flat[i]!;
  } while (cursor !== "0");
}

/**
 * Every order the edge accepted in this sale, and its state: the idempotency records keep the
 * accepted ones (final outcomes never expire), the held orders' records (kept after their end) how each hold ended.
 */
async function acceptedAtEdge(redis: Redis, productId: string): Promise<Map<string, Accepted>> {
  const accepted = new Map<string, Accepted>();
  for await (const raw of hashValues(redis, saleKeys(productId).idem)) {
    const record = parseIdemRecord(raw);
    if (record?.status !== IdemStatus.accepted) continue;
    const order = OrderMessage.parse(JSON.parse(record.payload));
    accepted.set(order.orderId, { orderId: order.orderId, quantity: order.quantity, state: "accepted" });
  }
  for await (const raw of hashValues(redis, saleKeys(productId).holdOrders)) {
    const bar = raw.indexOf("|");
    const order = OrderMessage.parse(JSON.parse(raw.slice(bar + 1)));
    accepted.set(order.orderId, { orderId: order.orderId, quantity: order.quantity, state: raw.slice(0, bar) as OrderState });
  }
  return accepted;
}

/** Outbox entries of this sale not relayed yet: its orders, and its held orders' ends. */
async function pendingInOutbox(redis: Redis, productId: string, saleId: string): Promise<number> {
  const entries = await redis.xrange(saleKeys(productId).outbox, "-", "+");
  return entries.filter(([, fields]) => {
    const event = JSON.parse(fields[1]!) as { type?: string; saleId: string };
    return (fields[0] === Outbox.orderField || event.type === "order_status") && event.saleId === saleId;
  }).length;
}

/** Reads the whole topic once, up to the offsets it had when the audit began. */
async function ordersInKafka(brokers: string[], topic: string, productId: string, saleId: string) {
  const kafka = new Kafka({ clientId: "fluxgate-audit", brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `fluxgate-audit-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  const remainingPartitions = new Set([...ends].filter(([, high]) => high > 0).map(([p]) => p));
  const orderIds: string[] = [];
  const statuses: string[] = [];
  if (remainingPartitions.size > 0) {
    const consumer = kafka.consumer({ groupId, maxBytes: 10 * 1024 * 1024 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              if (message.key?.toString() !== productId || !message.value) continue;
              const event = SaleEvent.safeParse(JSON.parse(message.value.toString()));
              if (!event.success || event.data.saleId !== saleId) continue;
              if (event.data.type === "order") orderIds.push(event.data.orderId);
              else if (event.data.type === "order_status") statuses.push(`${event.data.orderId} ${event.data.status}`);
            }
            if (Number(batch.highWatermark) >= (ends.get(batch.partition) ?? 0) && Number(batch.lastOffset()) + 1 >= (ends.get(batch.partition) ?? 0)) {
              remainingPartitions.delete(batch.partition);
              if (remainingPartitions.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  await admin.disconnect();
  return { messages: orderIds.length, distinctOrders: new Set(orderIds).size, statuses: statuses.length, distinctStatuses: new Set(statuses).size };
}

/**
 * Compares what each layer holds for the product's current sale: Redis (what the edge sold),
 * the outbox, Kafka and PostgreSQL. Read-only.
 */
export async function audit(targets: AuditTargets, productId: string): Promise<AuditReport> {
  const redis = new Redis(targets.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const db = new pg.Client({ connectionString: targets.databaseUrl });
  await Promise.all([redis.connect(), db.connect()]);
  try {
    if (targets.databaseSchema) await db.query(`set search_path to "${targets.databaseSchema.replaceAll('"', '""')}"`);
    const atEdge = parseSaleView(await redis.hmget(saleKeys(productId).sale, ...SALE_VIEW_FIELDS));
    if (!atEdge) throw new Error(`no sale for product ${productId} in redis`);
    const { saleId, quantity: initial, added, remaining } = atEdge;
    const [held, paid, released] = (await redis.hmget(saleKeys(productId).sale, "held", "paid", "released")).map((v) => Number(v ?? 0)) as [
      number,
      number,
      number,
    ];
    const stockAtEdge = initial + added;
    const sold = stockAtEdge - remaining;
    const accepted = await acceptedAtEdge(redis, productId);
    const atEdgeByState = noUnits();
    for (const o of accepted.values()) atEdgeByState[o.state] += o.quantity;

    // One pg client runs one query at a time: PostgreSQL's part goes in sequence, beside the others.
    const postgres = (async () => {
      const rows = await db.query<{ order_id: string; quantity: number; user_id: string; idempotency_key: string; status: OrderState }>(
        "select order_id, quantity, user_id, idempotency_key, status from orders where sale_id = $1",
        [saleId],
      );
      // Paid, and released by anyone but the operator's cancel of a paid order.
      const paidAndReleased = await db.query<{ n: number }>(
        `select count(*)::int as n from orders o
          where o.sale_id = $1
            and exists (select 1 from order_transitions t where t.order_id = o.order_id and t.status = 'paid')
            and exists (select 1 from order_transitions t where t.order_id = o.order_id
                         and (t.status = 'expired' or (t.status = 'cancelled' and t.by_label <> 'operator')))`,
        [saleId],
      );
      const saleRow = await db.query<{ initial_stock: number; added_stock: number; stock: number }>(
        "select initial_stock, added_stock, stock from sales where sale_id = $1",
        [saleId],
      );
      return { rows, saleRow, paidAndReleased: paidAndReleased.rows[0]!.n, latencyMs: await realPathLatency(db, saleId) };
    })();
    const [pending, kafka, { rows, saleRow, paidAndReleased, latencyMs }] = await Promise.all([
      pendingInOutbox(redis, productId, saleId),
      ordersInKafka(targets.kafkaBrokers, targets.topic ?? Topics.orders, productId, saleId),
      postgres,
    ]);

    const persisted = new Map(rows.rows.map((r) => [r.order_id, r]));
    const byStatus = noUnits();
    for (const r of rows.rows) byStatus[r.status] += Number(r.quantity);
    // Released units are free again: only the others are taken.
    const units = byStatus.accepted + byStatus.held + byStatus.paid;
    const statusMismatches = rows.rows.filter((r) => accepted.has(r.order_id) && accepted.get(r.order_id)!.state !== r.status).length;
    const lost = [...accepted.keys()].filter((id) => !persisted.has(id)).length;
    const unexplained = rows.rows.filter((r) => !accepted.has(r.order_id)).length;
    // A key is its buyer's: two buyers' same key are two orders, one buyer's key twice a duplicate.
    const keys = new Map<string, number>();
    for (const r of rows.rows) keys.set(buyerKey(r.user_id, r.idempotency_key), (keys.get(buyerKey(r.user_id, r.idempotency_key)) ?? 0) + 1);
    const repeatedKeys = [...keys.values()].filter((n) => n > 1).reduce((sum, n) => sum + n - 1, 0);
    const sale = saleRow.rows[0];

    return {
      productId,
      saleId,
      redis: { initial, added, remaining, sold, held, paid, released, acceptedOrders: accepted.size },
      outbox: { pending },
      kafka,
      postgres: {
        orders: rows.rowCount ?? 0,
        units,
        byStatus,
        initialStock: sale ? Number(sale.initial_stock) : null,
        addedStock: sale ? Number(sale.added_stock) : null,
        stock: sale ? Number(sale.stock) : null,
      },
      oversold: Math.max(0, units - stockAtEdge, sold - stockAtEdge, -remaining),
      lost,
      duplicates: unexplained + repeatedKeys,
      stockConsistent:
        sale !== undefined && Number(sale.added_stock) === added && Number(sale.stock) === stockAtEdge - sold && Number(sale.stock) === stockAtEdge - units,
      holds: {
        redisBalanced:
          remaining + held + paid + atEdgeByState.accepted === stockAtEdge &&
          held === atEdgeByState.held &&
          paid === atEdgeByState.paid &&
          released === atEdgeByState.expired + atEdgeByState.cancelled,
        heldAgrees: byStatus.held === held,
        paidAndReleased,
        statusMismatches,
      },
      latencyMs,
    };
  } finally {
    redis.disconnect();
    await db.end();
  }
}
