import type { HonoJsonWebKey } from "hono/utils/jwt/jws";

/** A token signed with a key the issuer does not publish (after a refresh of its JWKS). */
export class UnknownKey extends Error {
  override name = "UnknownKey";
  constructor(readonly kid: string | undefined) {
    super(`no key ${kid ?? "(no kid)"} in the issuer's JWKS`);
  }
}

/** The issuer's JWKS could not be read: our problem (or the issuer's), not the buyer's. */
export class JwksUnavailable extends Error {
  override name = "JwksUnavailable";
}

/**
 * How soon after one fetch an unknown kid may fetch the JWKS again: a real rotation is seen at
 * once (or within this), and a bot sending made-up kids costs the issuer at most one fetch per
 * isolate per window, not one per request.
 */
const JWKS_REFETCH_MS = 1_000;

interface Cached {
  keys: HonoJsonWebKey[];
  fetchedAt: number;
  pending?: Promise<void>;
}

/**
 * The issuer's published keys, fetched once per isolate and kept; fetched again only when a token
 * names a kid we do not have (the issuer rotated), at most once per JWKS_REFETCH_MS, with one
 * fetch in flight however many requests wait for it.
 */
export class JwksCache {
  private readonly byUrl = new Map<string, Cached>();

  constructor(private readonly now: () => number = Date.now) {}

  async keysFor(url: string, kid: string | undefined): Promise<HonoJsonWebKey[]> {
    let cached = this.byUrl.get(url);
    const known = (c: Cached | undefined) => c?.keys.some((k) => k.kid === kid);
    if (!known(cached) && (!cached || this.now() - cached.fetchedAt >= JWKS_REFETCH_MS || cached.pending)) {
      cached = await this.refresh(url);
    }
    if (!known(cached)) throw new UnknownKey(kid);
    return cached!.keys;
  }

  private async refresh(url: string): Promise<Cached> {
    let cached = this.byUrl.get(url);
    if (!cached?.pending) {
      const entry: Cached = cached ?? { keys: [], fetchedAt: 0 };
      entry.pending = fetchJwks(url)
        .then((keys) => {
          entry.keys = keys;
          entry.fetchedAt = this.now();
        })
        .finally(() => delete entry.pending);
      this.byUrl.set(url, entry);
      cached = entry;
    }
    await cached.pending;
    return cached;
  }
}

/** WebCrypto's import parameters for the algorithms we take from a JWKS. */
const importParams: Record<string, { name: string; hash?: string; namedCurve?: string }> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
};

/**
 * Each published key imported once, not once per request: Hono's verifier takes a CryptoKey as it
 * is, and finds it by the `kid` (and checks the `alg`) we keep on it. Keys of other algorithms are
 * skipped (the middleware would refuse their tokens anyway).
 */
async function imported(jwks: HonoJsonWebKey[]): Promise<HonoJsonWebKey[]> {
  const keys = await Promise.all(
    jwks.map(async (jwk) => {
      const params = jwk.alg ? importParams[jwk.alg] : jwk.kty === "EC" ? importParams.ES256 : jwk.kty === "RSA" ? importParams.RS256 : undefined;
      if (!params || !jwk.kid) return undefined;
      const key = await crypto.subtle.importKey("jwk", jwk, params, false, ["verify"]).catch(() => undefined);
      return key && (Object.assign(key, { kid: jwk.kid, ...(jwk.alg ? { alg: jwk.alg } : {}) }) as unknown as HonoJsonWebKey);
    }),
  );
  return keys.filter((k) => k !== undefined);
}

async function fetchJwks(url: string): Promise<HonoJsonWebKey[]> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: "application/json" } });
  } catch (error) {
    throw new JwksUnavailable(`JWKS ${url} unreachable: ${(error as Error).message}`);
  }
  const body = (await res.json().catch(() => undefined)) as { keys?: unknown } | undefined;
  if (!res.ok || !Array.isArray(body?.keys)) throw new JwksUnavailable(`JWKS ${url} answered ${res.status} without a "keys" array`);
  return imported(body.keys as HonoJsonWebKey[]);
}
