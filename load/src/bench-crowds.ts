/**
 * `npm run bench:crowds` — the two crowds of issue 10 against the multi-isolate edge:
 *
 *  1. API clients   CROWD_API_CLIENTS (2,000) concurrent clients, each on its own connection
 *                   (CROWD_API_CONNECTIONS=n: over a shared pool of n keep-alive connections),
 *                   arriving over CROWD_API_ARRIVAL_SECONDS; each POSTs /order with its own
 *                   Idempotency-Key and retries with the same key: on 302 after the ETA (0.25-2 s)
 *                   with its ticket, on a 5xx or a network error after 200 ms. Stop on 200 / 409.
 *  2. browser-like  CROWD_BUYERS (10,000) buyers that behave as the waiting-room page does
 *                   (bench/sale.ts: order → 302 → page → status polls → Buy at the turn).
 *
 * The edge is the deployable bundle (wrangler deploy --dry-run) as EDGE_ISOLATES isolates (4) in
 * one workerd behind the round-robin router, wired to the running local stack. Its Upstash URL
 * goes through a counting pass-through (stack/src/edge/command-counter.ts): every Redis command
 * the edge sends, from any isolate, is counted (an EVALSHA once, as Upstash bills it).
 *
 * CROWD_EDGE_URL=http://127.0.0.1:8787 sends the crowds to an edge already running instead (the
 * stack's, or `npm run dev`): everything above is measured but its Redis commands, which it sends
 * straight to its own Upstash URL.
 *
 * Printed per crowd: units accepted vs. stock (distinct orderIds), 5xx, network errors (resets),
 * admission inversions beyond 1 s (a buyer told sold out while someone who arrived more than 1 s
 * later bought), buyers unfinished at the deadline, and edge Redis commands per edge request.
 * Writes .fluxgate/bench/crowds.json. Exit 1 when a correctness bound fails.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { countingUpstash, edgeIsolates, isolateOf, mintTokens, totalCommands } from "@fluxgate/stack";
import cliProgress from "cli-progress";
import { Agent, request } from "undici";
import { edgeBindings, initSale } from "./bench/edge-api";
import { ensureStack, fluxgateHome, intEnv, readDevVars, type StackInfo } from "./bench/env";
import { runSale } from "./bench/sale";
import { fmtNumber as n, markdownRow as row, table } from "./bench/table";
import { buildEdge, startIsolates } from "./bench/edge-bundle";

const settings = {
  api: {
    clients: intEnv("CROWD_API_CLIENTS", 2_000),
    stock: intEnv("CROWD_API_STOCK", 200),
    rate: intEnv("CROWD_API_RATE", 100),
    burst: intEnv("CROWD_API_BURST", 20),
    arrivalSeconds: intEnv("CROWD_API_ARRIVAL_SECONDS", 2),
    connections: intEnv("CROWD_API_CONNECTIONS", 0),
  },
  browser: {
    buyers: intEnv("CROWD_BUYERS", 10_000),
    stock: intEnv("CROWD_STOCK", 500),
    rate: intEnv("CROWD_RATE", 200),
    burst: intEnv("CROWD_BURST", 20),
    arrivalSeconds: intEnv("CROWD_ARRIVAL_SECONDS", 3),
    connections: intEnv("CROWD_CONNECTIONS", 64),
  },
  deadlineSeconds: intEnv("CROWD_DEADLINE_SECONDS", 120),
};
const bounds = { apiCommandsPerRequest: 0.2, browserCommandsPerRequest: 0.07 };
const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const runId = `c${Date.now().toString(36)}`;

interface Buyer {
  arrivedMs: number;
  outcome: "bought" | "sold_out" | "limit_reached" | "error" | "unfinished";
  /** Each answer's status and when (ms since the crowd began) its request was sent: why an outcome came. */
  trail?: string;
  /** How long its first answered request took: a wait in an isolate's queue for a gate call shows here. */
  firstAnswerMs?: number;
}

interface CrowdResult {
  crowd: string;
  buyers: number;
  stock: number;
  accepted: number;
  requests: number;
  status: Record<string, number>;
  fivexx: number;
  networkErrors: number;
  inversions: number;
  /** When there are inversions: the latest arrivals that bought and the earliest told sold out (crowds.json). */
  inverted?: { latestBought: Buyer[]; earliestSoldOut: Buyer[] };
  /** The first answer's latency, p50 / p99 / max in ms (API clients). */
  firstAnswerMs?: { p50: number; p99: number; max: number };
  unfinished: number;
  errors: number;
  commands: Record<string, number>;
  commandsPerRequest: number;
  seconds: number;
}

