/**
 * What Redis costs: Upstash bills every command a client sends (an EVALSHA is one, whatever the
 * script runs; every command of a pipeline counts). The edge, the origin's forward confirmations
 * and its relay all send to the same database, so each names its connections (CLIENT SETNAME) and
 * a bill can be split by who sent what.
 */

/** Upstash Redis pay-as-you-go, as published: US$ 0.20 per 100,000 commands. */
export const UPSTASH_PAYG_USD_PER_100K_COMMANDS = 0.2;

export const upstashCostUsd = (commands: number) => (commands / 100_000) * UPSTASH_PAYG_USD_PER_100K_COMMANDS;

/** Connection names (prefixes) of each component that talks to the sale's database. */
export const RedisClients = {
  /** The Upstash REST bridge: every command the edge sends (locally; on Upstash, the REST API). */
  edge: "fluxgate-bridge",
  /** The origin's own connection: the forward's batched confirmations, its health probe. */
  forward: "fluxgate-origin",
  /** The origin's relay (its blocking read, claims and sweeps). */
  relay: "fluxgate-origin-relay",
} as const;

export type BillComponent = keyof typeof RedisClients;
export const BILL_COMPONENTS = Object.keys(RedisClients) as BillComponent[];

/** The component a connection name belongs to (the longest matching prefix), undefined for anyone else. */
export function componentOfClient(name: string): BillComponent | undefined {
  let best: BillComponent | undefined;
  for (const component of BILL_COMPONENTS) {
    const prefix = RedisClients[component];
    if ((name === prefix || name.startsWith(`${prefix}-`)) && (!best || prefix.length > RedisClients[best].length)) best = component;
  }
  return best;
}

/**
 * Where the origin books the commands it sent, riding along in the scripts it runs anyway, so the
 * operator's page can show the whole bill (origin/src/lua/run.ts writes it). A HASH, per
 * component (forward, relay):
 *   "<minute since the epoch>:<component>"  commands of that minute, for the last BILL_WINDOW_MINUTES only
 *   "<component>:slot:<minute % window>"    the minute using that slot of the ring (its first booking
 *                                           deletes the minute that used the slot before)
 *   "<component>:total"                     a running total (a sale's share: the total now less the
 *                                           total at its start, which the init script keeps in its stats)
 * so the hash stays a few hundred fields however long the origin runs. The edge's own commands are
 * the gate calls, counted in each sale's stats by the gate script.
 */
export const BILL_KEY = "fg:bill";
export type OriginComponent = Exclude<BillComponent, "edge">;
export const ORIGIN_COMPONENTS: readonly OriginComponent[] = ["forward", "relay"];
/** How many minutes of per-minute figures the bill keeps. */
export const BILL_WINDOW_MINUTES = 60;
export const billField = (component: OriginComponent, atMs: number) => `${Math.floor(atMs / 60_000)}:${component}`;
export const billTotalField = (component: OriginComponent) => `${component}:total`;

export interface BookedBill {
  /** Commands per minute since the epoch, for the minutes the window keeps. */
  minutes: Map<number, Record<OriginComponent, number>>;
  /** Running totals; undefined for a component never booked since totals were kept. */
  totals: Partial<Record<OriginComponent, number>>;
}

/** The bill hash as HGETALL returns it (a flat array, or ioredis' object), read into minutes and totals. */
export function readBookedBill(hash: readonly string[] | Record<string, string>): BookedBill {
  const entries: [string, string][] = Array.isArray(hash)
    ? Array.from({ length: Math.floor(hash.length / 2) }, (_, i) => [hash[2 * i]!, hash[2 * i + 1]!])
    : Object.entries(hash);
  const bill: BookedBill = { minutes: new Map(), totals: {} };
  for (const [field, value] of entries) {
    const [a, b, extra] = field.split(":");
    if (extra !== undefined) continue;
    if (b === "total" && ORIGIN_COMPONENTS.includes(a as OriginComponent)) bill.totals[a as OriginComponent] = Number(value);
    else if (/^\d+$/.test(a!) && ORIGIN_COMPONENTS.includes(b as OriginComponent)) {
      const minute = Number(a);
      const row = bill.minutes.get(minute) ?? { forward: 0, relay: 0 };
      row[b as OriginComponent] = Number(value);
      bill.minutes.set(minute, row);
    }
  }
  return bill;
}
