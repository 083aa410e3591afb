import type { MiddlewareHandler } from "hono";

/** The Server-Timing metric the edge adds to every answer: `edge;dur=<ms>`. */
export const SERVER_TIMING_METRIC = "edge";

/**
 * `Server-Timing: edge;dur=<ms>` on every answer: how long the edge held the request, so a client
 * (the demo, a browser's devtools) can tell the edge's own time from the time it queued itself.
 *
 * Wall time, not CPU: in workerd Date.now() advances only across I/O (a Spectre mitigation), so
 * the figure is the time spent awaiting I/O — the Redis round-trip, a JWKS fetch — plus nothing
 * for pure computation between two I/Os. An answer from isolate memory reads 0.
 */
export const serverTiming: MiddlewareHandler = async (c, next) => {
  const start = Date.now();
  await next();
  c.header("server-timing", `${SERVER_TIMING_METRIC};dur=${Date.now() - start}`, { append: true });
};
