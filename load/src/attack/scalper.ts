import { setTimeout as sleep } from "node:timers/promises";
import { CHALLENGE_SOLUTION_HEADER, readTicketPayload, saleKeys } from "@fluxgate/common";
import { Redis } from "ioredis";
import { Pool } from "undici";
import { call, initSale } from "../bench/edge-api";

/**
 * A signed-in account that follows the queue like a browser does (waiting-room/index.html), once
 * per Idempotency-Key, as a scalper with many tabs (or a script) would: POST /order; on a 302 it
 * keeps the ticket and polls GET /waiting-room/status every ~1 s with it; on its turn (or a lost
 * ticket) it orders again with the same key and the ticket; it stops on 200 (bought) or 409
 * (sold out, ended, limit reached). Every answer is counted, and every place in line it was
 * given (the tickets' numbers: two keys given the same place count once).
 */
export interface TabsOptions {
  base: URL;
  productId: string;
  token: string;
  /** The Idempotency-Keys, one tab each. */
  keys: string[];
  pollMs: number;
  /** Tabs still going this long after the start stop (as "unfinished"); `stop()` ends them sooner. */
  deadlineMs: number;
  connections: number;
  /** Solves a proof-of-work challenge (the sale asks for one): the X-Challenge-Solution value. */
  solve?: (challenge: string, difficulty: number) => string;
}

export interface TabsResult {
  keys: number;
  /** Distinct places in line (ticket numbers > 0) the account was given. */
  places: number[];
  /** Keys put on standby (ticket number 0): no place yet. */
  standby: number;
  unitsBought: number;
  /** Answers, as "<status> <body status or state>". */
  answers: Record<string, number>;
  requests: number;
  /** Most of its tickets admitted at once and not used yet (each holds a claim on a unit), from the answers. */
  peakAdmitted: number;
  unfinished: number;
  /** Per tab: ms from the start to its first answer, the `position` that answer gave (302), to its first turn and to its 200 (if it bought). */
  tabs: { firstAnswerMs: number | undefined; position: number | undefined; admittedMs: number | undefined; boughtMs: number | undefined; outcome: string }[];
}

export interface RunningTabs {
  /** Resolves once every tab has stopped. */
  done: Promise<TabsResult>;
  /** Every tab has had its first answer. */
  placed: Promise<void>;
  /** Units bought so far, and when each was (ms from the start). */
  boughtAt: number[];
  stop(): void;
  startedAt: number;
}

