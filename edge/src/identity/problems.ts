import { HTTPException } from "hono/http-exception";
import { JwtPayloadRequiresAud, JwtTokenAudience, JwtTokenExpired, JwtTokenIssuer, JwtTokenNotBefore } from "hono/utils/jwt/types";
import { UnknownKey } from "./jwks";

/** Why a request carries no buyer we can trust. Each is a 401 that says which, so a client knows what to fix. */
export type IdentityProblem = "missing_token" | "invalid_token" | "expired_token" | "wrong_issuer" | "wrong_audience" | "unknown_key" | "not_yet_valid";

const messages: Record<IdentityProblem, string> = {
  missing_token: "sign in: send the shop's token as Authorization: Bearer <token>",
  invalid_token: "the token is malformed or its signature does not verify",
  expired_token: "the token has expired: sign in again",
  wrong_issuer: "the token was not issued by this shop's issuer",
  wrong_audience: "the token is not meant for this sale (wrong audience)",
  unknown_key: "the token is signed with a key the issuer does not publish",
  not_yet_valid: "the token is not valid yet (nbf/iat in the future)",
};

export const problemBody = (problem: IdentityProblem, detail?: string) => ({ error: messages[problem], problem, ...(detail ? { detail } : {}) });

/** What Hono's JWT/JWK middleware refused, as one of our problems; undefined when it was not a refusal. */
export function problemOf(error: unknown): IdentityProblem | undefined {
  if (!(error instanceof HTTPException) || error.status !== 401) return undefined;
  const cause = error.cause;
  if (cause === undefined) return error.message === "no authorization included in request" ? "missing_token" : "invalid_token";
  if (cause instanceof JwtTokenExpired) return "expired_token";
  if (cause instanceof JwtTokenIssuer) return "wrong_issuer";
  if (cause instanceof JwtTokenAudience || cause instanceof JwtPayloadRequiresAud) return "wrong_audience";
  if (cause instanceof UnknownKey) return "unknown_key";
  if (cause instanceof JwtTokenNotBefore) return "not_yet_valid";
  return "invalid_token";
}