export interface CrowdsBench {
  at: string;
  /** Which edge the crowds met, in words. */
  edge: string;
  isolates: number;
  /** False for an edge already running (CROWD_EDGE_URL): its Redis commands were not counted. */
  counted: boolean;
  settings: typeof settings;
  bounds: typeof bounds;
  results: CrowdResult[];
}

/** The crowd got what it was promised: exactly the stock sold, and no one failed, overtaken or left hanging. */
const held = (r: CrowdResult) => r.accepted === r.stock && !r.fivexx && !r.networkErrors && !r.inversions && !r.unfinished && !r.errors;

/** Its section of BENCHMARKS.md (bench-all.ts). */
export function crowdsSection(b: CrowdsBench): string {
  const [api, browser] = b.results as [CrowdResult, CrowdResult];
  const describe = (r: CrowdResult, s: { rate: number; arrivalSeconds: number }, how: string) =>
    `${n(r.buyers)} ${how}, stock ${n(r.stock)}, admitted at ${n(s.rate)}/s, arriving over ${s.arrivalSeconds} s`;
  const apiHow = `API clients, ${b.settings.api.connections ? `over ${b.settings.api.connections} keep-alive connections` : "one connection each"}`;
  const bound = (r: CrowdResult) => (r === api ? b.bounds.apiCommandsPerRequest : b.bounds.browserCommandsPerRequest);
  const commandsOf = (r: CrowdResult) =>
    b.counted
      ? `**${n(r.commandsPerRequest, 3)}** (${Object.entries(r.commands)
          .map(([c, k]) => `${n(k)} ${c}`)
          .join(", ")})`
      : "not counted";
  return `## Crowds on the multi-isolate edge (\`npm run bench:crowds\`, ${b.at.slice(0, 16).replace("T", " ")} UTC)

Two crowds, one after the other, from the bench's clients to ${b.edge} and back; every buyer signed in with the stack's
dev issuer. The API clients retry with the same Idempotency-Key (after the ETA on a 302, after 200 ms on a 5xx or a network
error); the browser-like buyers do what a shopper on the waiting-room page does (order, then status polls, then Buy at once when the turn comes). ${
    b.counted
      ? "Edge Redis commands are counted at the edge's Upstash URL (a counting pass-through in front of the bridge), an EVALSHA once, as Upstash bills it."
      : "The edge's Redis commands were not counted (it was already running, with its own Upstash URL)."
  }
An inversion is a buyer told sold out while someone who arrived more than 1 s later bought.

${row(["crowd", "accepted / stock", "edge requests", "5xx", "network errors", "inversions > 1 s", "unfinished", "first answer p50 / p99", "edge Redis commands / edge request"])}
${row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"])}
${[
  [api, describe(api, b.settings.api, apiHow)] as const,
  [browser, describe(browser, b.settings.browser, `browser-like buyers over ${b.settings.browser.connections} connections`)] as const,
]
  .map(([r, what]) =>
    row([
      what,
      `${n(r.accepted)} / ${n(r.stock)}`,
      n(r.requests),
      r.fivexx,
      r.networkErrors,
      r.inversions,
      r.unfinished,
      r.firstAnswerMs ? `${n(r.firstAnswerMs.p50)} ms / ${n(r.firstAnswerMs.p99)} ms` : "",
      commandsOf(r),
    ]),
  )
  .join("\n")}

${row(["target", "wanted", "measured", ""])}
${row(["---", "---", "---", "---"])}
${b.results
  .flatMap((r) => [
    row([
      `${r.crowd}: exactly the stock, nothing lost`,
      "accepted = stock; 0 5xx, 0 network errors, 0 inversions, 0 unfinished",
      `${n(r.accepted)} / ${n(r.stock)}; ${r.fivexx}, ${r.networkErrors}, ${r.inversions}, ${r.unfinished}`,
      held(r) ? "✅" : "❌",
    ]),
    ...(b.counted
      ? [row([`${r.crowd}: edge Redis commands / edge request`, `≤ ${bound(r)}`, n(r.commandsPerRequest, 3), r.commandsPerRequest <= bound(r) ? "✅" : "❌"])]
      : []),
  ])
  .join("\n")}
`;
}

/** Buyers told "sold out" while someone who arrived more than 1 s after them bought. */
function inversions(buyers: Buyer[]): number {
  const boughtArrivals = buyers.filter((b) => b.outcome === "bought").map((b) => b.arrivedMs);
  const latestBought = boughtArrivals.length ? Math.max(...boughtArrivals) : -Infinity;
  return buyers.filter((b) => b.outcome === "sold_out" && latestBought > b.arrivedMs + 1_000).length;
}

