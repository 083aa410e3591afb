/**
 * Every time window an isolate keeps its memory by, in one place: how long what it learned from
 * Redis stands before it asks again.
 */

/**
 * The re-check window: how long an isolate answers from what it learned in Redis (sold-out, an
 * earlier answer) before one request asks again. It is also the bound on how long an isolate may
 * keep answering for a sale an operator restarted or steered elsewhere (a restock of a sold-out
 * sale, a resume): every isolate learns an operator's control within it.
 */
export const SOLD_OUT_MEMORY_MS = 1_000;
/**
 * How long an isolate answers "paused" (or "keep waiting" to a ticket) from a view that says the
 * sale is paused before one request asks again: a resume is noticed this soon, at no more than
 * a few commands a second per isolate while the sale stays paused.
 */
export const PAUSED_RECHECK_MS = 250;
/** What a paused sale's answers tell a client to wait (Retry-After) before it asks again. */
export const PAUSED_RETRY_AFTER_S = 5;
/**
 * How long an isolate says "no such sale" (a product id Redis has no sale for) without asking
 * again: a flood of made-up ids costs one command per id per isolate per window, and a sale
 * started meanwhile is found within it.
 */
export const NEGATIVE_MEMORY_MS = 1_000;
/**
 * Product ids an isolate knows nothing of (product-catalog.ts): once a lookup of one finds no sale,
 * such ids are answered from the isolate's copy of the catalog until this long has passed with no
 * such miss (a flood, even one arriving in clumps, starts once), and the copy is read again when
 * it is older than CATALOG_COPY_MS. So a flood of made-up ids costs about one command per isolate
 * per second, whatever its rate; with no flood every such id is looked up, so nobody gets a false 404.
 */
export const UNKNOWN_PRODUCT_FLOOD_MS = 10_000;
/** How old the isolate's copy of the catalog may be while it answers a flood: a sale started meanwhile is missed at most this long. */
export const CATALOG_COPY_MS = 1_000;
/** How long GET /sales/:productId answers from the view it read (a product page polled by a crowd). */
export const PUBLIC_VIEW_MS = 1_000;
/** How fresh the view must be to put a newcomer on standby without asking Redis. */
export const FRESH_VIEW_MS = 1_000;
/** How long one request may take to re-check before another may try. */
export const RECHECK_MS = 1_000;
/**
 * How long a newcomer seated for a gate call waits before it decides again (startGateCall): one
 * near the front of the isolate's queue that long, one further back a multiple, at most the max.
 */
export const GATE_WAIT_MS = 20;
export const GATE_WAIT_MAX_MS = 320;
/**
 * How long a newcomer's gate call the seats ahead leave free waits for them, per round of calls
 * ahead of the seat that would take it instead (startGateCall).
 */
export const GATE_CALL_IDLE_MS = 2 * GATE_WAIT_MS;
/**
 * A seat not asked for in this long belongs to a request the runtime dropped (its client went
 * away): it is forgotten. Far longer than any timer runs late on a busy isolate.
 */
export const GATE_SEAT_STALE_MS = 30_000;

/** How old this isolate's view of a sale may be before a status poll refreshes it (one EVALSHA). */
export const STATUS_REFRESH_MS = 1_000;

/**
 * How long the isolate given a pre-queue's draw (gate.lua, lottery/draw.ts) has before another
 * caller may take it over: a draw of 100,000 entries takes a few seconds.
 */
export const DRAW_LEASE_MS = 15_000;
/**
 * How far back the operator's per-second figures go: the gate keeps this many seconds in the
 * sale's stats hash (a ring, gate.lua.ts), so the hash and the admin page's read of it stay this
 * size however long the sale runs. The bill's totals are running counters, not sums of seconds.
 */
export const STATS_WINDOW_SECONDS = 300;
