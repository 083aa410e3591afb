// k6 run -e BASE_URL=https://flux-gate.<you>.workers.dev -e ADMIN_TOKEN=... -e TOKEN_URL=... load/k6/spike.js
// The drop itself: an open-model arrival spike (ramping-arrival-rate), new buyers arriving at the
// scenario's rate however slowly the edge answers, each signed in with one attempt. Fails on any
// oversell or 5xx, as the other scripts do.
import { check } from "k6";
import { Counter } from "k6/metrics";
import { expectedStatuses, spike } from "../scenarios.js";
import { checkSale, postOrder, saleProductId, signIn, startSale, thresholds } from "./sale.js";

const productId = saleProductId(spike);
const accepted = new Counter("orders_accepted");
const serverErrors = new Counter("server_errors");

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: {
    spike: {
      executor: "ramping-arrival-rate",
      startRate: 0,
      timeUnit: "1s",
      preAllocatedVUs: spike.preAllocatedVUs,
      maxVUs: spike.maxVUs,
      stages: [
        { target: spike.peakPerSecond, duration: `${spike.rampSeconds}s` },
        { target: spike.peakPerSecond, duration: `${spike.holdSeconds}s` },
        { target: 0, duration: `${spike.rampSeconds}s` },
      ],
    },
  },
  maxRedirects: 0,
  thresholds: thresholds(spike),
};

export const setup = () => startSale(spike, productId);

/** @param {{ productId: string }} data */
export default function (data) {
  const res = postOrder(data.productId, signIn(`spike-vu${__VU}-i${__ITER}`), `${__VU}-${__ITER}-${Math.random()}`);
  if (res.status === 200) accepted.add(1);
  if (res.status >= 500) serverErrors.add(1);
  check(res, { "200, 302 or 409": (r) => expectedStatuses.includes(r.status) });
}

/** @param {{ productId: string }} data */
export const teardown = (data) => checkSale(data.productId);