export function runTabs(o: TabsOptions): RunningTabs {
  const pool = new Pool(o.base.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const startedAt = performance.now();
  const since = () => performance.now() - startedAt;
  const answers: Record<string, number> = {};
  const places = new Set<number>();
  const boughtAt: number[] = [];
  const tabs: TabsResult["tabs"] = o.keys.map(() => ({
    firstAnswerMs: undefined,
    position: undefined,
    admittedMs: undefined,
    boughtMs: undefined,
    outcome: "unfinished",
  }));
  let standby = 0;
  let requests = 0;
  let admitted = 0;
  let peakAdmitted = 0;
  let stopped = false;
  let firstAnswers = 0;
  let allPlaced!: () => void;
  const placed = new Promise<void>((resolve) => (allPlaced = resolve));
  const auth = { authorization: `Bearer ${o.token}` };

  async function send(method: "GET" | "POST", path: string, headers: Record<string, string>, body?: string) {
    const res = await pool.request({ method, path, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.body.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { raw: text.slice(0, 200) };
    }
    requests++;
    const label = `${res.statusCode} ${String(parsed.status ?? parsed.state ?? parsed.error ?? "")}`.trim();
    answers[label] = (answers[label] ?? 0) + 1;
    return { status: res.statusCode, body: parsed, retryAfter: Number(res.headers["retry-after"] ?? 0) };
  }

  async function tab(i: number): Promise<void> {
    const key = o.keys[i]!;
    const me = tabs[i]!;
    const body = JSON.stringify({ productId: o.productId });
    const statusPath = `/waiting-room/status?productId=${encodeURIComponent(o.productId)}`;
    let ticket: string | undefined;
    let solution: string | undefined;
    let holdsClaim = false;
    const first = () => {
      if (me.firstAnswerMs !== undefined) return;
      me.firstAnswerMs = since();
      if (++firstAnswers === o.keys.length) allPlaced();
    };
    const release = () => {
      if (holdsClaim) admitted--;
      holdsClaim = false;
    };
    const finish = (outcome: string) => {
      release();
      first();
      me.outcome = outcome;
    };
    let next: "order" | "poll" = "order";
    for (let delay = 0; ; ) {
      if (delay > 0) await sleep(delay);
      if (stopped || since() > o.deadlineMs) return finish("unfinished");
      if (next === "order") {
        const headers: Record<string, string> = { ...auth, "content-type": "application/json", "idempotency-key": key };
        if (ticket) headers["x-queue-ticket"] = ticket;
        if (solution) headers[CHALLENGE_SOLUTION_HEADER] = solution;
        const r = await send("POST", "/order", headers, body);
        if (r.status === 401 && r.body.status === "challenge" && o.solve && typeof r.body.challenge === "string") {
          solution = o.solve(r.body.challenge, Number(r.body.difficulty));
          delay = 0;
          continue;
        }
        release();
        if (r.status === 200) {
          me.boughtMs = since();
          me.admittedMs ??= me.boughtMs;
          boughtAt.push(me.boughtMs);
          return finish("bought");
        }
        if (r.status === 302 && typeof r.body.ticket === "string") {
          ticket = r.body.ticket;
          const number = readTicketPayload(ticket)?.number ?? 0;
          if (number > 0) places.add(number);
          else standby++;
          if (me.firstAnswerMs === undefined) me.position = Number(r.body.position ?? 0);
          first();
          next = "poll";
          delay = o.pollMs + Math.random() * 250;
          continue;
        }
        if (r.status === 409) return finish(String(r.body.status));
        if (r.status === 503 || r.status === 425) {
          delay = Math.max(1, r.retryAfter || 2) * 1000;
          continue;
        }
        return finish(`${r.status} ${String(r.body.status ?? r.body.error ?? "")}`);
      }
      const s = await send("GET", statusPath, { ...auth, ...(ticket ? { "x-queue-ticket": ticket } : {}) });
      const state = s.body.state;
      if (state === "sold_out" || state === "ended") return finish(String(state));
      if (state === "your_turn") {
        // Admitted: the ticket holds a claim until it is used (or expires).
        if (!holdsClaim) peakAdmitted = Math.max(peakAdmitted, ++admitted);
        me.admittedMs ??= since();
        holdsClaim = true;
        next = "order";
        delay = 0;
        continue;
      }
      if (state === "no_ticket" || state === "expired") {
        ticket = undefined;
        next = "order";
        delay = 0;
        continue;
      }
      delay = s.status === 503 ? Math.max(1, s.retryAfter || 2) * 1000 : o.pollMs + Math.random() * 250;
    }
  }

  const done = Promise.all(o.keys.map((_, i) => tab(i).catch((error: unknown) => void (tabs[i]!.outcome = `error: ${String(error)}`))))
    .finally(() => pool.close())
    .then(
      (): TabsResult => ({
        keys: o.keys.length,
        places: [...places].sort((a, b) => a - b),
        standby,
        unitsBought: boughtAt.length,
        answers,
        requests,
        peakAdmitted,
        unfinished: tabs.filter((t) => t.outcome === "unfinished").length,
        tabs,
      }),
    );
  // A tab that ended with an error still had its "first answer".
  void done.then(() => allPlaced());
  return {
    done,
    placed,
    boughtAt,
    startedAt,
    stop: () => {
      stopped = true;
    },
  };
}

/**
 * The sale's page shown on every isolate before the drop (the round-robin takes consecutive
 * requests to each), as a shop's product page is: right after a flood of made-up ids an isolate
 * that has not read the catalog since may answer 404 for up to a second (product-catalog.ts).
 */
async function visibleEverywhere(base: URL, productId: string, isolates = 4, timeoutMs = 5_000): Promise<void> {
  let seen = 0;
  for (const deadline = Date.now() + timeoutMs; seen < isolates; ) {
    seen = (await call(base, `/sales/${encodeURIComponent(productId)}`)).status === 200 ? seen + 1 : 0;
    if (seen < isolates && Date.now() > deadline) throw new Error(`${productId} still unknown to the edge after ${timeoutMs} ms`);
    if (seen === 0) await sleep(100);
  }
}

/** The sale as the operator's page reads it (GET /admin/sales/:productId), every `everyMs`, while it runs. */
export function sampleSale(base: URL, adminToken: string, productId: string, everyMs: number) {
  /** `t`: when the sample was asked for (ms since the sampler started). */
  const samples: { t: number; remaining: number; claimed: number; sold: number }[] = [];
  const t0 = performance.now();
  const timer = setInterval(() => {
    // When it was asked: the edge read the figures after this (a purchase answered before it surely came first).
    const t = performance.now() - t0;
    void call(base, `/admin/sales/${productId}`, { headers: { authorization: `Bearer ${adminToken}` } })
      .then((r) => {
        if (r.status === 200) samples.push({ t, remaining: Number(r.body.remaining), claimed: Number(r.body.claimed), sold: Number(r.body.sold) });
      })
      .catch(() => undefined);
  }, everyMs);
  return {
    startedAt: t0,
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}

/**
 * What one buyer holds in a sale, read in Redis every `everyMs` (the bench's own connection, not
 * the edge's bill): the units they bought and the claim of their one place in line (the ledger's
 * `p:<userId>`; 0 once it is spent). Their sum is what the gate keeps at most `perUserLimit`.
 */
export function sampleHoldings(redisUrl: string, productId: string, userId: string, everyMs: number) {
  const redis = new Redis(redisUrl, { connectionName: "fluxgate-bench-sampler" });
  const k = saleKeys(productId);
  const read = `local p = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local claim = 0
if p > 0 then claim = string.byte(redis.call('GETRANGE', KEYS[2], p, p)) or 0 end
return {tonumber(redis.call('HGET', KEYS[3], string.sub(ARGV[1], 3)) or '0'), claim}`;
  const samples: { bought: number; claim: number }[] = [];
  const timer = setInterval(() => {
    // The userId only inside "p:<userId>": MONITOR counts the buyer's own commands by the bare name.
    void (redis.eval(read, 3, k.ledger, k.claims, k.buyers, `p:${userId}`) as Promise<[number, number]>)
      .then(([bought, claim]) => samples.push({ bought, claim }))
      .catch(() => undefined);
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      redis.disconnect();
      return samples;
    },
  };
}

/**
 * The scalper test of issue 21: a small sale opens, its first buyer takes the token, then one
 * account with many keys takes its places (no key of it has bought yet, so the limit does not
 * stop it), and an honest buyer arrives right behind. What the account holds (places, units), and
 * what the honest buyer waits.
 */
export interface ScalperScenario {
  productId: string;
  sale: { quantity: number; perUserLimit: number; ratePerSecond: number; ticketTtlSeconds: number };
  scalper: TabsResult;
  /** Most units the scalper held at once: bought, plus its place's claim (read in Redis: sampleHoldings). */
  unitsHeld: number;
  honest: { position: number | undefined; waitedMs: number | undefined; targetMs: number; outcome: string; pass: boolean };
  claimedPeak: number;
  remainingMin: number;
}

export async function scalperScenario(o: {
  base: URL;
  adminToken: string;
  productId: string;
  /** Takes the sale's first token at its open (a crowd's first buyer), so a line forms. */
  openerToken: string;
  scalperToken: string;
  honestToken: string;
  keyPrefix: string;
  keys: number;
  deadlineMs: number;
  sale?: ScalperScenario["sale"];
  /** Where the scalper's holdings are read (its sub names it in the sale's ledger). */
  redisUrl: string;
  scalperSub: string;
}): Promise<ScalperScenario> {
  const sale = o.sale ?? { quantity: 6, perUserLimit: 1, ratePerSecond: 1, ticketTtlSeconds: 60 };
  await initSale(o.base, o.adminToken, { productId: o.productId, ...sale });
  await visibleEverywhere(o.base, o.productId);
  // The drop opens and someone buys at once: from then on, arrivals take places in line.
  const opened = await call(o.base, "/order", {
    method: "POST",
    headers: { authorization: `Bearer ${o.openerToken}`, "content-type": "application/json", "idempotency-key": `${o.keyPrefix}-opener` },
    body: JSON.stringify({ productId: o.productId }),
  });
  if (opened.status !== 200) throw new Error(`the sale's first buyer could not buy: ${opened.status} ${JSON.stringify(opened.body)}`);
  const sampler = sampleSale(o.base, o.adminToken, o.productId, 500);
  const holdings = sampleHoldings(o.redisUrl, o.productId, o.scalperSub, 100);
  const scalper = runTabs({
    base: o.base,
    productId: o.productId,
    token: o.scalperToken,
    keys: Array.from({ length: o.keys }, (_, i) => `${o.keyPrefix}-scalper-${i}`),
    pollMs: 1000,
    deadlineMs: o.deadlineMs,
    connections: o.keys,
  });
  await scalper.placed;
  // Right behind: the honest buyer arrives once the scalper's keys all have their answer.
  const honest = runTabs({
    base: o.base,
    productId: o.productId,
    token: o.honestToken,
    keys: [`${o.keyPrefix}-honest`],
    pollMs: 1000,
    deadlineMs: o.deadlineMs,
    connections: 2,
  });
  const honestResult = await honest.done;
  scalper.stop();
  const scalperResult = await scalper.done;
  const samples = sampler.stop();
  const held = holdings.stop();
  const tab = honestResult.tabs[0]!;
  // Read in one script each time: what it bought and what its place claims, never another buyer's claim.
  const unitsHeld = Math.max(scalper.boughtAt.length, ...held.map((h) => h.bought + h.claim));
  const position = tab.position ?? 0;
  const targetMs = (position / sale.ratePerSecond + 2) * 1000;
  return {
    productId: o.productId,
    sale,
    scalper: scalperResult,
    unitsHeld,
    honest: { position: tab.position, waitedMs: tab.boughtMs, targetMs, outcome: tab.outcome, pass: tab.boughtMs !== undefined && tab.boughtMs <= targetMs },
    claimedPeak: Math.max(0, ...samples.map((s) => s.claimed)),
    remainingMin: Math.min(sale.quantity, ...samples.map((s) => s.remaining)),
  };
}
