import { createRegistry } from "@fluxgate/common/node";
import { Counter, Gauge, Histogram } from "prom-client";
import type { DlqReason } from "./parse";

/** Events per second over a sliding window (the persisted_per_second gauge). */
class RateMeter {
  private readonly samples: Array<{ at: number; n: number }> = [];
  constructor(
    private readonly windowMs = 10_000,
    private readonly now = () => Date.now(),
  ) {}

  add(n: number) {
    this.samples.push({ at: this.now(), n });
  }

  rate(): number {
    const since = this.now() - this.windowMs;
    while (this.samples.length > 0 && this.samples[0]!.at < since) this.samples.shift();
    return this.samples.reduce((sum, s) => sum + s.n, 0) / (this.windowMs / 1000);
  }
}

export type WorkerMetrics = ReturnType<typeof createMetrics>;

/** One registry per worker instance, so two workers in one process (tests) keep their own counts. */
export function createMetrics() {
  const registry = createRegistry("worker");
  const rate = new RateMeter();
  const metrics = {
    registry,
    rate,
    persisted: new Counter({ name: "fluxgate_worker_persisted_total", help: "Orders inserted into PostgreSQL (stock taken)", registers: [registry] }),
    duplicates: new Counter({
      name: "fluxgate_worker_duplicates_total",
      help: "Orders delivered again (redelivery, relay duplicate) that changed nothing",
      registers: [registry],
    }),
    sales: new Counter({ name: "fluxgate_worker_sales_created_total", help: "Sales created from SaleStarted events", registers: [registry] }),
    controls: new Counter({
      name: "fluxgate_worker_sale_controls_total",
      help: "Operators' controls (SaleSteered events) recorded in sale_events",
      registers: [registry],
    }),
    stockRaised: new Counter({
      name: "fluxgate_worker_stock_raised_total",
      help: "Times a sale's stock was raised to the added level an event or order carried",
      registers: [registry],
    }),
    transitions: new Counter({
      name: "fluxgate_worker_order_transitions_total",
      help: "Held orders' ends (paid, expired, cancelled) recorded in order_transitions",
      registers: [registry],
    }),
    unitsReleased: new Counter({
      name: "fluxgate_worker_units_released_total",
      help: "Units expired or cancelled orders gave back to their sale's stock",
      registers: [registry],
    }),
    transitionConflicts: new Counter({
      name: "fluxgate_worker_transition_conflicts_total",
      help: "Order transitions that could not follow the order's status (recorded, status unchanged)",
      registers: [registry],
    }),
    dlq: new Counter<"reason">({
      name: "fluxgate_worker_dlq_total",
      help: "Messages sent to the dead-letter topic, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: "fluxgate_worker_batch_seconds",
      help: "Time to process a batch: parse, transaction, dead letters, offset commit",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: "fluxgate_worker_batch_messages",
      help: "Messages per batch",
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "fluxgate_worker_persist_latency_seconds",
      help: "From the order's acceptedAt to the commit of the transaction that persisted it",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    retries: new Counter({
      name: "fluxgate_worker_batch_retries_total",
      help: "Batch attempts that failed for a transient reason and were retried",
      registers: [registry],
    }),
    stockConflicts: new Counter({
      name: "fluxgate_worker_stock_conflicts_total",
      help: "Stock updates that found the sale's version moved and were retried",
      registers: [registry],
    }),
    lag: new Gauge<"partition">({
      name: "fluxgate_worker_consumer_lag",
      help: "Messages not yet committed by the consumer group, per partition",
      labelNames: ["partition"],
      registers: [registry],
    }),
    persistedPerSecond: new Gauge({
      name: "fluxgate_worker_persisted_per_second",
      help: "Orders persisted per second, over the last 10 seconds",
      registers: [registry],
      collect() {
        this.set(rate.rate());
      },
    }),
  };
  for (const reason of ["invalid_json", "invalid_schema", "stock_exhausted", "rejected"] satisfies DlqReason[]) {
    metrics.dlq.inc({ reason }, 0);
  }
  return metrics;
}
