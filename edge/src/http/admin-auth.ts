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

const shopRefusal = { message: { error: "the shop's API token required (Authorization: Bearer <SHOP_API_TOKEN>)" } };

/** The shop's backend (its payment confirmations): `Authorization: Bearer <SHOP_API_TOKEN>`; anything else is a JSON 401. */
export const shopOnly: MiddlewareHandler<EdgeEnv> = bearerAuth<EdgeEnv>({
  verifyToken: (token, c) => timingSafeEqual(token, c.var.config.SHOP_API_TOKEN),
  noAuthenticationHeader: shopRefusal,
  invalidAuthenticationHeader: shopRefusal,
  invalidToken: shopRefusal,
});

/** Whether an Authorization header carries this bearer secret (compared in constant time). */
export async function bearerIs(authorization: string | undefined, secret: string): Promise<boolean> {
  const token = authorization?.match(/^Bearer (.+)$/)?.[1];
  return token !== undefined && (await timingSafeEqual(token, secret));
}
