/**
 * What the chaos tests share: a stack of their own, moved by environment variables, and a sale
 * driven the way buyers drive it (signed in, through the edge, with their queue tickets), then
 * audited once the pipeline drained.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";
import { audit, type AuditReport } from "../src/audit";
import { sleep } from "../src/daemon";
import { repoRoot } from "../src/home";
import { ensureDevVars } from "../src/secrets";
import type { StackState } from "../src/state";

export const run = promisify(execFile);

/**
 * The environment of a chaos stack in `home`: each variable from `<prefix><NAME>` when set (e.g.
 * CHAOS_KAFKA_PORT), else its default, so two engineers' runs can live side by side.
 */
export function chaosEnv(prefix: string, home: string, defaults: Record<string, string>): NodeJS.ProcessEnv {
  const moved = Object.fromEntries(Object.entries(defaults).map(([name, fallback]) => [name, process.env[`${prefix}${name}`] ?? fallback]));
  return { ...process.env, FLUXGATE_HOME: home, ...moved };
}

/** The stack's CLI, as a user runs it (`npm run up` …), on the chaos stack; `extra` changes the environment of what it starts. */
export const stackCli = (env: NodeJS.ProcessEnv, command: "up" | "down" | "status", args: string[] = [], extra: Record<string, string> = {}) =>
  run(process.execPath, ["--import", "tsx", join(repoRoot, "stack/src/cli.ts"), command, ...args], {
    cwd: repoRoot,
    env: { ...env, ...extra },
    timeout: 600_000,
  });

const admin = () => ({ authorization: `Bearer ${ensureDevVars().get("ADMIN_TOKEN")}`, "content-type": "application/json" });

/**
 * `/init` as the operator calls it; `ratePerSecond` paces admissions, so a sale lasts about
 * quantity / rate seconds. With `holdSeconds`, each accepted order is held that long for the shop's payment.
 */
export async function startSale(state: StackState, productId: string, quantity: number, ratePerSecond = 150, holdSeconds = 0): Promise<void> {
  const res = await fetch(`${state.edge.url}/init`, {
    method: "POST",
    headers: admin(),
    body: JSON.stringify({ productId, quantity, ratePerSecond, burst: 20, ...(holdSeconds > 0 ? { holdSeconds } : {}) }),
  });
  expect(res.status).toBe(200);
}

/** What a buyer's 200 said: their order and, in a sale with holds, until when its units are theirs. */
export interface AcceptedOrder {
  /** The buyer's number in the crowd (`buyer-<n>`). */
  buyer: number;
  orderId: string;
  holdExpiresAt?: string;
  /**
   * Set when the buyer first heard of the order from a retry that found its hold already ended
   * ("expired"): the 200 never reached them (the edge's Redis call was cut after the gate took the
   * order, and its 503 said to come back after the hold's few seconds), so they could never pay.
   */
  endedBeforeHeard?: string;
}

export interface Confirmation {
  orderId: string;
  /** 200 (paid) or 409 (expired, cancelled); anything else is a failure. */
  status: number;
  told: string;
  /** When the answer arrived (Date.now()). */
  at: number;
}

/**
 * The shop's backend confirming a payment (POST …/pay with SHOP_API_TOKEN) as a shop does: until
 * it gets a final answer, after the Retry-After of a 503, or a moment after a dropped connection.
 */
export async function confirmPayment(state: StackState, productId: string, orderId: string, attempts = 40): Promise<Confirmation> {
  const shop = { authorization: `Bearer ${ensureDevVars().get("SHOP_API_TOKEN")}` };
  let last = "no answer";
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const res = await fetch(`${state.edge.url}/sales/${productId}/orders/${orderId}/pay`, { method: "POST", headers: shop });
      const body = (await res.json().catch(() => ({}))) as { status?: string; error?: string };
      if (res.status !== 503) return { orderId, status: res.status, told: body.status ?? body.error ?? "", at: Date.now() };
      last = `503 ${body.status}`;
      await sleep(Number(res.headers.get("retry-after") ?? 1) * 1000);
    } catch (error) {
      last = String(error);
      await sleep(250);
    }
  }
  throw new Error(`the shop never got an answer for ${orderId}: ${last}`);
}

export interface CrowdOutcomes {
  accepted: number;
  soldOut: number;
  /** Requests that got no HTTP answer at all (a refused or reset connection). */
  errors: number;
  /** 503s: the edge could not reach its database and said so, with when to try again. */
  unavailable: number;
  /** What those 503s said: "<Retry-After> <status>", each once. */
  unavailableAnswers: Set<string>;
  /** Answers no buyer should ever see: any status but 200, 302, 409 and 503, counted by status. */
  unexpected: Record<number, number>;
  /** When each 200 arrived (Date.now()), to tell the orders accepted before a crash from those after. */
  acceptedAt: number[];
  /** Buyers who gave up without a final answer (200 or 409) after 200 tries. */
  unanswered: number;
}

/**
 * Buyers who keep trying (with their ticket) until they bought or were told it is sold out;
 * `onAccepted` hears each 200 as it arrives (to pay for it), and each order of the buyer's a retry
 * found already ended (a 409 naming it: see `AcceptedOrder.endedBeforeHeard`).
 */
