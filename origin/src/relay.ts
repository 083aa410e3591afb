import { Outbox, outboxEventsKey, RedisClients, saleKeys, type SaleEvent } from "@fluxgate/common";
import type { Redis } from "ioredis";
import { backoffMs, type Tracer } from "@fluxgate/common/node";
import type { Logger } from "pino";
import { createHoldSweeper } from "./hold-sweeper";
import { claimScript } from "./lua/claim.lua";
import { CommandCount, runLua } from "./lua/run";
import { sweepScript } from "./lua/sweep.lua";
import { tickScript } from "./lua/tick.lua";
import { outgoingEvent, readEvent, settleEvents } from "./message";
import type { OriginMetrics } from "./metrics";
import { batchArgs, confirm, entryOf, productIdOfOutbox, type AckBatcher, type IdsByStream, type OutboxEntry } from "./outbox";
import type { SaleEventProducer } from "./producer";
import { RelayTracker, type OutboxEvent, type OutboxState } from "./relay-tracker";

export interface RelayOptions {
  /** The origin's connection; the relay opens two of its own from it (one blocks in XREADGROUP). */
  redis: Redis;
  producer: SaleEventProducer;
  metrics: OriginMetrics;
  logger: Logger;
  /** The set of outbox stream keys (OUTBOXES_KEY); its events stream is outboxEventsKey(registryKey). */
  registryKey: string;
  /** This relay's name in the consumer group. Instances may share it: claiming goes by idle time, not by owner. */
  consumer: string;
  /** An entry no forward confirmed for this long is produced by the relay. */
  minIdleMs: number;
  /** After a read that found entries, the next read waits this long, so a busy sale costs one read per interval. */
  readIntervalMs: number;
  /** How long one blocking read waits when nothing happens (one billed command per this, idle). */
  blockMs: number;
  /** How often the relay looks at everything (claims orphans, retires ended sales, learns the registry). */
  sweepMs: number;
  /** The forwards' confirmations: while orders flow the relay sends them within its own step. */
  acks?: Pick<AckBatcher, "take" | "add">;
  /** An order's span continues the trace its outbox entry names, as a forward's would. */
  tracer: Tracer;
  /** A sale's expired holds are swept at most once per this (hold-sweeper.ts). */
  holdSweepMs: number;
}

export interface Relay {
  start(): void;
  /** True while orders flow: the relay reads once per interval and carries the forwards' confirmations along. */
  readonly active: boolean;
  /** Entries a forward confirmed (the origin's ack batcher tells): no need to check on them. */
  confirmed(ids: IdsByStream): void;
  /** An event a forward produced: the holds it starts or ends are the hold sweeper's to know. */
  saw(event: SaleEvent): void;
  /** Ends the loops after the batch in flight is produced and confirmed. Safe to call twice. */
  stop(): Promise<void>;
}

const READ_COUNT = 1000;
const CLAIM_COUNT = 1000;
const MAX_BACKOFF_MS = 10_000;

type StreamReply = Array<[Buffer, Array<[Buffer, Buffer[] | null] | null>]> | null;
type SweepReply = [Buffer[], Array<[number, Buffer, Array<[Buffer, Buffer[] | null] | null>]>];
type ClaimReply = Array<[number, Array<[Buffer, Buffer[] | null] | null>]>;

