import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { EdgeConfigError } from "./config";
import { logEvent } from "./log";
import { UNAVAILABLE_RETRY_AFTER_S, UpstashUnavailable } from "./upstash-health";

/** Every error leaves the edge as JSON with a reason a client can act on. */
export const onError: ErrorHandler = (error, c) => {
  if (error instanceof EdgeConfigError) return c.json({ error: "misconfigured", problems: error.problems }, 500);
  if (error instanceof UpstashUnavailable) {
    // Nothing was decided: the buyer keeps whatever place it has and tries again (the same key is
    // safe). UpstashHealth has logged the outage (a line a second at most, not one per request).
    return c.json(
      {
        status: "unavailable",
        error: "the sale's database cannot be reached right now: try again shortly, your place is kept",
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S,
      },
      503,
      { "retry-after": String(UNAVAILABLE_RETRY_AFTER_S) },
    );
  }
  if (error instanceof HTTPException) return error.res ? error.getResponse() : c.json({ error: error.message }, error.status);
  logEvent("error", "unhandled edge error", {
    path: new URL(c.req.url).pathname,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return c.json({ error: "internal error" }, 500);
};

export const notFound: NotFoundHandler = (c) => c.json({ error: "not found" }, 404);
