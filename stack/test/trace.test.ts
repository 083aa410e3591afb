/**
 * One trace per order, followed the way an SRE would: from the buyer's traceparent to the edge's
 * log line, the origin's, the worker's and the order's PostgreSQL row, all by one trace id — for an
 * order the edge's forward delivered, and for one whose forward failed and the relay delivered.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stackConfig } from "../src/config";
import { logFile } from "../src/daemon";
import { ensureDevVars } from "../src/secrets";
import { bearer, type EdgeUnderTest, initSale, type OrderReply, send, startEdge, total, uniqueProduct } from "./edge-isolates/harness";

const stack = inject("stack");
const { home } = stackConfig();
const logs = { origin: logFile(home, "origin"), worker: logFile(home, "worker") };

/** The stack's own edge (its isolates log to .fluxgate/logs/edge-workerd.log). */
const stackEdge: EdgeUnderTest = {
  url: new URL(stack.edge.url),
  isolates: 1,
  adminToken: ensureDevVars().get("ADMIN_TOKEN")!,
  issuer: stack.issuer.url,
  commands: new Map(),
  logPath: join(home.logs, "edge-workerd.log"),
  stop: async () => undefined,
};

type Line = Record<string, unknown>;

/**
 * The JSON lines of a log that name `id`. The edge's lines start with workerd's timestamp and
 * level; the Node services' are pino's JSON as is. Every line that names it must be JSON.
 */
function linesNaming(file: string, id: string): Line[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.includes(id))
    .map((line) => JSON.parse(line.slice(line.indexOf("{"))) as Line);
}

const randomHex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");

let db: pg.Client;
beforeAll(async () => {
  db = new pg.Client({ connectionString: stack.postgres.url });
  await db.connect();
});
afterAll(() => db?.end());

/** The order's row, once the worker wrote it. */
async function rowOf(orderId: string): Promise<{ trace_id: string | null }> {
  let row: { trace_id: string | null } | undefined;
  await expect
    .poll(
      async () => {
        row = (await db.query<{ trace_id: string | null }>("SELECT trace_id FROM orders WHERE order_id = $1", [orderId])).rows[0];
        return row !== undefined;
      },
      { timeout: 30_000, interval: 200 },
    )
    .toBe(true);
  return row!;
}

async function buy(edge: EdgeUnderTest, productId: string, userId: string, traceparent?: string): Promise<OrderReply> {
  const reply = await send<OrderReply>(edge, "/order", {
    method: "POST",
    headers: {
      ...(await bearer(edge, userId)),
      "content-type": "application/json",
      "idempotency-key": crypto.randomUUID(),
      ...(traceparent === undefined ? {} : { traceparent }),
    },
    body: JSON.stringify({ productId }),
  });
  expect(reply.status).toBe(200);
  return reply.body;
}

/** The hops of one order, each found by its trace id alone; then the same order id at every one. */
async function followTrace(edgeLog: string, traceId: string, orderId: string, source: "forward" | "relay") {
  const [accepted] = linesNaming(edgeLog, traceId).filter((l) => l.event === "order accepted");
  expect(accepted).toMatchObject({ level: "info", outcome: "accepted", traceId, orderId });

  expect((await rowOf(orderId)).trace_id).toBe(traceId);

  const persisted = () => linesNaming(logs.worker, traceId).filter((l) => l.msg === "order persisted");
  await expect.poll(() => persisted().length, { timeout: 10_000, interval: 200 }).toBe(1);
  expect(persisted()[0]).toMatchObject({ name: "worker", traceId, orderId });

  const produced = linesNaming(logs.origin, traceId).filter((l) => l.msg === "order produced");
  expect(produced.map((l) => l.source)).toEqual([source]);
  expect(produced[0]).toMatchObject({ name: "origin", traceId, orderId, outboxId: accepted!.outboxId });
  // Each hop is a span of its own in the buyer's trace, not a copy of the caller's.
  expect(new Set([accepted!.spanId, produced[0]!.spanId]).size).toBe(2);
  return { accepted: accepted!, produced: produced[0]! };
}

describe("one trace per order", { timeout: 120_000 }, () => {
  it("follows an order from the buyer's traceparent to its row: edge, forward, origin, Kafka, worker", async () => {
    const productId = uniqueProduct("trace-forward");
    await initSale(stackEdge, { productId, quantity: 10 });
    const traceId = randomHex(16);
    const buyersSpan = randomHex(8);
    const { orderId } = await buy(stackEdge, productId, `tracer-${traceId}`, `00-${traceId}-${buyersSpan}-01`);

    const { accepted } = await followTrace(stackEdge.logPath, traceId, orderId!, "forward");
    // The edge continues the buyer's trace in a span of its own.
    expect(accepted.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(accepted.spanId).not.toBe(buyersSpan);
    expect(accepted.productId).toBe(productId);
  });

  it("starts a trace of its own for a request without a valid traceparent, and follows it the same way", async () => {
    const productId = uniqueProduct("trace-invalid");
    await initSale(stackEdge, { productId, quantity: 10 });
    const forged = `00-${"A".repeat(32)}-${randomHex(8)}-01`; // uppercase: not version 00
    const { orderId } = await buy(stackEdge, productId, `untraced-${randomHex(4)}`, forged);

    const [accepted] = linesNaming(stackEdge.logPath, orderId!).filter((l) => l.event === "order accepted");
    const traceId = String(accepted?.traceId);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(readFileSync(stackEdge.logPath, "utf8")).not.toContain(forged);
    await followTrace(stackEdge.logPath, traceId, orderId!, "forward");
  });

  it("keeps the trace of an order whose forward failed: the relay delivers it from the outbox, trace id intact", async () => {
    // An edge whose origin does not answer (a port nobody listens on): every forward fails, the stack's origin relays.
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const edge = await startEdge(stack, 1, { originUrl: `http://127.0.0.1:${closedPort}` });
    try {
      const productId = uniqueProduct("trace-relay");
      await initSale(edge, { productId, quantity: 10 });
      const traceId = randomHex(16);
      await bearer(edge, `relayed-${traceId}`);
      const before = total(edge.commands);
      const { orderId } = await buy(edge, productId, `relayed-${traceId}`, `00-${traceId}-${randomHex(8)}-01`);
      // The trace rides in the gate's one EVALSHA: not one Redis command more per order.
      expect(total(edge.commands) - before).toBe(1);

      // The edge says its forward failed, with the trace id and the outbox entry the relay will read.
      await expect
        .poll(() => linesNaming(edge.logPath, traceId).filter((l) => l.event === "forward failed; the outbox relay will deliver it").length, {
          timeout: 15_000,
          interval: 200,
        })
        .toBe(1);
      const [failed] = linesNaming(edge.logPath, traceId).filter((l) => l.level === "warn");
      const { accepted } = await followTrace(edge.logPath, traceId, orderId!, "relay");
      expect(failed?.outboxId).toBe(accepted.outboxId);
    } finally {
      await edge.stop();
    }
  });
});
