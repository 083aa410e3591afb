import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";
import { CHALLENGE_SOLUTION_HEADER, readTicketPayload } from "@fluxgate/common";
import { percentile } from "../report/stats";
import { edgeMsOf } from "./server-timing";

/**
 * A whole oversubscribed sale, buyer by buyer, each behaving as a shopper on the waiting-room
 * page does (waiting-room/index.html): POST /order; on 302 follow the redirect to the page (GET
 * /waiting-room?productId=…, which names nothing else), poll GET /waiting-room/status right away
 * and then every ~1 s (+0-250 ms jitter) with the ticket cookie; on your_turn (or no_ticket /
 * expired) press Buy at once: POST /order again with the ticket (an API client, it keeps its one
 * Idempotency-Key and body); stop on 200 (bought) or 409 (sold out / limit reached); a 302 keeps
 * it polling. Before a pre-queue's start a 202 "prequeued" takes it to the page, which counts
 * down and offers Buy in the 1.5 s after the start (status "started"); a 202 with `drawing` (the
 * places are being drawn) is asked again a second later. While the operator has paused the sale,
 * an order answered 503 "paused" is sent again with its key after Retry-After, and a "paused"
 * status is polled again every 2 s (+ jitter), as the page does.
 *
 * Plain undici: one Pool of `connections` keep-alive sockets bounds the concurrency (requests
 * beyond it wait in the pool's queue, as a browser's would in its connection limit).
 */

export type BuyerOutcome = "bought" | "sold_out" | "limit_reached" | "error" | "unfinished";
export type RequestKind = "order" | "order (retry)" | "page" | "status";

export interface SaleOptions {
  base: URL;
  productId: string;
  buyers: number;
  /** Buyers arrive evenly spread over this many ms. */
  arrivalMs: number;
  pollMs: number;
  connections: number;
  /** Buyers still going after this many ms (from the first arrival) stop as "unfinished". */
  deadlineMs: number;
  runId: string;
  onProgress?: (finished: number, requests: number) => void;
  /** The Authorization header of a signed-in buyer (IDENTITY=jwt); none when absent. */
  auth?: (userId: string) => Record<string, string>;
  /** Solves a 401 challenge (proof of work) as the waiting-room page does: returns the X-Challenge-Solution value. */
  solve?: (challenge: string, difficulty: number) => string;
  /** Every request as it completes: for reports that chart the sale over time. */
  onRequest?: (record: RequestRecord) => void;
  /** Every buyer as it ends: when it first asked (ms since the first arrival) and how it ended. */
  onBuyer?: (buyer: Buyer) => void;
}

export interface Buyer {
  index: number;
  arrivedMs: number;
  outcome: BuyerOutcome;
  /** When the edge gave the buyer its place in line (the first ticket with a number: Redis' clock, ms), if it ever had one. */
  placeIssuedAt: number | undefined;
  /** When its order was accepted (the 200's acceptedAt: Redis' clock, ms), if it bought. */
  acceptedAt: number | undefined;
  /** Its order, and when its hold for payment ends (Redis' clock, ms) in a sale with holds. */
  orderId?: string;
  holdExpiresAt?: number;
}

export interface RequestRecord {
  /** ms since the first arrival. */
  t: number;
  kind: RequestKind;
  status: number;
  /** The body's `status` or `state` field, when it has one (accepted, queued, sold_out, waiting...). */
  outcome: string | undefined;
  ms: number;
  /** The edge's own time (its Server-Timing header: wall time across I/O, not CPU); undefined when it did not say. */
  edgeMs: number | undefined;
  /** Told "sold out for now": no unit free, some held for payment that may come back (a sale with holds). */
  soldOutForNow?: boolean;
}

export interface SaleResult {
  buyers: number;
  outcomes: Record<BuyerOutcome, number>;
  orderIds: string[];
  requests: number;
  byKind: Record<RequestKind, { count: number; status: Record<string, number> }>;
  /** ms from the first arrival to the last buyer's end. */
  durationMs: number;
  /** ms from the first arrival to the last 200. */
  lastAcceptedAtMs: number | undefined;
  /** ms from the first arrival to the first "sold out" a buyer saw. */
  firstSoldOutAtMs: number | undefined;
  latencyMs: { p50: number; p99: number; max: number };
  errors: string[];
  /** Buyers who entered a pre-queue: their entry, and the place the edge gave them at the start (a 302's ticket; none when they bought at once). */
  prequeued: { entry: string; place: number | undefined }[];
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
  cookie: string | undefined;
  location: string | undefined;
  retryAfter: string | undefined;
}

