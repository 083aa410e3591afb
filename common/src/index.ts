export { describeIssues } from "./issues";
export { DependencyHealth, HEALTH_CACHE_MS, healthStatusCode, probeAll, type DependencyState, type HealthReport, type Probe } from "./health";
export {
  IdempotencyKey,
  OperatorLabel,
  ORDER_ENDED_BY,
  ORDER_ENDINGS,
  OrderMessage,
  OrderStatus,
  type OrderEnding,
  ProductId,
  SaleChanges,
  SaleEvent,
  SaleStarted,
  SaleSteered,
  SaleTerms,
  UserId,
} from "./order";
export { CHALLENGE_SOLUTION_HEADER, leadingZeroBits, POW_HOW, powInput, solves } from "./pow";
export { CATALOG_KEYS, forgetSales, Outbox, outboxEventsKey, OUTBOXES_KEY, saleKeys, type KeyRemover, type SaleKeys } from "./redis-keys";
export { hmacKey, OUTBOX_ID_HEADER, SignatureHeaders, signedHeaders, signRequest, verifyRequest, type SignedRequest } from "./signature";
export { ConsumerGroups, Topics } from "./topics";
export {
  BILL_COMPONENTS,
  BILL_KEY,
  BILL_WINDOW_MINUTES,
  billField,
  billTotalField,
  ORIGIN_COMPONENTS,
  readBookedBill,
  type BookedBill,
  type OriginComponent,
  componentOfClient,
  RedisClients,
  upstashCostUsd,
  UPSTASH_PAYG_USD_PER_100K_COMMANDS,
  type BillComponent,
} from "./billing";
export { buyerKey, buyerKeyLua, IdemStatus, idemRecordLua, parseIdemRecord, splitBuyerKey, type IdemRecord } from "./idem-record";
export { HOLD_SWEEP_INTERVAL_MS, HOLDS_ENDED_PER_CALL, holdsLua, type HoldKeysLua } from "./holds-lua";
export { LuaScript, type ScriptEvaluator } from "./lua-script";
export { orderMessageLua, orderStatusLua, saleStartedLua, saleSteeredLua } from "./message-lua";
export { parseSaleView, SALE_VIEW_FIELDS, waitingIn, type SaleView } from "./sale-hash";
export {
  drawPlaces,
  entriesDigest,
  LOTTERY_ALGORITHM,
  LOTTERY_ENTRY,
  LOTTERY_ENTRY_LENGTH,
  LOTTERY_HOW,
  lotteryCommitment,
  sha256Hex,
  newLotterySeed,
  placeOf,
  verifyLottery,
  type LotteryCheck,
  type PublishedLottery,
} from "./lottery";
export { childSpan, formatTraceparent, parseTraceparent, TRACEPARENT_HEADER, TRACEPARENT_LENGTH, type TraceContext } from "./trace-context";
export { encodeTicketPayload, readTicketPayload, type TicketFields } from "./ticket-payload";
