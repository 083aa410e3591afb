import { linkTo, MAX_SPAN_LINKS, SpanKind, type Link, type Span, type Tracer } from "@fluxgate/common/node";
import type { Batch, IHeaders } from "kafkajs";

/** The record's traceparent header (the origin's span), as text. */
function traceparentHeader(headers: IHeaders | undefined): string | undefined {
  const value = headers?.traceparent;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/**
 * The span of one batch: many orders, each in a trace of its own, so the span is no child of any
 * of them but links their records' contexts (OpenTelemetry's messaging convention for batches),
 * at most MAX_SPAN_LINKS of them. Each order's own trace id goes to its row and its log line.
 */
export function startBatchSpan(tracer: Tracer, batch: Pick<Batch, "topic" | "partition" | "messages">): Span {
  const links: Link[] = [];
  for (const message of batch.messages) {
    if (links.length >= MAX_SPAN_LINKS) break;
    const link = linkTo(traceparentHeader(message.headers));
    if (link) links.push(link);
  }
  return tracer.startSpan("persist batch", {
    kind: SpanKind.CONSUMER,
    links,
    attributes: {
      "messaging.system": "kafka",
      "messaging.operation.type": "process",
      "messaging.destination.name": batch.topic,
      "messaging.destination.partition.id": String(batch.partition),
      "messaging.batch.message_count": batch.messages.length,
    },
  });
}
