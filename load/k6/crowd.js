// k6 run -e BASE_URL=https://flux-gate.<you>.workers.dev -e ADMIN_TOKEN=... load/k6/crowd.js
// Buyers who behave like browsers: a 302 sends them to the waiting room, whose page polls its
// status; when their turn comes they press Buy (the order again, with the ticket); a 409 ends their visit.
import http from "k6/http";
import { check, sleep } from "k6";
import { Counter } from "k6/metrics";
import { crowd, expectedStatuses } from "../scenarios.js";
import { BASE_URL, checkSale, postOrder, saleProductId, signIn, startSale, thresholds } from "./sale.js";

const productId = saleProductId(crowd);

const accepted = new Counter("orders_accepted");
const soldOut = new Counter("orders_sold_out");
const serverErrors = new Counter("server_errors");

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: {
    crowd: {
      executor: "per-vu-iterations",
      vus: crowd.vus,
      iterations: Math.ceil(crowd.buyers / crowd.vus),
      maxDuration: "10m",
    },
  },
  maxRedirects: 0,
  thresholds: thresholds(crowd),
};

export const setup = () => startSale(crowd, productId);

function order(data, auth, key) {
  const res = postOrder(data.productId, auth, key);
  if (res.status >= 500) serverErrors.add(1);
  check(res, { "200, 302 or 409": (r) => expectedStatuses.includes(r.status) });
  return res;
}

export default function (data) {
  sleep(Math.random() * crowd.arrivalSeconds);
  const userId = `vu${__VU}-i${__ITER}`;
  const auth = signIn(userId);
  const key = `${userId}-${Math.random()}`;
  let res = order(data, auth, key);
  if (res.status === 302) {
    // The cookie jar keeps the ticket, as a browser does.
    http.get(`${BASE_URL}${res.headers.Location}`, { tags: { name: "waiting-room" } });
    for (let polls = 0; polls < 600 && res.status === 302; polls++) {
      sleep(crowd.pollSeconds);
      const status = http.get(`${BASE_URL}/waiting-room/status?productId=${data.productId}`, { headers: auth, tags: { name: "status" } });
      if (status.status >= 500) serverErrors.add(1);
      const state = status.json("state");
      if (state === "sold_out") return soldOut.add(1);
      if (state === "your_turn" || state === "expired" || state === "no_ticket") res = order(data, auth, key);
    }
  }
  if (res.status === 200) accepted.add(1);
  if (res.status === 409) soldOut.add(1);
}

export const teardown = (data) => checkSale(data.productId);
