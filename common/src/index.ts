export { describeIssues } from "./issues";
export { healthStatusCode, probeAll, type DependencyState, type HealthReport, type Probe } from "./health";
export { IdempotencyKey, OrderMessage, ProductId, SaleEvent, SaleStarted, SaleTerms, UserId } from "./order";
export { forgetSales, Outbox, OUTBOXES_KEY, saleKeys, type KeyRemover, type SaleKeys } from "./redis-keys";
export { hmacKey, OUTBOX_ID_HEADER, SignatureHeaders, signedHeaders, signRequest, verifyRequest, type SignedRequest } from "./signature";
export { Topics } from "./topics";
