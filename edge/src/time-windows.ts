/**
 * Every time window an isolate keeps its memory by, in one place: how long what it learned from
 * Redis stands before it asks again.
 */

/**
 * The re-check window: how long an isolate answers from what it learned in Redis (sold-out, an
 * earlier answer) before one request asks again. It is also the bound on how long an isolate may
 * keep answering for a sale an operator restarted elsewhere.
 */
export const SOLD_OUT_MEMORY_MS = 3_000;
/** How fresh the view must be to put a newcomer on standby without asking Redis. */
export const FRESH_VIEW_MS = 1_000;
/** How long one request may take to re-check before another may try. */
export const RECHECK_MS = 1_000;
/** How long a request waits for a gate call in flight before it decides again (startGateCall). */
export const GATE_WAIT_MS = 20;
export const GATE_WAIT_MAX_MS = 320;

/** How old this isolate's view of a sale may be before a status poll refreshes it (one EVALSHA). */
export const STATUS_REFRESH_MS = 1_000;

/**
 * How long the isolate given a pre-queue's draw (gate.lua, lottery/draw.ts) has before another
 * caller may take it over: a draw of 100,000 entries takes a few seconds.
 */
export const DRAW_LEASE_MS = 15_000;
