import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { timingSafeEqual } from "hono/utils/buffer";
import type { EdgeEnv } from "../env";

const refusal = { message: { error: "admin token required" } };

/** Admin endpoints need `Authorization: Bearer <ADMIN_TOKEN>`; anything else is a JSON 401. */
export const adminOnly: MiddlewareHandler<EdgeEnv> = bearerAuth<EdgeEnv>({
  verifyToken: (token, c) => timingSafeEqual(token, c.var.config.ADMIN_TOKEN),
  noAuthenticationHeader: refusal,
  invalidAuthenticationHeader: refusal,
  invalidToken: refusal,
});
