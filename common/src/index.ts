export { healthStatusCode, probeAll, type DependencyState, type HealthReport, type Probe } from "./health";
export { IdempotencyKey, OrderMessage, ProductId, UserId } from "./order";
export { Topics } from "./topics";
