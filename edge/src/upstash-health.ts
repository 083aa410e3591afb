import { logEvent } from "./log";

/**
 * How Upstash looks from this isolate: every command's round trip and every failure to reach it.
 * An outage must be told apart from a Redis error reply (NOSCRIPT, WRONGTYPE…: our bug, a 500): a
 * buyer is told to hold on (503 with Retry-After) only when the database could not answer.
 */
export class UpstashUnavailable extends Error {
  override name = "UpstashUnavailable";
  constructor(cause: unknown) {
    super(`Upstash unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** How long one Redis call may take, retries included, before the buyer hears "unavailable". */
export const UPSTASH_TIMEOUT_MS = 2_000;
/** What a 503 tells a client to wait before trying again. */
export const UNAVAILABLE_RETRY_AFTER_S = 2;

/** Error replies of a Redis that is there but cannot serve now (as opposed to a command's own error). */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY)\b|limit exceeded/i;
/** A Redis error reply starts with its code (ERR, NOSCRIPT, WRONGTYPE…); anything else came from in between. */
const REDIS_REPLY = /^[A-Z]+ /;

/** Whether a Redis client error means the database could not be reached (timeout, network, a gateway's answer). */
export function isOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "UpstashError") return TRANSIENT_REPLY.test(error.message) || !REDIS_REPLY.test(error.message);
  // fetch failures, timeouts and aborts, a body that is not JSON (a proxy's error page).
  return true;
}

/** Per-isolate counters since it started (an isolate's share; production sums them in Workers Logs). */
export class UpstashHealth {
  calls = 0;
  failures = 0;
  /** Round trips of the last calls (ms), newest last: enough for a p50/p99 of the last moments. */
  private readonly recent: number[] = [];
  lastFailure: { at: number; message: string } | undefined;
  /** When the last outage line was logged, and the failures since: a flood logs a line a second, not one per request. */
  private logged = { at: -Infinity, failures: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  record(ms: number): void {
    this.calls++;
    this.recent.push(ms);
    if (this.recent.length > 512) this.recent.splice(0, this.recent.length - 256);
  }

  fail(error: unknown): void {
    this.calls++;
    this.failures++;
    this.lastFailure = { at: this.now(), message: error instanceof Error ? error.message : String(error) };
    if (this.lastFailure.at - this.logged.at < 1_000) return;
    logEvent("error", "upstash unavailable", { error: this.lastFailure.message, failuresSinceLastLine: this.failures - this.logged.failures });
    this.logged = { at: this.lastFailure.at, failures: this.failures };
  }

  summary() {
    const sorted = [...this.recent].sort((a, b) => a - b);
    const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : null);
    return {
      calls: this.calls,
      failures: this.failures,
      latencyMs: { p50: at(0.5), p99: at(0.99), samples: sorted.length },
      lastFailure: this.lastFailure ? { at: new Date(this.lastFailure.at).toISOString(), message: this.lastFailure.message } : null,
    };
  }
}