/**
 * The outbox relay: what the edge accepted reaches Kafka even when its forward did not, for a
 * handful of billed commands however many sales are open.
 *
 * - One blocking XREADGROUP over the events stream and every open outbox moves new entries into
 *   the group's pending list and wakes the relay when a sale opens or ends; while nothing
 *   happens it costs one command per `blockMs`. Once woken, the relay is active: every
 *   `readIntervalMs` one script (tick.lua) sends the forwards' queued confirmations and reads
 *   what is new, one command for both, until a step finds nothing to do.
 * - The forwards confirm their entries in batches (outbox.ts; in the active relay's step); an entry read here and not
 *   confirmed within `minIdleMs` is claimed (one EVALSHA for all of them) and produced like a
 *   forward would, then confirmed. Nothing is claimed while every forward arrives.
 * - A sweep (sweep.lua: one command) at start, every `sweepMs` and after a sale ended claims what
 *   a dead relay held, learns outboxes registered meanwhile and retires the outboxes of sales that
 *   ended and hold nothing more: the relay spends nothing on them afterwards.
 *
 * A forward arriving while the relay produces the same entry makes a duplicate, which the worker
 * drops by orderId. Errors (redis or Kafka away) are counted, logged and retried with backoff.
 *
 * What to claim, sweep and retire, and when, is decided by relay-tracker.ts (unit-tested on a
 * clock of its own); this is the I/O around it: the reads, the scripts, Kafka, the timers.
 *
 * Beside it, the hold sweeper (hold-sweeper.ts) ends the expired holds of sales no buyer calls,
 * from what the orders produced here and by the forwards say; its commands are booked as the relay's.
 */
