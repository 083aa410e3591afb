import { createRegistry } from "@fluxgate/common/node";
import { Counter, Gauge } from "prom-client";

export type ProduceSource = "forward" | "relay";
const rejectReasons = ["unauthorized", "too_large", "not_json", "invalid_event", "invalid_outbox_id"] as const;
export type RejectReason = (typeof rejectReasons)[number];

/** The origin's Prometheus metrics, on a registry of its own so two origins in one process never mix. */
export function createMetrics() {
  const registry = createRegistry("origin");
  const metrics = {
    registry,
    produced: new Counter({
      name: "fluxgate_origin_produced_total",
      help: "Sale events acknowledged by Kafka, by path: the edge's forward or the outbox relay",
      labelNames: ["source"] as const,
      registers: [registry],
    }),
    produceFailures: new Counter({
      name: "fluxgate_origin_produce_failures_total",
      help: "Sale events Kafka did not acknowledge in time (the edge retries, the relay covers them)",
      labelNames: ["source"] as const,
      registers: [registry],
    }),
    rejected: new Counter({
      name: "fluxgate_origin_rejected_total",
      help: "Forwards refused before producing, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    replayed: new Counter({
      name: "fluxgate_origin_forward_replays_total",
      help: "Copies of a forward already handled (replays, or the edge's retries), answered without producing",
      registers: [registry],
    }),
    outboxMarkFailures: new Counter({
      name: "fluxgate_origin_outbox_mark_failures_total",
      help: "Produced forwards whose outbox entry could not be marked done (the relay produces them again)",
      registers: [registry],
    }),
    relayErrors: new Counter({
      name: "fluxgate_origin_relay_errors_total",
      help: "Relay steps that failed (redis or Kafka away); each is retried",
      registers: [registry],
    }),
    holdSweeps: new Counter({
      name: "fluxgate_origin_hold_sweeps_total",
      help: "Sweeps of a sale's expired holds (one billed command each, at most one per sale per HOLD_SWEEP_INTERVAL_MS)",
      registers: [registry],
    }),
    holdsExpired: new Counter({
      name: "fluxgate_origin_holds_expired_total",
      help: "Holds the origin's sweeps ended as expired (their units back in the sale); the gate ends the others on its calls",
      registers: [registry],
    }),
    holdsPending: new Gauge({
      name: "fluxgate_origin_holds_pending",
      help: "Held orders the origin knows of whose payment or expiry it has not seen yet",
      registers: [registry],
    }),
    backlog: new Gauge({
      name: "fluxgate_origin_outbox_backlog",
      help: "Outbox entries the relay read that no forward or relay confirmed yet",
      registers: [registry],
    }),
  };
  // Every series exists from the start, at 0, so a rate() or an alert sees the first event.
  for (const source of ["forward", "relay"] satisfies ProduceSource[]) {
    metrics.produced.inc({ source }, 0);
    metrics.produceFailures.inc({ source }, 0);
  }
  for (const reason of rejectReasons) metrics.rejected.inc({ reason }, 0);
  return metrics;
}

export type OriginMetrics = ReturnType<typeof createMetrics>;
