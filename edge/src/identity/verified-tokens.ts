import { ExpiringCache } from "../expiring-cache";

/**
 * Tokens this isolate verified: a buyer who polls every second is checked with ES256 once, not on
 * every request. Keyed by the whole token (signature included), so only the very same token hits;
 * kept until its `exp`. A key the issuer withdraws stops new tokens at once; tokens already
 * verified here stay good until they expire, as they would in any stateless JWT check.
 */
export const VERIFIED_TOKENS_MAX = 4096;

export class VerifiedTokens {
  private readonly cache: ExpiringCache<{ sub: string }>;
  /** The settings the cached tokens were verified under: other settings, other verdicts. */
  private settings: object | undefined;

  constructor(now: () => number = Date.now) {
    this.cache = new ExpiringCache(VERIFIED_TOKENS_MAX, now);
  }

  /** The buyer of a token verified before under these settings, until its expiry. */
  buyerOf(token: string, settings: object): string | undefined {
    if (settings !== this.settings) return undefined;
    return this.cache.get(token)?.sub;
  }

  remember(token: string, settings: object, sub: string, expSeconds: number): void {
    if (settings !== this.settings) {
      this.cache.clear();
      this.settings = settings;
    }
    this.cache.set(token, { sub }, expSeconds * 1000);
  }

  get size(): number {
    return this.cache.size;
  }
}
