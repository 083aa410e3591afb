import { saleKeys, type SaleEvent } from "@fluxgate/common";
import type { Logger } from "pino";
import { HOLDS_SWEEP_PASSES, holdsSweepKeys, holdsSweepScript } from "./lua/holds-sweep.lua";
import { runLua, type CommandCount, type LuaRedis } from "./lua/run";
import type { OriginMetrics } from "./metrics";
import { HoldSchedule, type SweepReply } from "./relay-holds";

export interface HoldSweeperOptions {
  /** The relay's control connection and its command count: a sweep is booked as the relay's. */
  redis: LuaRedis;
  count: CommandCount;
  metrics: OriginMetrics;
  logger: Logger;
  /** At most one sweep per sale per this. */
  intervalMs: number;
  /** A sweep failed (Redis away): counted and logged once with the relay's other failures. */
  failed(step: string, err: unknown): void;
  recovered(step: string): void;
}

export interface HoldSweeper {
  /** A sale event produced to Kafka (forwarded or relayed). */
  saw(event: SaleEvent): void;
  /** Outboxes the relay reads after a (re)start: their sales' holds are learnt with one sweep each. */
  learn(productIds: Iterable<string>): void;
  forget(productId: string): void;
  /** No new sweep starts; resolves once those in flight ended. */
  stop(): Promise<void>;
}

type RawReply = [number, number, Buffer, Buffer];

/**
 * Runs the sweeps relay-holds.ts decides: one timer for the earliest due, one script call per
 * sale due (lua/holds-sweep.lua.ts). What a sweep ends goes to the outbox and out through the
 * relay like any entry.
 */
export function createHoldSweeper(o: HoldSweeperOptions): HoldSweeper {
  const schedule = new HoldSchedule({ intervalMs: o.intervalMs, now: Date.now });
  let timer: NodeJS.Timeout | undefined;
  let armedAt: number | undefined;
  let stopping = false;
  const inFlight = new Set<Promise<void>>();

  async function sweep(productId: string) {
    try {
      const [ended, now, orderId, expiresAt] = (await runLua(o.redis, o.count, holdsSweepScript, holdsSweepKeys(saleKeys(productId)), [
        HOLDS_SWEEP_PASSES,
      ])) as RawReply;
      const reply: SweepReply = { now: Number(now) };
      if (orderId.length > 0) reply.next = { orderId: orderId.toString(), expiresAt: Number(expiresAt.toString()) };
      schedule.swept(productId, reply);
      o.metrics.holdSweeps.inc();
      o.metrics.holdsExpired.inc(ended);
      if (ended > 0) o.logger.info({ productId, ended }, "expired holds ended: their units are back in the sale");
      o.recovered("holds");
    } catch (err) {
      schedule.sweepFailed(productId);
      o.failed("holds", err);
    }
  }

  /** Arms the timer for the earliest sweep due, unless it is armed for that or earlier already (most events change nothing). */
  function arm() {
    const at = schedule.nextDueAt();
    if (stopping || at === undefined || (armedAt !== undefined && armedAt <= at)) return;
    clearTimeout(timer);
    armedAt = at;
    timer = setTimeout(fire, Math.max(0, at - Date.now()));
  }

  function fire() {
    armedAt = undefined;
    o.metrics.holdsPending.set(schedule.pending);
    for (const productId of schedule.due()) {
      const run = sweep(productId).finally(() => {
        inFlight.delete(run);
        arm();
      });
      inFlight.add(run);
    }
    arm();
  }

  return {
    saw(event) {
      // Most events are orders of sales without holds: nothing to schedule.
      if (event.type === "order" && event.holdExpiresAt === undefined) return;
      schedule.saw(event);
      arm();
    },
    learn(productIds) {
      schedule.learn(productIds);
      arm();
    },
    forget(productId) {
      schedule.forget(productId);
    },
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await Promise.all(inFlight);
    },
  };
}
