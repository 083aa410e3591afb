/**
 * npm run demo: a whole flash sale in one command, on the local stack. A crowd of signed-in
 * people that behaves like browsers (and solves the sale's proof-of-work challenge) buys through
 * the edge, beside a bot fleet that tries without valid tokens or without solving, a scalper (one
 * signed-in account with 50 keys following the queue like a browser) and a bill-attack fleet
 * (floods of requests that can never buy: load/src/attack); mid-sale the worker is killed (kill -9)
 * and brought back, and the operator pauses the sale for a moment; once it sells out the operator
 * adds stock for the people still in line. Then the pipeline drains, the audit checks every layer,
 * and a report with charts is written. Exits 0 only when nothing was oversold, lost or duplicated,
 * nothing was accepted while paused, bots bought nothing and cost Redis nothing, the scalper held
 * no more than its limit, and every attack cost at most its target per request.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { Redis } from "ioredis";
import { saleKeys } from "@fluxgate/common";
import { join } from "node:path";
import cliProgress from "cli-progress";
import { audit, auditClean, checkDraw, ensureDevVars, fetchPublishedDraw, isolateOf, stackConfig, up, type AuditReport } from "@fluxgate/stack";
import { crowd as scenario, productIdFor } from "../scenarios.js";
import { intEnv } from "./bench/env";
import { killAndRestartWorker } from "./kill-worker";
import { runSale, type RequestRecord, type SaleResult } from "./bench/sale";
import { BillMeter } from "./bench/bill";
import { BOT_PREFIX, runBotFleet } from "./bench/bots";
import { mintToken, mintTokens, solveInNode } from "./bench/identity";
import { MonitorCapture, monitorAvailable } from "./bench/monitor";
import {
  adversariesVerdict,
  adversaryRows,
  BILL_HEADER,
  billRows,
  botRows,
  controlsTable,
  cpuNote,
  holdsSummary,
  holdsVerdict,
  isToldPaused,
  latencyTable,
  outcomeTable,
  renderDemoReport,
  steeringClean,
  type DemoRun,
} from "./report/demo-report";
import { cpuBetween, sampleCpu } from "./bench/cpu";
import { ATTACK_TARGET_PER_REQUEST, attackRoutes, billBursts, cleanUpAttack, prepareAttack, runAttackFleet, runTabs, type AttackTarget } from "./attack";
import { redisServerPid } from "./bench/redis-pid";
import { table } from "./bench/table";
import { DemoOperator, type DemoEvent } from "./demo-steering";
import { DemoShop, readHoldHistory, until } from "./demo-holds";
import type { Buyer } from "./bench/sale";

const config = stackConfig();
const runId = Date.now().toString(36);
const settings = {
  stock: intEnv("DEMO_STOCK", scenario.stock),
  // 10× the stock: the crowd, the edge and the whole pipeline share this machine's 2 cores (DEMO_BUYERS=20000 for 20×).
  buyers: intEnv("DEMO_BUYERS", scenario.stock * 10),
  ratePerSecond: intEnv("DEMO_RATE", scenario.ratePerSecond),
  // Twice the k6 crowd's arrival window: a deployed edge scales out, one workerd on 2 shared cores does not.
  arrivalSeconds: intEnv("DEMO_ARRIVAL_SECONDS", scenario.arrivalSeconds * 2),
  connections: intEnv("DEMO_CONNECTIONS", 64),
  /** Kill the worker once this share of the stock is sold. */
  killAtSoldShare: 0.3,
  /** ...and bring it back this much later. */
  downForMs: 3_000,
  /** The operator pauses the sale once this share of the stock is sold... */
  pauseAtSoldShare: 0.6,
  /** ...for this long (nothing may be accepted meanwhile; nobody loses their place). */
  pauseForMs: 3_000,
  /** Units the operator adds once the sale sells out: 5% of the stock, at least 5. */
  restockUnits: Math.max(5, Math.round(intEnv("DEMO_STOCK", scenario.stock) * 0.05)),
  /** After the drain, how long the bill of an idle system is measured. */
  idleSeconds: intEnv("DEMO_IDLE_SECONDS", 30),
  /** Proof-of-work bits each fresh attempt must bring (2^bits SHA-256 on average; the people solve it). */
  powDifficulty: intEnv("DEMO_POW_DIFFICULTY", 10),
  /** Bot requests beside the people: 20× the stock, twice the people (DEMO_BOT_REQUESTS; this machine's cores are shared). */
  botRequests: intEnv("DEMO_BOT_REQUESTS", scenario.stock * 20),
  /** Accounts the bots hold real tokens for (they skip the challenge, or fake it). */
  botAccounts: 100,
  /** The scalper's Idempotency-Keys: one signed-in account, one tab each, all following the queue. */
  scalperKeys: intEnv("DEMO_SCALPER_KEYS", 50),
  /**
   * Requests per bill-attack route, each route flooded in turn during the crowd, as fast as the
   * shared cores let it (DEMO_ATTACK_REQUESTS). The edge spends about a command per isolate per second
   * on a flood whatever its rate: beside the crowd the floods are slow, so they are judged by that too.
   */
  attackRequests: intEnv("DEMO_ATTACK_REQUESTS", 500),
  /**
   * DEMO_PREQUEUE=1: the sale opens a pre-queue as the crowd starts arriving and starts once
   * DEMO_PREQUEUE_SHARE (0.6) of the arrival window has passed: those earlier get their places by
   * the lottery, the rest queue behind them; the report checks the draw against the commitment.
   */
  prequeue: process.env.DEMO_PREQUEUE === "1",
  prequeueShare: Number(process.env.DEMO_PREQUEUE_SHARE ?? 0.6),
  /** Each accepted order is held this long for payment (DEMO_HOLD_SECONDS; 0: accepted is final). */
  holdSeconds: intEnv("DEMO_HOLD_SECONDS", 4),
  /** The share of the buyers who get a hold and never pay (DEMO_NO_SHOW): their units go back to the line. */
  noShow: Number(process.env.DEMO_NO_SHOW ?? 0.2),
  /** After the crowd, how long the demo keeps people coming until every unit is paid for. */
  settleSeconds: intEnv("DEMO_SETTLE_SECONDS", 120),
};

