/**
 * The proof-of-work puzzle of a purchase challenge, one definition for the edge (which checks a
 * solution), the waiting-room page and the load tools (which solve it): find a decimal `nonce`
 * such that SHA-256(`<challenge>.<nonce>`) starts with `difficulty` zero bits. Checking costs one
 * hash; solving costs 2^difficulty hashes on average.
 */
export const POW_HOW =
  "find a decimal nonce such that SHA-256(challenge + '.' + nonce) starts with `difficulty` zero bits, then send the same order again with the header X-Challenge-Solution: <challenge>.<nonce>";

export const CHALLENGE_SOLUTION_HEADER = "x-challenge-solution";

/** Zero bits at the start of a digest. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

export const powInput = (challenge: string, nonce: string) => `${challenge}.${nonce}`;

/** Whether `nonce` solves `challenge` at `difficulty` (WebCrypto: workers, browsers, Node). */
export async function solves(challenge: string, nonce: string, difficulty: number): Promise<boolean> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(powInput(challenge, nonce))));
  return leadingZeroBits(digest) >= difficulty;
}
