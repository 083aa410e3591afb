import { ExpiringCache } from "../expiring-cache";
import type { Challenge, ChallengeProblem } from "./index";

export const CHECKED_SOLUTIONS_MAX = 4096;
/** How long a refused solution's verdict stands (forged, unsolved, expired stay so). */
const REFUSED_MS = 120_000;

/**
 * Proof-of-work solutions this isolate checked (an HMAC and a SHA-256 each): a retry carrying the
 * same solution is not checked again. The verdict depends on the buyer and the product as well
 * (the MAC covers the buyer), so they are part of the key. Spending stays the gate's: a cached
 * "valid" is still refused there once spent.
 */
export class CheckedSolutions {
  private readonly cache: ExpiringCache<{ verdict: Challenge | ChallengeProblem }>;

  constructor(private readonly now: () => number = Date.now) {
    this.cache = new ExpiringCache(CHECKED_SOLUTIONS_MAX, now);
  }

  async check(
    solution: string,
    sub: string,
    productId: string,
    checkOnce: (now: number) => Promise<Challenge | ChallengeProblem>,
  ): Promise<Challenge | ChallengeProblem> {
    const key = `${sub}\n${productId}\n${solution}`;
    const known = this.cache.get(key);
    if (known) return known.verdict;
    const now = this.now();
    const verdict = await checkOnce(now);
    this.cache.set(key, { verdict }, typeof verdict === "string" ? now + REFUSED_MS : verdict.expiresAt);
    return verdict;
  }
}