async function main(): Promise<number> {
  console.log("Flux-Gate demo: bringing the stack up …");
  const state = await up(config, (line) => console.log(`  ${line}`));
  // The stack's edge: the deployable bundle on workerd, EDGE_ISOLATES isolates behind a round-robin.
  const edge = new URL(state.edge.url);
  const devVars = ensureDevVars();
  const adminToken = devVars.get("ADMIN_TOKEN")!;
  const productId = productIdFor(scenario, runId);
  const billDir = join(config.home.root, "demo");
  mkdirSync(billDir, { recursive: true });

  // Everyone signs in before the sale opens (a pre-queue's start is fixed at /init).
  console.log(`Signing in ${settings.buyers.toLocaleString("en")} people and ${settings.botAccounts} bot accounts with the dev issuer …`);
  const people = await mintTokens(
    state.issuer.url,
    Array.from({ length: settings.buyers }, (_, i) => `${runId}-u${i}`),
  );
  const botSubs = Array.from({ length: settings.botAccounts }, (_, i) => `${BOT_PREFIX}${runId}-acct${i}`);
  const botTokens = [...(await mintTokens(state.issuer.url, botSubs)).values()];
  const expiredTokens = await Promise.all(botSubs.slice(0, 10).map((sub) => mintToken(state.issuer.url, sub, { ttlSeconds: -60 })));
  // The scalper is a customer account like any other (its commands are not the bots'); the attackers set up their ground.
  const scalperSub = `scalper-${runId}`;
  const scalperToken = await mintToken(state.issuer.url, scalperSub);
  const attackTarget: AttackTarget = { edge, adminToken, issuer: state.issuer.url, redisUrl: state.redis.url, runId: `d${runId}` };
  const fixtures = await prepareAttack(attackTarget);
  const routes = attackRoutes(fixtures);

  const meter = monitorAvailable() ? await BillMeter.start(state.redis.url, billDir, "sale") : undefined;
  // The crowd starts arriving a moment after /init (the sale page's visits below); a pre-queue opens now and
  // the sale starts part-way through the arrivals.
  const prequeueWindow = settings.prequeue
    ? {
        prequeueOpensAt: new Date().toISOString(),
        startsAt: new Date(Date.now() + 2_000 + settings.arrivalSeconds * 1000 * settings.prequeueShare).toISOString(),
      }
    : {};

  const init = await fetch(new URL("/init", edge), {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({
      productId,
      quantity: settings.stock,
      ratePerSecond: settings.ratePerSecond,
      burst: Math.max(1, Math.round(settings.ratePerSecond / 10)),
      powDifficulty: settings.powDifficulty,
      holdSeconds: settings.holdSeconds,
      ...prequeueWindow,
    }),
  });
  if (init.status !== 200) throw new Error(`POST /init answered ${init.status}: ${await init.text()}`);
  // The commitment as published before anyone could enter: what the draw is checked against afterwards.
  const { commitment } = (await init.clone().json()) as { commitment?: string };
  const isolates = isolateOf(init.headers)?.of ?? 1;
  console.log(
    `\nSale ${productId}: ${settings.stock.toLocaleString("en")} units, ${settings.buyers.toLocaleString("en")} buyers ` +
      `(${Math.round(settings.buyers / settings.stock)}× the stock) arriving over ${settings.arrivalSeconds} s, admitted at ${settings.ratePerSecond}/s, through ${edge.origin} (${isolates} edge isolates, round-robin)\n`,
  );

  if (settings.prequeue) console.log(`Pre-queue open now; the sale starts at ${prequeueWindow.startsAt} and draws the places (commitment ${commitment}).\n`);
  // Every Redis command of the sale, to tell which a bot caused (their subs start with BOT_PREFIX).
  const monitor = monitorAvailable() ? await MonitorCapture.start(state.redis.url, join(config.home.root, "demo", `monitor-${runId}.log`)) : undefined;

  // The shop's backend: it confirms the payment of each hold but the no-shows'.
  const shop = new DemoShop(edge, devVars.get("SHOP_API_TOKEN")!, productId, settings);
  const onHold = (b: Buyer) => {
    if (b.orderId && b.holdExpiresAt !== undefined) shop.accepted(b.orderId, b.holdExpiresAt);
  };
  const records: RequestRecord[] = [];
  const samples: DemoRun["samples"] = [];
  const events: DemoEvent[] = [];
  const buyers = new Map<string, Buyer>();
  const started = performance.now();
  const startedAtMs = Date.now();
  const since = () => Math.round(performance.now() - started);
  let sold = 0;
  let chaos: Promise<void> | undefined;
  const operator = new DemoOperator(edge, adminToken, productId, since, events);
  let pausing: Promise<void> | undefined;
  let restocking: Promise<void> | undefined;

  // The sale as the operator sees it, twice a second; it also decides when to pull the plug.
  // The sale page, as the shop shows it before the drop, once on every isolate: an isolate learns
  // the sale's settings (its proof-of-work difficulty) from it, so the crowd's first attempts on
  // each are challenged from memory. An isolate that has never seen the sale spends one Redis
  // command on the first attempt it gets, whoever sends it.
  for (let i = 0; i < isolates; i++) await (await fetch(new URL(`/sales/${productId}`, edge))).arrayBuffer();

  // The scalper comes once a line has formed (100 people waiting: the first to arrive would simply buy): its keys then take places in it.
  let lineFormed!: () => void;
  const lineForms = new Promise<void>((resolve) => (lineFormed = resolve));
  const sampler = setInterval(() => {
    void fetch(new URL(`/sales/${productId}`, edge))
      .then((r) => r.json() as Promise<{ remaining: number; queued: number; sold: number }>)
      .then((s) => {
        samples.push({ t: since(), remaining: s.remaining, queued: s.queued });
        sold = s.sold;
        if (s.queued >= 100) lineFormed();
        if (!chaos && sold >= settings.stock * settings.killAtSoldShare) chaos = killAndRestartWorker(config, events, since, settings.downForMs);
        if (!pausing && sold >= settings.stock * settings.pauseAtSoldShare) pausing = operator.pauseFor(settings.pauseForMs);
      })
      .catch(() => undefined);
  }, 500);

  const bar = new cliProgress.SingleBar(
    { format: "  crowd  {bar} {percentage}% | {value}/{total} buyers done | {requests} requests | sold {sold}/{stock} | {event}", hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(settings.buyers, 0, { requests: 0, sold: 0, stock: settings.stock, event: "" });
  // Who burnt the CPU while the crowd ran: the demo's own clients (this process) vs the stack.
  const cpu0 = sampleCpu();
  const bots = runBotFleet({
    base: edge,
    productId,
    requests: settings.botRequests,
    arrivalMs: settings.arrivalSeconds * 1000,
    connections: Math.max(8, Math.round(settings.connections / 2)),
    accountTokens: botTokens,
    expiredTokens,
    issuer: state.issuer.url,
    audience: state.issuer.audience,
    runId,
  });
  const scalper = lineForms.then(() =>
    runTabs({
      base: edge,
      productId,
      token: scalperToken,
      keys: Array.from({ length: settings.scalperKeys }, (_, i) => `${scalperSub}-k${i}`),
      pollMs: scenario.pollSeconds * 1000,
      deadlineMs: 300_000,
      connections: 16,
      solve: solveInNode,
    }),
  );
  const attack = runAttackFleet(edge, routes, { requests: settings.attackRequests, connections: 16, startDelayMs: 1_000 });
  const result = await runSale({
    base: edge,
    auth: (userId) => ({ authorization: `Bearer ${people.get(userId)}` }),
    solve: solveInNode,
    productId,
    buyers: settings.buyers,
    arrivalMs: settings.arrivalSeconds * 1000,
    pollMs: scenario.pollSeconds * 1000,
    connections: settings.connections,
    deadlineMs: 300_000,
    runId,
    onRequest: (r) => {
      records.push(r);
      // The first "sold out" anyone is told: the operator adds stock while people still wait in line. With
      // holds, "sold out" is final only once every unit is paid for and the line has gone home: the
      // operator adds stock at the first "sold out for now" (every unit free is held), while it waits.
      if (!restocking && (r.outcome === "sold_out" || r.soldOutForNow)) restocking = operator.restock(settings.restockUnits);
    },
    onBuyer: (b) => {
      buyers.set(`${runId}-u${b.index}`, b);
      onHold(b);
    },
    onProgress: (finished, requests) => bar.update(finished, { requests, sold, event: events.at(-1)?.label ?? "" }),
  });
  const fleet = await bots;
  // The sale is over: a tab still waiting (on standby when it sold out, say) stops here.
  lineFormed();
  (await scalper).stop();
  const [scalperTabs, bursts] = await Promise.all([(await scalper).done, attack]);
  await Promise.all([pausing, restocking]);
  const latecomers = settings.holdSeconds > 0 ? await sellEveryUnit(state, productId, shop, onHold, records) : undefined;
  const cpu = cpuBetween(cpu0, sampleCpu(), await redisServerPid(state.redis.url));
  clearInterval(sampler);
  bar.stop();
  // The kill is part of what the demo proves: a demo where it did not happen says so and fails.
  const killed = await (
    chaos ??
    Promise.reject(
      new Error(`the worker was never killed: the sale sold ${sold} of ${settings.stock}, short of the ${settings.killAtSoldShare * 100}% that triggers it`),
    )
  ).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  await monitor?.stop();
  // Attribution: the gate's EVALSHA carries the buyer's sub and key, both BOT_PREFIXed for bots.
  const botCommands = monitor ? (await monitor.count([productId], `"${BOT_PREFIX}`)).total : undefined;
  const saleCommands = monitor ? (await monitor.count([productId])).total : undefined;
  const scalperCommands = monitor ? (await monitor.count([productId], `"${scalperSub}"`)).total : undefined;
  const attackBill = monitor ? await billBursts(monitor, routes, bursts, isolates) : undefined;
  if (!process.env.DEMO_KEEP_MONITOR) monitor?.discard();
  const botUnits = await unitsBoughtBy(state.redis.url, productId, BOT_PREFIX);
  const scalperUnits = await unitsBoughtBy(state.redis.url, productId, scalperSub);
  await cleanUpAttack(attackTarget, fixtures);

  console.log("\nWaiting for the pipeline to drain (Kafka → PostgreSQL) …");
  const report = await drained(state, productId);
  events.push({ t: since(), label: "drained" });
  let bill: DemoRun["bill"];
  if (meter) {
    const sale = await meter.stop();
    console.log(`Measuring the bill of an idle system for ${settings.idleSeconds} s …`);
    const idleMeter = await BillMeter.start(state.redis.url, billDir, "idle");
    await sleep(settings.idleSeconds * 1000);
    bill = { sale, idle: await idleMeter.stop() };
  }

  const steering = report.saleId
    ? await operator.outcome(state.postgres.url, report.saleId, buyers, records.filter(isToldPaused).length)
    : { problems: ["the audit found no sale to read the controls of"] };
  if (!steering.pause && !pausing) steering.problems.push(`the sale was never paused: it sold ${sold} of ${settings.stock} by the last sample`);
  if (!steering.restock && !restocking) steering.problems.push("the sale was never restocked: nobody was told it sold out");
  const botReport = { ...fleet, unitsBought: botUnits, redisCommands: botCommands, saleRedisCommands: saleCommands };
  const holds =
    settings.holdSeconds > 0 && report.saleId
      ? { ...(await readHoldHistory(state.postgres.url, report.saleId, startedAtMs)), shop: shop.tally, latecomers: latecomers! }
      : undefined;
  const lottery = settings.prequeue ? await checkPrequeue(edge, productId, commitment ?? "", result.prequeued) : undefined;
  const run: DemoRun = {
    productId,
    runId,
    settings,
    edge: `${isolates} workerd isolates behind a round-robin router (the stack's edge)`,
    result,
    records,
    samples,
    events,
    steering,
    audit: report,
    bill,
    bots: botReport,
    adversaries: {
      scalper: { ...scalperTabs, sub: scalperSub, unitsBought: scalperUnits, limit: scenario.perUserLimit, redisCommands: scalperCommands },
      attack: attackBill?.bursts ?? bursts.map((b) => ({ ...b, commands: Number.NaN, perRequest: Number.NaN, perIsolateSecond: Number.NaN, pass: false })),
      catalogReadsOutside: attackBill?.catalogReadsOutside,
      measured: attackBill !== undefined,
    },
    cpu,
    ...(lottery ? { lottery } : {}),
    ...(holds ? { holds } : {}),
  };
  printSummary(run);
  const path = writeReport(run);
  console.log(`\nReport: ${path}`);
  const clean = auditClean(report);
  const botsHeldOff = botUnits === 0 && fleet.bought === 0 && (botCommands ?? 0) === 0;
  const { scalperHeld, attacksCheap } = adversariesVerdict(run);
  if (killed) console.log(`\nFAILED: ${killed}.`);
  else console.log(clean ? "\nOK: nothing oversold, lost or duplicated; PostgreSQL's stock = initial + added − sold." : "\nFAILED: see the audit above.");
  const steered = steeringClean(steering);
  console.log(
    steered
      ? "OK: nothing accepted while the sale was paused; the restock and every control are in PostgreSQL's sale_events."
      : `FAILED: the operator's controls — ${steering.pause && steering.pause.acceptedWhilePaused > 0 ? `${steering.pause.acceptedWhilePaused} orders accepted while paused; ` : ""}${steering.problems.join("; ") || "see the controls table above"}.`,
  );
  console.log(botsHeldOff ? "OK: bots bought nothing and cost Redis nothing." : "FAILED: bots got through, or cost Redis commands (see the bot fleet table).");
  console.log(
    scalperHeld
      ? `OK: the scalper held no more than its limit (${run.adversaries.scalper.limit}).`
      : `FAILED: the scalper held more than its limit of ${run.adversaries.scalper.limit} (see the adversaries table).`,
  );
  console.log(
    attacksCheap
      ? `OK: every bill attack cost at most ${ATTACK_TARGET_PER_REQUEST} billed commands per request (or, slowed by the machine, a command per isolate per second).`
      : `FAILED: a bill attack cost more than ${ATTACK_TARGET_PER_REQUEST} billed commands per request and a command per isolate per second, or was not measured (see the adversaries table).`,
  );
  const holdsOk = holdsVerdict(run);
  if (run.holds)
    console.log(
      holdsOk.ok
        ? "OK: every unit was sold to someone who paid, and no unit was both paid and released."
        : `FAILED: the holds — ${holdsOk.problems.join("; ")}.`,
    );
  if (lottery)
    console.log(
      lottery.ok ? "OK: the pre-queue's draw verified from public data, and every place given is the draw's." : "FAILED: the pre-queue's draw did not verify.",
    );
  return clean && !killed && botsHeldOff && scalperHeld && attacksCheap && steered && holdsOk.ok && (lottery?.ok ?? true) ? 0 : 1;
}

/**
 * After the crowd, a sale with holds may still have units held (no-shows' holds not expired yet)
 * or free again with the line gone home: people keep coming (waves of latecomers, the shop paying
 * for them as for the crowd) until every unit is paid for, or DEMO_SETTLE_SECONDS pass.
 */
async function sellEveryUnit(
  state: Awaited<ReturnType<typeof up>>,
  productId: string,
  shop: DemoShop,
  onHold: (b: Buyer) => void,
  records: RequestRecord[],
): Promise<NonNullable<DemoRun["holds"]>["latecomers"]> {
  const edge = new URL(state.edge.url);
  const redis = new Redis(state.redis.url);
  const latecomers = { waves: 0, people: 0, bought: 0, unitsLeft: 0, heldLeft: 0 };
  const deadline = Date.now() + settings.settleSeconds * 1000;
  try {
    const sale = async () => (await redis.hmget(saleKeys(productId).sale, "remaining", "held")).map(Number) as [number, number];
    for (;;) {
      await shop.settled();
      // Held units come back or get paid within a hold: wait them out first.
      await until(async () => (await sale())[1] === 0, deadline);
      const [remaining, held] = await sale();
      Object.assign(latecomers, { unitsLeft: remaining, heldLeft: held });
      if ((remaining === 0 && held === 0) || Date.now() > deadline) return latecomers;
      const wave = `${runId}-late${++latecomers.waves}`;
      const people = remaining * 2 + 5;
      console.log(`  ${remaining} units free again and the line gone: ${people} latecomers come for them`);
      const tokens = await mintTokens(
        state.issuer.url,
        Array.from({ length: people }, (_, i) => `${wave}-u${i}`),
      );
      const result = await runSale({
        base: edge,
        auth: (userId) => ({ authorization: `Bearer ${tokens.get(userId)}` }),
        solve: solveInNode,
        productId,
        buyers: people,
        arrivalMs: 1_000,
        pollMs: scenario.pollSeconds * 1000,
        connections: settings.connections,
        deadlineMs: Math.max(1_000, deadline - Date.now()),
        runId: wave,
        onRequest: (r) => records.push(r),
        onBuyer: onHold,
      });
      latecomers.people += people;
      latecomers.bought += result.outcomes.bought;
    }
  } finally {
    redis.disconnect();
  }
}

/**
 * The pre-queue's draw as a third party checks it (stack/src/lottery/check.ts, as npm run
 * verify-lottery does): the published seed against the commitment /init published, every place
 * recomputed, and for each person who entered, the place the edge gave at the start against the
 * one the published draw gives.
 */
async function checkPrequeue(edge: URL, productId: string, commitment: string, prequeued: SaleResult["prequeued"]): Promise<NonNullable<DemoRun["lottery"]>> {
  const published = await fetchPublishedDraw(edge, productId).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
  if (typeof published === "string") return { entries: prequeued.length, ok: false, problems: [published], placesChecked: 0, placesAgree: 0, commitment };
  const check = checkDraw(published, { commitment, buyers: prequeued });
  const given = check.buyers.filter((b) => b.place !== undefined);
  return {
    entries: check.entries,
    ok: check.ok,
    problems: check.problems,
    placesChecked: given.length,
    placesAgree: given.filter((b) => b.agrees).length,
    commitment,
  };
}

async function drained(state: Awaited<ReturnType<typeof up>>, productId: string): Promise<AuditReport> {
  const targets = { redisUrl: state.redis.url, databaseUrl: state.postgres.url, kafkaBrokers: state.kafka.brokers };
  const bar = new cliProgress.SingleBar(
    { format: "  drain  {bar} {value}/{total} orders in PostgreSQL", hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let report = await audit(targets, productId);
  bar.start(report.redis.acceptedOrders, report.postgres.orders);
  const deadline = Date.now() + 120_000;
  while ((report.lost > 0 || !report.stockConsistent) && Date.now() < deadline) {
    await sleep(1000);
    report = await audit(targets, productId);
    bar.update(report.postgres.orders);
  }
  bar.stop();
  return report;
}

/** Units the gate's per-user ledger (the buyers hash) shows for subs starting with `prefix`. */
async function unitsBoughtBy(redisUrl: string, productId: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    const buyers = await redis.hgetall(saleKeys(productId).buyers);
    return Object.entries(buyers).reduce((sum, [sub, units]) => sum + (sub.startsWith(prefix) ? Number(units) : 0), 0);
  } finally {
    redis.disconnect();
  }
}

function printSummary(run: DemoRun): void {
  console.log("\nSummary");
  const [latencyHeader, latencyRows] = latencyTable(run);
  console.log(table([latencyHeader, ...latencyRows]));
  console.log(
    "  client = what the demo's clients observed, their own queueing included; edge = the edge's Server-Timing (wall time inside workerd across I/O, not CPU)",
  );
  if (run.cpu) console.log(`  ${cpuNote(run)}`);
  const a = run.audit;
  const [header, rows] = outcomeTable(run);
  console.log(table([header, ...rows]));
  console.log("\nThe operator's controls");
  const [controlsHeader, controlsRows] = controlsTable(run);
  console.log(table([controlsHeader, ...controlsRows]));
  if (run.bill) console.log(table([BILL_HEADER, ...billRows(run)]));
  else console.log("(no redis-cli: the Upstash bill was not measured)");
  const l = a.latencyMs;
  console.log(
    `\nReal path, edge → origin → Kafka → worker (PostgreSQL persisted_at − accepted_at): ` +
      (l ? `p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms over ${l.orders.toLocaleString("en")} orders` : "no order persisted") +
      // The kill is in this figure on purpose: what an order accepted while the worker was down waited.
      (run.events.some((e) => e.label.startsWith("worker killed")) ? " (orders accepted while the worker was down waited for it: see the events)" : ""),
  );
  console.log("\nEvents");
  for (const e of run.events) console.log(`  ${(e.t / 1000).toFixed(1).padStart(6)} s  ${e.label}`);
  if (run.events.length === 0) console.log("  none");
  if (run.holds) {
    console.log(`\nHolds of ${run.settings.holdSeconds} s for payment (${Math.round((run.settings.noShow ?? 0) * 100)}% of the buyers never pay)`);
    for (const line of holdsSummary(run)) console.log(`  ${line}`);
  }
  if (run.lottery) {
    const d = run.lottery;
    console.log(
      `\nPre-queue: ${d.entries.toLocaleString("en")} people entered before the start; the draw ${d.ok ? "verified" : "did NOT verify"} against the commitment published at /init ` +
        `(${d.commitment.slice(0, 16)}…); ${d.placesAgree.toLocaleString("en")} of ${d.placesChecked.toLocaleString("en")} places the edge gave are the published draw's` +
        (d.problems.length ? ` — ${d.problems.join("; ")}` : ""),
    );
  }
  console.log("\nBot fleet");
  console.log(table(botRows(run.bots)));
  console.log("\nAdversaries: what each got, and what each cost");
  console.log(table(adversaryRows(run)));
  if (run.bots.errors > 0) console.log(`  bot requests without an answer: ${run.bots.errors} (e.g. ${run.bots.errorSamples.join("; ")})`);
}

function writeReport(run: DemoRun): string {
  const dir = join(config.home.root, "reports");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `demo-${run.runId}.html`);
  writeFileSync(path, renderDemoReport(run));
  copyFileSync(path, join(dir, "demo-latest.html"));
  return path;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