function invertedBuyers(buyers: Buyer[]): { latestBought: Buyer[]; earliestSoldOut: Buyer[] } {
  const byArrival = [...buyers].sort((a, b) => a.arrivedMs - b.arrivedMs);
  return {
    latestBought: byArrival.filter((b) => b.outcome === "bought").slice(-5),
    earliestSoldOut: byArrival.filter((b) => b.outcome === "sold_out").slice(0, 5),
  };
}

function firstAnswers(buyers: Buyer[]): { firstAnswerMs?: CrowdResult["firstAnswerMs"] } {
  const ms = buyers.flatMap((b) => (b.firstAnswerMs === undefined ? [] : [b.firstAnswerMs])).sort((a, b) => a - b);
  if (!ms.length) return {};
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!);
  return { firstAnswerMs: { p50: at(0.5), p99: at(0.99), max: Math.round(ms.at(-1)!) } };
}

async function apiCrowd(base: URL, productId: string, commands: Map<string, number>, tokens: Map<string, string>): Promise<CrowdResult> {
  const s = settings.api;
  // 0: a connection of its own per client (as 2,000 separate API clients would have).
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: s.connections || null });
  const status: Record<string, number> = {};
  const orderIds = new Set<string>();
  const buyers: Buyer[] = [];
  let requests = 0;
  let networkErrors = 0;
  let errors = 0;
  const before = totalCommands(commands);
  const start = performance.now() + 50;
  const deadline = start + settings.deadlineSeconds * 1000;
  const bar = new cliProgress.SingleBar(
    { format: "  API clients  {bar} {value}/{total} done | {requests} requests", hideCursor: true, noTTYOutput: true, notTTYSchedule: 2_000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(s.clients, 0, { requests: 0 });
  let done = 0;

  async function client(i: number): Promise<Buyer> {
    const ended = (outcome: Buyer["outcome"]): Buyer => ({ arrivedMs: arrivedMs ?? Infinity, outcome, trail: trail.join(" "), firstAnswerMs });
    const trail: string[] = [];
    await sleep(Math.max(0, start + (i * s.arrivalSeconds * 1000) / s.clients - performance.now()));
    // Arrival: when the first request the edge answered was sent (one lost on the way never reached the line).
    let arrivedMs: number | undefined;
    let firstAnswerMs: number | undefined;
    const key = `${runId}-api-k${i}`;
    const userId = `${runId}-api-u${i}`;
    const body = JSON.stringify({ productId, userId, quantity: 1 });
    const authorization = `Bearer ${tokens.get(userId)}`;
    let ticket: string | undefined;
    for (;;) {
      if (performance.now() > deadline) return { arrivedMs: arrivedMs ?? Infinity, outcome: "unfinished" };
      const sentMs = performance.now() - start;
      try {
        const res = await request(new URL("/order", base), {
          method: "POST",
          dispatcher: agent,
          headers: { "content-type": "application/json", authorization, "idempotency-key": key, ...(ticket ? { "x-queue-ticket": ticket } : {}) },
          body,
        });
        const reply = (await res.body.json().catch(() => ({}))) as { status?: string; orderId?: string; ticket?: string; etaSeconds?: number | null };
        requests++;
        arrivedMs ??= sentMs;
        firstAnswerMs ??= performance.now() - start - sentMs;
        trail.push(`${res.statusCode}${reply.ticket ? "t" : ""}@${Math.round(sentMs)}+${Math.round(performance.now() - start - sentMs)}`);
        status[res.statusCode] = (status[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200 && reply.orderId) {
          orderIds.add(reply.orderId);
          return ended("bought");
        }
        if (res.statusCode === 409) return ended(reply.status === "limit_reached" ? "limit_reached" : "sold_out");
        if (res.statusCode === 302) {
          ticket = reply.ticket ?? ticket;
          await sleep(Math.min(2_000, Math.max(250, (reply.etaSeconds ?? 1) * 1000)) + Math.random() * 100);
          continue;
        }
        if (res.statusCode >= 500) {
          await sleep(200);
          continue;
        }
        errors++;
        return ended("error");
      } catch {
        networkErrors++;
        await sleep(200);
      }
    }
  }

  const progress = setInterval(() => bar.update(done, { requests }), 500);
  await Promise.all(
    Array.from({ length: s.clients }, (_, i) =>
      client(i).then((b) => {
        buyers.push(b);
        done++;
      }),
    ),
  );
  clearInterval(progress);
  bar.update(done, { requests });
  bar.stop();
  await agent.close();
  const used = Object.fromEntries(commands);
  return summary(
    "API clients",
    s.clients,
    s.stock,
    orderIds.size,
    requests,
    status,
    networkErrors,
    buyers,
    errors,
    totalCommands(commands) - before,
    used,
    (performance.now() - start) / 1000,
  );
}

function summary(
  crowd: string,
  buyers: number,
  stock: number,
  accepted: number,
  requests: number,
  status: Record<string, number>,
  networkErrors: number,
  list: Buyer[],
  errors: number,
  commandCount: number,
  commands: Record<string, number>,
  seconds: number,
): CrowdResult {
  const fivexx = Object.entries(status)
    .filter(([code]) => Number(code) >= 500)
    .reduce((a, [, n]) => a + n, 0);
  return {
    crowd,
    buyers,
    stock,
    accepted,
    requests,
    status,
    fivexx,
    networkErrors,
    inversions: inversions(list),
    ...(inversions(list) ? { inverted: invertedBuyers(list) } : {}),
    ...firstAnswers(list),
    unfinished: list.filter((b) => b.outcome === "unfinished").length,
    errors,
    commands,
    commandsPerRequest: commandCount / Math.max(1, requests),
    seconds,
  };
}

async function browserCrowd(base: URL, productId: string, commands: Map<string, number>, tokens: Map<string, string>): Promise<CrowdResult> {
  const s = settings.browser;
  const before = new Map(commands);
  const buyers: Buyer[] = [];
  const bar = new cliProgress.SingleBar(
    { format: "  browsers     {bar} {value}/{total} done | {requests} requests", hideCursor: true, noTTYOutput: true, notTTYSchedule: 2_000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(s.buyers, 0, { requests: 0 });
  const started = performance.now();
  const result = await runSale({
    base,
    productId,
    buyers: s.buyers,
    arrivalMs: s.arrivalSeconds * 1000,
    pollMs: 1_000,
    connections: s.connections,
    deadlineMs: settings.deadlineSeconds * 1000,
    runId: `${runId}-b`,
    auth: (userId) => ({ authorization: `Bearer ${tokens.get(userId)}` }),
    onBuyer: (b) => buyers.push({ arrivedMs: b.arrivedMs, outcome: b.outcome }),
    onProgress: (finished, requests) => bar.update(finished, { requests }),
  });
  bar.stop();
  const status: Record<string, number> = {};
  for (const kind of Object.values(result.byKind)) for (const [code, n] of Object.entries(kind.status)) status[code] = (status[code] ?? 0) + n;
  const used = Object.fromEntries([...commands].map(([name, n]) => [name, n - (before.get(name) ?? 0)]).filter(([, n]) => Number(n) > 0));
  const count = Object.values(used).reduce((a, b) => Number(a) + Number(b), 0) as number;
  const networkErrors = result.errors.filter((e) => !/^\d{3} |^status \d{3}/.test(e)).length;
  return summary(
    "browser-like",
    s.buyers,
    s.stock,
    new Set(result.orderIds).size,
    result.requests,
    status,
    networkErrors,
    buyers,
    result.outcomes.error,
    count,
    used,
    (performance.now() - started) / 1000,
  );
}

/** The edge the crowds meet. */
interface CrowdEdge {
  url: URL;
  isolates: number;
  description: string;
  /** Every Redis command it sends, by name; undefined when they cannot be counted. */
  commands?: Map<string, number>;
  stop: () => Promise<void>;
}

/** A fresh edge for the bench: the deployable bundle as EDGE_ISOLATES isolates, its Upstash URL through a counter. */
async function countedEdge(stack: StackInfo, vars: Record<string, string>, outDir: string): Promise<CrowdEdge> {
  log("building the edge bundle (wrangler deploy --dry-run) …");
  const built = await buildEdge(join(outDir, "edge-bundle-crowds"));
  const commands = new Map<string, number>();
  const counter = await countingUpstash(stack.bridgeUrl, commands);
  const isolates = edgeIsolates();
  const edge = await startIsolates({
    scriptPath: built.scriptPath,
    isolates,
    bindings: { ...edgeBindings(stack, vars), UPSTASH_REDIS_REST_URL: counter.url },
    logPath: join(outDir, "workerd-crowds.log"),
  });
  return {
    url: edge.url,
    isolates,
    description: `${isolates} edge isolates (the wrangler ${built.wranglerVersion} bundle in one workerd, behind the stack's round-robin, no stickiness)`,
    commands,
    stop: async () => {
      await edge.dispose();
      counter.server.close();
    },
  };
}

/** An edge already running (CROWD_EDGE_URL): it names its isolates in each answer when it is the stack's. */
async function runningEdge(address: string): Promise<CrowdEdge> {
  const url = new URL(address);
  const health = await fetch(new URL("/health", url));
  await health.arrayBuffer();
  if (!health.ok) throw new Error(`${address}/health answered ${health.status}`);
  const isolates = isolateOf(health.headers)?.of ?? 1;
  return { url, isolates, description: `the running edge at ${url.origin} (${isolates} isolate${isolates === 1 ? "" : "s"})`, stop: async () => {} };
}

async function main(): Promise<number> {
  const stack = await ensureStack(log);
  const outDir = join(fluxgateHome(), "bench");
  mkdirSync(outDir, { recursive: true });
  const vars = readDevVars();
  const edge = process.env.CROWD_EDGE_URL ? await runningEdge(process.env.CROWD_EDGE_URL) : await countedEdge(stack, vars, outDir);
  const commands = edge.commands ?? new Map<string, number>();
  log(`edge: ${edge.description} at ${edge.url.origin}${edge.commands ? "" : "; its Redis commands are not counted"}`);
  // Buyers are signed in (the stack's dev issuer) before the crowds arrive, as a shop's customers are.
  log(`signing in ${settings.api.clients + settings.browser.buyers} buyers …`);
  const tokens = await mintTokens(stack.issuer.url, [
    ...Array.from({ length: settings.api.clients }, (_, i) => `${runId}-api-u${i}`),
    ...Array.from({ length: settings.browser.buyers }, (_, i) => `${runId}-b-u${i}`),
  ]);
  const results: CrowdResult[] = [];
  try {
    const api = `${runId}-api`;
    await initSale(edge.url, vars.ADMIN_TOKEN!, { productId: api, quantity: settings.api.stock, ratePerSecond: settings.api.rate, burst: settings.api.burst });
    commands.clear();
    results.push(await apiCrowd(edge.url, api, commands, tokens));
    const browser = `${runId}-browser`;
    await initSale(edge.url, vars.ADMIN_TOKEN!, {
      productId: browser,
      quantity: settings.browser.stock,
      ratePerSecond: settings.browser.rate,
      burst: settings.browser.burst,
    });
    results.push(await browserCrowd(edge.url, browser, commands, tokens));
  } finally {
    await edge.stop();
  }

  const rows: (string | number)[][] = [
    ["crowd", "buyers", "accepted / stock", "requests", "5xx", "network errors", "inversions > 1 s", "unfinished", "edge Redis commands / request"],
  ];
  for (const r of results)
    rows.push([
      r.crowd,
      r.buyers,
      `${r.accepted} / ${r.stock}`,
      r.requests,
      r.fivexx,
      r.networkErrors,
      r.inversions,
      r.unfinished,
      edge.commands
        ? `${r.commandsPerRequest.toFixed(4)} (${Object.entries(r.commands)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")})`
        : "not counted",
    ]);
  console.log(`\n${edge.description}\n`);
  console.log(table(rows));
  const bench: CrowdsBench = {
    at: new Date().toISOString(),
    edge: edge.description,
    isolates: edge.isolates,
    counted: edge.commands !== undefined,
    settings,
    bounds,
    results,
  };
  writeFileSync(join(outDir, "crowds.json"), JSON.stringify(bench, null, 2));
  const [api, browser] = results as [CrowdResult, CrowdResult];
  const failures = [
    ...results.flatMap((r) =>
      held(r)
        ? []
        : [
            `${r.crowd}: ${r.accepted} accepted for ${r.stock} units; ${r.fivexx} 5xx, ${r.networkErrors} network errors, ${r.unfinished} unfinished, ${r.inversions} inversions, ${r.errors} other answers (${JSON.stringify(r.status)})`,
          ],
    ),
    ...(edge.commands && api.commandsPerRequest > bounds.apiCommandsPerRequest
      ? [`API clients: ${api.commandsPerRequest.toFixed(4)} commands/request > ${bounds.apiCommandsPerRequest}`]
      : []),
    ...(edge.commands && browser.commandsPerRequest > bounds.browserCommandsPerRequest
      ? [`browser-like: ${browser.commandsPerRequest.toFixed(4)} commands/request > ${bounds.browserCommandsPerRequest}`]
      : []),
  ];
  for (const f of failures) console.log(`FAIL ${f}`);
  if (!failures.length)
    console.log(
      `OK: exactly the stock, no 5xx, no network errors, no inversions, nobody left hanging${edge.commands ? ", commands within bounds" : " (commands not counted)"}`,
    );
  return failures.length ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
