/**
 * `npm run bench:pipeline` — Kafka → PostgreSQL, measured on the running local stack.
 *
 *  1. drain   a backlog of BENCH_ORDERS (100,000) orders (the sale event first) on a fresh topic,
 *             consumed by the worker (createWorker, in this process) into a fresh schema:
 *             orders/s from the moment the worker's start() resolved (migrations and connections
 *             done, outside the clock) to the commit of the last order — joining the consumer
 *             group and the first fetch are inside it, and reported apart.
 *  2. naive   the same topic, from the beginning, by a one-message-one-transaction consumer
 *             (load/src/pipeline-naive.ts: the worker's own SQL, a batch of one) into another
 *             fresh schema, for its first BENCH_NAIVE_ORDERS (10,000) orders or BENCH_NAIVE_SECONDS
 *             (20 s), whichever comes first: orders/s from its first message to its last.
 *  3. latency orders produced at a steady BENCH_RATE (1,000/s) for BENCH_LATENCY_SECONDS (20 s),
 *             each with acceptedAt = the moment it is handed to the producer (the bench plays the
 *             origin; the edge → origin hop is not in it), to a worker already running: from
 *             acceptedAt to the COMMIT of the transaction that persisted it (seen in the worker's
 *             onBatchCommitted hook) — and, from PostgreSQL, persisted_at − accepted_at
 *             (persisted_at = now() = the transaction's start, so a little lower).
 *
 * Orders are keyed by productId like the origin's, over BENCH_PRODUCTS (1) products: a flash sale
 * of one product lives in one partition, so 1 is the worst case for the consumer.
 *
 * Progress on stderr, a table on stdout, results in .fluxgate/bench/pipeline.json. Exit code 1
 * only for a correctness failure (an order lost or counted twice); a missed target prints FAIL.
 * Everything it creates (topics, consumer groups, schemas) is removed at the end.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { kafkaBrokersFromEnv, LOCAL_DATABASE_URL } from "@fluxgate/common/node";
import { createPool, createWorker, loadConfig, migrate, type BatchCommitted, type Worker } from "@fluxgate/worker";
import cliProgress from "cli-progress";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import pg from "pg";
import { pino } from "pino";
import { makeOrder, makeSales, produceAll, toMessage } from "./pipeline-data";
import { runNaive } from "./pipeline-naive";
import { fluxgateHome, intEnv } from "./bench/env";
import { fmtInt, table } from "./bench/table";
import { within } from "./bench/within";
import { percentile } from "./report/stats";

const settings = {
  orders: intEnv("BENCH_ORDERS", 100_000),
  products: Math.max(1, intEnv("BENCH_PRODUCTS", 1)),
  partitions: Math.max(1, intEnv("BENCH_PARTITIONS", 6)),
  naiveOrders: intEnv("BENCH_NAIVE_ORDERS", 10_000),
  naiveSeconds: intEnv("BENCH_NAIVE_SECONDS", 20),
  rate: intEnv("BENCH_RATE", 1_000),
  latencySeconds: intEnv("BENCH_LATENCY_SECONDS", 20),
};
const targets = { drainPerSecond: 10_000, ratio: 5, p99Ms: 500 };

const brokers = kafkaBrokersFromEnv();
const databaseUrl = process.env.DATABASE_URL ?? LOCAL_DATABASE_URL;
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
const names = {
  topic: `bench.pipeline.${run}`,
  latencyTopic: `bench.pipeline.${run}.latency`,
  dlq: `bench.pipeline.${run}.dlq`,
  group: (what: string) => `bench-pipeline-${run}-${what}`,
  schema: (what: string) => `bench_pipeline_${run}_${what}`,
};
const log = (line: string) => process.stderr.write(`${line}\n`);
const logger = pino({ level: process.env.LOG_LEVEL ?? "error" }, pino.destination(2));

const kafka = new Kafka({ clientId: `bench-pipeline-${run}`, brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
const workers: Worker[] = [];
const schemas: string[] = [];

const bar = (label: string, total: number) => {
  const b = new cliProgress.SingleBar(
    { format: `${label.padEnd(8)} [{bar}] {percentage}% | {value}/{total} | {speed}`, hideCursor: true, stream: process.stderr, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  b.start(total, 0, { speed: "" });
  return b;
};

const workerConfig = (what: string, topic: string) =>
  loadConfig({
    KAFKA_BROKERS: brokers.join(","),
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: names.schema(what),
    ORDERS_TOPIC: topic,
    DLQ_TOPIC: names.dlq,
    CONSUMER_GROUP: names.group(what),
    WORKER_PORT: "0",
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("WORKER_"))),
  });

async function count(schema: string): Promise<{ orders: number; distinct: number; sold: number }> {
  const { rows } = await db.query(
    `SELECT (SELECT count(*) FROM ${schema}.orders)::int AS orders, (SELECT count(DISTINCT order_id) FROM ${schema}.orders)::int AS distinct,
            (SELECT coalesce(sum(initial_stock - stock), 0) FROM ${schema}.sales)::int AS sold`,
  );
  return rows[0];
}

// ---------------------------------------------------------------- 1. drain
async function drain() {
  const sales = makeSales(run, settings.products, settings.orders * 2);
  const orders = Array.from({ length: settings.orders }, (_, i) => makeOrder(sales[i % sales.length]!));
  const produced = bar("produce", orders.length + sales.length);
  const t0 = performance.now();
  await produceAll(producer, names.topic, [...sales, ...orders], (n) =>
    produced.update(n, { speed: `${fmtInt((n / (performance.now() - t0)) * 1000)} msg/s` }),
  );
  produced.stop();

  let persisted = 0;
  let firstCommit = 0;
  let lastCommit = 0;
  let batches = 0;
  const sizes: number[] = [];
  let allIn!: () => void;
  const done = new Promise<void>((resolve) => (allIn = resolve));
  const progress = bar("drain", orders.length);
  let started = 0;
  const worker = createWorker(workerConfig("drain", names.topic), logger, {
    onBatchCommitted: (b: BatchCommitted) => {
      persisted += b.persisted.length;
      lastCommit = performance.now();
      firstCommit ||= lastCommit;
      batches++;
      sizes.push(b.messages);
      progress.update(persisted, { speed: `${fmtInt((persisted / (lastCommit - started)) * 1000)} orders/s` });
      if (persisted >= orders.length) allIn();
    },
  });
  workers.push(worker);
  schemas.push(names.schema("drain"));
  const startCalled = performance.now();
  await worker.start();
  started = performance.now();
  await within(done, 120_000, "the drain");
  progress.stop();
  await worker.stop();
  const ms = lastCommit - started;
  sizes.sort((a, b) => a - b);
  const check = await count(names.schema("drain"));
  return {
    orders: orders.length,
    ms: Math.round(ms),
    perSecond: (orders.length / ms) * 1000,
    /** start() itself: migrations and connections, outside the clock. */
    startMs: Math.round(started - startCalled),
    /** From start() resolved to the first batch committed: the group join, the first fetch and batch, inside the clock. */
    firstCommitMs: Math.round(firstCommit - started),
    batches,
    batchMessagesP50: percentile(sizes, 50),
    batchMessagesMax: sizes.at(-1) ?? 0,
    check,
    correct: check.orders === orders.length && check.distinct === orders.length && check.sold === orders.length,
  };
}

