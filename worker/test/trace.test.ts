/**
 * Each order's trace reaches its row: the trace id of the traceparent it carries (the edge's) is
 * stored with it, and a broken or missing one never costs the order. A batch's span links the
 * records' contexts (their traceparent headers, the origin's spans).
 */
import { MAX_SPAN_LINKS, type Span, type Tracer } from "@fluxgate/common/node";
import type { KafkaMessage } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processBatch } from "../src/batch";
import { createPool } from "../src/db";
import { migrate } from "../src/migrate";
import { startBatchSpan } from "../src/trace";
import { createSandbox, order, sale, testLogger, type Sandbox } from "./support";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const traceparent = (traceId: string, spanId = "00f067aa0ba902b7") => `00-${traceId}-${spanId}-01`;

describe("an order's trace id in PostgreSQL", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await createSandbox("trace");
    await migrate(sandbox.db, testLogger(), sandbox.schema);
  }, 60_000);
  afterAll(() => sandbox?.cleanup(), 60_000);

  it("keeps the trace id the order names, and persists an order with a broken or no traceparent without one", async () => {
    const pool = createPool({ DATABASE_URL: sandbox.config().DATABASE_URL, DATABASE_SCHEMA: sandbox.schema }, testLogger(), 1);
    try {
      const theSale = sale();
      const traced = order(theSale, { traceparent: traceparent(TRACE) });
      const broken = { ...order(theSale), traceparent: `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01` };
      const untraced = order(theSale);
      const messages = [theSale, traced, broken, untraced].map((e, i) => ({ offset: String(i), value: Buffer.from(JSON.stringify(e)) }));

      const result = await processBatch(pool, { partition: 0, messages });
      expect(result.dead).toEqual([]);
      expect(new Map(result.persisted.map((p) => [p.orderId, p.traceId]))).toEqual(
        new Map([
          [traced.orderId, TRACE],
          [broken.orderId, null],
          [untraced.orderId, null],
        ]),
      );
      const { rows } = await sandbox.db.query<{ order_id: string; trace_id: string | null }>("SELECT order_id, trace_id FROM orders WHERE trace_id = $1", [
        TRACE,
      ]);
      expect(rows).toEqual([{ order_id: traced.orderId, trace_id: TRACE }]);
      const { rows: all } = await sandbox.db.query("SELECT count(*)::int AS n FROM orders");
      expect(all[0].n).toBe(3);
    } finally {
      await pool.end();
    }
  });
});

describe("a batch's span", () => {
  /** A tracer that only records what it was asked for. */
  function recordingTracer() {
    const started: Array<{ name: string; options: Parameters<Tracer["startSpan"]>[1] }> = [];
    const tracer = {
      startSpan: (name: string, options: Parameters<Tracer["startSpan"]>[1]) => {
        started.push({ name, options });
        return {} as Span;
      },
    } as unknown as Tracer;
    return { tracer, started };
  }
  const record = (offset: number, headers: KafkaMessage["headers"]) => ({ offset: String(offset), headers }) as KafkaMessage;

  it("links the context each record's traceparent header names, and skips records without a valid one", () => {
    const { tracer, started } = recordingTracer();
    const other = "0af7651916cd43dd8448eb211c80319c";
    startBatchSpan(tracer, {
      topic: "orders",
      partition: 2,
      messages: [
        record(0, { traceparent: Buffer.from(traceparent(TRACE)) }),
        record(1, {}),
        record(2, { traceparent: "not a traceparent" }),
        record(3, { traceparent: [Buffer.from(traceparent(other, "b7ad6b7169203331"))] }),
      ],
    });
    expect(started).toHaveLength(1);
    const links = started[0]!.options?.links ?? [];
    expect(links.map((l) => [l.context.traceId, l.context.spanId, l.context.isRemote])).toEqual([
      [TRACE, "00f067aa0ba902b7", true],
      [other, "b7ad6b7169203331", true],
    ]);
    expect(started[0]!.options?.attributes).toMatchObject({ "messaging.destination.name": "orders", "messaging.batch.message_count": 4 });
  });

  it("links at most MAX_SPAN_LINKS records of a huge batch", () => {
    const { tracer, started } = recordingTracer();
    const messages = Array.from({ length: MAX_SPAN_LINKS + 500 }, (_, i) => record(i, { traceparent: traceparent(TRACE) }));
    startBatchSpan(tracer, { topic: "orders", partition: 0, messages });
    expect(started[0]!.options?.links).toHaveLength(MAX_SPAN_LINKS);
  });
});
