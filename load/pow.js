// The proof-of-work solver of the load tools: the k6 scripts (k6/*.js, with k6/crypto's sha256)
// and the Node crowds of the demo and benches (node:crypto). Plain ESM JavaScript so k6 can import
// it as is. The puzzle is common/src/pow.ts's: a decimal nonce such that
// SHA-256("<challenge>.<nonce>") starts with `difficulty` zero bits.

export const CHALLENGE_SOLUTION_HEADER = "x-challenge-solution";

/** Zero bits at the start of a hex digest. */
export function leadingZeroBitsOfHex(hex) {
  let bits = 0;
  for (const c of hex) {
    const v = parseInt(c, 16);
    if (v === 0) {
      bits += 4;
      continue;
    }
    return bits + (Math.clz32(v) - 28);
  }
  return bits;
}

/**
 * The X-Challenge-Solution value for a 401 {"status":"challenge"} body: counts nonces up from 0.
 * `sha256hex(text)` is the runtime's hash (k6: crypto.sha256(text, "hex")).
 */
export function solveChallenge(challenge, difficulty, sha256hex) {
  for (let nonce = 0; ; nonce++) {
    if (leadingZeroBitsOfHex(sha256hex(`${challenge}.${nonce}`)) >= difficulty) return `${challenge}.${nonce}`;
  }
}
