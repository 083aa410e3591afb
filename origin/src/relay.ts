import { Outbox } from "@fluxgate/common";
import { backoffMs } from "@fluxgate/common/node";
import type { Logger } from "pino";
import type { OriginMetrics } from "./metrics";
import {
  backlogOf,
  claimStale,
  ensureRelayGroup,
  isNoGroup,
  markDone,
  productIdOfOutbox,
  registeredOutboxes,
  retireIfFinished,
  takeNew,
  type OutboxEntry,
  type OutboxRedis,
} from "./outbox";
import { saleEventMessage } from "./message";
import type { SaleEventProducer } from "./producer";

export interface RelayOptions {
  redis: OutboxRedis;
  producer: SaleEventProducer;
  metrics: OriginMetrics;
  logger: Logger;
  /** The set of outbox stream keys (OUTBOXES_KEY). */
  registryKey: string;
  /** This relay's name in the consumer group. Instances may share it: claiming goes by idle time, not by owner. */
  consumer: string;
  minIdleMs: number;
  intervalMs: number;
  refreshMs: number;
}

export interface Relay {
  start(): void;
  /** Ends the loop after the batch in flight is produced and marked. Safe to call twice. */
  stop(): Promise<void>;
}

const READ_COUNT = 1000;
const CLAIM_COUNT = 500;
/** Pages per stream and pass, so one busy sale cannot starve the others. */
const MAX_PAGES = 10;
const MAX_BACKOFF_MS = 10_000;

/**
 * The outbox relay: what the edge accepted reaches Kafka even when its forward did not.
 *
 * Every pass, for each registered stream: XREADGROUP moves new entries into the group's pending
 * list without producing them (a forward normally confirms each within milliseconds, by XDEL +
 * XACK); XAUTOCLAIM then hands back the entries nobody confirmed for `minIdleMs`, which are
 * produced like a forward would, then acknowledged and deleted. A forward arriving while the relay
 * produces the same entry makes a duplicate, which the worker drops by orderId. Errors (redis or
 * Kafka away) are counted, logged and retried with backoff; the loop never ends by itself.
 */
export function createRelay(o: RelayOptions): Relay {
  const logger = o.logger.child({ component: "relay" });
  let streams: string[] = [];
  let refreshedAt = Number.NEGATIVE_INFINITY;
  const grouped = new Set<string>();
  const ignored = new Set<string>();
  /** Streams whose last step failed, with the error's message. */
  const failing = new Map<string, string>();
  let stopping = false;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      wake = done;
    });

  async function refresh() {
    if (Date.now() - refreshedAt < o.refreshMs) return;
    const members = await registeredOutboxes(o.redis, o.registryKey);
    streams = members.filter((key) => {
      if (productIdOfOutbox(key) !== undefined) return true;
      if (!ignored.has(key)) logger.warn({ key, registry: o.registryKey }, "registered key is no outbox stream; ignored");
      ignored.add(key);
      return false;
    });
    refreshedAt = Date.now();
  }

  async function deliver(stream: string, productId: string, entries: OutboxEntry[]) {
    for (const entry of entries.filter((e) => e.field !== Outbox.orderField && e.field !== Outbox.saleField)) {
      logger.warn({ stream, id: entry.id, field: entry.field }, "outbox entry without an order or sale field; produced as is");
    }
    const messages = entries.map((e) => saleEventMessage(productId, e.value, e.id, "relay"));
    try {
      await o.producer.produce(messages);
    } catch (error) {
      o.metrics.produceFailures.inc({ source: "relay" }, messages.length);
      throw error;
    }
    o.metrics.produced.inc({ source: "relay" }, messages.length);
    logger.info({ stream, count: messages.length }, "relayed outbox entries no forward confirmed");
    // Should this fail, the entries come back after minIdleMs and are produced once more.
    await markDone(o.redis, stream, entries.map((e) => e.id));
  }

  async function relayStream(stream: string, productId: string) {
    try {
      if (!grouped.has(stream)) {
        await ensureRelayGroup(o.redis, stream);
        grouped.add(stream);
      }
      for (let page = 0; page < MAX_PAGES; page++) {
        if ((await takeNew(o.redis, stream, o.consumer, READ_COUNT)) < READ_COUNT) break;
      }
      let cursor = "0-0";
      let delivered = 0;
      for (let page = 0; page < MAX_PAGES && !stopping; page++) {
        const claimed = await claimStale(o.redis, stream, o.consumer, o.minIdleMs, cursor, CLAIM_COUNT);
        if (claimed.entries.length > 0) await deliver(stream, productId, claimed.entries);
        delivered += claimed.entries.length;
        cursor = claimed.next;
        if (cursor === "0-0") break;
      }
      if (delivered === 0 && (await retireIfFinished(o.redis, o.registryKey, stream, productId))) {
        streams = streams.filter((s) => s !== stream);
        grouped.delete(stream);
        logger.info({ stream }, "sale finished and its outbox is empty: no longer relayed");
      }
    } catch (error) {
      // The stream (and its group) was deleted meanwhile: create the group again next time.
      if (isNoGroup(error)) grouped.delete(stream);
      throw error;
    }
  }

  /** One pass over every stream; false when nothing worked (redis or Kafka away), so the loop backs off. */
  async function pass(): Promise<boolean> {
    await refresh();
    let failed = 0;
    for (const stream of streams) {
      if (stopping) break;
      try {
        await relayStream(stream, productIdOfOutbox(stream)!);
        if (failing.delete(stream)) logger.info({ stream }, "relay step works again");
      } catch (err) {
        failed++;
        o.metrics.relayErrors.inc();
        // Once per kind of failure and stream: a broken key or a long outage must not flood the log.
        const message = err instanceof Error ? err.message : String(err);
        if (failing.get(stream) !== message) logger.warn({ err, stream }, "relay step failed; retrying");
        failing.set(stream, message);
      }
    }
    o.metrics.backlog.set(await backlogOf(o.redis, streams));
    return streams.length === 0 || failed < streams.length;
  }

  async function run() {
    let failures = 0;
    while (!stopping) {
      let healthy = false;
      try {
        healthy = await pass();
      } catch (err) {
        o.metrics.relayErrors.inc();
        logger.warn({ err }, "relay pass failed; retrying");
      }
      failures = healthy ? 0 : failures + 1;
      if (stopping) break;
      await sleep(failures === 0 ? o.intervalMs : backoffMs(failures, MAX_BACKOFF_MS, o.intervalMs));
    }
  }

  return {
    start() {
      loop ??= run();
    },
    async stop() {
      stopping = true;
      wake?.();
      await loop;
    },
  };
}
