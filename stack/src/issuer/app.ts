import { Hono } from "hono";
import { sign } from "hono/jwt";
import { z } from "zod";
import { UserId } from "@fluxgate/common";
import type { StackConfig } from "../config";
import type { KeyStore } from "./keys";

/** The audience of every dev token: the edge checks it (JWT_AUDIENCE, written to the stack's edge.env). */
export const DEV_AUDIENCE = "flux-gate";
export const JWKS_PATH = "/.well-known/jwks.json";
/** The dev issuer's `iss`, which is also its base URL. */
export const issuerUrl = (config: StackConfig) => `http://127.0.0.1:${config.ports.issuer}`;

/** What an edge needs to trust this issuer: the settings a deployment points at the shop's own. */
export const identityBindings = (issuer: { url: string; jwksUrl: string; audience: string }) => ({
  IDENTITY: "jwt",
  JWT_ISSUER: issuer.url,
  JWT_JWKS_URL: issuer.jwksUrl,
  JWT_AUDIENCE: issuer.audience,
});

const TokenRequest = z.strictObject({
  sub: UserId,
  /** Seconds until exp; negative values mint already-expired tokens for tests. */
  ttlSeconds: z.number().int().min(-86_400).max(86_400).default(3_600),
  aud: z.string().min(1).default(DEV_AUDIENCE),
});
const BatchRequest = z.strictObject({ subs: z.array(UserId).min(1).max(100_000), ttlSeconds: TokenRequest.shape.ttlSeconds });

/**
 * A stand-in for a shop's login service, for local runs and tests only: publishes a JWKS and mints
 * ES256 tokens for any `sub` it is asked for. It listens on 127.0.0.1 and is never deployed.
 */
export function issuerApp(issuer: string, keys: KeyStore) {
  const mint = (sub: string, ttlSeconds: number, aud = DEV_AUDIENCE) => {
    const now = Math.floor(Date.now() / 1000);
    return sign({ iss: issuer, aud, sub, iat: now, exp: now + ttlSeconds }, keys.current.private, "ES256");
  };
  const body = async <T extends z.ZodType>(req: Request, schema: T) => schema.safeParse(await req.json().catch(() => undefined));

  return (
    new Hono()
      .get("/health", (c) => c.json({ service: "issuer", status: "ok", issuer, kid: keys.current.private.kid }))
      .get(JWKS_PATH, (c) => c.json(keys.jwks(), 200, { "cache-control": "max-age=60" }))
      .post("/token", async (c) => {
        const r = await body(c.req.raw, TokenRequest);
        if (!r.success) return c.json({ error: "body must be {sub, ttlSeconds?, aud?}", issues: r.error.issues }, 400);
        return c.json({ token: await mint(r.data.sub, r.data.ttlSeconds, r.data.aud), sub: r.data.sub, kid: keys.current.private.kid });
      })
      // Crowds (tests, the demo, k6) fetch thousands of tokens in one round trip.
      .post("/tokens", async (c) => {
        const r = await body(c.req.raw, BatchRequest);
        if (!r.success) return c.json({ error: "body must be {subs: [...], ttlSeconds?}", issues: r.error.issues }, 400);
        const tokens: Record<string, string> = {};
        for (const sub of r.data.subs) tokens[sub] = await mint(sub, r.data.ttlSeconds);
        return c.json({ tokens });
      })
      // Key rotation as a shop would do it: the new key signs from now on, the old ones stay published.
      .post("/rotate", (c) => c.json({ kid: keys.rotate().private.kid }))
  );
}