export function createRelay(o: RelayOptions): Relay {
  const logger = o.logger.child({ component: "relay" });
  const eventsKey = outboxEventsKey(o.registryKey);
  const control = o.redis.duplicate({ connectionName: RedisClients.relay, lazyConnect: true });
  // No command timeout below the block time: the read waits on purpose.
  const reader = o.redis.duplicate({ connectionName: `${RedisClients.relay}-read`, lazyConnect: true, commandTimeout: o.blockMs + 10_000 });
  const count = new CommandCount("relay");
  for (const connection of [control, reader]) {
    connection.on("error", (err) => logger.debug({ err }, "redis connection error"));
    // ioredis' handshake: CLIENT SETNAME and the INFO of its ready check.
    connection.on("ready", () => count.sent(2));
  }

  const tracker = new RelayTracker({ minIdleMs: o.minIdleMs, sweepMs: o.sweepMs, maxBackoffMs: MAX_BACKOFF_MS, now: Date.now });
  let stopping = false;
  let readerId: number | undefined;
  let blocked = false;
  let active = false;
  let reading: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  let settling: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let wakeReader: (() => void) | undefined;
  const failing = new Map<string, string>();

  reader.on("ready", () => {
    count.sent();
    reader.client("ID").then(
      (id) => (readerId = Number(id)),
      () => undefined,
    );
  });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wakeReader = undefined;
        resolve();
      }
      wakeReader = done;
    });

  function failed(step: string, err: unknown) {
    o.metrics.relayErrors.inc();
    // Once per kind of failure and step: a long outage must not flood the log.
    const message = err instanceof Error ? err.message : String(err);
    if (failing.get(step) !== message) logger.warn({ err, step }, "relay step failed; retrying");
    failing.set(step, message);
  }
  const recovered = (step: string) => {
    if (failing.delete(step)) logger.info({ step }, "relay step works again");
  };

  const updateBacklog = () => o.metrics.backlog.set(tracker.backlog);

  const holds = createHoldSweeper({ redis: control, count, metrics: o.metrics, logger, intervalMs: o.holdSweepMs, failed, recovered });

  async function deliver(entries: OutboxEntry[]) {
    for (const entry of entries.filter((e) => e.field !== Outbox.orderField && e.field !== Outbox.saleField)) {
      logger.warn({ stream: entry.stream, id: entry.id, field: entry.field }, "outbox entry without an order or sale field; produced as is");
    }
    const parsed = entries.map((e) => readEvent(e.value));
    const events = entries.map((e, i) => outgoingEvent(o.tracer, parsed[i], productIdOfOutbox(e.stream)!, e.value, e.id, "relay"));
    const messages = events.map((e) => e.message);
    try {
      await o.producer.produce(messages);
    } catch (error) {
      settleEvents(events, logger, error);
      o.metrics.produceFailures.inc({ source: "relay" }, messages.length);
      tracker.produceFailed(entries);
      throw error;
    }
    settleEvents(events, logger);
    o.metrics.produced.inc({ source: "relay" }, messages.length);
    for (const event of parsed) if (event) holds.saw(event);
    logger.info({ count: messages.length, streams: [...new Set(entries.map((e) => e.stream))] }, "relayed outbox entries no forward confirmed");
    const done: IdsByStream = new Map();
    for (const e of entries) done.set(e.stream, [...(done.get(e.stream) ?? []), e.id]);
    // Should this fail, a sweep claims the entries again and they are produced once more.
    await confirm(control, count, done);
  }

  /** sweep.lua over `list` (and the handled events); the entries it claimed are delivered. */
  async function sweep(list: readonly string[], eventIds: string[] = []): Promise<void> {
    const keys = [o.registryKey, eventsKey, ...list.flatMap((s) => [s, saleKeys(productIdOfOutbox(s)!).sale])];
    const [members, states] = (await runLua(control, count, sweepScript, keys, [
      Outbox.relayGroup,
      o.consumer,
      o.minIdleMs,
      CLAIM_COUNT,
      ...eventIds,
    ])) as SweepReply;
    const claimed: OutboxEntry[] = [];
    const found = states.map(([p, state, entries]) => {
      const stream = list[p - 1]!;
      if (state.toString() === "open") for (const entry of entries) if (entry?.[1]) claimed.push(entryOf(stream, entry[0], entry[1]));
      return { stream, state: state.toString() as OutboxState };
    });
    const { added, retired, broken } = tracker.swept(found);
    for (const stream of retired) {
      logger.info({ stream }, "sale ended and its outbox is empty: retired, no longer read");
      holds.forget(productIdOfOutbox(stream)!);
    }
    for (const stream of broken) logger.warn({ stream, registry: o.registryKey }, "registered key is no stream; ignored");
    updateBacklog();
    if (added && blocked && readerId !== undefined) {
      count.sent();
      await control.client("UNBLOCK", readerId).catch(() => undefined);
    }
    if (claimed.length > 0) await deliver(claimed);
    const { outboxes, strays } = tracker.registry(members.map(String), list);
    for (const key of strays) logger.warn({ key, registry: o.registryKey }, "registered key is no outbox stream; ignored");
    if (outboxes.length > 0) await sweep(outboxes);
  }

  /** Handles one XREADGROUP reply; true when it held anything. */
  async function handleRead(reply: StreamReply): Promise<boolean> {
    if (!reply) return false;
    const { entries, events } = parseRead(reply, eventsKey);
    const { eventIds, opened } = tracker.read(entries, events);
    updateBacklog();
    if (eventIds.length > 0 || opened.length > 0) await sweep(opened, eventIds);
    schedule();
    return true;
  }

  /** One step while active: the queued confirmations and a read, in one command. False when it found nothing to do. */
  async function tick(keys: string[]): Promise<boolean> {
    const acks = o.acks?.take() ?? new Map<string, string[]>();
    const { keys: ackKeys, args } = batchArgs(acks);
    let reply: StreamReply;
    try {
      reply = (await runLua(
        control,
        count,
        tickScript,
        [...ackKeys, ...keys],
        [Outbox.relayGroup, o.consumer, READ_COUNT, ackKeys.length, ...args],
      )) as StreamReply;
    } catch (error) {
      // Sent again with the next flush or step.
      for (const [stream, ids] of acks) for (const id of ids) o.acks?.add(stream, id);
      throw error;
    }
    if (acks.size > 0) relay.confirmed(acks);
    const read = await handleRead(reply);
    return read || acks.size > 0;
  }

  async function readLoop() {
    let failures = 0;
    let needSweep = true;
    while (!stopping) {
      try {
        if (needSweep) {
          await sweep(tracker.streams);
          tracker.resynced();
          // Started (or lost track): the holds of the sales read are learnt from Redis, one sweep each.
          holds.learn(tracker.streams.map((s) => productIdOfOutbox(s)!));
          schedule();
          needSweep = false;
        }
        const keys = [eventsKey, ...tracker.streams];
        if (active) {
          active = await tick(keys);
          if (active && !stopping) await sleep(o.readIntervalMs);
        } else {
          blocked = true;
          count.sent();
          const reply = (await reader.callBuffer(
            "XREADGROUP",
            "GROUP",
            Outbox.relayGroup,
            o.consumer,
            "COUNT",
            READ_COUNT,
            "BLOCK",
            o.blockMs,
            "STREAMS",
            ...keys,
            ...keys.map(() => ">"),
          )) as StreamReply;
          blocked = false;
          active = await handleRead(reply);
          if (active && !stopping) await sleep(o.readIntervalMs);
        }
        failures = 0;
        recovered("read");
      } catch (err) {
        blocked = false;
        active = false;
        if (stopping) break;
        failed("read", err);
        // A stream deleted or replaced meanwhile fails the whole read: look at every stream again.
        needSweep = true;
        failures++;
        await sleep(backoffMs(failures, MAX_BACKOFF_MS, o.readIntervalMs));
      }
    }
  }

  /** Claims what is overdue, retires what ended, sweeps when it is time. Runs one at a time. */
  async function settle() {
    const plan = tracker.settle();
    if (plan.claim.size > 0) {
      try {
        const { keys, args } = batchArgs(plan.claim);
        const reply = (await runLua(control, count, claimScript, keys, [Outbox.relayGroup, o.consumer, o.minIdleMs, ...args])) as ClaimReply;
        const entries = reply.flatMap(([i, claimed]) => claimed.filter((e) => e?.[1]).map((e) => entryOf(keys[i - 1]!, e![0], e![1]!)));
        if (entries.length > 0) await deliver(entries);
        recovered("claim");
      } catch (err) {
        failed("claim", err);
        tracker.claimFailed(plan.claim);
      }
    }
    try {
      if (plan.sweep?.kind === "ended") logger.debug({ streams: plan.sweep.streams }, "sales ended: retiring their outboxes once drained");
      if (plan.sweep) await sweep(plan.sweep.streams);
      recovered("sweep");
    } catch (err) {
      failed("sweep", err);
      tracker.sweepFailed();
    }
    updateBacklog();
  }

  /** Arms the timer for the earliest thing due. */
  function schedule() {
    if (stopping) return;
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        settling = settling.then(settle).finally(schedule);
      },
      Math.max(0, tracker.nextDueAt() - Date.now()),
    );
  }

  const relay: Relay = {
    get active() {
      return active;
    },
    start() {
      if (reading) return;
      reading = (async () => {
        await Promise.all([control.connect(), reader.connect()]).catch((err: unknown) => logger.warn({ err }, "redis not reachable yet; the relay retries"));
        await readLoop();
      })();
    },
    confirmed(ids) {
      tracker.confirmed(ids);
      updateBacklog();
    },
    saw(event) {
      holds.saw(event);
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearTimeout(timer);
        wakeReader?.();
        // The blocking read ends only with its connection.
        reader.disconnect();
        await reading;
        await settling.catch(() => undefined);
        await holds.stop();
        await control.quit().catch(() => control.disconnect());
      })();
      return stopped;
    },
  };
  return relay;
}

/** An XREADGROUP reply as the tracker takes it: outbox entry ids, and the events stream's entries decoded. */
function parseRead(reply: NonNullable<StreamReply>, eventsKey: string): { entries: IdsByStream; events: OutboxEvent[] } {
  const entries: IdsByStream = new Map();
  const events: OutboxEvent[] = [];
  for (const [key, list] of reply) {
    const stream = key.toString();
    for (const entry of list) {
      if (!entry?.[1]) continue;
      const id = entry[0].toString();
      if (stream === eventsKey) events.push({ id, field: entry[1][0]?.toString(), value: entry[1][1]?.toString() ?? "" });
      else if (entries.has(stream)) entries.get(stream)!.push(id);
      else entries.set(stream, [id]);
    }
  }
  return { entries, events };
}
