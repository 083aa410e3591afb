export { describeIssues } from "./issues";
export { healthStatusCode, probeAll, type DependencyState, type HealthReport, type Probe } from "./health";
export { IdempotencyKey, OrderMessage, ProductId, SaleEvent, SaleStarted, UserId } from "./order";
export { forgetSales, Outbox, outboxEventsKey, OUTBOXES_KEY, saleKeys, type KeyRemover, type SaleKeys } from "./redis-keys";
export { hmacKey, OUTBOX_ID_HEADER, SignatureHeaders, signBody, verifyBody } from "./signature";
export { Topics } from "./topics";
export { BILL_COMPONENTS, BILL_KEY, billField, componentOfClient, RedisClients, upstashCostUsd, UPSTASH_PAYG_USD_PER_100K_COMMANDS, type BillComponent } from "./billing";
