import { Outbox, outboxEventsKey, RedisClients, saleKeys } from "@fluxgate/common";
import type { Redis } from "ioredis";
import { backoffMs } from "@fluxgate/common/node";
import type { Logger } from "pino";
import { claimScript } from "./lua/claim.lua";
import { CommandCount, runLua } from "./lua/run";
import { sweepScript } from "./lua/sweep.lua";
import { tickScript } from "./lua/tick.lua";
import { saleEventMessage } from "./message";
import type { OriginMetrics } from "./metrics";
import { batchArgs, confirm, entryOf, productIdOfOutbox, type AckBatcher, type IdsByStream, type OutboxEntry } from "./outbox";
import type { SaleEventProducer } from "./producer";

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
}

export interface Relay {
  start(): void;
  /** True while orders flow: the relay reads once per interval and carries the forwards' confirmations along. */
  readonly active: boolean;
  /** Entries a forward confirmed (the origin's ack batcher tells): no need to check on them. */
  confirmed(ids: IdsByStream): void;
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

  /** Outboxes read by the blocking call (each has the group). */
  const streams = new Set<string>();
  /** Keys in the registry that are no outbox, or no stream: left alone. */
  const ignored = new Set<string>();
  /** Entries read and not confirmed yet: stream → id → when read. */
  const tracked = new Map<string, Map<string, number>>();
  /** Outboxes of sales that ended: when to try (again) to retire them, and how often it was tried. */
  const ending = new Map<string, { at: number; tries: number }>();
  let nextSweepAt = 0;
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

  const updateBacklog = () => o.metrics.backlog.set([...tracked.values()].reduce((n, ids) => n + ids.size, 0));

  function track(stream: string, id: string, at: number) {
    let ids = tracked.get(stream);
    if (!ids) tracked.set(stream, (ids = new Map()));
    ids.set(id, at);
  }

  async function deliver(entries: OutboxEntry[]) {
    for (const entry of entries.filter((e) => e.field !== Outbox.orderField && e.field !== Outbox.saleField)) {
      logger.warn({ stream: entry.stream, id: entry.id, field: entry.field }, "outbox entry without an order or sale field; produced as is");
    }
    const messages = entries.map((e) => saleEventMessage(productIdOfOutbox(e.stream)!, e.value, e.id, "relay"));
    try {
      await o.producer.produce(messages);
    } catch (error) {
      o.metrics.produceFailures.inc({ source: "relay" }, messages.length);
      // Claimed just now, so idle again: checked once more after minIdleMs.
      const now = Date.now();
      for (const e of entries) track(e.stream, e.id, now);
      throw error;
    }
    o.metrics.produced.inc({ source: "relay" }, messages.length);
    logger.info({ count: messages.length, streams: [...new Set(entries.map((e) => e.stream))] }, "relayed outbox entries no forward confirmed");
    const done: IdsByStream = new Map();
    for (const e of entries) done.set(e.stream, [...(done.get(e.stream) ?? []), e.id]);
    // Should this fail, a sweep claims the entries again and they are produced once more.
    await confirm(control, count, done);
  }

  /** sweep.lua over `list` (and the handled events); returns entries claimed, already delivered. */
  async function sweep(list: string[], eventIds: string[] = []): Promise<void> {
    const keys = [o.registryKey, eventsKey, ...list.flatMap((s) => [s, saleKeys(productIdOfOutbox(s)!).sale])];
    const [members, states] = (await runLua(control, count, sweepScript, keys, [
      Outbox.relayGroup,
      o.consumer,
      o.minIdleMs,
      CLAIM_COUNT,
      ...eventIds,
    ])) as SweepReply;
    const claimed: OutboxEntry[] = [];
    let added = false;
    for (const [p, state, entries] of states) {
      const stream = list[p - 1]!;
      const s = state.toString();
      if (s === "open") {
        if (!streams.has(stream)) added = true;
        streams.add(stream);
        for (const entry of entries) if (entry?.[1]) claimed.push(entryOf(stream, entry[0], entry[1]));
      } else {
        streams.delete(stream);
        tracked.delete(stream);
        ending.delete(stream);
        if (s === "retired") logger.info({ stream }, "sale ended and its outbox is empty: retired, no longer read");
        else if (!ignored.has(stream)) {
          ignored.add(stream);
          logger.warn({ stream, registry: o.registryKey }, "registered key is no stream; ignored");
        }
      }
    }
    updateBacklog();
    if (added && blocked && readerId !== undefined) {
      count.sent();
      await control.client("UNBLOCK", readerId).catch(() => undefined);
    }
    if (claimed.length > 0) await deliver(claimed);
    // Outboxes registered without this relay hearing of it (another instance took the event).
    const unknown = members.map(String).filter((m) => !streams.has(m) && !list.includes(m) && !ignored.has(m));
    for (const key of unknown.filter((m) => productIdOfOutbox(m) === undefined)) {
      ignored.add(key);
      logger.warn({ key, registry: o.registryKey }, "registered key is no outbox stream; ignored");
    }
    const outboxes = unknown.filter((m) => productIdOfOutbox(m) !== undefined);
    if (outboxes.length > 0) await sweep(outboxes);
  }

