import { BILL_COMPONENTS, upstashCostUsd, UPSTASH_PAYG_USD_PER_100K_COMMANDS } from "@fluxgate/common";
import { auditClean, type AuditReport } from "@fluxgate/stack";
import { billPer, fmtUsd, type Bill } from "../bench/bill";
import { describeCpu, type CpuUse } from "../bench/cpu";
import type { RequestRecord, SaleResult } from "../bench/sale";
import { bottleneck, describeBottleneck, SATURATED_SHARE } from "../bench/saturation";
import { botKinds, type BotFleetResult } from "../bench/bots";
import { ATTACK_TARGET_PER_REQUEST, type BurstBill, type TabsResult } from "../attack";
import { fmtCodes } from "../bench/table";
import type { DemoEvent, DemoSteering } from "../demo-steering";
import type { HoldHistory, ShopTally } from "../demo-holds";
import { barChart, htmlPage, htmlTable, lineChart, type Band, type LineSeries } from "./svg";
import { percentile, sortedAscending } from "./stats";

export interface DemoRun {
  productId: string;
  runId: string;
  /** What ran the edge: the stack's workerd isolates behind a round-robin. */
  edge: string;
  settings: {
    stock: number;
    buyers: number;
    ratePerSecond: number;
    arrivalSeconds: number;
    connections: number;
    powDifficulty: number;
    botRequests: number;
    holdSeconds?: number;
    noShow?: number;
  };
  result: SaleResult;
  records: RequestRecord[];
  /** GET /sales twice a second: ms since the start, stock left, people in line. */
  samples: { t: number; remaining: number; queued: number }[];
  events: DemoEvent[];
  /** The operator's controls: a pause mid-drop, a restock once sold out (load/src/demo-steering.ts). */
  steering: DemoSteering;
  audit: AuditReport;
  /** The Upstash bill of the sale (/init to drained) and of an idle window after it; undefined without redis-cli. */
  bill?: { sale: Bill; idle: Bill };
  /** The bot fleet: what it was answered, units it bought (the gate's ledger), Redis commands it caused (MONITOR; undefined without redis-cli). */
  bots: BotFleetResult & { unitsBought: number; redisCommands: number | undefined; saleRedisCommands: number | undefined };
  /**
   * The scalper (one signed-in account, many keys, following the queue) and the bill-attack fleet
   * (floods that can never buy), beside the crowd: what each got and what each cost (MONITOR,
   * told apart by what the commands name; `measured` false without redis-cli).
   */
  adversaries: {
    scalper: TabsResult & { sub: string; unitsBought: number; limit: number; redisCommands: number | undefined };
    attack: BurstBill[];
    /** Catalog reads outside every burst (made-up ids the fleet's bursts did not send): none expected. */
    catalogReadsOutside: number | undefined;
    measured: boolean;
  };
  /** Every process's CPU while the crowd ran (from /proc): the demo's own clients are this process. */
  cpu?: CpuUse;
  /** DEMO_PREQUEUE=1: the pre-queue's draw, checked from public data against the commitment /init published. */
  lottery?: { entries: number; ok: boolean; problems: string[]; placesChecked: number; placesAgree: number; commitment: string };
  /** A sale with holds (DEMO_HOLD_SECONDS): their history in PostgreSQL, what the shop did, and the latecomers who bought units the line left. */
  holds?: HoldHistory & {
    shop: ShopTally;
    latecomers: { waves: number; people: number; bought: number; unitsLeft: number; heldLeft: number };
  };
}

/** A sale with holds is sold when every unit is paid for, and none was both paid and released (the audit's holds). */
export function holdsVerdict(run: DemoRun): { ok: boolean; problems: string[] } {
  if (!run.holds) return { ok: true, problems: [] };
  const r = run.audit.redis;
  const problems: string[] = [];
  if (run.audit.holds.paidAndReleased > 0) problems.push(`${run.audit.holds.paidAndReleased} orders both paid and released`);
  if (r.remaining > 0 || r.held > 0 || r.paid !== r.initial + r.added)
    problems.push(`${r.initial + r.added - r.paid} of ${r.initial + r.added} units not sold to people who paid (${r.remaining} free, ${r.held} held)`);
  return { ok: problems.length === 0, problems };
}

