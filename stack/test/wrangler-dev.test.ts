import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../src/daemon";
import { repoRoot } from "../src/home";
import { freePort } from "./free-port";
import { mintToken } from "../src/issuer/client";
import { ensureDevVars } from "../src/secrets";

/**
 * `npm run dev` exactly as a developer types it (plain `wrangler dev`, no flags but the ports),
 * against the stack the global setup brought up: the .dev.vars that `up` wrote is all it needs.
 */
describe("npm run dev (plain wrangler dev) with the stack up", () => {
  const stack = inject("stack");
  let dev: ChildProcess;
  let url: string;
  let output = "";

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // Ports of its own: not the stack edge's, nor the inspector port another checkout's `wrangler dev` may hold.
    dev = spawn("npm", ["run", "dev", "--", "--port", String(port), "--inspector-port", String(await freePort())], {
      cwd: repoRoot,
      // Offline here: no fetch of the Request.cf template from Cloudflare.
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [dev.stdout, dev.stderr]) stream?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(
      "wrangler dev",
      () =>
        fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${output}`);
    });
  }, 120_000);

  afterAll(() => {
    if (dev?.pid) process.kill(-dev.pid, "SIGTERM");
  });

  it("trusts the dev issuer: a signed-in buyer buys from a sale the admin token started", async () => {
    const admin = { authorization: `Bearer ${ensureDevVars().get("ADMIN_TOKEN")}` };
    const health = (await (await fetch(`${url}/health`, { headers: admin })).json()) as { identity: { mode: string; issuer: string } };
    expect(health.identity).toMatchObject({ mode: "jwt", issuer: stack.issuer.url });

    const productId = `wrangler-dev-${Date.now().toString(36)}`;
    const init = await fetch(`${url}/init`, {
      method: "POST",
      headers: { authorization: `Bearer ${ensureDevVars().get("ADMIN_TOKEN")}`, "content-type": "application/json" },
      body: JSON.stringify({ productId, quantity: 1 }),
    });
    expect(init.status, await init.clone().text()).toBe(200);

    const order = await fetch(`${url}/order`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await mintToken(stack.issuer.url, "alice")}`,
        "idempotency-key": crypto.randomUUID(),
        "content-type": "application/json",
      },
      body: JSON.stringify({ productId }),
    });
    const body = await order.json();
    expect(body, output).toMatchObject({ status: "accepted", productId, userId: "alice" });
    expect(order.status).toBe(200);
  });
});
