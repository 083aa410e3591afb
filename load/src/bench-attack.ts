/**
 * `npm run bench:attack` — what attackers get, and what they cost the shop (issue 21).
 *
 * On the stack's own edge (EDGE_ISOLATES isolates behind a round-robin, as users reach it):
 *
 *  1. bill   ATTACK_REQUESTS (10,000) requests on each route that can never buy (load/src/attack/routes.ts),
 *            ATTACK_CONNECTIONS (32) at a time, each route in a window of its own: every command the
 *            whole system sent meanwhile, counted the way Upstash bills (redis-cli MONITOR, by
 *            connection name: bench/bill.ts). Target ≤ 0.01 billed commands per request.
 *  2. scalper a sale of 6 units, limit 1, 1/s, tickets valid 60 s opens and its first buyer takes
 *            the token; a signed-in account with ATTACK_SCALPER_KEYS (50) Idempotency-Keys arrives,
 *            following the queue like a browser; an honest buyer right behind. The places (distinct ticket numbers) and units the scalper held (≤ its
 *            limit), and the honest buyer's wait against (its place ÷ rate) + 2 s.
 *  3. memory the edge's workerd resident size before and after the floods (the isolates expose no heap figure).
 *
 * Prints tables, writes .fluxgate/bench/attack.json; exit 1 when a target is missed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { upstashCostUsd } from "@fluxgate/common";
import { mintTokens } from "@fluxgate/stack";
import cliProgress from "cli-progress";
import {
  ATTACK_TARGET_PER_REQUEST,
  attackRoutes,
  billRoutes,
  cleanUpAttack,
  edgeResidentMb,
  prepareAttack,
  scalperScenario,
  type AttackTarget,
  type RouteBill,
  type ScalperScenario,
} from "./attack";
import { MonitorCapture, monitorAvailable } from "./bench/monitor";
import { ensureStack, fluxgateHome, intEnv, readDevVars } from "./bench/env";
import { codeVersion } from "./bench/git";
import { fmtCodes, fmtNumber as n, markdownRow as row, table } from "./bench/table";

export interface AttackBench {
  runId: string;
  at: string;
  commit: string;
  loadAverage: number;
  edge: string;
  requestsPerRoute: number;
  connections: number;
  routes: RouteBill[];
  scalper: ScalperScenario & { commands: number | undefined; requests: number };
  memory: { beforeMb: number | undefined; afterMb: number | undefined };
  targets: { name: string; target: string; measured: string; pass: boolean }[];
}

const settings = {
  requests: intEnv("ATTACK_REQUESTS", 10_000),
  connections: intEnv("ATTACK_CONNECTIONS", 32),
  scalperKeys: intEnv("ATTACK_SCALPER_KEYS", 50),
  /** The scalper scenario stops here, honest buyer served or not (on today's gate the line ahead of it is 50 s long). */
  scalperDeadlineSeconds: intEnv("ATTACK_SCALPER_DEADLINE_SECONDS", 120),
};

