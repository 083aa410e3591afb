import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { formatTraceparent, parseTraceparent, type TraceContext } from "../trace-context";

export { SpanKind, SpanStatusCode, type Link, type Span, type Tracer };

/**
 * OpenTelemetry for the Node services, through its API. The SDK's provider is always there, so a
 * span the origin or the worker opens has an id of its own (the API alone would hand back the
 * parent's); it is exported only when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set,
 * over OTLP/HTTP — otherwise spans cost a few objects and go nowhere, and the logs' traceId is
 * what ties an order together. The traceparent text is read and written by common's
 * trace-context.ts only, so edge and Node agree on one definition of it.
 */

/** A span links at most this many contexts: a worker batch of thousands links its first ones. */
export const MAX_SPAN_LINKS = 1000;

/** A provider for `service`, exporting when the environment names an OTLP endpoint. */
export function createTracerProvider(service: string, env: NodeJS.ProcessEnv = process.env): TracerProvider {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (base ? `${base.replace(/\/+$/, "")}/v1/traces` : undefined);
  return new TracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || service }),
    spanLimits: { linkCountLimit: MAX_SPAN_LINKS },
    spanProcessors: url ? [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) })] : [],
  });
}

let processProvider: TracerProvider | undefined;

/** The tracer of a service, from the process's one provider (registered globally on first use). */
export function serviceTracer(service: string): Tracer {
  if (!processProvider) {
    processProvider = createTracerProvider(service);
    trace.setGlobalTracerProvider(processProvider);
  }
  return processProvider.getTracer(`fluxgate-${service}`);
}

/** Exports what is left and stops the exporter (the last shutdown step of a service). */
export async function shutdownTracing(): Promise<void> {
  await processProvider?.shutdown();
}

const spanContextOf = (c: TraceContext): SpanContext => ({
  traceId: c.traceId,
  spanId: c.spanId,
  traceFlags: c.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
  isRemote: true,
});

/**
 * A span continuing the trace a `traceparent` names (another service's span is its parent), or
 * undefined when there is none to continue: an event without a trace is not given one here.
 */
export function startChildSpan(tracer: Tracer, name: string, traceparent: string | undefined, kind: SpanKind, attributes: Attributes): Span | undefined {
  const parent = parseTraceparent(traceparent);
  if (!parent) return undefined;
  return tracer.startSpan(name, { kind, attributes }, trace.setSpanContext(ROOT_CONTEXT, spanContextOf(parent)));
}

/** The traceparent naming `span`, for the next hop (a Kafka record's header). */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return formatTraceparent({ traceId: c.traceId, spanId: c.spanId, sampled: (c.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED });
}

/** A link to the span a `traceparent` names (a batch span links the records it handled), or undefined. */
export function linkTo(traceparent: string | undefined): Link | undefined {
  const c = parseTraceparent(traceparent);
  return c ? { context: spanContextOf(c) } : undefined;
}

/** Ends a span, marked failed when `error` is given. */
export function endSpan(span: Span | undefined, error?: unknown): void {
  if (!span) return;
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
