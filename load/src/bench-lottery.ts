/**
 * npm run bench:lottery — what a pre-queue's start costs: the draw of 10,000 and of 100,000
 * entries, through the running local stack (its edge: EDGE_ISOLATES isolates behind a round-robin).
 *
 *  1. fill   N entries through the gate script itself (one EVALSHA each, as an attempt before the
 *            start costs), pipelined from here straight to redis: the edge's HTTP path is measured
 *            by bench:edge, and N sign-ins over HTTP would time this machine, not the draw
 *  2. start  one purchase attempt at startsAt closes the pre-queue; the isolate given the lease
 *            draws in waitUntil. Timed from the lease (Redis' clock) to the commit (drawnAt);
 *            every command the edge sent meanwhile counted with redis-cli MONITOR; the longest a
 *            PING waited behind a draw chunk, probed every few ms (what a gate call would wait)
 *  3. publish GET /sales/:productId/prequeue (first from Redis, then from an isolate's memory),
 *            its size, and verifyLottery over it
 *
 * Prints a table, writes .fluxgate/bench/lottery.json and exports the BENCHMARKS.md section.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { forgetSales, saleKeys, verifyLottery } from "@fluxgate/common";
import { isolateOf, mintToken } from "@fluxgate/stack";
import { Redis as IORedis } from "ioredis";
import { passGate } from "../../edge/src/gate/gate";
import { DRAW_LEASE_MS } from "../../edge/src/time-windows";
import { ensureStack, fluxgateHome, intEnv, readDevVars } from "./bench/env";
import { BillMeter } from "./bench/bill";
import { fmtNumber as n, table } from "./bench/table";

const sizes = (process.env.LOTTERY_SIZES ?? "10000,100000").split(",").map(Number);
/** How many gate calls are in flight while filling. */
const FILL_CONCURRENCY = intEnv("LOTTERY_FILL_CONCURRENCY", 256);