  /** Handles one XREADGROUP reply; true when it held anything. */
  async function handleRead(reply: StreamReply): Promise<boolean> {
    if (!reply) return false;
    const now = Date.now();
    const eventIds: string[] = [];
    const opened = new Set<string>();
    for (const [key, entries] of reply) {
      const stream = key.toString();
      for (const entry of entries) {
        if (!entry?.[1]) continue;
        const id = entry[0].toString();
        if (stream !== eventsKey) {
          track(stream, id, now);
          continue;
        }
        eventIds.push(id);
        const [field, value] = [entry[1][0]?.toString(), entry[1][1]?.toString() ?? ""];
        if (productIdOfOutbox(value) === undefined) continue;
        if (field === Outbox.openedField) {
          opened.add(value);
          ending.delete(value);
          ignored.delete(value);
        } else if (field === Outbox.endedField && (streams.has(value) || opened.has(value))) {
          // Forwards in flight at the end still confirm; what is left then is claimed first.
          ending.set(value, { at: now + o.minIdleMs + 1_000, tries: 0 });
        }
      }
    }
    updateBacklog();
    if (eventIds.length > 0 || opened.size > 0) await sweep([...opened], eventIds);
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
          await sweep([...streams]);
          nextSweepAt = Date.now() + Math.min(o.sweepMs, o.minIdleMs + 500);
          schedule();
          needSweep = false;
        }
        const keys = [eventsKey, ...streams];
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
    const now = Date.now();
    const due: IdsByStream = new Map();
    for (const [stream, ids] of tracked) {
      const overdue: string[] = [];
      for (const [id, at] of ids) {
        // Read in order: the first entry not overdue ends this stream's list.
        if (at + o.minIdleMs > now) break;
        overdue.push(id);
      }
      for (const id of overdue) ids.delete(id);
      if (overdue.length > 0) due.set(stream, overdue);
      if (ids.size === 0) tracked.delete(stream);
    }
    if (due.size > 0) {
      try {
        const { keys, args } = batchArgs(due);
        const reply = (await runLua(control, count, claimScript, keys, [Outbox.relayGroup, o.consumer, o.minIdleMs, ...args])) as ClaimReply;
        const entries = reply.flatMap(([i, claimed]) => claimed.filter((e) => e?.[1]).map((e) => entryOf(keys[i - 1]!, e![0], e![1]!)));
        if (entries.length > 0) await deliver(entries);
        recovered("claim");
      } catch (err) {
        failed("claim", err);
        const retryAt = Date.now() - o.minIdleMs + Math.min(1_000, o.minIdleMs);
        for (const [stream, ids] of due) for (const id of ids) if (!tracked.get(stream)?.has(id)) track(stream, id, retryAt);
      }
    }
    try {
      if (now >= nextSweepAt) {
        nextSweepAt = now + o.sweepMs;
        await sweep([...streams]);
      } else {
        // Still draining (its last entries being relayed): tried again a little later, a few times, then left to the periodic sweep.
        const ended = [...ending].filter(([, e]) => e.at <= now).map(([s]) => s);
        for (const s of ended) {
          const e = ending.get(s)!;
          if (e.tries >= 10) ending.delete(s);
          else ending.set(s, { at: now + o.minIdleMs, tries: e.tries + 1 });
        }
        if (ended.length > 0) {
          logger.debug({ streams: ended }, "sales ended: retiring their outboxes once drained");
          await sweep(ended);
        }
      }
      recovered("sweep");
    } catch (err) {
      failed("sweep", err);
      nextSweepAt = Date.now() + Math.min(o.sweepMs, MAX_BACKOFF_MS);
    }
    updateBacklog();
  }

  /** Arms the timer for the earliest thing due. */
  function schedule() {
    if (stopping) return;
    let at = nextSweepAt;
    for (const ids of tracked.values()) {
      const first = ids.values().next();
      if (!first.done) at = Math.min(at, first.value + o.minIdleMs);
    }
    for (const e of ending.values()) at = Math.min(at, e.at);
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        settling = settling.then(settle).finally(schedule);
      },
      Math.max(0, at - Date.now()),
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
      for (const [stream, list] of ids) {
        const mine = tracked.get(stream);
        if (!mine) continue;
        for (const id of list) mine.delete(id);
        if (mine.size === 0) tracked.delete(stream);
      }
      updateBacklog();
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
        await control.quit().catch(() => control.disconnect());
      })();
      return stopped;
    },
  };
  return relay;
}
