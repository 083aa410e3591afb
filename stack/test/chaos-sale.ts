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

/** `/init` as the operator calls it; `ratePerSecond` paces admissions, so a sale lasts about quantity / rate seconds. */
export async function startSale(state: StackState, productId: string, quantity: number, ratePerSecond = 150): Promise<void> {
  const res = await fetch(`${state.edge.url}/init`, {
    method: "POST",
    headers: admin(),
    body: JSON.stringify({ productId, quantity, ratePerSecond, burst: 20 }),
  });
  expect(res.status).toBe(200);
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

/** Buyers who keep trying (with their ticket) until they bought or were told it is sold out. */
export const crowd = (state: StackState, productId: string, buyers: number, spreadMs: number): Promise<CrowdOutcomes> =>
  startCrowd(state, productId, buyers, spreadMs).done;

/** The same crowd, with its outcomes readable while it buys (to act when part of the stock is sold). */
export function startCrowd(state: StackState, productId: string, buyers: number, spreadMs: number): { outcomes: CrowdOutcomes; done: Promise<CrowdOutcomes> } {
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
  return { outcomes, done: buy(state, productId, buyers, spreadMs, outcomes).then(() => outcomes) };
}

async function buy(state: StackState, productId: string, buyers: number, spreadMs: number, outcomes: CrowdOutcomes): Promise<void> {
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
            return void outcomes.accepted++;
          }
          if (res.status === 409) return void outcomes.soldOut++;
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

/** Audits until nothing is missing from PostgreSQL (the pipeline drained) or `timeoutMs` passed; returns the last report. */
export async function drained(state: StackState, productId: string, timeoutMs = 90_000): Promise<AuditReport> {
  const targets = { redisUrl: state.redis.url, databaseUrl: state.postgres.url, kafkaBrokers: state.kafka.brokers };
  const deadline = Date.now() + timeoutMs;
  let report = await audit(targets, productId).catch(() => undefined);
  while ((!report || report.lost > 0 || !report.stockConsistent) && Date.now() < deadline) {
    await sleep(1000);
    report = await audit(targets, productId).catch(() => report);
  }
  if (!report) throw new Error("audit never succeeded");
  return report;
}

/** Nothing oversold, lost or duplicated, the whole stock sold, and PostgreSQL's stock = initial − sold. */
export function expectClean(report: AuditReport, quantity: number): void {
  expect({ oversold: report.oversold, lost: report.lost, duplicates: report.duplicates }).toEqual({ oversold: 0, lost: 0, duplicates: 0 });
  expect(report.redis.sold).toBe(quantity);
  expect(report.postgres.stock).toBe(report.redis.initial + report.redis.added - report.redis.sold);
  expect(report.stockConsistent).toBe(true);
}
