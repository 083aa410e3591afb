import { SaleEvent, TRACEPARENT_HEADER } from "@fluxgate/common";
import { endSpan, SpanKind, startChildSpan, traceparentOf, type Span, type Tracer } from "@fluxgate/common/node";
import type { Message } from "kafkajs";
import type { Logger } from "pino";
import type { ProduceSource } from "./metrics";

/**
 * Kafka headers the origin adds: where the message came from (consumers need not read these), and
 * the W3C `traceparent` of the origin's span, where OpenTelemetry's messaging convention puts it —
 * the worker's batch span links it.
 */
export const MessageHeaders = {
  outboxId: "fluxgate-outbox-id",
  source: "fluxgate-source",
  traceparent: TRACEPARENT_HEADER,
} as const;

/** A sale event on its way to Kafka, the same from the forward and the relay, with the span of producing it. */
export interface OutgoingEvent {
  message: Message;
  /** A child of the edge's span that accepted the order (its traceparent); none for an event without one. */
  span: Span | undefined;
  /** What the origin's log line about the event says. */
  fields: { source: ProduceSource; productId: string; outboxId?: string; orderId?: string; traceId?: string; spanId?: string };
}

/**
 * Keyed by productId (one partition per product keeps a sale's start before its orders), the value
 * the exact bytes the edge wrote to the outbox; an order's trace continues in a span of the origin,
 * which the record's headers name. `event` is the value parsed, when it is a valid sale event.
 */
export function outgoingEvent(
  tracer: Tracer,
  event: SaleEvent | undefined,
  productId: string,
  value: Buffer,
  outboxId: string | undefined,
  source: ProduceSource,
): OutgoingEvent {
  const order = event?.type === "order" ? event : undefined;
  const span =
    order &&
    startChildSpan(tracer, "produce order", order.traceparent, SpanKind.PRODUCER, {
      "messaging.system": "kafka",
      "messaging.operation.type": "send",
      "fluxgate.order_id": order.orderId,
      "fluxgate.product_id": productId,
      "fluxgate.source": source,
    });
  const context = span?.spanContext();
  const headers: Record<string, string> = { [MessageHeaders.source]: source };
  if (outboxId) headers[MessageHeaders.outboxId] = outboxId;
  if (span) headers[MessageHeaders.traceparent] = traceparentOf(span);
  return {
    message: { key: productId, value, headers },
    span,
    fields: {
      source,
      productId,
      ...(outboxId ? { outboxId } : {}),
      ...(order ? { orderId: order.orderId } : {}),
      ...(context ? { traceId: context.traceId, spanId: context.spanId } : {}),
    },
  };
}

/** An outbox entry's value as a sale event, or undefined when it is not one (the relay produces it as is all the same). */
export function readEvent(value: Buffer): SaleEvent | undefined {
  try {
    const parsed = SaleEvent.safeParse(JSON.parse(value.toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Once Kafka answered for `events`: their spans end (failed, with `error`), and each order Kafka
 * acknowledged gets its line, with the trace id an SRE follows from the edge to the worker.
 */
export function settleEvents(events: OutgoingEvent[], logger: Logger, error?: unknown): void {
  for (const e of events) endSpan(e.span, error);
  if (error !== undefined || !logger.isLevelEnabled("info")) return;
  for (const e of events) if (e.fields.orderId) logger.info(e.fields, "order produced");
}