/** The holds in a few lines, for the console and the report. */
export function holdsSummary(run: DemoRun): string[] {
  const h = run.holds;
  if (!h) return [];
  const r = run.audit.redis;
  const s = h.shop;
  const w = h.rebuyMs;
  return [
    `units: ${r.held} held now, ${r.paid.toLocaleString("en")} paid, ${r.released.toLocaleString("en")} released (${h.orders.expired.toLocaleString("en")} holds expired, ${h.orders.cancelled} cancelled)`,
    `the shop: ${s.holds.toLocaleString("en")} holds, ${s.noShows.toLocaleString("en")} buyers never paid, ${s.paid.toLocaleString("en")} payments confirmed, ${s.toldExpired} told expired (refund), ${s.failed} without an answer` +
      (s.failures.length ? ` (e.g. ${s.failures[0]})` : ""),
    `a released unit was bought again after (expiry → next acceptance, PostgreSQL): p50 ${inSeconds(w.p50)}, p99 ${inSeconds(w.p99)}, max ${inSeconds(w.max)} over ${w.count.toLocaleString("en")} units` +
      (w.unmatched ? `; ${w.unmatched} never bought again` : ""),
    h.latecomers.waves
      ? `latecomers (the line had gone home): ${h.latecomers.waves} waves, ${h.latecomers.people} people, ${h.latecomers.bought} bought`
      : "no latecomers needed: the line took every released unit",
    `audit: ${run.audit.holds.paidAndReleased} orders both paid and released; free + held + paid = initial + added: ${run.audit.holds.redisBalanced ? "yes" : "NO"}`,
  ];
}

const isOrder = (r: RequestRecord) => r.kind === "order" || r.kind === "order (retry)";
/** A purchase attempt answered 503 "paused" (the operator had paused the sale). */
export const isToldPaused = (r: RequestRecord) => isOrder(r) && r.status === 503 && r.outcome === "paused";

/**
 * Latency per outcome, as the clients observed it (including their own queueing: the connection
 * pool, this process's event loop, the machine's cores) beside the edge's own time from its
 * Server-Timing header (wall time across I/O inside workerd: the Redis round-trip, not CPU).
 */
export function latencyTable(run: DemoRun): [string[], (string | number)[][]] {
  const p = (values: number[], q: number) => `${(percentile(sortedAscending(values), q) || 0).toFixed(0)} ms`;
  const rowOf = (label: string, match: (r: RequestRecord) => boolean) => {
    const records = run.records.filter(match);
    const edge = records.flatMap((r) => (r.edgeMs === undefined ? [] : [r.edgeMs]));
    const client = records.map((r) => r.ms);
    return [label, records.length.toLocaleString("en"), p(client, 50), p(client, 99), edge.length ? p(edge, 50) : "-", edge.length ? p(edge, 99) : "-"];
  };
  return [
    ["outcome", "requests", "client p50", "client p99", "edge p50", "edge p99"],
    [
      rowOf("attempts (POST /order)", isOrder),
      rowOf("accepted (200)", (r) => isOrder(r) && r.status === 200),
      rowOf("queued (302)", (r) => isOrder(r) && r.status === 302),
      rowOf("challenged (401: solved, sent again)", (r) => isOrder(r) && r.status === 401),
      rowOf("paused (503: sent again after Retry-After)", isToldPaused),
      rowOf("sold out / limit (409)", (r) => isOrder(r) && r.status === 409),
      rowOf("waiting-room polls", (r) => r.kind === "status"),
    ],
  ];
}

/** Where the time went: the clients' own CPU (this process) and the busiest process while the crowd ran. */
export function cpuNote(run: DemoRun): string {
  if (!run.cpu) return "";
  const clients = run.cpu.cores["bench (load gen)"] ?? 0;
  const b = bottleneck(run.cpu);
  return (
    `CPU while the crowd ran: the demo's clients (people and bots, one Node process) ${clients.toFixed(2)} core` +
    `${clients >= SATURATED_SHARE ? " — saturated: part of the client-observed time is the clients' own queueing" : ""}; ` +
    `at the peak: ${describeBottleneck(b, run.cpu.capacity)}; ${describeCpu(run.cpu)}`
  );
}

