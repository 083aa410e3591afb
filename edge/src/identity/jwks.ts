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
 * How soon after one fetch (whether it worked or failed) the JWKS may be fetched again: a real
 * rotation is seen at once (or within this), and a bot sending made-up kids, or requests arriving
 * while the issuer is down, cost the issuer at most one fetch per isolate per window, not one per request.
 */
export const JWKS_REFETCH_MS = 1_000;

/** A slow issuer holds the requests waiting on its JWKS this long at most, then they get a 503. */
export const JWKS_FETCH_TIMEOUT_MS = 3_000;

export type FetchJwks = (url: string, init: RequestInit) => Promise<Response>;

interface Cached {
  keys: HonoJsonWebKey[];
  /** When the last fetch ended (ms): no new one before JWKS_REFETCH_MS after it. */
  fetchedAt: number;
  /** Why the last fetch failed; answered to every request needing a fetch until the window ends. */
  failure?: JwksUnavailable;
  pending?: Promise<void>;
}

/**
 * The issuer's published keys, fetched once per isolate and kept; fetched again only when a token
 * names a kid we do not have (the issuer rotated), at most once per JWKS_REFETCH_MS after the last
 * fetch ended (a failed one included), with one fetch in flight however many requests wait for it,
 * and none lasting more than JWKS_FETCH_TIMEOUT_MS. Keys already fetched keep verifying tokens
 * while the issuer is away.
 */
export class JwksCache {
  private readonly byUrl = new Map<string, Cached>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly fetchJson: FetchJwks = (url, init) => fetch(url, init),
    private readonly timeoutMs = JWKS_FETCH_TIMEOUT_MS,
  ) {}

  async keysFor(url: string, kid: string | undefined): Promise<HonoJsonWebKey[]> {
    let cached = this.byUrl.get(url);
    const known = (c: Cached | undefined) => c?.keys.some((k) => k.kid === kid);
    if (!known(cached)) {
      if (cached?.pending) await cached.pending;
      else if (!cached || this.now() - cached.fetchedAt >= JWKS_REFETCH_MS) cached = await this.refresh(url);
      // Backing off: the fetch that just failed (or failed less than a window ago) is the answer.
      if (cached?.failure && !known(cached)) throw cached.failure;
    }
    if (!known(cached)) throw new UnknownKey(kid);
    return cached!.keys;
  }

  private async refresh(url: string): Promise<Cached> {
    const entry: Cached = this.byUrl.get(url) ?? { keys: [], fetchedAt: 0 };
    entry.pending = fetchJwks(this.fetchJson, url, this.timeoutMs)
      .then(
        (keys) => {
          entry.keys = keys;
          delete entry.failure;
        },
        (error: unknown) => {
          entry.failure = error instanceof JwksUnavailable ? error : new JwksUnavailable(`JWKS ${url}: ${(error as Error).message}`);
        },
      )
      .finally(() => {
        entry.fetchedAt = this.now();
        delete entry.pending;
      });
    this.byUrl.set(url, entry);
    await entry.pending;
    return entry;
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

async function fetchJwks(fetchJson: FetchJwks, url: string, timeoutMs: number): Promise<HonoJsonWebKey[]> {
  let res: Response;
  let body: { keys?: unknown } | undefined;
  try {
    // The timeout covers the body too: an issuer that sends headers and then stalls is as slow.
    const signal = AbortSignal.timeout(timeoutMs);
    res = await fetchJson(url, { headers: { accept: "application/json" }, signal });
    body = (await res.json().catch((error: unknown) => (signal.aborted ? Promise.reject(error) : undefined))) as typeof body;
  } catch (error) {
    throw new JwksUnavailable(`JWKS ${url} unreachable: ${(error as Error).message}`);
  }
  if (!res.ok || !Array.isArray(body?.keys)) throw new JwksUnavailable(`JWKS ${url} answered ${res.status} without a "keys" array`);
  return imported(body.keys as HonoJsonWebKey[]);
}