// ---------------------------------------------------------------- 2. naive
async function naive() {
  const schema = names.schema("naive");
  schemas.push(schema);
  const pool = createPool({ DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema }, logger, 1);
  try {
    await migrate(pool, logger, schema);
    const total = settings.naiveOrders + settings.products; // its sale events are messages too
    const progress = bar("naive", total);
    const t0 = performance.now();
    const result = await runNaive({
      kafka,
      pool,
      topic: names.topic,
      group: names.group("naive"),
      maxMessages: total,
      maxMs: settings.naiveSeconds * 1000,
      onProgress: (n) => {
        if (n % 50 === 0) progress.update(n, { speed: `${fmtInt((n / (performance.now() - t0)) * 1000)} msg/s` });
      },
    });
    progress.update(result.messages);
    progress.stop();
    const check = await count(schema);
    return {
      messages: result.messages,
      persisted: result.persisted,
      ms: result.ms,
      perSecond: (result.persisted / result.ms) * 1000,
      bound: `first ${fmtInt(settings.naiveOrders)} orders or ${settings.naiveSeconds} s`,
      correct: check.orders === result.persisted && check.sold === result.persisted,
    };
  } finally {
    await pool.end();
  }
}

// ---------------------------------------------------------------- 3. latency
async function latency() {
  const sales = makeSales(`${run}l`, settings.products, settings.rate * settings.latencySeconds * 2);
  await producer.send({ topic: names.latencyTopic, acks: -1, messages: sales.map(toMessage) });
  const total = settings.rate * settings.latencySeconds;
  const latencies: number[] = [];
  let persisted = 0;
  let allIn!: () => void;
  const done = new Promise<void>((resolve) => (allIn = resolve));
  const accepted = new Map<string, number>();
  const worker = createWorker(workerConfig("latency", names.latencyTopic), logger, {
    onBatchCommitted: (b) => {
      for (const o of b.persisted) latencies.push(b.committedAt - o.acceptedAt.getTime());
      persisted += b.persisted.length;
      if (persisted >= total) allIn();
    },
  });
  workers.push(worker);
  schemas.push(names.schema("latency"));
  await worker.start();
  // Wait until it has the sales (so it is in the group and warm) before the clock starts.
  while ((await db.query(`SELECT count(*)::int AS n FROM ${names.schema("latency")}.sales`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n < sales.length) {
    await sleep(50);
  }

  const progress = bar("latency", total);
  const t0 = Date.now();
  let sent = 0;
  let sends = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * settings.rate));
    if (due > sent) {
      const now = Date.now();
      const batch = Array.from({ length: due - sent }, (_, i) => makeOrder(sales[(sent + i) % sales.length]!, now));
      for (const o of batch) accepted.set(o.orderId, now);
      sent = due;
      sends++;
      await producer.send({ topic: names.latencyTopic, acks: -1, messages: batch.map(toMessage) });
      progress.update(persisted, { speed: `sent ${fmtInt(sent)}` });
    }
    await sleep(5);
  }
  const producedMs = Date.now() - t0;
  await within(done, 60_000, "the latency run");
  progress.update(persisted, { speed: "" });
  progress.stop();
  await worker.stop();

  latencies.sort((a, b) => a - b);
  const { rows } = await db.query(
    `SELECT percentile_disc(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY persisted_at - accepted_at) AS p,
            max(persisted_at - accepted_at) AS max
       FROM ${names.schema("latency")}.orders`,
  );
  const ms = (interval: { milliseconds?: number; seconds?: number; minutes?: number } | null) =>
    interval ? Math.round(((interval.minutes ?? 0) * 60 + (interval.seconds ?? 0)) * 1000 + (interval.milliseconds ?? 0)) : NaN;
  const check = await count(names.schema("latency"));
  return {
    orders: total,
    rate: (total / producedMs) * 1000,
    sends,
    commitP50: percentile(latencies, 50),
    commitP95: percentile(latencies, 95),
    commitP99: percentile(latencies, 99),
    commitMax: latencies.at(-1) ?? NaN,
    dbP50: ms(rows[0].p[0]),
    dbP99: ms(rows[0].p[1]),
    dbMax: ms(rows[0].max),
    correct: check.orders === total && check.distinct === total && check.sold === total,
  };
}