export const crowd = (
  state: StackState,
  productId: string,
  buyers: number,
  spreadMs: number,
  onAccepted?: (order: AcceptedOrder) => void,
): Promise<CrowdOutcomes> => startCrowd(state, productId, buyers, spreadMs, onAccepted).done;

/** The same crowd, with its outcomes readable while it buys (to act when part of the stock is sold). */
export function startCrowd(
  state: StackState,
  productId: string,
  buyers: number,
  spreadMs: number,
  onAccepted?: (order: AcceptedOrder) => void,
): { outcomes: CrowdOutcomes; done: Promise<CrowdOutcomes> } {
  const outcomes: CrowdOutcomes = {
    accepted: 0,
    soldOut: 0,
    errors: 0,
    unavailable: 0,
    unavailableAnswers: new Set(),
    unexpected: {},
    acceptedAt: [],
    unanswered: 0,
  };
  return { outcomes, done: buy(state, productId, buyers, spreadMs, outcomes, onAccepted).then(() => outcomes) };
}

async function buy(
  state: StackState,
  productId: string,
  buyers: number,
  spreadMs: number,
  outcomes: CrowdOutcomes,
  onAccepted?: (order: AcceptedOrder) => void,
): Promise<void> {
  // Signed in with this stack's dev issuer, as the shop's customers are.
  const signIn = await fetch(`${state.issuer.url}/tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ subs: Array.from({ length: buyers }, (_, i) => `buyer-${i}`) }),
  });
  const { tokens } = (await signIn.json()) as { tokens: Record<string, string> };
  await Promise.all(
    Array.from({ length: buyers }, async (_, i) => {
      await sleep(Math.floor((i / buyers) * spreadMs));
      const key = crypto.randomUUID();
      let ticket: string | undefined;
      for (let attempt = 0; attempt < 200; attempt++) {
        try {
          const res = await fetch(`${state.edge.url}/order`, {
            method: "POST",
            redirect: "manual",
            headers: {
              "content-type": "application/json",
              "idempotency-key": key,
              authorization: `Bearer ${tokens[`buyer-${i}`]}`,
              ...(ticket ? { "x-queue-ticket": ticket } : {}),
            },
            body: JSON.stringify({ productId, userId: `buyer-${i}` }),
          });
          if (res.status === 200) {
            outcomes.acceptedAt.push(Date.now());
            outcomes.accepted++;
            const { orderId, holdExpiresAt } = (await res.json()) as { orderId: string; holdExpiresAt?: string };
            return onAccepted?.({ buyer: i, orderId, ...(holdExpiresAt ? { holdExpiresAt } : {}) });
          }
          if (res.status === 409) {
            const { orderId, status } = (await res.json()) as { orderId?: string; status: string };
            // The buyer's own order, whose hold ended before any answer with it reached them.
            if (orderId) return onAccepted?.({ buyer: i, orderId, endedBeforeHeard: status });
            return void outcomes.soldOut++;
          }
          if (res.status === 302) ticket = res.headers.get("x-queue-ticket") ?? ticket;
          if (res.status === 503) {
            outcomes.unavailable++;
            // What a client is told to do: hold on, and when to try again.
            outcomes.unavailableAnswers.add(`${res.headers.get("retry-after")} ${((await res.json()) as { status: string }).status}`);
            // As a client told to hold on does: back after the Retry-After.
            await sleep(Number(res.headers.get("retry-after") ?? 1) * 1000);
          } else {
            if (res.status !== 302) outcomes.unexpected[res.status] = (outcomes.unexpected[res.status] ?? 0) + 1;
            await res.body?.cancel();
          }
        } catch {
          outcomes.errors++;
        }
        await sleep(250);
      }
      outcomes.unanswered++;
    }),
  );
}

/**
 * Audits until nothing is missing from PostgreSQL (the pipeline drained: every order there, each in
 * the status it has at the edge) or `timeoutMs` passed; returns the last report.
 */
export async function drained(state: StackState, productId: string, timeoutMs = 90_000): Promise<AuditReport> {
  const targets = { redisUrl: state.redis.url, databaseUrl: state.postgres.url, kafkaBrokers: state.kafka.brokers };
  const deadline = Date.now() + timeoutMs;
  let report = await audit(targets, productId).catch(() => undefined);
  const pending = (r: AuditReport) => r.lost > 0 || !r.stockConsistent || r.holds.statusMismatches > 0 || !r.holds.heldAgrees;
  while ((!report || pending(report)) && Date.now() < deadline) {
    await sleep(1000);
    report = await audit(targets, productId).catch(() => report);
  }
  if (!report) throw new Error("audit never succeeded");
  return report;
}

/**
 * Nothing oversold, lost or duplicated, the whole stock sold, PostgreSQL's stock = initial − sold,
 * and every hold (a sale's holdSeconds) ended one way, the same on both sides.
 */
export function expectClean(report: AuditReport, quantity: number): void {
  expect({ oversold: report.oversold, lost: report.lost, duplicates: report.duplicates }).toEqual({ oversold: 0, lost: 0, duplicates: 0 });
  expect(report.holds).toEqual({ redisBalanced: true, heldAgrees: true, paidAndReleased: 0, statusMismatches: 0 });
  expect(report.redis.sold).toBe(quantity);
  expect(report.postgres.stock).toBe(report.redis.initial + report.redis.added - report.redis.sold);
  expect(report.stockConsistent).toBe(true);
}
