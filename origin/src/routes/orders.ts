import { describeIssues, OUTBOX_ID_HEADER, saleKeys, SaleEvent, SignatureHeaders, verifyRequest } from "@fluxgate/common";
import type { Tracer } from "@fluxgate/common/node";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Logger } from "pino";
import { outgoingEvent, settleEvents } from "../message";
import type { OriginMetrics, RejectReason } from "../metrics";
import { isEntryId, type AckBatcher } from "../outbox";
import type { SaleEventProducer } from "../producer";
import type { ForwardAnswer, RecentForwards } from "../recent-forwards";

/** The outbox entry a forward carries (edge/src/forward.ts sends it). */
export const MAX_BODY_BYTES = 64 * 1024;

export interface OrdersDeps {
  signingSecret: string;
  topic: string;
  producer: SaleEventProducer;
  /** Confirms produced entries in the outbox, in batches. */
  acks: Pick<AckBatcher, "add">;
  metrics: OriginMetrics;
  logger: Logger;
  /** An order's span continues the trace its (signed) message names. */
  tracer: Tracer;
  /** The forwards answered in the replay window: a copy is not produced again. */
  recent: RecentForwards;
  /** After Kafka acknowledged an event (the hold sweeper learns the holds it starts and ends). */
  produced?(event: SaleEvent): void;
}

/** Set on the answer to a copy of a forward already handled (nothing was produced for it). */
export const REPLAYED_HEADER = "x-fluxgate-replayed";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * POST /orders: a sale event the edge accepted and signed. Checked in this order: size (413),
 * signature and timestamp (401), JSON and schema (400); then produced with the exact bytes
 * received and answered 202 once Kafka acknowledged it (503 when it did not: the edge retries,
 * the relay covers it). Finally the outbox entry's confirmation is queued: it goes to Redis with
 * the others of the next batch (one command for many), and the relay leaves the entry alone. A
 * copy of a forward produced within the replay window is answered as the first, and not produced.
 */
export function ordersRoute(deps: OrdersDeps): Hono {
  const logger = deps.logger.child({ component: "forward" });
  const reject = (c: Context, reason: RejectReason, status: 400 | 401 | 413, error: string) => {
    deps.metrics.rejected.inc({ reason });
    return c.json({ error }, status);
  };

  /** Produces the event (the exact bytes received) and queues its outbox entry's confirmation. */
  const produce = async (event: SaleEvent, bytes: Uint8Array, outboxId: string | undefined): Promise<ForwardAnswer> => {
    // The trace is the one inside the signed body: the forward's traceparent header is not signed.
    const outgoing = outgoingEvent(deps.tracer, event, event.productId, Buffer.from(bytes), outboxId, "forward");
    try {
      await deps.producer.produce([outgoing.message]);
    } catch (err) {
      settleEvents([outgoing], logger, err);
      deps.metrics.produceFailures.inc({ source: "forward" });
      logger.warn({ err, ...outgoing.fields }, "produce failed; the edge retries and the relay covers it");
      return { status: 503, body: { error: "Kafka did not acknowledge the event; retry later" } };
    }
    settleEvents([outgoing], logger);
    deps.metrics.produced.inc({ source: "forward" });
    deps.produced?.(event);

    if (outboxId !== undefined) deps.acks.add(saleKeys(event.productId).outbox, outboxId);

    const id =
      event.type === "order"
        ? { orderId: event.orderId }
        : event.type === "order_status"
          ? { orderId: event.orderId, orderStatus: event.status }
          : event.type === "sale_steered"
            ? { saleId: event.saleId, version: event.version }
            : { saleId: event.saleId };
    return { status: 202, body: { status: "produced", type: event.type, productId: event.productId, ...id, topic: deps.topic, outboxId } };
  };

  return new Hono().post(
    "/",
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => reject(c, "too_large", 413, `body larger than ${MAX_BODY_BYTES} bytes`) }),
    async (c) => {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      const body = decodeUtf8(bytes);

      const timestamp = c.req.header(SignatureHeaders.timestamp);
      const signature = c.req.header(SignatureHeaders.signature);
      const outboxId = c.req.header(OUTBOX_ID_HEADER);
      if (!timestamp || !signature) {
        return reject(c, "unauthorized", 401, `signed requests only: ${SignatureHeaders.timestamp} and ${SignatureHeaders.signature} headers required`);
      }
      // The outbox id is signed with the body: a replayed forward cannot name another entry to delete.
      const signed = { method: c.req.method, path: c.req.path, outboxId, body: body ?? lenientUtf8.decode(bytes) };
      if (!(await verifyRequest(deps.signingSecret, timestamp, signature, signed))) {
        return reject(c, "unauthorized", 401, "signature does not match the request (method, path, outbox id, body), or the timestamp is too old");
      }

      if (body === undefined) return reject(c, "not_json", 400, "body must be UTF-8 JSON");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        return reject(c, "not_json", 400, "body must be JSON");
      }
      const parsed = SaleEvent.safeParse(json);
      if (!parsed.success) {
        return reject(c, "invalid_event", 400, `not a sale event: ${describeIssues(parsed.error)}`);
      }
      const event = parsed.data;
      if (outboxId !== undefined && !isEntryId(outboxId)) {
        return reject(c, "invalid_outbox_id", 400, `${OUTBOX_ID_HEADER}: a stream entry id like 1700000000000-0`);
      }

      // A copy of a forward already handled (a replay, or the edge retrying after a lost answer)
      // gets the first answer, without a second record in Kafka: recent-forwards.ts.
      const key = outboxId !== undefined ? `outbox ${event.productId} ${outboxId}` : `signature ${signature}`;
      const earlier = deps.recent.seen(key);
      const first = earlier === undefined;
      const answer = earlier ?? produce(event, bytes, outboxId);
      if (first) deps.recent.remember(key, answer);
      else deps.metrics.replayed.inc();
      const { status, body: reply } = await answer;
      return c.json(reply, status, {
        ...(status === 503 ? { "retry-after": "1" } : {}),
        ...(first ? {} : { [REPLAYED_HEADER]: "1" }),
      });
    },
  );
}
