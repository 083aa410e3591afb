import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { EdgeConfigError } from "./config";

/** Every error leaves the edge as JSON with a reason a client can act on. */
export const onError: ErrorHandler = (error, c) => {
  if (error instanceof EdgeConfigError) return c.json({ error: "misconfigured", problems: error.problems }, 500);
  if (error instanceof HTTPException) return error.res ? error.getResponse() : c.json({ error: error.message }, error.status);
  console.error("unhandled edge error", error);
  return c.json({ error: "internal error" }, 500);
};

export const notFound: NotFoundHandler = (c) => c.json({ error: "not found" }, 404);