/** Buyers' outcomes and the audit in one row, for the console summary and the report. */
export function outcomeTable(run: DemoRun): [string[], (string | number)[][]] {
  const a = run.audit;
  return [
    ["buyers", "bought", "told sold out", "unfinished", "oversold", "lost", "duplicates", "accepted while paused", "PostgreSQL stock"],
    [
      [
        run.result.buyers,
        run.result.outcomes.bought,
        run.result.outcomes.sold_out,
        run.result.outcomes.unfinished,
        a.oversold,
        a.lost,
        a.duplicates,
        run.steering.pause ? run.steering.pause.acceptedWhilePaused : "not paused",
        `${a.postgres.stock} (= ${a.redis.initial}${a.redis.added ? ` + ${a.redis.added} added` : ""} − ${a.redis.sold})${a.stockConsistent ? "" : " MISMATCH"}`,
      ],
    ],
  ];
}

/** Nothing accepted while paused, the restock made, every control applied and in PostgreSQL's audit trail. */
export function steeringClean(steering: DemoSteering): boolean {
  return steering.pause?.acceptedWhilePaused === 0 && steering.restock !== undefined && steering.problems.length === 0;
}

const inSeconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The operator's controls during the drop and what each did, for the console summary and the report. */
export function controlsTable(run: DemoRun): [string[], (string | number)[][]] {
  const { pause, restock } = run.steering;
  return [
    ["control (by the demo)", "at", "what", "outcome"],
    [
      pause
        ? [
            "pause",
            inSeconds(pause.t),
            `paused for ${inSeconds(pause.pausedMs)} (resumed at ${inSeconds(pause.resumedT)})`,
            `${pause.acceptedWhilePaused} orders accepted while paused; ${pause.toldPaused.toLocaleString("en")} attempts answered 503 paused, sent again after Retry-After`,
          ]
        : ["pause", "-", "never paused", "-"],
      restock
        ? [
            "restock",
            inSeconds(restock.t),
            `+${restock.units} units once sold out`,
            `${restock.sold} of ${restock.units} sold: ${restock.toLine} to people already in line, ${restock.toNewcomers} to newcomers`,
          ]
        : ["restock", "-", "never restocked", "-"],
    ],
  ];
}

/** The bot fleet's table, for the console and the report: a header row, one row per kind, the totals. */
export function botRows(bots: DemoRun["bots"]): (string | number)[][] {
  const statuses = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort()
      .map(([status, n]) => `${status}×${n.toLocaleString("en")}`)
      .join(" ");
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return [
    ["bot kind", "requests", "answers"],
    ...botKinds.map((kind) => [kind, sum(bots.byKind[kind]), statuses(bots.byKind[kind])]),
    [
      "all bots",
      bots.requests,
      `refused ${bots.refused.toLocaleString("en")}, no answer ${bots.errors}, units bought ${bots.unitsBought}, Redis commands spent on them ${bots.redisCommands ?? "n/a (no redis-cli)"} of the sale's ${bots.saleRedisCommands ?? "n/a"}`,
    ],
  ];
}

/** Whether the scalper held no more than its limit (places in line, units bought), and every attack cost at most its target. */
export function adversariesVerdict(run: DemoRun): { scalperHeld: boolean; attacksCheap: boolean } {
  const { scalper, attack, measured } = run.adversaries;
  return {
    scalperHeld: scalper.places.length <= scalper.limit && scalper.unitsBought <= scalper.limit,
    attacksCheap: measured && attack.every((b) => b.pass),
  };
}

/** One row per adversary: what it sent, what it got, what it cost on the bill. */
export function adversaryRows(run: DemoRun): (string | number)[][] {
  const { scalper, attack, catalogReadsOutside, measured } = run.adversaries;
  const cost = (commands: number | undefined, requests: number) =>
    !measured || commands === undefined ? ["n/a (no redis-cli)", "n/a"] : [commands.toLocaleString("en"), (commands / requests).toFixed(4)];
  return [
    ["adversary", "requests", "answers", "got", "billed commands", "per request", "per isolate-second", "target"],
    [
      `scalper (1 account, ${scalper.keys} keys, follows the queue)`,
      scalper.requests,
      Object.entries(scalper.answers)
        .sort((a, b) => b[1] - a[1])
        .map(([answer, n]) => `${answer}×${n}`)
        .join(", "),
      `${scalper.places.length} places (${scalper.standby} keys on standby), ${scalper.unitsBought} units`,
      ...cost(scalper.redisCommands, scalper.requests),
      "",
      `≤ ${scalper.limit} place and unit ${scalper.places.length <= scalper.limit && scalper.unitsBought <= scalper.limit ? "OK" : "FAILED"}`,
    ],
    ...attack.map((b) => [
      b.name,
      b.requests,
      `${fmtCodes(b.statuses)}${b.errors ? ` errors:${b.errors}` : ""} in ${b.seconds.toFixed(1)} s`,
      "nothing (cannot buy)",
      ...cost(b.commands, b.requests),
      measured ? b.perIsolateSecond.toFixed(2) : "n/a",
      `≤ ${ATTACK_TARGET_PER_REQUEST}/request or 1/isolate-s ${b.pass ? "OK" : "FAILED"}`,
    ]),
    ...(catalogReadsOutside ? [["catalog reads outside the bursts", "", "", "", catalogReadsOutside, "", "", ""]] : []),
  ];
}

