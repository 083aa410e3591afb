import { OUTBOX_ID_HEADER, SignatureHeaders, signBody } from "@fluxgate/common";
import type { EdgeConfig } from "./config";

const delaysMs = [0, 200, 1000];

/**
 * Sends an outbox message (an accepted order, a started sale) to the origin, signed, with a few retries. Runs in waitUntil: the
 * buyer's 200 never waits for it. When every try fails the order is still safe in the outbox,
 * which the origin relays; so this only reports, it never throws.
 */
export async function forwardToOrigin(config: EdgeConfig, message: string, outboxId: string): Promise<boolean> {
  for (const delay of delaysMs) {
    if (delay) await scheduler.wait(delay);
    try {
      const timestamp = Date.now();
      const res = await fetch(new URL("/orders", config.ORIGIN_URL), {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [SignatureHeaders.timestamp]: String(timestamp),
          [SignatureHeaders.signature]: await signBody(config.ORIGIN_SIGNING_SECRET, timestamp, message),
          [OUTBOX_ID_HEADER]: outboxId,
        },
        body: message,
      });
      await res.body?.cancel();
      if (res.ok) return true;
      // A 4xx will not get better by retrying; the relay and its dead-letter path handle it.
      if (res.status < 500) return false;
    } catch {
      /* network error: retry */
    }
  }
  console.warn(`forward of ${outboxId} failed; the outbox relay will deliver it`);
  return false;
}
