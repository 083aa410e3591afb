/**
 * `npm run verify-lottery` as a third party runs it: against the stack's edge after a pre-queue's
 * draw, and against a server that publishes a tampered copy of the same draw.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { drawPlaces, forgetSales, lotteryCommitment, newLotterySeed } from "@fluxgate/common";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { repoRoot } from "../src/home";
import { mintTokens } from "../src/issuer/client";
import { ensureDevVars } from "../src/secrets";

const run = promisify(execFile);
const stack = inject("stack");
const productId = `verify-lottery-${Date.now().toString(36)}`;
const buyers = ["ann", "ben", "cat", "dan", "eve"];
let commitment = "";
let tickets: string[] = [];
let published: { commitment: string; seed: string; places: string[] };
let tamperedServer: Server;
let tampered: Record<string, unknown> = {};

/** The CLI's exit code and what it printed. */
async function verify(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", join(repoRoot, "stack/src/verify-lottery-cli.ts"), ...args], {
      cwd: repoRoot,
      timeout: 60_000,
    });
    return { code: 0, out: stdout };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

async function edge(path: string, init: RequestInit = {}) {
  const res = await fetch(new URL(path, stack.edge.url), { redirect: "manual", ...init });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  const adminToken = ensureDevVars().get("ADMIN_TOKEN")!;
  const tokens = await mintTokens(stack.issuer.url, buyers);
  const startsAt = Date.now() + 2500;
  const init = await edge("/init", {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ productId, quantity: 10, prequeueOpensAt: new Date().toISOString(), startsAt: new Date(startsAt).toISOString() }),
  });
  expect(init.status).toBe(200);
  // What a careful buyer records before the pre-queue opens.
  commitment = ((await edge(`/sales/${productId}`)).body.prequeue as { commitment: string }).commitment;
  const order = (sub: string) =>
    edge("/order", {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.get(sub)}`, "content-type": "application/json", "idempotency-key": `${sub}-key` },
      body: JSON.stringify({ productId }),
    });
  tickets = await Promise.all(buyers.map(async (b) => String((await order(b)).body.ticket)));
  await new Promise((r) => setTimeout(r, Math.max(0, startsAt - Date.now() + 50)));
  // Nobody orders at the start: the checker's own look at the draw gets it drawn.
  for (let i = 0; i < 40; i++) {
    const r = await edge(`/sales/${productId}/prequeue`);
    if (r.status === 200) {
      published = r.body as typeof published;
      break;
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  // A server publishing the same draw, except for what a test changes.
  tamperedServer = createServer((_, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ ...published, ...tampered }));
  });
  await new Promise<void>((resolve) => tamperedServer.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  tamperedServer?.close();
  const redis = new Redis(stack.redis.url);
  await forgetSales(redis, [productId]);
  redis.disconnect();
});

const tamperedUrl = () => `http://127.0.0.1:${(tamperedServer.address() as AddressInfo).port}`;

describe("npm run verify-lottery", () => {
  it("verifies the edge's draw against the commitment recorded before the pre-queue opened, and finds a buyer's place from its ticket", async () => {
    expect(published.places).toHaveLength(buyers.length);
    const r = await verify(productId, "--edge", stack.edge.url, "--commitment", commitment, "--ticket", tickets[2]!);
    expect(r.code).toBe(0);
    expect(r.out).toContain("OK: SHA-256(seed) is the commitment and every place is what the seed and the entries give");
    expect(r.out).toMatch(/your entry [0-9a-f]{40}: place [1-5] ✓/);
    const json = JSON.parse((await verify(productId, "--edge", stack.edge.url, "--ticket", tickets[2]!, "--json")).out) as {
      ok: boolean;
      ticket: { entry: string; place: number };
    };
    expect(json.ok).toBe(true);
    expect(published.places[json.ticket.place - 1]).toBe(json.ticket.entry);
    // The place the edge gave (a queue ticket's number) is compared too.
    expect((await verify(productId, "--edge", stack.edge.url, "--ticket", tickets[2]!, "--place", String(json.ticket.place))).code).toBe(0);
    const wrong = await verify(productId, "--edge", stack.edge.url, "--ticket", tickets[2]!, "--place", String((json.ticket.place % buyers.length) + 1));
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain(`the ticket's entry has place ${json.ticket.place}, but the edge gave place`);
  });

  it("fails on a published list that moved anyone, on a seed that is not the commitment's, and on a commitment other than the recorded one", async () => {
    tampered = { places: [published.places[1], published.places[0], ...published.places.slice(2)] };
    const moved = await verify(productId, "--edge", tamperedUrl(), "--commitment", commitment);
    expect(moved.code).toBe(1);
    expect(moved.out).toContain("2 of 5 places differ");
    expect(moved.out).toContain("NOT VERIFIED");

    tampered = { seed: newLotterySeed() };
    const seed = await verify(productId, "--edge", tamperedUrl());
    expect(seed.code).toBe(1);
    expect(seed.out).toContain("SHA-256(seed) is not the commitment");

    // Seed, commitment and draw all replaced after the fact: consistent with each other, so only the
    // commitment recorded before the pre-queue opened tells.
    const otherSeed = newLotterySeed();
    tampered = { seed: otherSeed, commitment: lotteryCommitment(otherSeed), places: drawPlaces(otherSeed, published.places) };
    expect((await verify(productId, "--edge", tamperedUrl())).code).toBe(0);
    const rewritten = await verify(productId, "--edge", tamperedUrl(), "--commitment", commitment);
    expect(rewritten.code).toBe(1);
    expect(rewritten.out).toContain("the published commitment is not the one recorded before the pre-queue opened");
    tampered = {};
  });
});
