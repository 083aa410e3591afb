/**
 * W3C Trace Context: the `traceparent` of one order, from the buyer's request (or the edge) to its
 * PostgreSQL row. The one parser and printer of the header, for the edge (workerd) and the Node
 * services alike (Web Crypto's getRandomValues runs in both).
 *
 * The header comes from anyone on the internet, so it is read strictly: version 00 only, exactly
 * its 55 characters (checked before anything else looks at it), lowercase hex, no all-zero id.
 * Whatever passes is plain hex and dashes: it cannot break a JSON log line, a Lua script or a
 * Kafka header. Anything else reads as no context, and the edge starts a trace of its own.
 * tracestate is not carried: it is free text a buyer controls and nothing here needs it.
 */
export const TRACEPARENT_HEADER = "traceparent";

/** "00-" + 32 + "-" + 16 + "-" + 2. */
export const TRACEPARENT_LENGTH = 55;

export interface TraceContext {
  /** 32 lowercase hex digits, not all zero: the same from the buyer's request to the order's row. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero: the span the next hop is a child of. */
  spanId: string;
  /** The sampled flag: the caller records this trace, so the next hop may record its part too. */
  sampled: boolean;
}

const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ALL_ZERO = /^0+$/;

/** The context a `traceparent` value names, or undefined when it is absent or not a valid version-00 value. */
export function parseTraceparent(value: string | null | undefined): TraceContext | undefined {
  if (typeof value !== "string" || value.length !== TRACEPARENT_LENGTH) return undefined;
  const match = VERSION_00.exec(value);
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return undefined;
  // Version 00 defines the sampled bit only; the others are not passed on.
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? "01" : "00"}`;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** `bytes` random bytes as lowercase hex, never all zero (an all-zero id is invalid). */
function randomId(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  do crypto.getRandomValues(buffer);
  while (buffer.every((b) => b === 0));
  let hex = "";
  for (const b of buffer) hex += HEX[b];
  return hex;
}

/**
 * A new span in `parent`'s trace (same trace id and sampled flag, a span id of its own), or the
 * first span of a new, sampled trace when there is no parent. The edge's span of a purchase.
 */
export function childSpan(parent: TraceContext | undefined): TraceContext {
  return parent ? { ...parent, spanId: randomId(8) } : { traceId: randomId(16), spanId: randomId(8), sampled: true };
}