const outDir = join(fluxgateHome(), "bench");
const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  if (!monitorAvailable()) throw new Error("redis-cli is needed to count billed commands (MONITOR)");
  mkdirSync(outDir, { recursive: true });
  const stack = await ensureStack(log);
  const runId = `a${Date.now().toString(36)}`;
  const target: AttackTarget = {
    edge: new URL(stack.edgeUrl),
    adminToken: readDevVars().ADMIN_TOKEN!,
    issuer: stack.issuer.url,
    redisUrl: stack.redisUrl,
    runId,
  };
  const loadAverage = loadavg()[0]!;
  const beforeMb = edgeResidentMb();

  log(`[1/2] ${n(settings.requests)} requests on each route that cannot buy, ${settings.connections} at a time, a MONITOR window each …`);
  const fixtures = await prepareAttack(target);
  const scalpProduct = `${fixtures.prefix}-scalp`;
  try {
    const routes = attackRoutes(fixtures);
    const width = Math.max(...routes.map((r) => r.key.length));
    let bar: cliProgress.SingleBar | undefined;
    const bills = await billRoutes({ edge: target.edge, redisUrl: target.redisUrl, dir: outDir }, routes, {
      requests: settings.requests,
      connections: settings.connections,
      onProgress: (route, done) => {
        if (done === 0) {
          bar?.stop();
          bar = new cliProgress.SingleBar(
            { format: `  ${route.key.padEnd(width)} {bar} {value}/{total} requests`, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(settings.requests, 0);
        }
        bar?.update(done);
      },
    });
    bar?.stop();
    const afterMb = edgeResidentMb();

    log(`[2/2] a scalper with ${settings.scalperKeys} keys on a sale of 6, limit 1, 1/s; an honest buyer right behind …`);
    const [scalperSub, honestSub, openerSub] = [`${fixtures.prefix}-scalper`, `${fixtures.prefix}-honest`, `${fixtures.prefix}-opener`];
    const tokens = await mintTokens(target.issuer, [scalperSub, honestSub, openerSub]);
    const monitor = await MonitorCapture.start(target.redisUrl, join(outDir, `monitor-attack-scalper-${runId}.log`));
    const ticking = new cliProgress.SingleBar(
      { format: "  scalper {bar} {value} s (until the honest buyer bought; at most {total} s)", hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    ticking.start(settings.scalperDeadlineSeconds, 0);
    const t0 = performance.now();
    const tick = setInterval(() => ticking.update(Math.round((performance.now() - t0) / 1000)), 500);
    let scenario: ScalperScenario;
    try {
      scenario = await scalperScenario({
        base: target.edge,
        adminToken: target.adminToken,
        productId: scalpProduct,
        openerToken: tokens.get(openerSub)!,
        scalperToken: tokens.get(scalperSub)!,
        honestToken: tokens.get(honestSub)!,
        keyPrefix: fixtures.prefix,
        keys: settings.scalperKeys,
        deadlineMs: settings.scalperDeadlineSeconds * 1000,
        redisUrl: target.redisUrl,
        scalperSub,
      });
    } finally {
      clearInterval(tick);
      ticking.stop();
      await monitor.stop();
    }
    // The gate's EVALSHA names the buyer; the status polls' looks at the line name nobody (and serve the honest buyer too).
    const commands = (await monitor.count([scalpProduct], `"${scalperSub}"`)).total;
    monitor.discard();
    return report({
      runId,
      at: new Date().toISOString(),
      commit: codeVersion().commit.slice(0, 12),
      loadAverage,
      edge: target.edge.origin,
      requestsPerRoute: settings.requests,
      connections: settings.connections,
      routes: bills,
      scalper: { ...scenario, commands, requests: scenario.scalper.requests },
      memory: { beforeMb, afterMb },
      targets: [],
    });
  } finally {
    await cleanUpAttack(target, fixtures, [scalpProduct]).catch((error: unknown) => log(`clean-up failed: ${String(error)}`));
  }
}

function targetsOf(b: AttackBench): AttackBench["targets"] {
  const s = b.scalper;
  const limit = s.sale.perUserLimit;
  return [
    ...b.routes.map((r) => ({
      name: `billed commands per request: ${r.name}`,
      target: `≤ ${ATTACK_TARGET_PER_REQUEST}`,
      measured: r.perRequest.toFixed(4),
      pass: r.pass && r.errors === 0 && r.unexpected === 0,
    })),
    {
      name: "places in line the scalper held (distinct ticket numbers)",
      target: `≤ ${limit}`,
      measured: String(s.scalper.places.length),
      pass: s.scalper.places.length <= limit,
    },
    { name: "units the scalper held at once (bought + its claims)", target: `≤ ${limit}`, measured: String(s.unitsHeld), pass: s.unitsHeld <= limit },
    {
      name: "the honest buyer right behind: time until it bought",
      target: `≤ place ÷ rate + 2 s = ${(s.honest.targetMs / 1000).toFixed(1)} s`,
      measured: s.honest.waitedMs === undefined ? `did not buy (${s.honest.outcome})` : `${(s.honest.waitedMs / 1000).toFixed(1)} s`,
      pass: s.honest.pass,
    },
  ];
}

function report(b: AttackBench): number {
  b.targets = targetsOf(b);
  const s = b.scalper;
  const mb = (x: number | undefined) => (x === undefined ? "n/a" : `${x.toFixed(0)} MB`);
  const out = [
    "",
    `Flux-Gate attackers ${b.runId}: the stack's edge ${b.edge}; billed commands counted with redis-cli MONITOR, by connection name`,
    "",
    table([
      ["route (cannot buy)", "requests", "answers", "seconds", "billed commands", "per request", `$ per 1M requests`],
      ...b.routes.map((r) => [
        r.name,
        r.requests,
        fmtCodes(r.statuses) + (r.errors ? ` errors:${r.errors}` : ""),
        r.seconds.toFixed(1),
        r.commands,
        r.perRequest.toFixed(4),
        upstashCostUsd(r.perRequest * 1_000_000).toFixed(2),
      ]),
    ]),
    "",
    `Scalper: ${s.scalper.keys} keys, ${s.scalper.requests} requests; places ${s.scalper.places.length} (${s.scalper.places.slice(0, 12).join(", ")}${s.scalper.places.length > 12 ? ", …" : ""}), ` +
      `standby ${s.scalper.standby}, units bought ${s.scalper.unitsBought}, units held at once ${s.unitsHeld} (operator's claimed peak ${s.claimedPeak}, remaining low ${s.remainingMin}); ` +
      `its billed commands ${s.commands ?? "n/a"}; answers ${JSON.stringify(s.scalper.answers)}`,
    `Honest buyer: place ${s.honest.position ?? "none (bought at once)"}, ${s.honest.waitedMs === undefined ? `did not buy (${s.honest.outcome})` : `bought after ${(s.honest.waitedMs / 1000).toFixed(1)} s`} (target ${(s.honest.targetMs / 1000).toFixed(1)} s)`,
    `Edge memory: workerd resident size (all isolates, one process) ${mb(b.memory.beforeMb)} before the floods, ${mb(b.memory.afterMb)} after; the isolates' maps keyed by client input are bounded (LRU) and tested with a million ids`,
    "",
    table([["target", "wanted", "measured", "result"], ...b.targets.map((t) => [t.name, t.target, t.measured, t.pass ? "PASS" : "FAIL"])], {
      alignNumbers: false,
    }),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
  writeFileSync(join(outDir, "attack.json"), `${JSON.stringify(b, null, 2)}\n`);
  return b.targets.every((t) => t.pass) ? 0 : 1;
}

/** Its section of BENCHMARKS.md (bench-all.ts). */
export function attackSection(b: AttackBench): string {
  const s = b.scalper;
  return `## Attackers (\`npm run bench:attack\`, ${b.at.slice(0, 16).replace("T", " ")} UTC)

What requests that can never buy cost the shop, on the stack's edge (4 isolates behind a round-robin), at commit ${b.commit}:
${n(b.requestsPerRoute)} requests per route, ${b.connections} at a time, each route in a window of its own; every command the whole system sent
meanwhile, counted the way Upstash bills (redis-cli MONITOR, by connection name). Load average ${n(b.loadAverage, 1)} on 2 shared cores when the
run started: a slower attacker pays more per request (the edge spends about a command per isolate per second, whatever the rate).

${row(["route (cannot buy)", "answers", "billed commands", "per request", "target"])}
${row(["---", "---", "---:", "---:", "---"])}
${b.routes.map((r) => row([r.name, fmtCodes(r.statuses), n(r.commands), `**${r.perRequest.toFixed(4)}**`, `≤ ${ATTACK_TARGET_PER_REQUEST} ${r.pass ? "✅" : "❌"}`])).join("\n")}

A scalper (one signed-in account, ${s.scalper.keys} Idempotency-Keys, following the queue like a browser) on a sale of ${s.sale.quantity} units, limit
${s.sale.perUserLimit}, ${s.sale.ratePerSecond}/s, tickets valid ${s.sale.ticketTtlSeconds} s, with an honest buyer right behind:

${row(["target", "wanted", "measured", ""])}
${row(["---", "---", "---", "---"])}
${b.targets
  .slice(b.routes.length)
  .map((t) => row([t.name, t.target, t.measured, t.pass ? "✅" : "❌"]))
  .join("\n")}

The edge's workerd (all isolates, one process): ${b.memory.beforeMb === undefined ? "n/a" : `${n(b.memory.beforeMb)} MB`} resident before the floods,
${b.memory.afterMb === undefined ? "n/a" : `${n(b.memory.afterMb)} MB`} after (${n(b.routes.length * b.requestsPerRoute)} requests, ${n(2 * b.requestsPerRoute)} of them naming made-up products). The isolates expose
no heap figure; workerd's resident size grows under any load until its heaps' collections keep up, then stays flat, so
only the difference across the floods says anything, and what a flood of distinct names may grow is bounded in code (LRU
maps, tested with a million made-up ids).
`;
}

if (import.meta.url === `file://${process.argv[1]}`)
  await main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`\nbench:attack failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(2);
    },
  );
