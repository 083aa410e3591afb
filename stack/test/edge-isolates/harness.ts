import { readTicketPayload } from "@fluxgate/common";
import { Agent } from "undici";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildEdge, wranglerVars } from "../../src/edge/bundle";
import { isolateOf, startIsolates, type RunningIsolates } from "../../src/edge/isolates";
import { countingUpstash } from "../../src/edge/command-counter";
import { ensureDevVars } from "../../src/secrets";
import { identityBindings } from "../../src/issuer/app";
import { mintTokens } from "../../src/issuer/client";

export { total } from "../../src/edge/command-counter";
import type { StackState } from "../../src/state";

/**
 * The edge as it runs in production, locally: the deployable bundle as `isolates` isolates behind
 * a round-robin (no stickiness), wired to the real stack. Its Upstash URL points at a counting
 * pass-through to the bridge, so a test sees every Redis command the edge sends, whichever
 * isolate sent it.
 */
export interface EdgeUnderTest {
  url: URL;
  isolates: number;
  adminToken: string;
  /** The dev issuer that signs the buyers in. */
  issuer: string;
  /** Redis commands the edge sent so far, by name (EVALSHA, HMGET, …). */
  commands: Map<string, number>;
  /** What the isolates logged (console.log and friends, one line each). */
  logPath: string;
  stop(): Promise<void>;
}

/** `originUrl`: where the edge forwards to (the stack's origin unless a test wants its forwards to fail). */
export async function startEdge(stack: StackState, isolates = 4, opts: { originUrl?: string } = {}): Promise<EdgeUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), "fg-isolates-"));
  const built = await buildEdge(join(dir, "bundle"));
  const commands = new Map<string, number>();
  const counter = await countingUpstash(stack.bridge.url, commands);
  const vars = ensureDevVars();
  const adminToken = "isolates-admin-token";
  const logPath = join(dir, "workerd.log");
  const edge: RunningIsolates = await startIsolates({
    scriptPath: built.scriptPath,
    isolates,
    logPath,
    bindings: {
      ...wranglerVars(),
      ADMIN_TOKEN: adminToken,
      TICKET_SECRET: "isolates-ticket-secret",
      SHOP_API_TOKEN: "isolates-shop-token",
      ORIGIN_SIGNING_SECRET: vars.get("ORIGIN_SIGNING_SECRET")!,
      UPSTASH_REDIS_REST_URL: counter.url,
      UPSTASH_REDIS_REST_TOKEN: stack.bridge.token,
      ORIGIN_URL: opts.originUrl ?? stack.origin.url,
      // Buyers are signed in with the stack's dev issuer, as on the stack's own edge.
      ...identityBindings(stack.issuer),
    },
  });
  return {
    url: edge.url,
    isolates,
    adminToken,
    issuer: stack.issuer.url,
    commands,
    logPath,
    stop: async () => {
      await edge.dispose();
      await new Promise((resolve) => counter.server.close(resolve));
    },
  };
}

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
  /** The isolate that answered. */
  isolate: number;
}

/**
 * At most 64 connections from this one test process: a crowd of thousands of sockets opened at
 * once from one process on a loaded 2-core machine measures the kernel and the test's own event
 * loop (load/src/bench-crowds.ts measures the crowd itself).
 */
const agent = new Agent({ connections: 64 });

export async function send<T = Record<string, unknown>>(edge: EdgeUnderTest, path: string, init: RequestInit = {}): Promise<Reply<T>> {
  const res = await fetch(new URL(path, edge.url), { redirect: "manual", ...init, dispatcher: agent } as unknown as RequestInit);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body: body as T, headers: res.headers, isolate: isolateOf(res.headers)?.index ?? -1 };
}

let counter = 0;
export const uniqueProduct = (name: string) => `${name}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export async function initSale(edge: EdgeUnderTest, body: Record<string, unknown>): Promise<{ saleId: string }> {
  const r = await send<{ saleId: string }>(edge, "/init", {
    method: "POST",
    headers: { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (r.status !== 200) throw new Error(`init failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export interface OrderReply {
  status?: string;
  orderId?: string;
  ticket?: string;
  position?: number;
  etaSeconds?: number | null;
  standby?: boolean;
  expired?: boolean;
  limit?: number;
  /** A pre-queue entry (202 prequeued), and whether the draw is still running. */
  entry?: string;
  drawing?: boolean;
}

const tokens = new Map<string, string>();

/** Signs these buyers in once (the dev issuer's batch endpoint): a crowd's orders then carry tokens without a round trip each. */
export async function signIn(edge: EdgeUnderTest, userIds: string[]): Promise<void> {
  const missing = userIds.filter((u) => !tokens.has(u));
  if (missing.length > 0) for (const [sub, token] of await mintTokens(edge.issuer, missing)) tokens.set(sub, token);
}

/** The Authorization header of a signed-in buyer. */
export async function bearer(edge: EdgeUnderTest, userId: string): Promise<{ authorization: string }> {
  await signIn(edge, [userId]);
  return { authorization: `Bearer ${tokens.get(userId)}` };
}

/** An order of `body.userId`, signed in as that buyer (the token's sub is the buyer; the body's userId must match it). */
export async function order(
  edge: EdgeUnderTest,
  body: Record<string, unknown>,
  opts: { key?: string; ticket?: string; cookie?: string; headers?: Record<string, string> } = {},
): Promise<Reply<OrderReply>> {
  const userId = String(body.userId);
  await signIn(edge, [userId]);
  return send<OrderReply>(edge, "/order", {
    method: "POST",
    headers: {
      authorization: `Bearer ${tokens.get(userId)}`,
      "content-type": "application/json",
      "idempotency-key": opts.key ?? crypto.randomUUID(),
      ...(opts.ticket ? { "x-queue-ticket": opts.ticket } : {}),
      ...(opts.cookie ? { cookie: opts.cookie } : {}),
      ...opts.headers,
    },
    body: JSON.stringify(body),
  });
}

/** Sends `n` requests one after another, so the round-robin gives each isolate its share. */
export async function onEveryIsolate<T>(edge: EdgeUnderTest, fn: () => Promise<Reply<T>>, rounds = 1): Promise<Reply<T>[]> {
  const replies: Reply<T>[] = [];
  for (let i = 0; i < edge.isolates * rounds; i++) replies.push(await fn());
  return replies;
}

export const ticketNumber = (token: string) => readTicketPayload(token)!.number;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
