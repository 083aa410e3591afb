// What both k6 scripts do the same way: where the worker is, start the sale, sign buyers in, pass
// a proof-of-work challenge, the thresholds that fail a run on any oversell or 5xx, and the
// sale's final check.
import http from "k6/http";
import crypto from "k6/crypto";
import { check, fail } from "k6";
import { productIdFor } from "../scenarios.js";
import { CHALLENGE_SOLUTION_HEADER, solveChallenge } from "../pow.js";

export const BASE_URL = __ENV.BASE_URL || fail("set BASE_URL to the workers.dev URL");
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || fail("set ADMIN_TOKEN");
/**
 * The Authorization header of a signed-in buyer. Buyers sign in as the shop's customers do: POST
 * {sub} to TOKEN_URL (locally the stack's dev issuer, `npm run status` shows it; against
 * production, the shop's test login).
 */
export function signIn(userId) {
  const url = __ENV.TOKEN_URL || fail("set TOKEN_URL to a token endpoint (POST {sub} -> {token}), e.g. the stack's dev issuer http://127.0.0.1:8091/token");
  const res = http.post(url, JSON.stringify({ sub: userId }), { headers: { "content-type": "application/json" }, tags: { name: "sign-in" } });
  if (res.status !== 200) fail(`sign-in failed: ${res.status} ${res.body}`);
  return { authorization: `Bearer ${res.json("token")}` };
}

/** POST /order as `auth`; a 401 challenge is solved (k6/crypto's SHA-256) and the order sent again once. */
export function postOrder(productId, auth, key) {
  const send = (extra) =>
    http.post(`${BASE_URL}/order`, JSON.stringify({ productId }), {
      headers: { "content-type": "application/json", "idempotency-key": key, ...auth, ...extra },
      tags: { name: "order" },
    });
  const res = send({});
  if (res.status !== 401 || res.json("status") !== "challenge") return res;
  const solution = solveChallenge(String(res.json("challenge")), Number(res.json("difficulty")), (text) => crypto.sha256(text, "hex"));
  return send({ [CHALLENGE_SOLUTION_HEADER]: solution });
}

export const saleProductId = (scenario) => productIdFor(scenario, __ENV.RUN_ID || `${Date.now()}`);

/** Never more 200s than units (the counter `orders_accepted`), no 5xx, every check passed. */
export const thresholds = (scenario) => ({
  orders_accepted: [`count<=${scenario.stock}`],
  server_errors: ["count==0"],
  checks: ["rate==1.0"],
});

export function startSale(scenario, productId) {
  const res = http.post(
    `${BASE_URL}/init`,
    JSON.stringify({
      productId,
      quantity: scenario.stock,
      ratePerSecond: scenario.ratePerSecond,
      perUserLimit: scenario.perUserLimit,
      powDifficulty: Number(__ENV.POW_DIFFICULTY || 0),
    }),
    {
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    },
  );
  if (res.status !== 200) fail(`init failed: ${res.status} ${res.body}`);
  return { productId };
}

export function checkSale(productId) {
  const sale = /** @type {{ sold: number, quantity: number, remaining: number }} */ (http.get(`${BASE_URL}/sales/${productId}`).json());
  check(sale, { "never oversold": (s) => s.sold <= s.quantity && s.remaining >= 0 });
  console.log(`sale ${productId}: sold ${sale.sold} of ${sale.quantity}`);
}
