/**
 * `npm run bench:bill` — the whole system's Upstash bill, measured the way Upstash bills.
 *
 * Through the running local stack as a user runs it: its edge (EDGE_ISOLATES workerd isolates
 * behind a round-robin; which runtime serves the edge changes no command), the bridge → redis, the origin and its relay, Kafka. Every
 * command each component's connections
 * send is counted with redis-cli MONITOR (bench/bill.ts): the edge (the bridge's connections),
 * the origin's forward confirmations, and the relay.
 *
 *  1. orders  BILL_ORDERS (1,000) distinct buyers on a sale of exactly that stock, BILL_CONNECTIONS
 *             (16) at a time, until the origin confirmed every one: commands per accepted order
 *  2. idle    BILL_IDLE_SECONDS (30) with no sale opened by the bench, then with BILL_IDLE_SALES
 *             (100) open sales nobody buys from: commands per second
 *  3. paid    BILL_ORDERS buyers on a sale with holds of BILL_HOLD_SECONDS (10), each order confirmed
 *             by the shop (POST /sales/:productId/orders/:orderId/pay, SHOP_API_TOKEN) as soon as it
 *             is accepted, until PostgreSQL has them paid and every hold's expiry passed: commands
 *             per paid order (the gate call + the confirmation, and what else)
 *  4. expiry  BILL_ORDERS buyers on a sale with holds of BILL_EXPIRY_HOLD_SECONDS (2) nobody pays,
 *             nobody calling after the last order, until PostgreSQL has them expired: commands per
 *             hold beyond the gate call (none at the edge), and the origin's sweeps per second
 *
 * Prints a table, writes .fluxgate/bench/bill.json. Exit 1 when a target is missed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BILL_COMPONENTS, upstashCostUsd, UPSTASH_PAYG_USD_PER_100K_COMMANDS } from "@fluxgate/common";
import { BILL_TARGETS, billPer, fmtUsd, type BillJson } from "./bench/bill";
import { billHolds, type HoldsBill } from "./bench/bill-holds";
import { billIdle, billOrders } from "./bench/bill-runs";
import { ensureStack, fluxgateHome, intEnv, readDevVars } from "./bench/env";
import { table } from "./bench/table";

const settings = {
  orders: intEnv("BILL_ORDERS", 1000),
  connections: intEnv("BILL_CONNECTIONS", 16),
  idleSeconds: intEnv("BILL_IDLE_SECONDS", 30),
  idleSales: intEnv("BILL_IDLE_SALES", 100),
  holdSeconds: intEnv("BILL_HOLD_SECONDS", 10),
  expiryHoldSeconds: intEnv("BILL_EXPIRY_HOLD_SECONDS", 2),
};

const outDir = join(fluxgateHome(), "bench");
mkdirSync(outDir, { recursive: true });
const runId = `bill${Date.now().toString(36)}`;
const log = (line: string) => process.stderr.write(`${line}\n`);
const SECONDS_PER_DAY = 86_400;

async function main(): Promise<number> {
  const stack = await ensureStack(log);
  const vars = readDevVars();
  const target = {
    edge: new URL(stack.edgeUrl),
    adminToken: vars.ADMIN_TOKEN!,
    shopToken: vars.SHOP_API_TOKEN!,
    redisUrl: stack.redisUrl,
    databaseUrl: stack.databaseUrl,
    originMetricsUrl: stack.originMetricsUrl,
    issuer: stack.issuer.url,
    dir: outDir,
  };
  {
    log(`[1/5] ${settings.orders} orders through the edge, ${settings.connections} at a time, until the origin confirmed them …`);
    const orders = await billOrders(target, { productId: `${runId}-orders`, orders: settings.orders, concurrency: settings.connections });
    log(`[2/5] idle ${settings.idleSeconds} s, no sale opened by the bench …`);
    const idle0 = await billIdle(target, { seconds: settings.idleSeconds, openSales: 0, runId });
    log(`[3/5] idle ${settings.idleSeconds} s with ${settings.idleSales} open sales …`);
    const idleN = await billIdle(target, { seconds: settings.idleSeconds, openSales: settings.idleSales, runId });
    log(`[4/5] ${settings.orders} orders held ${settings.holdSeconds} s, each confirmed by the shop, until PostgreSQL has them paid …`);
    const paid = await billHolds(target, {
      productId: `${runId}-paid`,
      orders: settings.orders,
      concurrency: settings.connections,
      holdSeconds: settings.holdSeconds,
      pay: true,
    });
    log(`[5/5] ${settings.orders} orders held ${settings.expiryHoldSeconds} s that nobody pays, until PostgreSQL has them expired …`);
    const expiry = await billHolds(target, {
      productId: `${runId}-expiry`,
      orders: settings.orders,
      concurrency: settings.connections,
      holdSeconds: settings.expiryHoldSeconds,
      pay: false,
    });
    return report({ orders, idle: [idle0, idleN], paid, expiry, edge: target.edge.origin });
  }
}

function report(r: {
  orders: Awaited<ReturnType<typeof billOrders>>;
  idle: Awaited<ReturnType<typeof billIdle>>[];
  paid: HoldsBill;
  expiry: HoldsBill;
  edge: string;
}): number {
  const perOrder = billPer(r.orders.bill, r.orders.accepted);
  const perPaid = billPer(r.paid.bill, r.paid.paid);
  const perHold = billPer(r.expiry.bill, r.expiry.accepted);
  // The edge's commands beyond one gate call per order: what expiry costs at the edge (none: it rides in calls already made).
  const edgeBeyondGate = (r.expiry.bill.commands.edge - r.expiry.accepted) / r.expiry.accepted;
  // A sale's sweeps are at least an interval apart: n sweeps are n − 1 intervals over the time it had expired holds.
  const sweepsPerSecond = Math.max(0, r.expiry.sweeps - 1) / r.expiry.expiredSeconds;
  const cells = (per: Record<string, number>, digits: number) => [...BILL_COMPONENTS.map((c) => per[c]!.toFixed(digits)), per.total!.toFixed(digits)];
  const idleRows = r.idle.map((i) => {
    const per = billPer(i.bill, i.bill.seconds);
    return { i, per, perDay: per.total * SECONDS_PER_DAY };
  });
  const out = [
    "",
    `Flux-Gate Upstash bill ${runId}: the local stack (edge ${r.edge}, its origin and relay); every command each component sent (redis-cli MONITOR, by connection name)`,
    "",
    table([
      ["measured", ...BILL_COMPONENTS, "total", "target"],
      [
        `per accepted order (${r.orders.accepted} orders at ${(r.orders.accepted / r.orders.sellingSeconds).toFixed(0)}/s, drained)`,
        ...cells(perOrder, 3),
        `≤ ${BILL_TARGETS.perOrder}`,
      ],
      ...idleRows.map(({ i, per }) => [
        `per second idle, ${i.openSales} open sales (${i.registered} registered, ${i.bill.seconds.toFixed(0)} s)`,
        ...cells(per, 3),
        `≤ ${BILL_TARGETS.idlePerSecond}`,
      ]),
      [
        `per paid order (${r.paid.paid} held ${settings.holdSeconds} s, each confirmed by the shop, drained)`,
        ...cells(perPaid, 3),
        `≤ ${BILL_TARGETS.perPaidOrder}`,
      ],
      [
        `per expired hold (${r.expiry.accepted} held ${settings.expiryHoldSeconds} s, none paid; ${r.expiry.sweeps} origin sweeps)`,
        ...cells(perHold, 3),
        "edge = 1 gate call",
      ],
    ]),
    "",
    `By command: orders ${JSON.stringify(r.orders.bill.byCommand)}; idle ${idleRows.map(({ i }) => JSON.stringify(i.bill.byCommand)).join(" / ")}; ` +
      `paid ${JSON.stringify(r.paid.bill.byCommand)}; expiry ${JSON.stringify(r.expiry.bill.byCommand)}`,
    `A paid order: the gate call and the shop's confirmation at the edge (${perPaid.edge.toFixed(3)}), the forwards' batched outbox confirmations ` +
      `(order and payment: ${perPaid.forward.toFixed(3)}), the relay's reads (${perPaid.relay.toFixed(3)}); ${r.paid.sweeps} sweeps (a paid hold sets none off).`,
    `An expired hold: no edge command beyond its gate call (${edgeBeyondGate.toFixed(3)} per hold: ended inside later gate calls or by the origin's sweeps), ` +
      `${r.expiry.sweeps} sweeps over the ${r.expiry.expiredSeconds.toFixed(1)} s the sale had expired holds (first expiry to last + one interval; ` +
      `${sweepsPerSecond.toFixed(2)} intervals/s), ` +
      `the relay producing the expiries from the outbox (${perHold.relay.toFixed(3)} per hold, sweeps included).`,
    `At Upstash pay-as-you-go ($${UPSTASH_PAYG_USD_PER_100K_COMMANDS} per 100k commands): a 1,000-order sale ${fmtUsd(upstashCostUsd(perOrder.total * 1000))}, ` +
      `idle ${idleRows.map(({ i, perDay }) => `${fmtUsd(upstashCostUsd(perDay))}/day with ${i.openSales} open sales`).join(", ")}`,
  ];
  const targets = [
    {
      name: "billed commands per accepted order (edge + origin)",
      target: `≤ ${BILL_TARGETS.perOrder}`,
      measured: perOrder.total.toFixed(3),
      pass: perOrder.total <= BILL_TARGETS.perOrder && r.orders.accepted === r.orders.sent,
    },
    ...idleRows.map(({ i, per }) => ({
      name: `idle billed commands/s, ${i.openSales} open sales`,
      target: `≤ ${BILL_TARGETS.idlePerSecond}`,
      measured: per.total.toFixed(3),
      pass: per.total <= BILL_TARGETS.idlePerSecond,
    })),
    {
      name: "billed commands per paid order (gate call + confirmation, whole system)",
      target: `≤ ${BILL_TARGETS.perPaidOrder}`,
      measured: perPaid.total.toFixed(3),
      pass: perPaid.total <= BILL_TARGETS.perPaidOrder && r.paid.paid === r.paid.sent,
    },
    {
      name: "edge commands per expired hold beyond its gate call",
      target: "0",
      measured: edgeBeyondGate.toFixed(3),
      pass: edgeBeyondGate === 0 && r.expiry.accepted === r.expiry.sent,
    },
    {
      name: "origin sweeps per second per sale with expired holds (intervals between sweeps)",
      target: `≤ ${BILL_TARGETS.sweepsPerSecondPerSale}`,
      measured: sweepsPerSecond.toFixed(2),
      pass: sweepsPerSecond <= BILL_TARGETS.sweepsPerSecondPerSale,
    },
  ];
  out.push(
    "",
    table([["target", "wanted", "measured", "result"], ...targets.map((t) => [t.name, t.target, t.measured, t.pass ? "PASS" : "FAIL"])], {
      alignNumbers: false,
    }),
  );
  process.stdout.write(`${out.join("\n")}\n`);
  const json: BillJson = {
    runId,
    at: new Date().toISOString(),
    priceUsdPer100k: UPSTASH_PAYG_USD_PER_100K_COMMANDS,
    orders: {
      accepted: r.orders.accepted,
      sent: r.orders.sent,
      connections: settings.connections,
      ordersPerSecond: r.orders.accepted / r.orders.sellingSeconds,
      bill: r.orders.bill,
      perOrder,
    },
    idle: idleRows.map(({ i, per, perDay }) => ({ openSales: i.openSales, registered: i.registered, bill: i.bill, perSecond: per, perDay })),
    holds: {
      paid: { holdSeconds: settings.holdSeconds, paid: r.paid.paid, sent: r.paid.sent, sweeps: r.paid.sweeps, bill: r.paid.bill, perPaidOrder: perPaid },
      expiry: {
        holdSeconds: settings.expiryHoldSeconds,
        held: r.expiry.accepted,
        sweeps: r.expiry.sweeps,
        expiredSeconds: r.expiry.expiredSeconds,
        sweepsPerSecond,
        bill: r.expiry.bill,
        perHold,
      },
    },
    targets,
  };
  writeFileSync(join(outDir, "bill.json"), `${JSON.stringify(json, null, 2)}\n`);
  return targets.every((t) => t.pass) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`\nbench:bill failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
