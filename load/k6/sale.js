// What both k6 scripts do the same way: where the worker is, start the sale, the thresholds that
// fail a run on any oversell or 5xx, and the sale's final check.
import http from "k6/http";
import { check, fail } from "k6";
import { productIdFor } from "../scenarios.js";

export const BASE_URL = __ENV.BASE_URL || fail("set BASE_URL to the workers.dev URL");
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || fail("set ADMIN_TOKEN");

export const saleProductId = (scenario) => productIdFor(scenario, __ENV.RUN_ID || `${Date.now()}`);

/** Never more 200s than units (the counter `orders_accepted`), no 5xx, every check passed. */
export const thresholds = (scenario) => ({
  orders_accepted: [`count<=${scenario.stock}`],
  server_errors: ["count==0"],
  checks: ["rate==1.0"],
});

export function startSale(scenario, productId) {
  const res = http.post(`${BASE_URL}/init`, JSON.stringify({ productId, quantity: scenario.stock, ratePerSecond: scenario.ratePerSecond, perUserLimit: scenario.perUserLimit }), {
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (res.status !== 200) fail(`init failed: ${res.status} ${res.body}`);
  return { productId };
}

export function checkSale(productId) {
  const sale = http.get(`${BASE_URL}/sales/${productId}`).json();
  check(sale, { "never oversold": (s) => s.sold <= s.quantity && s.remaining >= 0 });
  console.log(`sale ${productId}: sold ${sale.sold} of ${sale.quantity}`);
}
