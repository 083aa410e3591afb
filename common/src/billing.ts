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
 * Where the origin books the commands it sent, per minute and component (HASH field
 * "<minute since the epoch>:forward|relay" → count), riding along in the scripts it runs anyway,
 * so the operator's page can show the whole bill. The edge's own commands are the gate calls,
 * counted in each sale's stats by the gate script.
 */
export const BILL_KEY = "fg:bill";
export const billField = (component: Exclude<BillComponent, "edge">, atMs: number) => `${Math.floor(atMs / 60_000)}:${component}`;
