export { healthStatusCode, probeAll, type DependencyState, type HealthReport, type Probe } from "./health";
export { IdempotencyKey, OrderMessage, ProductId, UserId } from "./order";
export { hmacKey, SignatureHeaders, signBody, verifyBody } from "./signature";
export { Topics } from "./topics";
