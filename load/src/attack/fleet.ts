import { setTimeout as sleep } from "node:timers/promises";
import type { MonitorCapture } from "../bench/monitor";
import { ATTACK_TARGET_PER_REQUEST } from "./fixtures";
import { flood, type FloodResult } from "./flood";
import { CATALOG_READS, ownsCatalogRead, type AttackRoute } from "./routes";

/** One route's burst beside other traffic, and when it ran (ms since the epoch, the machine's clock: redis' MONITOR stamps lines with it). */
export interface Burst extends FloodResult {
  from: number;
  to: number;
}

/**
 * The bill-attack fleet beside a crowd: each route in turn, `requests` as fast as `connections`
 * go (an attacker floods; the edge's cost is per second, so a trickle would cost more per request
 * and nothing more in all).
 */
export async function runAttackFleet(base: URL, routes: AttackRoute[], o: { requests: number; connections: number; startDelayMs?: number }): Promise<Burst[]> {
  if (o.startDelayMs) await sleep(o.startDelayMs);
  const bursts: Burst[] = [];
  for (const route of routes) {
    const from = Date.now();
    const result = await flood(base, route, { requests: o.requests, connections: o.connections });
    bursts.push({ ...result, from, to: Date.now() });
  }
  return bursts;
}

export interface BurstBill extends Burst {
  commands: number;
  perRequest: number;
  /** Billed commands per isolate per second of the burst. */
  perIsolateSecond: number;
  pass: boolean;
}

/**
 * What a flood may cost beside a crowd, where it cannot go as fast as an attacker's would on its
 * own: ATTACK_TARGET_PER_REQUEST, or, for a flood slowed by the machine's load, the edge's own
 * bound, whatever the rate: a command per isolate per second, and two more when it starts (its
 * first lookup that finds nothing, then the catalog's read).
 */
export const withinBurstTarget = (b: Pick<BurstBill, "commands" | "requests" | "seconds">, isolates: number) =>
  b.commands / b.requests <= ATTACK_TARGET_PER_REQUEST || b.commands <= isolates * (b.seconds + 2);

/**
 * The commands of a capture spent on each burst, told apart by what they name (AttackRoute.owns);
 * the catalog's reads (made-up ids, whichever route brought them) go to the burst they happened
 * in, and any outside every burst to a row of their own.
 */
export async function billBursts(
  capture: MonitorCapture,
  routes: AttackRoute[],
  bursts: Burst[],
  isolates: number,
): Promise<{ bursts: BurstBill[]; catalogReadsOutside: number }> {
  const at = (line: string) => Number(line.slice(0, line.indexOf(" "))) * 1000;
  const counts = await capture.tally((c) => {
    if (ownsCatalogRead(c)) {
      const t = at(c.line);
      return bursts.find((b) => b.from <= t && t <= b.to + 100)?.key ?? CATALOG_READS;
    }
    return routes.find((r) => r.owns(c))?.key;
  });
  return {
    bursts: bursts.map((b) => {
      const commands = counts[b.key] ?? 0;
      return {
        ...b,
        commands,
        perRequest: commands / b.requests,
        perIsolateSecond: commands / isolates / b.seconds,
        pass: withinBurstTarget({ ...b, commands }, isolates) && b.errors === 0 && b.unexpected === 0,
      };
    }),
    catalogReadsOutside: counts[CATALOG_READS] ?? 0,
  };
}