export interface LotteryRun {
  entries: number;
  fill: { seconds: number; perSecond: number; evalshaPerEntry: number };
  draw: { ms: number; edgeCommands: number; byCommand: Record<string, number>; longestStallMs: number };
  publication: { bytes: number; firstMs: number; cachedMs: number; verifyMs: number; ok: boolean };
}
export interface LotteryBench {
  at: string;
  isolates: string;
  runs: LotteryRun[];
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const outDir = join(fluxgateHome(), "bench");

/** redis (ioredis) shaped as the Upstash client passGate takes. */
const asEvaluator = (io: IORedis) => ({
  evalsha: (sha: string, keys: string[], args: string[]) => io.evalsha(sha, keys.length, ...keys, ...args),
  eval: (lua: string, keys: string[], args: string[]) => io.eval(lua, keys.length, ...keys, ...args),
});

/**
 * One sale's pre-queue of `entries`, filled, started and drawn. MONITOR makes redis copy out
 * every command a script runs, which slows a draw chunk several times over: a counting run
 * (`count`) gives the commands, a run without it the times and the stall.
 */
async function run(
  stack: Awaited<ReturnType<typeof ensureStack>>,
  adminToken: string,
  entries: number,
  count: boolean,
): Promise<Omit<LotteryRun, "draw"> & { draw: Partial<LotteryRun["draw"]> & { ms: number } }> {
  const productId = `lottery-${entries}-${Date.now().toString(36)}`;
  const io = new IORedis(stack.redisUrl, { enableAutoPipelining: true, connectionName: "fluxgate-bench-lottery" });
  const probe = new IORedis(stack.redisUrl, { connectionName: "fluxgate-bench-probe" });
  const gate = asEvaluator(io) as unknown as Parameters<typeof passGate>[0];
  try {
    // Long enough to fill at a few thousand a second on 2 shared cores, plus a margin.
    const fillSeconds = Math.max(6, Math.ceil(entries / 4000) + 4);
    const startsAt = Date.now() + fillSeconds * 1000;
    const init = await fetch(new URL("/init", stack.edgeUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({
        productId,
        quantity: 1000,
        ratePerSecond: 100,
        prequeueOpensAt: new Date().toISOString(),
        startsAt: new Date(startsAt).toISOString(),
      }),
    });
    if (!init.ok) throw new Error(`init: ${init.status} ${await init.text()}`);
    const late = await mintToken(stack.issuer.url, "latecomer");

    log(`  filling ${entries.toLocaleString("en-US")} entries through the gate script (${FILL_CONCURRENCY} in flight) …`);
    const t0 = performance.now();
    let next = 0;
    let prequeued = 0;
    await Promise.all(
      Array.from({ length: FILL_CONCURRENCY }, async () => {
        while (next < entries) {
          const i = next++;
          const outcome = await passGate(gate, {
            productId,
            userId: `buyer-${i}`,
            quantity: 1,
            idempotencyKey: `k-${i}`,
            requestHash: "h",
            orderId: crypto.randomUUID(),
          });
          if (outcome.kind === "prequeued") prequeued++;
        }
      }),
    );
    const filled = (performance.now() - t0) / 1000;
    if (prequeued !== entries) throw new Error(`only ${prequeued} of ${entries} entered before the start: set LOTTERY_FILL_CONCURRENCY or a smaller size`);
    if (Date.now() > startsAt) throw new Error("the fill ran past the start");

    // The start: one attempt closes the pre-queue and hands its isolate the lease.
    const meter = count ? await BillMeter.start(stack.redisUrl, outDir, `lottery-${entries}`, [productId]) : undefined;
    await sleep(Math.max(0, startsAt - Date.now() + 20));
    let longestStallMs = 0;
    let drawn = false;
    const probing = (async () => {
      while (!drawn) {
        const p0 = performance.now();
        await probe.ping();
        longestStallMs = Math.max(longestStallMs, performance.now() - p0);
        await sleep(2);
      }
    })();
    const trigger = await fetch(new URL("/order", stack.edgeUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${late}`, "content-type": "application/json", "idempotency-key": "late-1" },
      body: JSON.stringify({ productId }),
    });
    await trigger.arrayBuffer();
    const k = saleKeys(productId);
    for (let i = 0; !drawn; i++) {
      drawn = (await probe.hget(k.sale, "drawn")) === "1";
      if (!drawn && i > 6000) throw new Error("the draw did not finish within 60 s");
      if (!drawn) await sleep(10);
    }
    await probing;
    await sleep(300);
    const bill = await meter?.stop();
    const [drawnAt = 0, leaseUntil = 0] = (await probe.hmget(k.sale, "drawnAt", "drawLeaseUntil")).map(Number);

    // The publication: the first read fills one isolate's memory; a full round-robin later, that isolate answers from it.
    const url = new URL(`/sales/${productId}/prequeue`, stack.edgeUrl);
    const timed = async () => {
      const p0 = performance.now();
      const res = await fetch(url);
      const text = await res.text();
      return { ms: performance.now() - p0, text };
    };
    const first = await timed();
    const again: number[] = [];
    for (let i = 0; i < 8; i++) again.push((await timed()).ms);
    const published = JSON.parse(first.text) as { commitment: string; seed: string; places: string[] };
    const v0 = performance.now();
    const check = verifyLottery(published);
    const verifyMs = performance.now() - v0;
    if (published.places.length !== entries) throw new Error(`published ${published.places.length} places for ${entries} entries`);

    return {
      entries,
      fill: { seconds: filled, perSecond: entries / filled, evalshaPerEntry: 1 },
      // Every command the edge's connections sent on the sale's keys (the probe's are not a component's).
      draw: bill
        ? { ms: drawnAt - (leaseUntil - DRAW_LEASE_MS), edgeCommands: bill.commands.edge, byCommand: bill.byCommand.edge }
        : { ms: drawnAt - (leaseUntil - DRAW_LEASE_MS), longestStallMs },
      publication: { bytes: first.text.length, firstMs: first.ms, cachedMs: Math.min(...again), verifyMs, ok: check.ok },
    };
  } finally {
    await forgetSales(io, [productId]);
    io.disconnect();
    probe.disconnect();
  }
}

export function lotterySection(b: LotteryBench): string {
  const rows = b.runs.map(
    (r) =>
      `| ${n(r.entries)} | ${n(r.fill.perSecond)} entries/s, ${r.fill.evalshaPerEntry} EVALSHA each | ${n(r.draw.ms)} ms | ${n(r.draw.edgeCommands)} (${Object.entries(
        r.draw.byCommand,
      )
        .map(([c, k]) => `${k} ${c}`)
        .join(
          ", ",
        )}) | ${n(r.draw.longestStallMs, 1)} ms | ${n(r.publication.bytes / 1e6, 2)} MB, ${n(r.publication.firstMs)} ms / ${n(r.publication.cachedMs)} ms | ${n(r.publication.verifyMs)} ms ${r.publication.ok ? "✅" : "❌"} |`,
  );
  return `## The pre-queue's start (\`npm run bench:lottery\`)

The draw of a pre-queue at its start, ${b.at.slice(0, 16).replace("T", " ")} UTC, through the local stack's edge (${b.isolates}). Entries go in through the gate script
itself, one EVALSHA each, pipelined straight to redis; then one purchase attempt at the start closes the pre-queue and the
isolate given the lease draws in \`waitUntil\`: reads every entry (HSCAN), orders them (SHA-256 per entry, \`common/src/lottery.ts\`),
writes the places in chunks of 2,000 (one EVALSHA each) and commits. Timed from the lease to the commit by Redis' clock;
"longest stall" is the longest a PING from another client waited meanwhile (what a gate call would wait behind a chunk).
Each size runs twice: timed, then again with its commands counted by redis-cli MONITOR (which slows every script that
runs, so it is kept out of the timed run).

| entries | fill | draw (lease → commit) | edge commands during the draw | longest stall | publication: size, first / from memory | verify (Node) |
| ---: | --- | ---: | --- | ---: | --- | ---: |
${rows.join("\n")}

`;
}

async function main(): Promise<number> {
  mkdirSync(outDir, { recursive: true });
  const stack = await ensureStack(log);
  const adminToken = readDevVars().ADMIN_TOKEN!;
  // The edge says how it identifies buyers to the admin only.
  const answer = await fetch(new URL("/health", stack.edgeUrl), { headers: { authorization: `Bearer ${adminToken}` } });
  const health = (await answer.json()) as Record<string, unknown>;
  if ((health.identity as { mode?: string } | undefined)?.mode !== "jwt") log("note: the edge does not verify tokens (IDENTITY=anonymous)");
  // The running edge says how many isolates it has (it may have been started with another EDGE_ISOLATES).
  const isolates = `${isolateOf(answer.headers)?.of ?? 1} isolates`;
  const runs: LotteryRun[] = [];
  for (const [i, entries] of sizes.entries()) {
    log(`[${i + 1}/${sizes.length}] a pre-queue of ${entries.toLocaleString("en-US")} entries: timed …`);
    const timed = await run(stack, adminToken, entries, false);
    log(`[${i + 1}/${sizes.length}] the same again, its commands counted (redis-cli MONITOR) …`);
    const counted = await run(stack, adminToken, entries, true);
    runs.push({
      ...timed,
      draw: {
        ms: timed.draw.ms,
        longestStallMs: timed.draw.longestStallMs!,
        edgeCommands: counted.draw.edgeCommands!,
        byCommand: counted.draw.byCommand!,
      },
    });
  }
  const bench: LotteryBench = { at: new Date().toISOString(), isolates, runs };
  process.stdout.write(
    `\n${table([
      ["entries", "fill/s", "draw ms", "edge commands", "longest stall ms", "published MB", "first GET ms", "cached GET ms", "verify ms", "verified"],
      ...runs.map((r) => [
        r.entries,
        Math.round(r.fill.perSecond),
        Math.round(r.draw.ms),
        `${r.draw.edgeCommands} ${JSON.stringify(r.draw.byCommand)}`,
        r.draw.longestStallMs.toFixed(1),
        (r.publication.bytes / 1e6).toFixed(2),
        Math.round(r.publication.firstMs),
        Math.round(r.publication.cachedMs),
        Math.round(r.publication.verifyMs),
        r.publication.ok ? "yes" : "NO",
      ]),
    ])}\n`,
  );
  writeFileSync(join(outDir, "lottery.json"), `${JSON.stringify(bench, null, 2)}\n`);
  return runs.every((r) => r.publication.ok) ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`\nbench:lottery failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(2);
    },
  );
}
