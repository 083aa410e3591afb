/** Kafka topics shared by origin (producer) and worker (consumer). */
export const Topics = {
  orders: "orders",
  /** Messages that can never be persisted, with the reason in a header. */
  deadLetters: "orders.dlq",
} as const;

/** The worker's consumer group: the origin reads its lag for the operator's page. */
export const ConsumerGroups = { worker: "fluxgate-worker" } as const;
