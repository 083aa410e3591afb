/**
 * `npm run bench:edge` — the edge benchmark.
 *
 * The edge worker is bundled with the pinned wrangler (`deploy --dry-run`, offline) and run on
 * workerd through the Miniflare API as EDGE_ISOLATES isolates (4) behind the stack's round-robin
 * router (no `wrangler dev` proxy in the request path), wired to the running local stack's
 * bridge (→ redis-server) and origin. The load generator is `wrk` (C, one thread by default):
 * autocannon in this Node process topped out near 2,000 requests/s, below a hello world on
 * workerd, so it measured itself (issue 24). Every window prints wrk's CPU beside its figure; a
 * ratio is refused when the generator was saturated (bench/saturation.ts).
 *
 *  1. hello world   an inline worker behind the same router and isolates, sent the very requests
 *                   of the sold-out path (the generator does the same work): the ceiling
 *  2. sold-out      POST /order on a sale with no stock: answered from isolate memory
 *  2b. floors       hello world plus one REST call (PING) to the same bridge (the gate path's
 *                   subrequest), and plus that and a GET of the origin's /health (the accepted
 *                   path's two): what the runtime's subrequests cost before any code of ours
 *  3. gate          a newcomer while a line waits (a tiny rate, a non-empty queue): one EVALSHA
 *                   per request, 302 + ticket
 *  4. accepted      huge stock: one EVALSHA per request, 200, and the forward to the origin
 *  5. whole sale    SALE_STOCK units, SALE_BUYERS browser-like buyers (order → waiting room →
 *                   poll status → order again), run to the end (undici, bounded pool)
 *
 * 1-4 run in BENCH_ROUNDS alternating rounds, signed in (IDENTITY=jwt, the default: a token of
 * the stack's dev issuer per buyer, a fresh Idempotency-Key per request) and, for reference,
 * IDENTITY=anonymous; each path's median round is compared with hello world's. CPU per process
 * from /proc over each run's steady part (bench/cpu.ts): workerd's CPU per request, wrk's, and
 * which process was at 100% (bench/saturation.ts).
 *
 * Redis: `INFO commandstats` deltas read from redis-server itself (bench/redis-stats.ts), and the
 * bill (bench/bill.ts): every command naming each path's own sale keys, by the connection that
 * sent it. wrk runs for a duration: the requests in flight when it stops (≤ one per connection)
 * still reach the edge, so a path's commands are compared with [answered, sent].
 *
 * Prints a table on stdout (progress on stderr), writes .fluxgate/bench/edge.json. Exit code 1
 * only for a correctness failure (oversell, a duplicated order); other misses print ❌.
 *
 * Settings (environment): BENCH_SECONDS (5) per flood, BENCH_ROUNDS (3), BENCH_CONNECTIONS (32),
 * BENCH_EDGE_PROCESSES (1; 2 = the isolates split over two workerd processes, wrk's threads
 * spread over them), BENCH_WRK_THREADS (= processes), BENCH_MONITOR (1; 0 = commandstats only),
 * BENCH_SALE (1; 0 = no whole sale), SALE_BUYERS (10000), SALE_STOCK (500), SALE_RATE (200
 * admissions/s), SALE_BURST (20), SALE_ARRIVAL_SECONDS (3), SALE_CONNECTIONS (64),
 * SALE_DEADLINE_SECONDS (60).
 */
import { mkdirSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { forgetSales, OUTBOXES_KEY, saleKeys } from "@fluxgate/common";
import { edgeIsolates } from "@fluxgate/stack";
import cliProgress from "cli-progress";
import { BillMeter } from "./bench/bill";
import { cpuBetween, sampleCpu } from "./bench/cpu";
import { call, edgeBindings, initSale } from "./bench/edge-api";
import { buildEdge, luaCommandsIn, startIsolates, type RunningIsolates } from "./bench/edge-bundle";
import { orderRequest, PATH_SALES, type Identity, type PathName } from "./bench/edge-floods";
import { ONE_CALL, TWO_CALLS, report, type EdgeBenchSettings, type PathResult, type RedisWindow, type SaleRun } from "./bench/edge-report";
import { ensureStack, fluxgateHome, intEnv, readDevVars } from "./bench/env";
import { codeVersion } from "./bench/git";
import { mintTokens } from "./bench/identity";
import { monitorAvailable } from "./bench/monitor";
import { CommandStats, GATE_COMMANDS, WAITING_ROOM_COMMANDS } from "./bench/redis-stats";
import { runSale } from "./bench/sale";
import { generatorUse } from "./bench/saturation";
import { fmtInt } from "./bench/table";
import { requireWrk, runWrk } from "./bench/wrk";
import type { WrkBuyer, WrkRequest } from "./bench/wrk-script";

const processes = Math.max(1, intEnv("BENCH_EDGE_PROCESSES", 1));
const settings: EdgeBenchSettings = {
  seconds: intEnv("BENCH_SECONDS", 5),
  /** Alternating rounds of every path (odd: the median is one of them). */
  rounds: intEnv("BENCH_ROUNDS", 3),
  warmupSeconds: 1,
  connections: intEnv("BENCH_CONNECTIONS", 32),
  isolates: edgeIsolates(),
  processes,
  threads: Math.max(1, intEnv("BENCH_WRK_THREADS", processes)),
  sale: {
    enabled: process.env.BENCH_SALE !== "0",
    buyers: intEnv("SALE_BUYERS", 10_000),
    stock: intEnv("SALE_STOCK", 500),
    rate: intEnv("SALE_RATE", 200),
    // A real crowd empties any burst within milliseconds of opening; one workerd on 2 cores cannot
    // bring arrivals to the gate that fast, and with the default burst (= rate) the whole stock
    // can sell before a line ever forms. A small burst keeps this the oversubscribed, queued sale
    // it is meant to be.
    burst: intEnv("SALE_BURST", 20),
    arrivalSeconds: intEnv("SALE_ARRIVAL_SECONDS", 3),
    connections: intEnv("SALE_CONNECTIONS", 64),
    deadlineSeconds: intEnv("SALE_DEADLINE_SECONDS", 60),
    pollMs: 1_000,
  },
};
/** Buyers each flood rotates over: enough that no per-buyer limit (1,000 on the accepted sale) is reached. */
const POOL = 1_000;
/** The two buyers who form the gate sale's line before its flood (seedQueue). */
const SEED_POOL = 2;

const outDir = join(fluxgateHome(), "bench");
mkdirSync(outDir, { recursive: true });
const runId = `b${Date.now().toString(36)}`;
const log = (line: string) => process.stderr.write(`${line}\n`);
const startedAt = Date.now();

// ---------------------------------------------------------------- measuring

interface Context {
  stats: CommandStats;
  redisUrl: string;
  monitor: boolean;
  redisPid: number | undefined;
}

/** Runs `work` between two INFO commandstats snapshots (and a MONITOR capture for `productIds`). */
async function redisWindow<T>(
  ctx: Context,
  edgeCommands: readonly string[],
  productIds: string[],
  label: string,
  work: () => Promise<T>,
): Promise<{ result: T; redis: RedisWindow }> {
  // The edge's commands are those its connections (the bridge's) send, whatever the command: an extra one shows.
  const meter = ctx.monitor && productIds.length ? await BillMeter.start(ctx.redisUrl, outDir, label, productIds) : undefined;
  try {
    const { result, usage } = await ctx.stats.around(edgeCommands, async () => {
      const r = await work();
      // Requests still in flight when the load generator stopped reach Redis a moment later.
      await sleep(300);
      return r;
    });
    let mine: RedisWindow["mine"];
    if (meter) {
      const bill = await meter.stop();
      const origin: Record<string, number> = {};
      for (const component of ["forward", "relay"] as const) {
        for (const [name, n] of Object.entries(bill.byCommand[component])) origin[`${component}:${name}`] = n;
      }
      mine = { edge: bill.byCommand.edge, total: bill.commands.edge, origin, originTotal: bill.commands.forward + bill.commands.relay };
    }
    return { result, redis: { usage, mine } };
  } catch (error) {
    await meter?.stop().catch(() => undefined);
    throw error;
  }
}

/** EDGE_ISOLATES isolates, in BENCH_EDGE_PROCESSES workerd processes (each its own router over its share). */
interface Edge {
  url: URL;
  /** Each process's port, when there are several (wrk's threads are spread over them). */
  ports: number[] | undefined;
  dispose: () => Promise<void>;
}

async function startEdge(o: Omit<Parameters<typeof startIsolates>[0], "isolates">): Promise<Edge> {
  const running: RunningIsolates[] = [];
  const per = Math.max(1, Math.round(settings.isolates / settings.processes));
  for (let i = 0; i < settings.processes; i++) running.push(await startIsolates({ ...o, isolates: per }));
  return {
    url: running[0]!.url,
    ports: settings.processes > 1 ? running.map((r) => Number(r.url.port)) : undefined,
    dispose: async () => {
      await Promise.all(running.map((r) => r.dispose()));
    },
  };
}

interface Flood {
  name: PathResult["name"];
  identity: Identity | "-";
  description: string;
  edge: Edge;
  /** The path's sale: its Redis commands are counted (none for hello world). */
  productId: string | undefined;
  request: WrkRequest;
}

async function measure(ctx: Context, f: Flood, tag: string): Promise<PathResult> {
  const wrk = { connections: settings.connections, threads: settings.threads, redisPid: ctx.redisPid, ...(f.edge.ports ? { ports: f.edge.ports } : {}) };
  // Warm-up (not measured): JIT, connections, and for the sold-out path the isolates' memory.
  await runWrk(f.edge.url, f.request, { ...wrk, seconds: settings.warmupSeconds });
  await sleep(300);
  const label = `${f.name}-${f.identity}`.replace(/\W+/g, "-");
  const { result: run, redis } = await redisWindow(ctx, f.productId ? GATE_COMMANDS : [], f.productId ? [f.productId] : [], label, () =>
    runWrk(f.edge.url, f.request, { ...wrk, seconds: settings.seconds }),
  );
  // hello world has no Redis binding at all: whatever redis did meanwhile was someone else.
  const commands = f.productId ? (redis.mine?.total ?? redis.usage.edge) : 0;
  const generator = generatorUse(run.cpu, run.threads);
  const workerd = run.cpu.peak["workerd (bench)"] ?? 0;
  log(
    `${tag} ${`${f.name} (${f.identity})`.padEnd(22)} ${fmtInt(run.result.rps).padStart(6)} req/s  wrk ${generator.cores.toFixed(2)}/${generator.threads} core${generator.saturated ? " SATURATED" : ""}  ` +
      `workerd ${workerd.toFixed(2)}  codes ${JSON.stringify(run.result.statusCodes)}`,
  );
  return {
    name: f.name,
    identity: f.identity,
    description: f.description,
    load: run.result,
    cpu: run.cpu,
    generator,
    redis,
    commands,
    commandsPerRequest: commands / Math.max(1, run.result.requests),
    rounds: [run.result.rps],
  };
}

/** The round with the median throughput (of an odd number of rounds), all its figures kept together, every round's rate listed. */
function medianRound(rounds: PathResult[]): PathResult {
  const sorted = [...rounds].sort((a, b) => a.load.rps - b.load.rps);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return { ...median, rounds: rounds.map((r) => r.load.rps) };
}

/** Makes the gate sale's line non-empty: the first order takes the only token, the second queues. */
async function seedQueue(edge: Edge, productId: string, identity: Identity, buyers: readonly WrkBuyer[]): Promise<void> {
  const statuses: number[] = [];
  for (const b of buyers) {
    const r = await call(edge.url, "/order", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "idempotency-key": `${runId}-seed-${b.sub}`,
        ...(identity === "jwt" ? { authorization: `Bearer ${b.token}` } : {}),
      },
      body: JSON.stringify(identity === "jwt" ? { productId } : { productId, userId: b.sub }),
    });
    statuses.push(r.status);
  }
  if (statuses.join() !== "200,302") throw new Error(`gate path setup: expected 200 then 302, got ${statuses.join(", ")}`);
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  requireWrk();
  const version = codeVersion();
  const loadAtStart = loadavg();
  log(
    `edge bench ${runId}: ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"}), load average ${loadAtStart.map((x) => x.toFixed(2)).join(" ")}; ` +
      `${settings.isolates} isolates in ${settings.processes} workerd process(es), wrk ${settings.threads} thread(s) × ${settings.connections} connections`,
  );
  const stack = await ensureStack(log);
  const vars = readDevVars();
  const admin = vars.ADMIN_TOKEN!;

  const t0 = performance.now();
  const built = await buildEdge(join(outDir, "edge-bundle"));
  const buildMs = Math.round(performance.now() - t0);
  log(`built with wrangler ${built.wranglerVersion} in ${buildMs} ms`);

  const lua = luaCommandsIn(built.scriptPath);
  const stats = new CommandStats(stack.redisUrl, lua);
  const ctx: Context = {
    stats,
    redisUrl: stack.redisUrl,
    monitor: process.env.BENCH_MONITOR !== "0" && monitorAvailable(),
    redisPid: await stats.serverPid().catch(() => undefined),
  };
  const logPath = join(outDir, "workerd.log");

  // Background: what redis does while nobody benches (other clients pollute the counts).
  const idle = await stats.around([], () => sleep(2_000));
  const backgroundPerSecond = (idle.usage.foreignTotal + idle.usage.foreignInfo) / 2;
  const originBackgroundPerSecond = idle.usage.originTotal / 2;
  const registeredOutboxes = await stats
    .raw()
    .scard(OUTBOXES_KEY)
    .catch(() => NaN);

  // The buyers sign in before the drop, as a shop's customers do: minting is outside every window.
  const subs = Array.from({ length: POOL }, (_, i) => `${runId}-b${i}`);
  const seedSubs = Array.from({ length: SEED_POOL }, (_, i) => `${runId}-s${i}`);
  const tokens = await mintTokens(stack.issuer.url, [...subs, ...seedSubs]);
  const pool = (list: string[], identity: Identity): WrkBuyer[] => list.map((sub) => ({ sub, token: identity === "jwt" ? tokens.get(sub)! : "" }));

  const identities: Identity[] = ["jwt", "anonymous"];
  const edges = new Map<Identity, Edge>();
  const hello = await startEdge({ script: `export default { fetch() { return new Response("hello world") } }`, logPath });
  // The floor of one Redis call: the runtime's subrequest to the same bridge, with no code of ours around it.
  const oneCall = await startEdge({
    script: `export default { async fetch(request, env) {
      const reply = await fetch(env.UPSTASH_REDIS_REST_URL, { method: "POST", headers: { authorization: "Bearer " + env.UPSTASH_REDIS_REST_TOKEN }, body: '["PING"]' });
      return new Response(await reply.text(), { status: reply.status });
    } }`,
    bindings: { UPSTASH_REDIS_REST_URL: stack.bridgeUrl, UPSTASH_REDIS_REST_TOKEN: stack.bridgeToken },
    logPath,
  });
  // The accepted path's floor: that call, then one to the origin (as its forward does).
  const twoCalls = await startEdge({
    script: `export default { async fetch(request, env) {
      const reply = await fetch(env.UPSTASH_REDIS_REST_URL, { method: "POST", headers: { authorization: "Bearer " + env.UPSTASH_REDIS_REST_TOKEN }, body: '["PING"]' });
      const text = await reply.text();
      const origin = await fetch(env.ORIGIN_URL + "/health");
      await origin.arrayBuffer();
      return new Response(text, { status: reply.status });
    } }`,
    bindings: { UPSTASH_REDIS_REST_URL: stack.bridgeUrl, UPSTASH_REDIS_REST_TOKEN: stack.bridgeToken, ORIGIN_URL: stack.originUrl },
    logPath,
  });
  const products: string[] = [];
  const product = (name: string) => {
    const p = `${runId}-${name}`;
    products.push(p);
    return p;
  };
  let helloResult: PathResult;
  const paths: PathResult[] = [];
  let sale: SaleRun | undefined;
  try {
    const floods: Flood[] = [];
    for (const identity of identities) {
      const edge = await startEdge({ scriptPath: built.scriptPath, bindings: edgeBindings(stack, vars, identity), logPath });
      edges.set(identity, edge);
      const health = await call(edge.url, "/health");
      if (health.status !== 200) throw new Error(`edge /health answered ${health.status}: ${JSON.stringify(health.body)}`);
      const id = identity === "jwt" ? "j" : "a";
      const sales: Record<PathName, string> = {
        soldOut: product(`${id}-soldout`),
        gate: product(`${id}-gate`),
        accepted: product(`${id}-accepted`),
      };
      for (const [path, productId] of Object.entries(sales)) await initSale(edge.url, admin, { productId, ...PATH_SALES[path as PathName] });
      await seedQueue(edge, sales.gate, identity, pool(seedSubs, identity));
      const buyers = pool(subs, identity);
      const soldOutRequest = orderRequest(sales.soldOut, identity, buyers, `${runId}-${id}so`);
      const gateRequest = orderRequest(sales.gate, identity, buyers, `${runId}-${id}ga`);
      if (identity === "jwt") {
        floods.push({
          name: "hello world",
          identity: "-",
          description: "inline worker; sent the sold-out path's requests",
          edge: hello,
          productId: undefined,
          request: soldOutRequest,
        });
        floods.push({
          name: ONE_CALL,
          identity: "-",
          description: "inline worker: one REST call (PING) to the same bridge per request; sent the gate path's requests",
          edge: oneCall,
          productId: undefined,
          request: gateRequest,
        });
        floods.push({
          name: TWO_CALLS,
          identity: "-",
          description: "inline worker: that REST call, then a GET of the origin's /health; sent the accepted path's requests",
          edge: twoCalls,
          productId: undefined,
          request: orderRequest(sales.accepted, identity, buyers, `${runId}-${id}fl`),
        });
      }
      floods.push(
        {
          name: "sold-out",
          identity,
          description: "POST /order, sale with quantity 0: 409 from isolate memory",
          edge,
          productId: sales.soldOut,
          request: soldOutRequest,
        },
        {
          name: "gate",
          identity,
          description: "POST /order by a newcomer while a line waits: 1 EVALSHA, 302 + ticket",
          edge,
          productId: sales.gate,
          request: gateRequest,
        },
        {
          name: "accepted",
          identity,
          description: "POST /order, huge stock: 1 EVALSHA, 200, forwarded to the origin",
          edge,
          productId: sales.accepted,
          request: orderRequest(sales.accepted, identity, buyers, `${runId}-${id}ac`),
        },
      );
    }

    // Alternating rounds, so that a path and the hello world it is compared with share the machine's moods.
    const results = new Map<Flood, PathResult[]>();
    for (let round = 0; round < settings.rounds; round++) {
      for (const f of floods) results.set(f, [...(results.get(f) ?? []), await measure(ctx, f, `[round ${round + 1}/${settings.rounds}]`)]);
    }
    helloResult = medianRound(results.get(floods[0]!)!);
    for (const f of floods.slice(1)) paths.push(medianRound(results.get(f)!));
    await hello.dispose();
    await oneCall.dispose();
    await twoCalls.dispose();

    if (settings.sale.enabled) sale = await wholeSale(ctx, edges.get("anonymous")!, admin, product("sale"));
  } finally {
    await hello.dispose().catch(() => undefined);
    await oneCall.dispose().catch(() => undefined);
    await twoCalls.dispose().catch(() => undefined);
    for (const edge of edges.values()) await edge.dispose().catch(() => undefined);
  }

  // Tidy up like the edge's tests do: the bench's sales leave no keys, and their outboxes leave the
  // relay's registry (once the origin confirmed what was forwarded, or after 5 s).
  const redis = stats.raw();
  const saleKeySets = products.map((p) => saleKeys(p));
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await sleep(250)) {
    const lengths = await Promise.all(saleKeySets.map((k) => redis.xlen(k.outbox).catch(() => 0)));
    if (lengths.every((n) => n === 0)) break;
  }
  await forgetSales(redis, products).catch(() => undefined);
  await stats.close();

  return report(
    { settings, runId, startedAt, outDir, version, loadAtStart },
    {
      built,
      buildMs,
      backgroundPerSecond,
      originBackgroundPerSecond,
      registeredOutboxes,
      idle: idle.usage,
      hello: helloResult,
      paths,
      sale,
      monitor: ctx.monitor,
    },
  );
}

