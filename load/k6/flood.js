// k6 run -e BASE_URL=https://flux-gate.<you>.workers.dev -e ADMIN_TOKEN=... load/k6/flood.js
// Starts a sale, floods POST /order with distinct buyers, and fails on any oversell or 5xx.
import http from "k6/http";
import { check, fail } from "k6";
import { Counter } from "k6/metrics";
import { expectedStatuses, flood, productIdFor } from "../scenarios.js";

const BASE_URL = __ENV.BASE_URL || fail("set BASE_URL to the workers.dev URL");
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || fail("set ADMIN_TOKEN");
const productId = productIdFor(flood, __ENV.RUN_ID || `${Date.now()}`);

const accepted = new Counter("orders_accepted");
const serverErrors = new Counter("server_errors");

export const options = {
  scenarios: {
    flood: { executor: "shared-iterations", vus: flood.vus, iterations: flood.buyers, maxDuration: "5m" },
  },
  // See the 302 itself: the gate's answer, not the waiting-room page behind it.
  maxRedirects: 0,
  thresholds: {
    // Zero oversell: never more 200s than units.
    orders_accepted: [`count<=${flood.stock}`],
    server_errors: ["count==0"],
    checks: ["rate==1.0"],
  },
};

export function setup() {
  const res = http.post(`${BASE_URL}/init`, JSON.stringify({ productId, quantity: flood.stock, ratePerSecond: flood.ratePerSecond, perUserLimit: flood.perUserLimit }), {
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (res.status !== 200) fail(`init failed: ${res.status} ${res.body}`);
  return { productId };
}

export default function (data) {
  const res = http.post(`${BASE_URL}/order`, JSON.stringify({ productId: data.productId, userId: `vu${__VU}-i${__ITER}` }), {
    headers: { "content-type": "application/json", "idempotency-key": `${__VU}-${__ITER}-${Math.random()}` },
    tags: { name: "order" },
  });
  if (res.status === 200) accepted.add(1);
  if (res.status >= 500) serverErrors.add(1);
  check(res, { "200, 302 or 409": (r) => expectedStatuses.includes(r.status) });
}

export function teardown(data) {
  const sale = http.get(`${BASE_URL}/sales/${data.productId}`).json();
  check(sale, {
    "never oversold": (s) => s.sold <= s.quantity && s.remaining >= 0,
  });
  console.log(`sale ${data.productId}: sold ${sale.sold} of ${sale.quantity}, ${sale.queued} still queued`);
}
