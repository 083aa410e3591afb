import { Outbox, saleKeys } from "@fluxgate/common";
import type { Redis } from "ioredis";

/**
 * The outbox streams the edge appends to (one per product, `saleKeys(productId).outbox`, each
 * entry one field `order` or `sale` holding the event's JSON), read by the relay through the
 * consumer group `Outbox.relayGroup`. An entry is done once it is gone from the stream (XDEL) and
 * from the group's pending list (XACK).
 */
export type OutboxRedis = Pick<Redis, "multi" | "xgroup" | "xreadgroup" | "callBuffer" | "smembers" | "pipeline" | "xlen" | "hget" | "srem" | "sadd">;

export interface OutboxEntry {
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

export const isNoGroup = (error: unknown) => error instanceof Error && error.message.startsWith("NOGROUP");

/** XDEL + XACK in one transaction: the entry reached Kafka, neither the relay nor anyone else needs it. */
export async function markDone(redis: OutboxRedis, stream: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const results = await redis.multi().xack(stream, Outbox.relayGroup, ...ids).xdel(stream, ...ids).exec();
  if (!results) throw new Error("outbox transaction aborted");
  const [[ackError], [delError]] = results as [[Error | null, unknown], [Error | null, unknown]];
  if (delError) throw delError;
  // No group yet (the relay has not seen this stream): nothing is pending, the XDEL is all it takes.
  if (ackError && !isNoGroup(ackError)) throw ackError;
}

/** Creates the relay's group on `stream` (from the first entry, so nothing older is skipped); an existing group is fine. */
export async function ensureRelayGroup(redis: OutboxRedis, stream: string): Promise<void> {
  try {
    await redis.xgroup("CREATE", stream, Outbox.relayGroup, "0", "MKSTREAM");
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("BUSYGROUP"))) throw error;
  }
}

/**
 * Moves up to `count` new entries into the group's pending list, owned by `consumer`, without
 * looking at them: the idle clock of each starts now. Returns how many moved.
 */
export async function takeNew(redis: OutboxRedis, stream: string, consumer: string, count: number): Promise<number> {
  const reply = (await redis.xreadgroup("GROUP", Outbox.relayGroup, consumer, "COUNT", count, "STREAMS", stream, ">")) as
    | Array<[string, unknown[]]>
    | null;
  return reply?.[0]?.[1].length ?? 0;
}

export interface Claimed {
  /** Cursor for the next call, "0-0" when the pending list was scanned to its end. */
  next: string;
  entries: OutboxEntry[];
  /** Pending ids whose entry is already deleted (a forward confirmed it); XAUTOCLAIM has dropped them from the pending list. */
  deleted: string[];
}

/** XAUTOCLAIM: pending entries idle for at least `minIdleMs` (nobody confirmed them), now owned by `consumer`. Needs Redis ≥ 7. */
export async function claimStale(
  redis: OutboxRedis,
  stream: string,
  consumer: string,
  minIdleMs: number,
  cursor: string,
  count: number,
): Promise<Claimed> {
  const reply = (await redis.callBuffer("XAUTOCLAIM", stream, Outbox.relayGroup, consumer, minIdleMs, cursor, "COUNT", count)) as [
    Buffer,
    Array<[Buffer, Buffer[] | null] | null>,
    Buffer[]?,
  ];
  const entries: OutboxEntry[] = [];
  for (const entry of reply[1]) {
    if (!entry?.[1]) continue;
    const [id, fields] = entry;
    const at = fields.findIndex((f, i) => i % 2 === 0 && (f.toString() === Outbox.orderField || f.toString() === Outbox.saleField));
    const fieldAt = at >= 0 ? at : 0;
    entries.push({ id: id.toString(), field: fields[fieldAt]?.toString() ?? "", value: fields[fieldAt + 1] ?? Buffer.alloc(0) });
  }
  return { next: reply[0].toString(), entries, deleted: (reply[2] ?? []).map(String) };
}

/** The registered outbox streams. */
export const registeredOutboxes = (redis: OutboxRedis, registryKey: string) => redis.smembers(registryKey);

/** Entries still in the given streams (XLEN summed; a key of another type counts 0). */
export async function backlogOf(redis: OutboxRedis, streams: string[]): Promise<number> {
  if (streams.length === 0) return 0;
  const pipeline = redis.pipeline();
  for (const stream of streams) pipeline.xlen(stream);
  const results = (await pipeline.exec()) ?? [];
  return results.reduce((sum, [error, n]) => sum + (error ? 0 : Number(n)), 0);
}

/** True while the sale may still append to its outbox: it exists and has stock left. */
async function saleMayAppend(redis: OutboxRedis, productId: string): Promise<boolean> {
  const remaining = await redis.hget(saleKeys(productId).sale, "remaining");
  return remaining !== null && Number(remaining) > 0;
}

/**
 * Takes the outbox of a finished sale (sold out or gone, nothing left to relay) out of the
 * registry, so the relay does not poll it forever. /init registers the stream again after it
 * restarts a sale; the second look puts it back should a restart slip in between.
 */
export async function retireIfFinished(redis: OutboxRedis, registryKey: string, stream: string, productId: string): Promise<boolean> {
  if ((await redis.xlen(stream)) > 0 || (await saleMayAppend(redis, productId))) return false;
  await redis.srem(registryKey, stream);
  if ((await redis.xlen(stream)) > 0 || (await saleMayAppend(redis, productId))) {
    await redis.sadd(registryKey, stream);
    return false;
  }
  return true;
}
