import { CHALLENGE_SOLUTION_HEADER, hmacKey, POW_HOW, solves } from "@fluxgate/common";
import type { Context } from "hono";
import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";
import type { Proof } from "../purchase/decide";
import type { CheckedSolutions } from "./checked-solutions";

/**
 * Proof-of-work challenges: stateless, signed by the edge (HMAC with TICKET_SECRET, in a domain of
 * their own), bound to the buyer (the MAC covers the sub), the sale and an expiry. Checking one is
 * an HMAC and a SHA-256 in this isolate, no Redis; the gate makes each single-use inside the same
 * EVALSHA as the attempt.
 */
export interface Challenge {
  productId: string;
  saleId: string;
  difficulty: number;
  /** ms since the epoch. */
  expiresAt: number;
  /** Random: the gate records it once spent. */
  id: string;
}

/** Long enough to solve at the difficulties an operator would pick on a slow phone; short enough to be useless to stockpile. */
const CHALLENGE_TTL_MS = 120_000;

export type ChallengeProblem = "required" | "forged" | "expired" | "unsolved" | "replayed" | "stale";

const encoder = new TextEncoder();
const macInput = (payload: string, sub: string) => encoder.encode(`challenge\n${payload}\n${sub}`);
const b64 = (bytes: Uint8Array) => encodeBase64Url(bytes.buffer as ArrayBuffer).replace(/=+$/, "");

export async function issueChallenge(
  secret: string,
  sub: string,
  c: Omit<Challenge, "id" | "expiresAt">,
  now = Date.now(),
): Promise<{ token: string } & Challenge> {
  const challenge: Challenge = { ...c, expiresAt: now + CHALLENGE_TTL_MS, id: b64(crypto.getRandomValues(new Uint8Array(12))) };
  const payload = b64(encoder.encode(JSON.stringify([challenge.productId, challenge.saleId, challenge.difficulty, challenge.expiresAt, challenge.id])));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), macInput(payload, sub)));
  return { token: `${payload}.${b64(mac)}`, ...challenge };
}

/** The challenge a solution answers, if we signed it for this buyer and product, it is unexpired and the work is done. */
export async function checkSolution(secret: string, solution: string, sub: string, productId: string, now = Date.now()): Promise<Challenge | ChallengeProblem> {
  const parts = solution.split(".");
  if (parts.length !== 3 || solution.length > 512 || !/^\d{1,20}$/.test(parts[2]!)) return "forged";
  const [payload, macText, nonce] = parts as [string, string, string];
  let mac: Uint8Array;
  let fields: [string, string, number, number, string];
  try {
    mac = decodeBase64Url(macText);
    if (!(await crypto.subtle.verify("HMAC", await hmacKey(secret), mac as Uint8Array<ArrayBuffer>, macInput(payload, sub)))) return "forged";
    fields = JSON.parse(new TextDecoder().decode(decodeBase64Url(payload))) as typeof fields;
  } catch {
    return "forged";
  }
  const [forProduct, saleId, difficulty, expiresAt, id] = fields;
  if (forProduct !== productId) return "forged";
  if (expiresAt <= now) return "expired";
  if (!(await solves(`${payload}.${macText}`, nonce, difficulty))) return "unsolved";
  return { productId, saleId, difficulty, expiresAt, id };
}

/** What the gate script gets of a checked challenge (ARGV): "saleId|difficulty|id|expiresAt". */
export const gateArgument = (c: Challenge) => `${c.saleId}|${c.difficulty}|${c.id}|${c.expiresAt}`;

/** A sale's proof-of-work setting as this isolate last learned it (SaleMemory.powRequirement). */
export type PowRequirement = { saleId: string; difficulty: number } | undefined;

/** 401 {"status":"challenge"}: what to solve (a fresh challenge, when this isolate knows the sale) and how. */
export async function challengeResponse(c: Context, secret: string, sub: string, productId: string, problem: ChallengeProblem, known: PowRequirement) {
  const fresh =
    known && known.difficulty > 0 ? await issueChallenge(secret, sub, { productId, saleId: known.saleId, difficulty: known.difficulty }) : undefined;
  return c.json(
    {
      status: "challenge",
      problem,
      productId,
      ...(fresh
        ? { challenge: fresh.token, difficulty: fresh.difficulty, expiresAt: new Date(fresh.expiresAt).toISOString(), how: POW_HOW }
        : { how: "send the order again without a solution to get a fresh challenge" }),
    },
    401,
  );
}

/**
 * The proof of work a purchase attempt brought, checked in this isolate with no Redis command
 * (once per solution: CheckedSolutions); whether the sale asks for one is the decision's to say.
 */
export async function proofOf(c: Context, secret: string, sub: string, productId: string, checked: CheckedSolutions): Promise<Proof> {
  const solution = c.req.header(CHALLENGE_SOLUTION_HEADER);
  if (!solution) return { kind: "none" };
  const verdict = await checked.check(solution, sub, productId, (now) => checkSolution(secret, solution, sub, productId, now));
  return typeof verdict === "string" ? { kind: "problem", problem: verdict } : { kind: "solved", argument: gateArgument(verdict) };
}
