import { formatTraceparent, signedHeaders, TRACEPARENT_HEADER, type TraceContext } from "@fluxgate/common";
import type { EdgeConfig } from "./config";
import { logEvent } from "./log";

const delaysMs = [0, 200, 1000];

/**
 * The longest any call from the edge to the origin may take. The origin answers a forward once
 * Kafka acknowledged it (a few ms); one that hangs must not hold /init, a waitUntil or a health
 * check forever: what a cut forward leaves in the outbox, the relay delivers.
 */
const ORIGIN_TIMEOUT_MS = 3000;

/** fetch() to the origin, cut after ORIGIN_TIMEOUT_MS (or sooner, for a caller that cannot wait as long). */
export const fetchOrigin = (config: EdgeConfig, path: string, init: RequestInit = {}, timeoutMs = ORIGIN_TIMEOUT_MS) =>
  fetch(new URL(path, config.ORIGIN_URL), { ...init, signal: AbortSignal.timeout(Math.min(timeoutMs, ORIGIN_TIMEOUT_MS)) });

/**
 * Sends an outbox message (an accepted order, a started sale) to the origin, signed, with a few retries. Runs in waitUntil: the
 * buyer's 200 never waits for it. When every try fails the order is still safe in the outbox,
 * which the origin relays; so this only reports, it never throws.
 *
 * An order's forward also says its trace (the edge's span) in a `traceparent` header, for whatever
 * traces HTTP on the way. The signature does not cover that header, so the origin does not trust
 * it: it continues the trace named inside the signed order (OrderMessage.traceparent), the same
 * value, which the relay's path has as well.
 */
export async function forwardToOrigin(config: EdgeConfig, message: string, outboxId: string, trace?: TraceContext): Promise<boolean> {
  const path = "/orders";
  const traceHeader: Record<string, string> = trace ? { [TRACEPARENT_HEADER]: formatTraceparent(trace) } : {};
  for (const delay of delaysMs) {
    if (delay) await scheduler.wait(delay);
    try {
      const signed = await signedHeaders(config.ORIGIN_SIGNING_SECRET, { method: "POST", path, outboxId, body: message });
      const headers = { "content-type": "application/json", ...traceHeader, ...signed };
      const res = await fetchOrigin(config, path, { method: "POST", headers, body: message });
      await res.body?.cancel();
      if (res.ok) return true;
      // A 4xx will not get better by retrying; the relay and its dead-letter path handle it.
      if (res.status < 500) return false;
    } catch {
      /* network error or timeout: retry */
    }
  }
  logEvent("warn", "forward failed; the outbox relay will deliver it", { traceId: trace?.traceId, outboxId });
  return false;
}