// ---------------------------------------------------------------- main
async function cleanup() {
  await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
  await producer.disconnect().catch(() => undefined);
  const groups = (await admin.listGroups().catch(() => ({ groups: [] }))).groups.map((g) => g.groupId).filter((g) => g.startsWith(`bench-pipeline-${run}`));
  await admin.deleteGroups(groups).catch(() => undefined);
  await admin.deleteTopics({ topics: [names.topic, names.latencyTopic, names.dlq] }).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  for (const schema of schemas) await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await db.end();
}

async function main() {
  const startedAt = Date.now();
  log(`bench:pipeline run ${run}: ${fmtInt(settings.orders)} orders over ${settings.products} product(s), ${settings.partitions} partitions`);
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: names.topic, numPartitions: settings.partitions },
      { topic: names.latencyTopic, numPartitions: settings.partitions },
      { topic: names.dlq, numPartitions: 1 },
    ],
  });
  await producer.connect();

  const d = await drain();
  const n = await naive();
  const l = await latency();
  const ratio = d.perSecond / n.perSecond;

  const pass = (ok: boolean) => (ok ? "PASS" : "FAIL");
  const checks = [
    {
      name: "drain rate (batch worker)",
      wanted: `≥ ${fmtInt(targets.drainPerSecond)} orders/s`,
      measured: `${fmtInt(d.perSecond)} orders/s`,
      ok: d.perSecond >= targets.drainPerSecond,
    },
    { name: "batch vs naive", wanted: `≥ ${targets.ratio}×`, measured: `${ratio.toFixed(1)}×`, ok: ratio >= targets.ratio },
    {
      name: "producer-side latency p99 at 1,000/s (no edge, no origin)",
      wanted: `< ${targets.p99Ms} ms`,
      measured: `${l.commitP99} ms`,
      ok: l.commitP99 < targets.p99Ms,
    },
  ];
  const correct = d.correct && n.correct && l.correct;

  const out: string[] = [];
  out.push(`Kafka → PostgreSQL pipeline (${cpus().length} cores, ${cpus()[0]?.model ?? "?"}, Node ${process.version})`, "");
  out.push(
    table([
      ["run", "orders", "time", "orders/s", "notes"],
      [
        "drain: batch worker",
        fmtInt(d.orders),
        `${fmtInt(d.ms)} ms`,
        fmtInt(d.perSecond),
        `${d.batches} batches (median ${fmtInt(d.batchMessagesP50)}, max ${fmtInt(d.batchMessagesMax)} messages); clock from start() resolved: migrations + connect (${d.startMs} ms) outside, group join + first batch (${d.firstCommitMs} ms) inside`,
      ],
      ["naive: 1 message = 1 tx", fmtInt(n.persisted), `${fmtInt(n.ms)} ms`, fmtInt(n.perSecond), `same topic, ${n.bound}`],
    ]),
    "",
    table([
      ["latency at a steady rate", "p50", "p95", "p99", "max"],
      [
        `acceptedAt → COMMIT (${fmtInt(l.rate)}/s, ${fmtInt(l.orders)} orders)`,
        `${l.commitP50} ms`,
        `${l.commitP95} ms`,
        `${l.commitP99} ms`,
        `${l.commitMax} ms`,
      ],
      ["accepted_at → persisted_at (PostgreSQL)", `${l.dbP50} ms`, "", `${l.dbP99} ms`, `${l.dbMax} ms`],
    ]),
    "",
    table([["target", "wanted", "measured", "result"], ...checks.map((c) => [c.name, c.wanted, c.measured, pass(c.ok)])]),
    "",
    `correctness (every order persisted once, stock taken once): ${correct ? "ok" : "FAILED"}`,
  );
  console.log(out.join("\n"));

  const dir = join(fluxgateHome(), "bench");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "pipeline.json");
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        at: new Date(startedAt).toISOString(),
        seconds: Math.round((Date.now() - startedAt) / 1000),
        machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version },
        settings,
        drain: d,
        naive: n,
        ratio,
        latency: l,
        targets: checks,
        correct,
      },
      null,
      2,
    )}\n`,
  );
  log(`results in ${file}`);
  if (!correct) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  log(`bench:pipeline failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