/** Billed commands by component per accepted order (the sale) and per second (idle), and what they cost. */
export function billRows(run: DemoRun): (string | number)[][] {
  if (!run.bill) return [];
  const accepted = run.result.outcomes.bought;
  const sale = billPer(run.bill.sale, accepted);
  const idle = billPer(run.bill.idle, run.bill.idle.seconds);
  const cells = (per: Record<string, number>) => [...BILL_COMPONENTS.map((c) => per[c]!.toFixed(3)), per.total!.toFixed(3)];
  return [
    ["the sale, per accepted order", ...cells(sale), `${fmtUsd(upstashCostUsd(run.bill.sale.total))} (${run.bill.sale.total.toLocaleString("en")} commands)`],
    [`idle afterwards, per second (${run.bill.idle.seconds.toFixed(0)} s)`, ...cells(idle), `${fmtUsd(upstashCostUsd(idle.total * 86_400))} per day`],
  ];
}
export const BILL_HEADER = [
  "Upstash bill",
  ...BILL_COMPONENTS.map((c) => (c === "forward" ? "origin forward" : c)),
  "total",
  `cost at $${UPSTASH_PAYG_USD_PER_100K_COMMANDS}/100k`,
];

const colors = { accepted: "#146c2e", queued: "#b06000", soldOut: "#a50e0e", polls: "#0b57d0", stock: "#0b57d0", line: "#7b1fa2", held: "#8d6e00" };

/** Requests per second of each outcome, one point per second. */
function throughput(records: RequestRecord[]): LineSeries[] {
  // A loop, not Math.max(...records): a crowd's hundred thousand records overflow the call stack as arguments.
  const seconds = Math.ceil(records.reduce((latest, r) => Math.max(latest, r.t), 1) / 1000);
  const count = (match: (r: RequestRecord) => boolean) => {
    const perSecond = new Array<number>(seconds + 1).fill(0);
    for (const r of records) if (match(r)) perSecond[Math.floor(r.t / 1000)]!++;
    return perSecond.map((n, s): [number, number] => [s, n]);
  };
  return [
    { name: "accepted (200)", color: colors.accepted, points: count((r) => isOrder(r) && r.status === 200) },
    { name: "queued (302)", color: colors.queued, points: count((r) => isOrder(r) && r.status === 302) },
    { name: "sold out (409)", color: colors.soldOut, points: count((r) => isOrder(r) && r.status === 409) },
    { name: "waiting-room polls", color: colors.polls, points: count((r) => r.kind === "status") },
  ];
}

const bucketsMs = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, Infinity];

function latencyHistogram(records: RequestRecord[]) {
  const outcomes = [
    { name: "accepted (200)", color: colors.accepted, match: (r: RequestRecord) => isOrder(r) && r.status === 200 },
    { name: "queued (302)", color: colors.queued, match: (r: RequestRecord) => isOrder(r) && r.status === 302 },
    { name: "sold out (409)", color: colors.soldOut, match: (r: RequestRecord) => isOrder(r) && r.status === 409 },
  ];
  return bucketsMs.map((upper, i) => {
    const lower = i === 0 ? 0 : bucketsMs[i - 1]!;
    return {
      label: upper === Infinity ? `≥${lower / 1000} s` : upper >= 1000 ? `<${upper / 1000} s` : `<${upper} ms`,
      values: outcomes.map((o) => ({ name: o.name, color: o.color, value: records.filter((r) => o.match(r) && r.ms >= lower && r.ms < upper).length })),
    };
  });
}

