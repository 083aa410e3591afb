import { createHash } from "node:crypto";
import { solveChallenge } from "../../pow.js";

export { mintToken, mintTokens } from "@fluxgate/stack";

/** The load tools' solver in Node (load/pow.js with node:crypto's SHA-256). */
export const solveInNode = (challenge: string, difficulty: number) =>
  solveChallenge(challenge, difficulty, (text) => createHash("sha256").update(text).digest("hex"));
