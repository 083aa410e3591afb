import { env } from "cloudflare:workers";
import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";

describe("Server-Timing", () => {
  it("says how long the edge held the request, as edge;dur=<ms>", async () => {
    const res = await worker.fetch(new Request("http://edge/no-such-route"), env as unknown as Env, createExecutionContext());
    expect(res.headers.get("server-timing")).toMatch(/^edge;dur=\d+$/);
  });
});
