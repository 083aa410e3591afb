import { join } from "node:path";
import { BILL_COMPONENTS, componentOfClient, type BillComponent } from "@fluxgate/common";
import { Redis } from "ioredis";
import { MonitorCapture } from "./monitor";

/**
 * The Upstash bill of a window, counted the way Upstash counts it: every command a client sends
 * (an EVALSHA is one, whatever it runs; commands run inside scripts are not sent, so not billed),
 * attributed to the component that sent it by its connection's name (common/billing.ts):
 * `redis-cli MONITOR` streams every command with its client's address; CLIENT LIST and the
 * CLIENT SETNAME commands seen in the stream name each address. Everything else that talks to
 * this redis (the bench, a test, redis-cli) is listed apart, never billed to the system.
 */
export interface Bill {
  seconds: number;
  /** Billed commands per component, and their sum. */
  commands: Record<BillComponent, number>;
  total: number;
  byCommand: Record<BillComponent, Record<string, number>>;
  /** Commands of connections that are no component (by connection name or address): not billed. */
  others: Record<string, number>;
}

/**
 * What the whole system may spend: per accepted order, and per second while nobody buys (issue
 * 11); per paid order of a sale with holds (the gate call and the shop's confirmation), and the
 * origin's sweeps of expired holds per second per sale with some (issue 25).
 */
export const BILL_TARGETS = { perOrder: 1.1, idlePerSecond: 0.2, perPaidOrder: 2.1, sweepsPerSecondPerSale: 1 } as const;

/** What `npm run bench:bill` writes to .fluxgate/bench/bill.json. */
export interface BillJson {
  runId: string;
  at: string;
  priceUsdPer100k: number;
  orders: { accepted: number; sent: number; connections: number; ordersPerSecond: number; bill: Bill; perOrder: Record<BillComponent | "total", number> };
  idle: { openSales: number; registered: number; bill: Bill; perSecond: Record<BillComponent | "total", number>; perDay: number }[];
  /** A sale with holds: every order paid by the shop, and every hold left to expire (absent in a file from before holds). */
  holds?: {
    paid: { holdSeconds: number; paid: number; sent: number; sweeps: number; bill: Bill; perPaidOrder: Record<BillComponent | "total", number> };
    expiry: {
      holdSeconds: number;
      held: number;
      sweeps: number;
      expiredSeconds: number;
      sweepsPerSecond: number;
      bill: Bill;
      perHold: Record<BillComponent | "total", number>;
    };
  };
  targets: { name: string; target: string; measured: string; pass: boolean }[];
}

const METER_NAME = "fluxgate-bill-meter";

export class BillMeter {
  private constructor(
    private readonly redis: Redis,
    private readonly capture: MonitorCapture,
    private readonly names: Map<string, string>,
    private readonly startedAt: number,
    private readonly productIds: string[] | undefined,
  ) {}

  /**
   * Starts counting now; `dir` holds the MONITOR capture until stop(). With `productIds`, only
   * commands naming those sales' keys count (a redis shared with other stacks).
   */
  static async start(redisUrl: string, dir: string, label = "bill", productIds?: string[]): Promise<BillMeter> {
    const redis = new Redis(redisUrl, { connectionName: METER_NAME, maxRetriesPerRequest: 1 });
    const names = await clientNames(redis);
    const capture = await MonitorCapture.start(redisUrl, join(dir, `monitor-${label}-${Date.now().toString(36)}.log`));
    return new BillMeter(redis, capture, names, performance.now(), productIds);
  }

  /** Stops counting and returns the window's bill. */
  async stop(): Promise<Bill> {
    const seconds = (performance.now() - this.startedAt) / 1000;
    // Connections opened during the window are in CLIENT LIST now, or named in the stream itself.
    for (const [addr, name] of await clientNames(this.redis)) this.names.set(addr, name);
    await this.capture.stop();
    await this.redis.quit().catch(() => this.redis.disconnect());
    const byClient = await this.capture.countByClient(this.productIds);
    this.capture.discard();
    for (const [addr, name] of byClient.namedInStream) this.names.set(addr, name);

    const bill: Bill = {
      seconds,
      commands: Object.fromEntries(BILL_COMPONENTS.map((c) => [c, 0])) as Record<BillComponent, number>,
      total: 0,
      byCommand: Object.fromEntries(BILL_COMPONENTS.map((c) => [c, {}])) as Record<BillComponent, Record<string, number>>,
      others: {},
    };
    for (const [addr, commands] of byClient.commands) {
      const name = this.names.get(addr);
      const component = name ? componentOfClient(name) : undefined;
      for (const [command, n] of Object.entries(commands)) {
        if (!component) {
          if (name !== METER_NAME) bill.others[name ?? addr] = (bill.others[name ?? addr] ?? 0) + n;
          continue;
        }
        bill.commands[component] += n;
        bill.total += n;
        bill.byCommand[component][command] = (bill.byCommand[component][command] ?? 0) + n;
      }
    }
    return bill;
  }
}

/** addr → connection name, for the named connections now open. */
async function clientNames(redis: Redis): Promise<Map<string, string>> {
  const list = (await redis.client("LIST")) as string;
  const names = new Map<string, string>();
  for (const line of list.split("\n")) {
    const addr = /(?:^| )addr=(\S+)/.exec(line)?.[1];
    const name = /(?:^| )name=(\S*)/.exec(line)?.[1];
    if (addr && name) names.set(addr, name);
  }
  return names;
}

/** Billed commands per unit (an order, a second), by component and in total. */
export function billPer(bill: Bill, units: number): Record<BillComponent | "total", number> {
  const per = (n: number) => n / Math.max(units, Number.MIN_VALUE);
  return { ...(Object.fromEntries(BILL_COMPONENTS.map((c) => [c, per(bill.commands[c])])) as Record<BillComponent, number>), total: per(bill.total) };
}

export const fmtUsd = (usd: number) => (usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`);

/** "1.004 (edge 1.000, forward 0.002, relay 0.002)" */
export function describeBill(bill: Bill, units: number, digits = 3): string {
  const per = billPer(bill, units);
  return `${per.total.toFixed(digits)} (${BILL_COMPONENTS.map((c) => `${c} ${per[c].toFixed(digits)}`).join(", ")})`;
}
