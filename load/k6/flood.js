// k6 run -e BASE_URL=https://flux-gate.<you>.workers.dev -e ADMIN_TOKEN=... load/k6/flood.js
// Starts a sale, floods POST /order with distinct signed-in buyers, and fails on any oversell or 5xx.
import { check } from "k6";
import { Counter } from "k6/metrics";
import { expectedStatuses, flood } from "../scenarios.js";
import { checkSale, postOrder, saleProductId, signIn, startSale, thresholds } from "./sale.js";

const productId = saleProductId(flood);
const accepted = new Counter("orders_accepted");
const serverErrors = new Counter("server_errors");

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: {
    flood: { executor: "shared-iterations", vus: flood.vus, iterations: flood.buyers, maxDuration: "5m" },
  },
  // See the 302 itself: the gate's answer, not the waiting-room page behind it.
  maxRedirects: 0,
  thresholds: thresholds(flood),
};

export const setup = () => startSale(flood, productId);

export default function (data) {
  const res = postOrder(data.productId, signIn(`vu${__VU}-i${__ITER}`), `${__VU}-${__ITER}-${Math.random()}`);
  if (res.status === 200) accepted.add(1);
  if (res.status >= 500) serverErrors.add(1);
  check(res, { "200, 302 or 409": (r) => expectedStatuses.includes(r.status) });
}

export const teardown = (data) => checkSale(data.productId);