/** The whole oversubscribed sale, on the anonymous edge (its Redis commands per request are the gate's own, not identity's). */
async function wholeSale(ctx: Context, edge: Edge, admin: string, productId: string): Promise<SaleRun> {
  const s = settings.sale;
  const saleId = await initSale(edge.url, admin, { productId, quantity: s.stock, ratePerSecond: s.rate, burst: s.burst, ticketTtlSeconds: 60 });
  const sb = new cliProgress.SingleBar(
    { format: `whole sale |{bar}| {value}/{total} buyers done  {info}`, hideCursor: true, noTTYOutput: true, notTTYSchedule: 2_000, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  sb.start(s.buyers, 0, { info: "" });
  const a = sampleCpu();
  const measured = await redisWindow(ctx, WAITING_ROOM_COMMANDS, [productId], "sale", () =>
    runSale({
      base: edge.url,
      productId,
      buyers: s.buyers,
      arrivalMs: s.arrivalSeconds * 1000,
      pollMs: s.pollMs,
      connections: s.connections,
      deadlineMs: s.deadlineSeconds * 1000,
      runId: `${runId}-s`,
      onProgress: (finished, requests) => sb.update(finished, { info: `${fmtInt(requests)} edge requests` }),
    }),
  );
  const cpu = cpuBetween(a, sampleCpu(), ctx.redisPid);
  sb.stop();
  const sales = (await call(edge.url, `/sales/${productId}`)).body;
  const commands = measured.redis.mine?.total ?? measured.redis.usage.edge;
  return { result: measured.result, redis: measured.redis, commands, cpu, sales, saleId };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`\nbench:edge failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
