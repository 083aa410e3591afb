export { healthStatusCode, probeAll, type DependencyState, type HealthReport, type Probe } from "./health";
export { IdempotencyKey, OrderMessage, ProductId, SaleEvent, SaleStarted, UserId } from "./order";
export { CHALLENGE_SOLUTION_HEADER, leadingZeroBits, POW_HOW, powInput, solves } from "./pow";
export { Outbox, OUTBOXES_KEY, saleKeys, type SaleKeys } from "./redis-keys";
export { hmacKey, OUTBOX_ID_HEADER, SignatureHeaders, signBody, verifyBody } from "./signature";
export { Topics } from "./topics";
