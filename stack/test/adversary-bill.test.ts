import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  ATTACK_TARGET_PER_REQUEST,
  attackRoutes,
  billRoutes,
  cleanUpAttack,
  prepareAttack,
  type AttackFixtures,
  type AttackTarget,
  type RouteBill,
  withinBurstTarget,
} from "../../load/src/attack";
import { edgeIsolates } from "../src/edge/isolates";
import { ensureDevVars } from "../src/secrets";
import { stackHome } from "../src/home";

/**
 * Requests that can never buy, flooded at the stack's own edge (4 isolates behind a round-robin,
 * as users reach it), each route in a window of its own; every command the whole system sent
 * meanwhile is counted the way Upstash bills (MONITOR on the real redis, by connection name).
 * 2,000 per route: a flood's first second costs each isolate up to two commands (its lookup that
 * finds no sale, then a read of the catalog), so fewer requests would leave the target no margin.
 */
const REQUESTS = 2_000;
const stack = inject("stack");
const dir = join(stackHome().root, "bench");
mkdirSync(dir, { recursive: true });
const target: AttackTarget = {
  edge: new URL(stack.edge.url),
  adminToken: ensureDevVars().get("ADMIN_TOKEN")!,
  issuer: stack.issuer.url,
  redisUrl: stack.redis.url,
  runId: `t${Date.now().toString(36)}`,
};

let fixtures: AttackFixtures;
let bills: Map<string, RouteBill>;

beforeAll(async () => {
  fixtures = await prepareAttack(target);
  const routes = attackRoutes(fixtures);
  bills = new Map((await billRoutes({ ...target, dir }, routes, { requests: REQUESTS, connections: 32 })).map((b) => [b.key, b]));
  for (const b of bills.values())
    console.log(`${b.name}: ${b.commands} billed commands for ${b.requests} requests in ${b.seconds.toFixed(1)} s`, b.statuses, b.byCommand);
}, 240_000);

afterAll(async () => {
  if (fixtures) await cleanUpAttack(target, fixtures);
}, 60_000);

describe(`what cannot buy costs at most ${ATTACK_TARGET_PER_REQUEST} billed commands per request, or a command per isolate per second`, () => {
  it.each(["view-unknown", "health", "order-unknown", "past-limit", "status-gone", "ended-order", "ended-view"])("%s", (key) => {
    const bill = bills.get(key)!;
    // Every request got the answer of a request that cannot buy, and nothing went unanswered.
    expect(bill.errors, bill.errorSamples.join("; ")).toBe(0);
    expect(bill.unexpected, JSON.stringify(bill.statuses)).toBe(0);
    // A flood slowed by a loaded machine (this test's client shares the cores with the edge) is held
    // to the edge's own bound instead, whatever the rate: a command per isolate per second, two more to start.
    const pass = withinBurstTarget(bill, edgeIsolates());
    expect(pass, `${bill.commands} commands in ${bill.seconds.toFixed(1)} s for ${bill.requests}: ${JSON.stringify(bill.byCommand)}`).toBe(true);
  });
});
