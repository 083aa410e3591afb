import { BillMeter, type Bill } from "../bench/bill";
import { ATTACK_TARGET_PER_REQUEST } from "./fixtures";
import { flood, type FloodOptions, type FloodResult } from "./flood";
import type { AttackRoute } from "./routes";

export interface RouteBill extends FloodResult {
  /** Billed commands the whole system sent while this route was flooded (MONITOR, by connection name). */
  commands: number;
  perRequest: number;
  byCommand: Bill["byCommand"];
  pass: boolean;
}

/**
 * Each route flooded in a window of its own, its bill counted the way Upstash counts it: every
 * command each component's connections sent meanwhile (the edge through the bridge, the origin),
 * by redis-cli MONITOR (bench/bill.ts). What else runs (the relay's idle read) is in it too.
 */
export async function billRoutes(
  t: { edge: URL; redisUrl: string; dir: string },
  routes: AttackRoute[],
  o: Omit<FloodOptions, "onProgress"> & { onProgress?: (route: AttackRoute, done: number) => void },
): Promise<RouteBill[]> {
  const bills: RouteBill[] = [];
  for (const route of routes) {
    const meter = await BillMeter.start(t.redisUrl, t.dir, `attack-${route.key}`);
    o.onProgress?.(route, 0);
    const result = await flood(t.edge, route, { ...o, onProgress: (done) => o.onProgress?.(route, done) });
    const bill = await meter.stop();
    const perRequest = bill.total / result.requests;
    bills.push({ ...result, commands: bill.total, perRequest, byCommand: bill.byCommand, pass: perRequest <= ATTACK_TARGET_PER_REQUEST });
  }
  return bills;
}