export async function runSale(o: SaleOptions): Promise<SaleResult> {
  const pool = new Pool(o.base.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const cookieName = `fg_ticket_${o.productId}`;
  const byKind: SaleResult["byKind"] = {
    order: { count: 0, status: {} },
    "order (retry)": { count: 0, status: {} },
    page: { count: 0, status: {} },
    status: { count: 0, status: {} },
  };
  const outcomes: Record<BuyerOutcome, number> = { bought: 0, sold_out: 0, limit_reached: 0, error: 0, unfinished: 0 };
  const orderIds: string[] = [];
  const errors: string[] = [];
  const latencies: number[] = [];
  const prequeued: SaleResult["prequeued"] = [];
  let requests = 0;
  let finished = 0;
  let lastAcceptedAt: number | undefined;
  let firstSoldOutAt: number | undefined;

  const start = performance.now() + 50;
  const deadline = start + o.deadlineMs;

  async function send(kind: RequestKind, method: "GET" | "POST", path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
    const t0 = performance.now();
    const res = await pool.request({ method, path, headers, ...(body !== undefined ? { body } : {}) });
    let parsed: Record<string, unknown> = {};
    if (kind === "page") await res.body.dump();
    else {
      const text = await res.body.text();
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { raw: text.slice(0, 200) };
      }
    }
    const t1 = performance.now();
    latencies.push(t1 - t0);
    requests++;
    o.onRequest?.({
      t: Math.round(t1 - start),
      kind,
      status: res.statusCode,
      outcome: (parsed.status ?? parsed.state) as string | undefined,
      ms: t1 - t0,
      edgeMs: edgeMsOf(res.headers["server-timing"]),
      ...(parsed.soldOutForNow === true ? { soldOutForNow: true } : {}),
    });
    const k = byKind[kind];
    k.count++;
    k.status[res.statusCode] = (k.status[res.statusCode] ?? 0) + 1;
    const setCookie = res.headers["set-cookie"];
    const cookies = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
    let cookie: string | undefined;
    for (const c of cookies) {
      const pair = c.split(";", 1)[0]!;
      if (pair.startsWith(`${cookieName}=`)) cookie = pair;
    }
    const location = res.headers.location;
    const retryAfter = res.headers["retry-after"];
    return {
      status: res.statusCode,
      body: parsed,
      cookie,
      location: typeof location === "string" ? location : undefined,
      retryAfter: typeof retryAfter === "string" ? retryAfter : undefined,
    };
  }

  function end(outcome: BuyerOutcome, detail?: string) {
    outcomes[outcome]++;
    finished++;
    if (outcome === "sold_out" && firstSoldOutAt === undefined) firstSoldOutAt = performance.now();
    if (outcome === "error" && detail && errors.length < 20) errors.push(detail);
  }

  async function buyer(i: number): Promise<void> {
    const userId = `${o.runId}-u${i}`;
    const key = `${o.runId}-k${i}`;
    const orderBody = JSON.stringify({ productId: o.productId, userId, quantity: 1 });
    const auth = o.auth?.(userId);
    // Signed in, the token says who polls; only an anonymous edge (local experiments) needs the userId named.
    const statusPath = `/waiting-room/status?${new URLSearchParams({ productId: o.productId, ...(auth ? {} : { userId }) })}`;
    let solution: string | undefined;
    let cookie: string | undefined;
    let attempts = 0;
    let entered: SaleResult["prequeued"][number] | undefined;
    let placeIssuedAt: number | undefined;
    let acceptedAt: number | undefined;
    let accepted: Pick<Buyer, "orderId" | "holdExpiresAt"> = {};
    const jitter = () => o.pollMs + Math.random() * 250;
    // The page's wait for a pre-queue's start: back in the 1.5 s after it, spread (the place does not depend on it).
    const untilStart = (body: Record<string, unknown>) => Number(body.secondsToStart ?? 0) * 1000 + Math.random() * 1500;

    await sleep(Math.max(0, start + (i * o.arrivalMs) / o.buyers - performance.now()));
    const arrivedMs = performance.now() - start;
    const done = (outcome: BuyerOutcome, detail?: string) => {
      o.onBuyer?.({ index: i, arrivedMs, outcome, placeIssuedAt, acceptedAt, ...accepted });
      end(outcome, detail);
    };
    let next: "order" | "poll" = "order";
    let delay = 0;
    for (;;) {
      if (delay > 0) await sleep(delay);
      if (performance.now() > deadline) return done("unfinished");
      if (next === "order") {
        const headers: Record<string, string> = { "content-type": "application/json", "idempotency-key": key, ...(auth ?? {}) };
        if (cookie) headers.cookie = cookie;
        if (solution) headers[CHALLENGE_SOLUTION_HEADER] = solution;
        const r = await send(attempts++ === 0 ? "order" : "order (retry)", "POST", "/order", headers, orderBody);
        if (r.status === 200) {
          orderIds.push(String(r.body.orderId));
          lastAcceptedAt = performance.now();
          acceptedAt = Date.parse(String(r.body.acceptedAt));
          accepted = { orderId: String(r.body.orderId), ...(r.body.holdExpiresAt ? { holdExpiresAt: Date.parse(String(r.body.holdExpiresAt)) } : {}) };
          return done("bought");
        }
        if (r.status === 409) {
          if (r.body.status === "sold_out") return done("sold_out");
          if (r.body.status === "limit_reached") return done("limit_reached");
          return done("error", `409 ${JSON.stringify(r.body)}`);
        }
        if (r.status === 202 && r.body.status === "prequeued") {
          if (r.cookie) cookie = r.cookie;
          if (!entered) {
            entered = { entry: String(r.body.entry), place: undefined };
            prequeued.push(entered);
            const target = new URL(r.location ?? `/waiting-room?productId=${encodeURIComponent(o.productId)}`, o.base);
            await send("page", "GET", target.pathname + target.search, cookie ? { cookie } : {});
          }
          next = r.body.drawing ? "order" : "poll";
          delay = r.body.drawing ? jitter() : untilStart(r.body);
          continue;
        }
        if (r.status === 302) {
          if (r.cookie) cookie = r.cookie;
          const ticket = readTicketPayload(String(r.body.ticket));
          if (entered && entered.place === undefined) entered.place = ticket?.number;
          if (placeIssuedAt === undefined && ticket && ticket.number > 0) placeIssuedAt = ticket.issuedAt;
          // The browser follows the redirect to the waiting-room page (fetch does the same from the page).
          const target = new URL(r.location ?? `/waiting-room?productId=${encodeURIComponent(o.productId)}`, o.base);
          await send("page", "GET", target.pathname + target.search, cookie ? { cookie } : {});
          next = "poll";
          // A fresh page polls on load; the page itself, after a 302 to its own order, waits ~1 s.
          delay = attempts === 1 ? 0 : jitter();
          continue;
        }
        if (r.status === 401 && r.body.status === "challenge" && o.solve && typeof r.body.challenge === "string") {
          solution = o.solve(r.body.challenge, Number(r.body.difficulty));
          delay = 0;
          continue;
        }
        if (r.status === 425) {
          delay = 2_000;
          continue;
        }
        if (r.status === 503 && r.body.status === "paused") {
          delay = Math.min(30, Math.max(1, Number(r.retryAfter) || 2)) * 1000;
          continue;
        }
        return done("error", `${r.status} ${JSON.stringify(r.body)}`);
      }
      const s = await send("status", "GET", statusPath, cookie ? { cookie, ...(auth ?? {}) } : (auth ?? {}));
      const state = s.body.state;
      if (state === "sold_out") return done("sold_out");
      if (state === "waiting") {
        delay = jitter();
        continue;
      }
      if (state === "prequeued") {
        delay = untilStart(s.body);
        continue;
      }
      if (state === "paused") {
        delay = 2_000 + Math.random() * 250;
        continue;
      }
      if (state === "your_turn" || state === "started" || state === "no_ticket" || state === "expired") {
        next = "order";
        delay = 0;
        continue;
      }
      // Anything else (a 5xx, a non-JSON answer): the page says "connection lost" and retries in 2 s.
      if (errors.length < 20) errors.push(`status ${s.status} ${JSON.stringify(s.body)}`);
      delay = 2_000;
    }
  }

  const progress = setInterval(() => o.onProgress?.(finished, requests), 250);
  try {
    await Promise.all(
      Array.from({ length: o.buyers }, (_, i) => buyer(i).catch((error: unknown) => end("error", error instanceof Error ? error.message : String(error)))),
    );
  } finally {
    clearInterval(progress);
    o.onProgress?.(finished, requests);
    await pool.close();
  }
  const end_ = performance.now();
  latencies.sort((a, b) => a - b);
  const rel = (t: number | undefined) => (t === undefined ? undefined : Math.round(t - start));
  return {
    buyers: o.buyers,
    outcomes,
    orderIds,
    requests,
    byKind,
    durationMs: Math.round(end_ - start),
    lastAcceptedAtMs: rel(lastAcceptedAt),
    firstSoldOutAtMs: rel(firstSoldOutAt),
    latencyMs: { p50: round1(percentile(latencies, 50) || 0), p99: round1(percentile(latencies, 99) || 0), max: round1(latencies.at(-1) ?? 0) },
    errors,
    prequeued,
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;
