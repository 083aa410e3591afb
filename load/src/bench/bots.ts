import { generateKeyPairSync, randomUUID } from "node:crypto";
import { CHALLENGE_SOLUTION_HEADER } from "@fluxgate/common";
import { sign } from "hono/jwt";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import { Pool } from "undici";

/**
 * A bot fleet beside the people: scripts that want the stock without being the shop's customers,
 * or without paying the challenge's price. Each kind sends its attempts spread over the sale:
 *
 *  no token         a fresh userId in the body per request, no sign-in (yesterday's winning trick)
 *  forged token     a JWT the bot signed itself (its own ES256 key), claiming any sub
 *  expired token    a real customer token, expired
 *  skips challenge  a real token (a bought account), never solves the proof of work
 *  fake solution    a real token and a made-up X-Challenge-Solution
 */
export const botKinds = ["no token", "forged token", "expired token", "skips challenge", "fake solution"] as const;
export type BotKind = (typeof botKinds)[number];

export interface BotFleetOptions {
  base: URL;
  productId: string;
  /** Requests in all, shared evenly by the kinds. */
  requests: number;
  arrivalMs: number;
  connections: number;
  /** Valid tokens of the bots' own accounts (subs starting with BOT_PREFIX). */
  accountTokens: string[];
  /** Expired tokens of such accounts. */
  expiredTokens: string[];
  issuer: string;
  audience: string;
  runId: string;
}

export interface BotFleetResult {
  requests: number;
  /** Answers by status, per kind. */
  byKind: Record<BotKind, Record<string, number>>;
  /** Requests that got a 200 (bought). */
  bought: number;
  /** Requests refused (401/403). */
  refused: number;
  /** Requests that got no answer (connection errors, timeouts), with a sample of the reasons. */
  errors: number;
  errorSamples: string[];
}

/** Every bot identity starts with this, so the Redis monitor can tell their commands apart. */
export const BOT_PREFIX = "bot-";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runBotFleet(o: BotFleetOptions): Promise<BotFleetResult> {
  const pool = new Pool(o.base.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const forgeKey = { ...(privateKey.export({ format: "jwk" }) as HonoJsonWebKey), kid: `${BOT_PREFIX}key`, alg: "ES256" };
  const now = Math.floor(Date.now() / 1000);
  const forged = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      sign({ sub: `${BOT_PREFIX}${o.runId}-forged${i}`, iss: o.issuer, aud: o.audience, iat: now, exp: now + 3600 }, forgeKey, "ES256"),
    ),
  );
  const byKind = Object.fromEntries(botKinds.map((k) => [k, {} as Record<string, number>])) as BotFleetResult["byKind"];
  let bought = 0;
  let refused = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const start = performance.now() + 50;
  const pick = <T>(list: T[], n: number) => list[n % list.length]!;

  async function attempt(n: number): Promise<void> {
    const kind = botKinds[n % botKinds.length]!;
    await sleep(Math.max(0, start + (n * o.arrivalMs) / o.requests - performance.now()));
    const headers: Record<string, string> = { "content-type": "application/json", "idempotency-key": `${BOT_PREFIX}${o.runId}-${n}-${randomUUID()}` };
    let body: Record<string, unknown> = { productId: o.productId };
    switch (kind) {
      case "no token":
        body = { ...body, userId: `${BOT_PREFIX}${o.runId}-rot${n}` };
        break;
      case "forged token":
        headers.authorization = `Bearer ${pick(forged, n)}`;
        break;
      case "expired token":
        headers.authorization = `Bearer ${pick(o.expiredTokens, n)}`;
        break;
      case "skips challenge":
        headers.authorization = `Bearer ${pick(o.accountTokens, n)}`;
        break;
      case "fake solution":
        headers.authorization = `Bearer ${pick(o.accountTokens, n)}`;
        headers[CHALLENGE_SOLUTION_HEADER] = `eyJmYWtlIjoxfQ.c2ln.${n}`;
        break;
    }
    const res = await pool.request({ method: "POST", path: "/order", headers, body: JSON.stringify(body) });
    await res.body.dump();
    const counts = byKind[kind];
    counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1;
    if (res.statusCode === 200) bought++;
    if (res.statusCode === 401 || res.statusCode === 403) refused++;
  }

  try {
    await Promise.all(
      Array.from({ length: o.requests }, (_, n) =>
        attempt(n).catch((error: unknown) => {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(error instanceof Error ? error.message : String(error));
        }),
      ),
    );
  } finally {
    await pool.close();
  }
  return { requests: o.requests, byKind, bought, refused, errors, errorSamples };
}
