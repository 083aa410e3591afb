import { describe, expect, it } from "vitest";
import { bearerAccess, healthRoute } from "../src/node/ops";

/** A service's /health over probes that count how often they are asked, one failing on demand. */
function service(token: string | undefined) {
  const asked = { redis: 0, kafka: 0 };
  const state = { kafkaDown: false };
  const app = healthRoute(
    "svc",
    {
      redis: async () => void asked.redis++,
      kafka: async () => {
        asked.kafka++;
        if (state.kafkaDown) throw new Error("broker at 10.0.0.7:9092 refused the connection");
      },
    },
    bearerAccess(token),
  );
  return { app, asked, state };
}

describe("a Node service's /health", () => {
  it("tells anyone up or down only, and the details (which dependency, its error text) to the token", async () => {
    const { app, state } = service("operator-token-0123456789");
    state.kafkaDown = true;
    for (const headers of [{}, { authorization: "Bearer wrong-token-0123456789" }, { authorization: "operator-token-0123456789" }]) {
      const res = await app.request("/", { headers });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: "degraded" });
    }
    const res = await app.request("/", { headers: { authorization: "Bearer operator-token-0123456789" } });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      service: "svc",
      status: "degraded",
      dependencies: { redis: { ok: true }, kafka: { ok: false, error: "broker at 10.0.0.7:9092 refused the connection" } },
    });
  });

  it("gives nobody the details when no token is set", async () => {
    const { app } = service(undefined);
    const res = await app.request("/", { headers: { authorization: "Bearer " } });
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("probes its dependencies once per window, however many ask (a flood costs no billed PING per request)", async () => {
    const { app, asked } = service("operator-token-0123456789");
    const answers = await Promise.all(Array.from({ length: 500 }, () => app.request("/")));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(asked).toEqual({ redis: 1, kafka: 1 });
  });
});
