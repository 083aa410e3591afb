/**
 * The Node services' spans: a child of the trace a traceparent names, with an id of its own, sent
 * over OTLP/HTTP only when an endpoint is configured.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseTraceparent } from "../src";
import { createTracerProvider, endSpan, SpanKind, startChildSpan, traceparentOf } from "../src/node";

const EDGE_SPAN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/** A stand-in OTLP collector: what was POSTed to it, by path. */
const received: Array<{ path: string; type: string; body: string }> = [];
const collector = createServer((req: IncomingMessage, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    received.push({ path: req.url ?? "", type: req.headers["content-type"] ?? "", body });
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
let endpoint: string;
beforeAll(async () => {
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => collector.close(resolve)));

describe("startChildSpan", () => {
  it("continues the trace a traceparent names in a span of its own, and continues nothing without one", async () => {
    const provider = createTracerProvider("origin", {});
    const tracer = provider.getTracer("test");
    const span = startChildSpan(tracer, "produce order", EDGE_SPAN, SpanKind.PRODUCER, {});
    const next = parseTraceparent(traceparentOf(span!));
    expect(next).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", sampled: true });
    expect(next!.spanId).not.toBe("00f067aa0ba902b7");
    endSpan(span);
    expect(startChildSpan(tracer, "produce order", undefined, SpanKind.PRODUCER, {})).toBeUndefined();
    expect(startChildSpan(tracer, "produce order", "00-garbage", SpanKind.PRODUCER, {})).toBeUndefined();
    await provider.shutdown();
  });
});

describe("OTLP export", () => {
  it("sends the spans to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces, named by the service", async () => {
    received.length = 0;
    const provider = createTracerProvider("origin", { OTEL_EXPORTER_OTLP_ENDPOINT: `${endpoint}/` });
    endSpan(startChildSpan(provider.getTracer("test"), "produce order", EDGE_SPAN, SpanKind.PRODUCER, { "fluxgate.order_id": "o-1" }));
    await provider.forceFlush();
    await provider.shutdown();
    expect(received.map((r) => r.path)).toEqual(["/v1/traces"]);
    const body = received[0]!.body;
    expect(body).toContain("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(body).toContain("o-1");
    expect(body).toContain('"origin"');
  });

  it("sends nothing when no endpoint is configured", async () => {
    received.length = 0;
    const provider = createTracerProvider("origin", {});
    endSpan(startChildSpan(provider.getTracer("test"), "produce order", EDGE_SPAN, SpanKind.PRODUCER, {}));
    await provider.forceFlush();
    await provider.shutdown();
    expect(received).toEqual([]);
  });
});
