import { Outbox, saleKeys } from "@fluxgate/common";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { ackScript } from "./lua/ack.lua";
import { runLua, type CommandCount, type LuaRedis } from "./lua/run";

/**
 * The outbox streams the edge appends to (one per product, `saleKeys(productId).outbox`, each
 * entry one field `order` or `sale` holding the event's JSON), read by the relay through the
 * consumer group `Outbox.relayGroup`. An entry is done once it is gone from the stream (XDEL) and
 * from the group's pending list (XACK).
 */
export type OutboxRedis = LuaRedis & Pick<Redis, "ping">;

export interface OutboxEntry {
  stream: string;
  id: string;
  /** The event's JSON, the exact bytes the edge stored. */
  value: Buffer;
  /** The field it was stored under; anything but `order`/`sale` is a malformed entry. */
  field: string;
}

const outboxPattern = /^fg:\{(.+)\}:outbox$/;

/** The productId of an outbox stream key, undefined for a key that is no outbox. */
export function productIdOfOutbox(key: string): string | undefined {
  const productId = outboxPattern.exec(key)?.[1];
  return productId !== undefined && saleKeys(productId).outbox === key ? productId : undefined;
}

/** A stream entry id as Redis prints it ("<ms>-<seq>"). */
export const isEntryId = (id: string) => /^\d{1,20}-\d{1,20}$/.test(id);

/** Stream → ids, in insertion order: the shape the batch scripts take. */
export type IdsByStream = Map<string, string[]>;

/** KEYS and the ARGV tail (counts per stream, then the ids) of a batch script. */
export function batchArgs(ids: IdsByStream): { keys: string[]; args: (string | number)[] } {
  const keys = [...ids.keys()];
  return { keys, args: [...keys.map((k) => ids.get(k)!.length), ...keys.flatMap((k) => ids.get(k)!)] };
}

/** XACK + XDEL of every id, in one command: the entries reached Kafka, nobody needs them any more. */
export async function confirm(redis: LuaRedis, count: CommandCount, ids: IdsByStream): Promise<void> {
  if (ids.size === 0) return;
  const { keys, args } = batchArgs(ids);
  await runLua(redis, count, ackScript, keys, [Outbox.relayGroup, ...args]);
}

/** A field/value list of a stream entry (Buffers) as an OutboxEntry: the `order` or `sale` field, else the first. */
export function entryOf(stream: string, id: Buffer | string, fields: Buffer[]): OutboxEntry {
  const at = fields.findIndex((f, i) => i % 2 === 0 && (f.toString() === Outbox.orderField || f.toString() === Outbox.saleField));
  const fieldAt = Math.max(at, 0);
  return { stream, id: id.toString(), field: fields[fieldAt]?.toString() ?? "", value: fields[fieldAt + 1] ?? Buffer.alloc(0) };
}

export interface AckBatcher {
  /** Queues the confirmation of one entry; it is sent with the others of the next flush. */
  add(stream: string, id: string): void;
  /** Takes what is queued, for the relay to send within its own step; empty when nothing is. */
  take(): IdsByStream;
  /** Sends what is queued now (shutdown). */
  flush(): Promise<void>;
}

export interface AckBatcherOptions {
  redis: LuaRedis;
  /** The forward's commands, booked with each batch. */
  count: CommandCount;
  /** How long an id may wait for others to share its command. */
  flushMs: number;
  /** A batch this large goes at once. */
  maxBatch: number;
  logger: Logger;
  /** After a batch is confirmed in Redis (the relay stops tracking these entries). */
  onConfirmed(ids: IdsByStream): void;
  /** A batch could not be sent; its ids are retried with the next flush (bounded), or left to the relay. */
  onFailed(count: number): void;
  /** True while the relay takes the confirmations into its own step (relay.ts): the timer then waits. */
  deferred?(): boolean;
}

/** Ids kept for another try after failed flushes; beyond it the relay re-produces them (the worker drops the duplicates). */
const MAX_RETAINED = 100_000;

/**
 * The forward's confirmations, batched: instead of one MULTI/XACK/XDEL/EXEC per order (4 billed
 * commands), every id produced within `flushMs` goes in one EVALSHA. Entries wait a little longer
 * in the outbox, which costs nothing: the relay produces an entry only after RELAY_MIN_IDLE_MS,
 * well above `flushMs`.
 */
export function createAckBatcher(o: AckBatcherOptions): AckBatcher {
  let queued: IdsByStream = new Map();
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> = Promise.resolve();

  const send = async () => {
    clearTimeout(timer);
    timer = undefined;
    if (size === 0) return;
    const batch = queued;
    const count = size;
    queued = new Map();
    size = 0;
    try {
      await confirm(o.redis, o.count, batch);
      o.onConfirmed(batch);
    } catch (err) {
      o.onFailed(count);
      o.logger.warn({ err, count }, "outbox confirmations failed; retrying with the next batch");
      if (size + count <= MAX_RETAINED) {
        for (const [stream, ids] of batch) for (const id of ids) add(stream, id);
      }
    }
  };
  const flush = () => (sending = sending.then(send));
  const onTimer = () => {
    timer = undefined;
    if (o.deferred?.()) timer = setTimeout(onTimer, o.flushMs);
    else void flush();
  };

  function add(stream: string, id: string) {
    const ids = queued.get(stream);
    if (ids) ids.push(id);
    else queued.set(stream, [id]);
    size++;
    if (size >= o.maxBatch) void flush();
    else timer ??= setTimeout(onTimer, o.flushMs);
  }

  function take(): IdsByStream {
    const batch = queued;
    queued = new Map();
    size = 0;
    clearTimeout(timer);
    timer = undefined;
    return batch;
  }

  return { add, take, flush };
}
