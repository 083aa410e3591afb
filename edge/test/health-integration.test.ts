import { env } from "cloudflare:workers";
import { HEALTH_CACHE_MS } from "@fluxgate/common";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { createEdge } from "../src/index";
import { Isolate } from "../src/isolate";
import { ADMIN } from "./helpers";

/** One isolate of the edge with a clock the test moves, called the way the runtime calls it. */
function isolateWithClock() {
  const clock = { t: Date.now() };
  const isolate = new Isolate(() => clock.t);
  const app = createEdge(isolate);
  const get = async (headers: Record<string, string> = {}) => {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request("http://edge/health", { headers }), env, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
  return { clock, isolate, get };
}

describe("GET /health", () => {
  it("tells anyone up or down, and nothing else", async () => {
    const { get } = isolateWithClock();
    const strangers: Record<string, string>[] = [{}, { authorization: "Bearer not-the-admin-token" }, { authorization: "Basic x" }];
    for (const headers of strangers) {
      const res = await get(headers);
      expect(res.status).toBe(200);
      // No dependency names, error texts, issuer or JWKS URL for a stranger.
      expect(await res.json()).toEqual({ status: "ok" });
    }
  });

  it("reports the Upstash database and the origin, and how buyers are identified, to the admin", async () => {
    const { get } = isolateWithClock();
    const res = await get(ADMIN);
    const body = await res.json<{ service: string; status: string; dependencies: Record<string, { ok: boolean }>; identity: { mode: string } }>();
    expect(body.service).toBe("edge");
    expect(body.status).toBe("ok");
    expect(body.dependencies.upstash?.ok).toBe(true);
    expect(body.dependencies.origin?.ok).toBe(true);
    expect(body.identity.mode).toBe("jwt");
    expect(res.status).toBe(200);
  });

  it("costs at most one Upstash PING and one origin call per isolate per few seconds, however many ask", async () => {
    const { clock, isolate, get } = isolateWithClock();
    // What leaves the isolate, counted on the wire.
    const sent = { upstash: 0, origin: 0 };
    const original = globalThis.fetch;
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const url = new Request(input, init).url;
      if (url.startsWith(env.UPSTASH_REDIS_REST_URL)) sent.upstash++;
      if (url.startsWith(env.ORIGIN_URL)) sent.origin++;
      return original(input, init);
    });
    try {
      // 1,000 requests over 4.9 s of the isolate's clock, 100 at a time: one check answers them all.
      for (let burst = 0; burst < 10; burst++) {
        const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => get(i % 10 === 0 ? ADMIN : {})));
        expect(answers.every((res) => res.status === 200)).toBe(true);
        clock.t += (HEALTH_CACHE_MS - 100) / 10;
      }
      expect(sent).toEqual({ upstash: 1, origin: 1 });
      expect(isolate.upstash.calls).toBe(1);
      // Once the window has passed, the next request looks again.
      clock.t += 100;
      await get();
      expect(sent).toEqual({ upstash: 2, origin: 2 });
    } finally {
      spy.mockRestore();
    }
  });
});