export function renderDemoReport(run: DemoRun): string {
  // A pause is a band over the charts; every other event a marker.
  const markers = run.events.filter((e) => !e.kind).map((e) => ({ x: e.t / 1000, label: e.label }));
  const pause = run.steering.pause;
  const bands: Band[] = pause ? [{ from: pause.t / 1000, to: pause.resumedT / 1000, label: `paused ${inSeconds(pause.pausedMs)}` }] : [];
  const steered = steeringClean(run.steering);
  const orders = run.records.filter(isOrder);
  const a = run.audit;
  const clean = auditClean(a);
  const killed = run.events.find((e) => e.label.startsWith("worker killed"));
  const back = run.events.find((e) => e.label.startsWith("worker back"));
  const chaos = killed
    ? `The worker was killed with <code>kill -9</code> at ${(killed.t / 1000).toFixed(1)} s${back ? ` and was back at ${(back.t / 1000).toFixed(1)} s` : " and did NOT come back"}.`
    : `<span class="bad">The worker was NOT killed during this run.</span>`;
  const l = a.latencyMs;
  const body = `
<h1>Flux-Gate demo — ${run.productId}</h1>
<p>${run.settings.stock.toLocaleString("en")} units, ${run.settings.buyers.toLocaleString("en")} buyers arriving over ${run.settings.arrivalSeconds} s,
admitted at ${run.settings.ratePerSecond}/s, through the edge on ${run.edge}. ${chaos}
Result: <span class="${clean ? "ok" : "bad"}">${clean ? "nothing oversold, lost or duplicated; PostgreSQL's stock = initial + added − sold" : "INCONSISTENT"}</span>.</p>
<p>Real path, edge → origin → Kafka → worker, from PostgreSQL's own timestamps (<code>persisted_at − accepted_at</code>):
${l ? `p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms over ${l.orders.toLocaleString("en")} orders` : "no order persisted"}.</p>
<p>Client p50/p99: what the demo's clients observed, their own queueing included (connection pool, event loop, the
machine's cores). Edge p50/p99: the edge's own <code>Server-Timing: edge;dur</code>, wall time inside workerd across I/O
(the Redis round-trip), not CPU: workerd's clock advances only across I/O. A large gap between the two is the crowd
queueing on this machine, not the edge.</p>
${htmlTable(...latencyTable(run))}
${run.cpu ? `<p>${cpuNote(run)}.</p>` : ""}
${htmlTable(...outcomeTable(run))}
<h2>The operator's controls</h2>
<p>Mid-drop the demo paused the sale through the edge's API (<code>POST /sales/${run.productId}/pause</code>, then <code>/resume</code>,
each with an Idempotency-Key and <code>X-Operator: demo</code>); once it sold out, it added stock (<code>PATCH /sales/${run.productId}</code>
<code>{"addStock"}</code>), which goes to the people in line first. The pause is the shaded band on the charts, the restock a marker.
<span class="${steered ? "ok" : "bad"}">${
    steered
      ? "Nothing was accepted while paused, and every control is in PostgreSQL's sale_events"
      : `NOT AS IT SHOULD BE${run.steering.problems.length ? `: ${run.steering.problems.join("; ")}` : ""}`
  }</span>.</p>
${htmlTable(...controlsTable(run))}
${
  run.lottery
    ? `<h2>Pre-queue and its lottery</h2>
<p>${run.lottery.entries.toLocaleString("en")} people entered the pre-queue before the start; the draw gave their places.
Verified from public data only (<code>GET /sales/${run.productId}/prequeue</code>, as <code>npm run verify-lottery</code> does):
<span class="${run.lottery.ok ? "ok" : "bad"}">${run.lottery.ok ? "SHA-256(seed) is the commitment published at /init, and every place is what the seed and the entries give" : `NOT VERIFIED: ${run.lottery.problems.join("; ")}`}</span>.
${run.lottery.placesAgree.toLocaleString("en")} of ${run.lottery.placesChecked.toLocaleString("en")} places the edge gave people at the start are the published draw's
(the others bought at once). Commitment <code>${run.lottery.commitment}</code>.</p>`
    : ""
}
<h2>Bots</h2>
<p>Beside the people (signed in, solving a ${run.settings.powDifficulty}-bit proof of work), a fleet of ${run.settings.botRequests.toLocaleString("en")} bot requests:
<span class="${run.bots.unitsBought === 0 && !run.bots.redisCommands ? "ok" : "bad"}">${run.bots.unitsBought} units bought by bots, ${run.bots.redisCommands ?? "n/a"} Redis commands spent on them</span>;
${run.result.outcomes.bought.toLocaleString("en")} people bought.</p>
${htmlTable(botRows(run.bots)[0]!.map(String), botRows(run.bots).slice(1))}
<h2>Adversaries</h2>
<p>A scalper (one signed-in account with ${run.adversaries.scalper.keys} Idempotency-Keys, each following the queue like a browser, solving the proof of work)
and a bill-attack fleet (each route that can never buy flooded in turn, ${(run.adversaries.attack[0]?.requests ?? 0).toLocaleString("en")} requests as fast as they go),
beside the crowd. Their billed commands are told apart by what they name (MONITOR):
<span class="${adversariesVerdict(run).scalperHeld ? "ok" : "bad"}">the scalper held ${run.adversaries.scalper.places.length} places and bought ${run.adversaries.scalper.unitsBought} units (limit ${run.adversaries.scalper.limit})</span>;
<span class="${adversariesVerdict(run).attacksCheap ? "ok" : "bad"}">${adversariesVerdict(run).attacksCheap ? "every attack" : "not every attack"} cost at most ${ATTACK_TARGET_PER_REQUEST} billed commands per request</span>
(or, for a flood the shared machine slowed down, the edge's bound whatever the rate: a command per isolate per second, two more at its start).</p>
${htmlTable(adversaryRows(run)[0]!.map(String), adversaryRows(run).slice(1))}
${lineChart("Throughput by outcome", throughput(run.records), { xLabel: "seconds since the first buyer", yLabel: "requests per second", markers, bands })}
${barChart("Latency distribution of purchase attempts", latencyHistogram(orders), { xLabel: "latency (client side, including connection queueing)", yLabel: "requests" })}
${lineChart(
  "Stock and queue length",
  [
    { name: "stock remaining", color: colors.stock, points: run.samples.map((s) => [s.t / 1000, s.remaining]) },
    { name: "waiting in line", color: colors.line, points: run.samples.map((s) => [s.t / 1000, s.queued]) },
  ],
  { xLabel: "seconds since the first buyer", yLabel: "units / people", markers, bands },
)}
${
  run.holds
    ? `<h2>After "accepted": holds for payment</h2>
<p>Each accepted order was held ${run.settings.holdSeconds} s for payment; the shop confirmed it (<code>POST /sales/${run.productId}/orders/:orderId/pay</code>)
unless the buyer was one of the ${Math.round((run.settings.noShow ?? 0) * 100)}% who never pay: their holds expired and the units went back to the people in line.
<span class="${holdsVerdict(run).ok ? "ok" : "bad"}">${holdsVerdict(run).ok ? "Every unit was sold to someone who paid; none was both paid and released" : `NOT AS IT SHOULD BE: ${holdsVerdict(run).problems.join("; ")}`}</span>.</p>
<ul>${holdsSummary(run)
        .map((line) => `<li>${line}</li>`)
        .join("")}</ul>
${lineChart(
  "Held, paid and expired per second (PostgreSQL)",
  [
    { name: "units held", color: colors.held, points: run.holds.perSecond.map((p) => [p.t, p.held]) },
    { name: "paid/s", color: colors.accepted, points: run.holds.perSecond.map((p) => [p.t, p.paid]) },
    { name: "expired/s", color: colors.soldOut, points: run.holds.perSecond.map((p) => [p.t, p.expired]) },
  ],
  { xLabel: "seconds since the first buyer", yLabel: "units / orders per second", markers, bands },
)}`
    : ""
}
${
  run.bill
    ? `<h2>What it cost on Upstash</h2>
<p>Every command each component sent to redis during the sale (from <code>/init</code> to drained: the crowd's gate calls and waiting-room reads, the origin's confirmations, the relay, and what the adversaries above cost), counted the way Upstash bills (MONITOR, by connection).</p>
${htmlTable(BILL_HEADER, billRows(run))}`
    : ""
}
<h2>Audit</h2>
<pre>${JSON.stringify(a, null, 2).replace(/</g, "&lt;")}</pre>
<h2>Events</h2>
<ul>${run.events.map((e) => `<li>${(e.t / 1000).toFixed(1)} s — ${e.label}</li>`).join("")}</ul>`;
  return htmlPage(`Flux-Gate demo ${run.productId}`, body);
}
