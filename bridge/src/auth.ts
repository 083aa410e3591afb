import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";

// Comparing fixed-size digests keeps the comparison constant-time even when lengths differ,
// which timingSafeEqual on the raw strings cannot do.
const digest = (value: string) => createHash("sha256").update(value).digest();

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** Rejects every request whose `Authorization: Bearer <token>` does not match, on every route. */
export function bearerAuth(token: string): MiddlewareHandler {
  if (token.length === 0) throw new Error("bearer token must not be empty");
  const expected = digest(token);
  return async (c, next) => {
    const presented = BEARER.exec(c.req.header("authorization") ?? "")?.[1];
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      return c.json({ error: "Unauthorized" }, 401);
    }
    await next();
  };
}
