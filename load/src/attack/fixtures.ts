import { mintTokens } from "@fluxgate/stack";
import { Redis } from "ioredis";
import { retire } from "../bench/bill-runs";
import { call, initSale } from "../bench/edge-api";

/** What the attackers aim at: the stack's edge (4 isolates, round-robin), its dev issuer and its redis. */
export interface AttackTarget {
  edge: URL;
  adminToken: string;
  /** The dev issuer that signs the attackers in: their accounts are real, their intentions are not. */
  issuer: string;
  redisUrl: string;
  /** Every product id and account of this run starts with `atk-<runId>`. */
  runId: string;
}

/**
 * What cannot buy may cost at most this many billed commands per request, whatever the rate
 * (issue 21): one command per isolate per second or so, against floods of thousands a second.
 */
export const ATTACK_TARGET_PER_REQUEST = 0.01;

/**
 * The ground each route needs, set up before anything is measured: signed-in accounts, a live
 * sale whose limit one account already reached, an ended sale, and the queue ticket of a sale
 * since deleted.
 */
export interface AttackFixtures {
  prefix: string;
  /** Bearer tokens: the flooder (made-up products, the ended sale), the buyer past the limit, the holder of the gone sale's ticket. */
  tokens: { flooder: string; limited: string; holder: string };
  /** A live sale (limit 1) that `limited` bought its one unit of. */
  live: string;
  /** A sale the operator closed. */
  ended: string;
  /** A sale that had a queue, where `holder` got a ticket, and that was deleted since. */
  gone: string;
  goneTicket: string;
  /** Every product the fixtures started, for cleanUp. */
  products: string[];
}

const sub = (prefix: string, name: string) => `${prefix}-${name}`;

export async function prepareAttack(t: AttackTarget): Promise<AttackFixtures> {
  const prefix = `atk-${t.runId}`;
  const subs = ["flooder", "limited", "holder", "seed"].map((name) => sub(prefix, name));
  const minted = await mintTokens(t.issuer, subs);
  const token = (name: string) => minted.get(sub(prefix, name))!;
  const order = async (productId: string, as: string, key: string) =>
    call(t.edge, "/order", {
      method: "POST",
      headers: { authorization: `Bearer ${token(as)}`, "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify({ productId }),
    });

  const live = `${prefix}-live`;
  await initSale(t.edge, t.adminToken, { productId: live, quantity: 1_000, ratePerSecond: 1_000_000, burst: 1_000_000, perUserLimit: 1 });
  const bought = await order(live, "limited", `${prefix}-limited-first`);
  if (bought.status !== 200) throw new Error(`the buyer past the limit could not buy its unit: ${bought.status} ${JSON.stringify(bought.body)}`);

  const ended = `${prefix}-ended`;
  await initSale(t.edge, t.adminToken, { productId: ended, quantity: 100 });
  const closed = await call(t.edge, `/sales/${ended}/close`, { method: "POST", headers: { authorization: `Bearer ${t.adminToken}` } });
  if (closed.status !== 200) throw new Error(`closing ${ended} answered ${closed.status}`);

  // A queue (one token, a rate of one admission in ~17 min): the seed takes the token, the holder gets a place.
  const gone = `${prefix}-gone`;
  await initSale(t.edge, t.adminToken, { productId: gone, quantity: 1_000, ratePerSecond: 0.001, burst: 1 });
  await order(gone, "seed", `${prefix}-seed`);
  const queued = await order(gone, "holder", `${prefix}-holder`);
  if (queued.status !== 302 || typeof queued.body.ticket !== "string")
    throw new Error(`no queue ticket for the gone sale: ${queued.status} ${JSON.stringify(queued.body)}`);
  await forget(t, [gone]);

  return {
    prefix,
    tokens: { flooder: token("flooder"), limited: token("limited"), holder: token("holder") },
    live,
    ended,
    gone,
    goneTicket: queued.body.ticket,
    products: [live, ended, gone],
  };
}

/** The fixtures' sales leave nothing behind (closed, retired by the relay, deleted). */
export async function cleanUpAttack(t: AttackTarget, f: AttackFixtures, more: string[] = []): Promise<void> {
  await forget(t, [...f.products, ...more]);
}

async function forget(t: AttackTarget, productIds: string[]): Promise<void> {
  const redis = new Redis(t.redisUrl, { connectionName: "fluxgate-attack-setup", maxRetriesPerRequest: 1 });
  try {
    await retire(t, redis, productIds);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
