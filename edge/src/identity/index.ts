import { UserId } from "@fluxgate/common";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { jwk } from "hono/jwk";
import { jwt } from "hono/jwt";
import { decodeHeader } from "hono/utils/jwt/jwt";
import type { EdgeConfig } from "../config";
import type { EdgeEnv } from "../env";
import { MAX_BODY_BYTES } from "../http/json-body";
import type { Isolate } from "../isolate";
import { logEvent } from "../log";
import { type JwksCache, JwksUnavailable } from "./jwks";
import { problemBody, problemOf } from "./problems";

/** Asymmetric algorithms accepted from a JWKS; HS256 only with JWT_SECRET. */
const JWKS_ALGORITHMS = ["RS256", "ES256"] as const;

function bearerOrCookie(c: Context, cookie: string | undefined): string | undefined {
  const header = c.req.header("authorization");
  if (header) return /^bearer\s+(\S+)$/i.exec(header)?.[1];
  return cookie ? getCookie(c, cookie) : undefined;
}

/** Hono's own verifier for this configuration: HS256 with the shared secret, or the issuer's JWKS. */
function verifierFor(config: EdgeConfig, jwksCache: JwksCache): MiddlewareHandler {
  const verification = { iss: config.JWT_ISSUER!, aud: config.JWT_AUDIENCE! };
  const cookie = config.JWT_COOKIE;
  if (config.JWT_SECRET) return jwt({ secret: config.JWT_SECRET, alg: "HS256", verification, ...(cookie ? { cookie } : {}) });
  const url = config.JWT_JWKS_URL!;
  return jwk({
    alg: [...JWKS_ALGORITHMS],
    verification,
    ...(cookie ? { cookie } : {}),
    keys: async (c) => {
      const token = bearerOrCookie(c, cookie);
      let kid: string | undefined;
      try {
        kid = token ? (decodeHeader(token) as { kid?: string }).kid : undefined;
      } catch {
        kid = undefined;
      }
      // A token without a kid, or a malformed one, is refused by the middleware itself; no fetch for it.
      return kid ? jwksCache.keysFor(url, kid) : [];
    },
  });
}

let warned = false;

/**
 * Who is buying. IDENTITY=jwt: the request must carry a token the shop issued (Authorization:
 * Bearer, or the JWT_COOKIE cookie), verified by Hono's JWT/JWK middleware against the issuer,
 * audience and expiry, once per isolate and token (VerifiedTokens); the buyer is its `sub`.
 * Anything else is a 401 that names the problem and costs no Redis command. IDENTITY=anonymous:
 * no check at all (the route takes the body's userId).
 */
export function identity(isolate: Isolate): MiddlewareHandler<EdgeEnv> {
  let built: { config: EdgeConfig; verifier: MiddlewareHandler } | undefined;
  const verified: MiddlewareHandler<EdgeEnv> = async (c, next) => {
    const config = c.var.config;
    if (config.IDENTITY === "anonymous") {
      if (!warned)
        logEvent(
          "warn",
          "IDENTITY=anonymous: buyers are whatever userId a request names; per-user limits and tickets bind to nothing. For local experiments only.",
          {},
        );
      warned = true;
      return next();
    }
    const token = bearerOrCookie(c, config.JWT_COOKIE);
    const known = token === undefined ? undefined : isolate.tokens.buyerOf(token, config);
    if (known !== undefined) {
      c.set("buyer", known);
      return next();
    }
    if (built?.config !== config) built = { config, verifier: verifierFor(config, isolate.jwks) };
    try {
      await built.verifier(c, async () => {
        const payload = c.get("jwtPayload") as { sub?: unknown; exp?: unknown };
        const sub = UserId.safeParse(payload.sub);
        if (!sub.success) throw new IdentityRefused(c.json(problemBody("invalid_token", "the token has no usable sub (1-128 visible ASCII characters)"), 401));
        if (typeof payload.exp !== "number") throw new IdentityRefused(c.json(problemBody("invalid_token", "the token has no exp"), 401));
        if (token !== undefined) isolate.tokens.remember(token, config, sub.data, payload.exp);
        c.set("buyer", sub.data);
        await next();
      });
    } catch (error) {
      if (error instanceof IdentityRefused) return error.res;
      // Hono's JWK middleware wraps what our key lookup throws as the cause of its 401.
      const cause = error instanceof Error ? error.cause : undefined;
      if (cause instanceof JwksUnavailable) {
        logEvent("error", "issuer keys unreachable", { error: cause.message });
        return c.json({ error: "cannot verify sign-ins right now: the issuer's keys are unreachable", problem: "issuer_unavailable" }, 503);
      }
      const problem = problemOf(error);
      if (!problem) throw error;
      return c.json(problemBody(problem), 401, { "www-authenticate": `Bearer error="invalid_token", error_description="${problem}"` });
    }
  };
  return async (c, next) => {
    const refused = await verified(c, next);
    // (Hono's next() resolves to the context, not a Response: only a refusal is one.)
    if (refused instanceof Response) await drainSmallBody(c.req.raw);
    return refused;
  };
}

/**
 * A refusal answered before the body was read would make the runtime close the connection, and
 * the client would see a reset instead of the 401 (a person whose token just expired, too). A
 * small body is read first; a large one is not worth it (MAX_BODY_BYTES, as for any order).
 */
async function drainSmallBody(request: Request): Promise<void> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (request.body && !request.bodyUsed && length > 0 && length <= MAX_BODY_BYTES) await request.arrayBuffer().catch(() => undefined);
}

class IdentityRefused extends Error {
  constructor(readonly res: Response) {
    super("identity refused");
  }
}

export type Buyer = { ok: true; userId: string } | { ok: false; res: Response };

/**
 * The buyer of this request. With a verified token, a userId the client also names must be its
 * `sub` (else 403: a token cannot buy for someone else); anonymously, the named userId is all there is.
 */
export function buyerOf(c: Context<EdgeEnv>, named: string | undefined): Buyer {
  const buyer = c.var.buyer as string | undefined;
  if (buyer === undefined) {
    if (named !== undefined) return { ok: true, userId: named };
    return { ok: false, res: c.json({ error: "userId required (IDENTITY=anonymous)" }, 400) };
  }
  if (named !== undefined && named !== buyer)
    return { ok: false, res: c.json({ error: "userId does not match the signed-in buyer", problem: "not_your_user" }, 403) };
  return { ok: true, userId: buyer };
}

/** How this edge identifies buyers, for /health and the operator's page. */
export function identityMode(config: EdgeConfig) {
  if (config.IDENTITY === "anonymous") return { mode: "anonymous" as const, warning: "IDENTITY=anonymous: buyers are unverified; local experiments only" };
  return {
    mode: "jwt" as const,
    issuer: config.JWT_ISSUER,
    keys: config.JWT_SECRET ? "HS256 shared secret" : config.JWT_JWKS_URL,
    cookie: config.JWT_COOKIE ?? null,
  };
}
