import { env } from "cloudflare:workers";
import { saleKeys } from "@fluxgate/common";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { gateLua } from "../src/gate/gate.lua";
import { gateKeys } from "../src/gate/gate";
import { initSaleKeys } from "../src/gate/init-sale.lua";
import { decodeGateReply, GATE_OUTCOMES } from "../src/gate/reply";
import { scripts } from "../src/gate/scripts";
import { uniqueProduct } from "./helpers";

/** Raw replies, as the edge's client gets them (no deserialisation). */
const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });

async function sale(over: { quantity?: number; startsAt?: number; powDifficulty?: number } = {}) {
  const productId = uniqueProduct("reply");
  const args = ["sale-r", over.quantity ?? 1, 1, 1, 1, over.startsAt ?? 0, 60_000, productId, 20, 0, over.powDifficulty ?? 0, 0, "", "", ""];
  await scripts.initSale.run(redis, initSaleKeys(saleKeys(productId)), args);
  return productId;
}

function gate(productId: string, key: string, userId: string, hash = "h") {
  const k = saleKeys(productId);
  return scripts.gate.run<unknown>(redis, gateKeys(k), [key, hash, userId, 1, crypto.randomUUID(), productId, 0, 3, ""]);
}

describe("the gate's reply (reply.ts) against gate.lua's reply()", () => {
  it("names every outcome the script can return, and no other", () => {
    const returned = new Set([...gateLua.matchAll(/reply\('([a-z_]+)'/g)].map((m) => m[1]));
    const decodable: readonly string[] = GATE_OUTCOMES;
    expect([...returned].sort()).toEqual([...decodable].sort());
    for (const kind of decodable) expect(() => decodeGateReply([kind, "s", 1, 1, 1, "1", 1, "", "", 0, "", "", 0, 0, 0, "", 0, 0, 0, 0])).not.toThrow();
    expect(() => decodeGateReply(["surprise", "s", 1, 1, 1, "1", 1, "", "", 0, "", "", 0, 0, 0, "", 0, 0, 0, 0])).toThrow();
    expect(() => decodeGateReply(["accepted", "s", 1])).toThrow();
  });

  it("decodes what the script really returns, field by field, for each outcome reached through Redis", async () => {
    const productId = await sale({ quantity: 1 });
    const accepted = decodeGateReply(await gate(productId, "k1", "u1"));
    expect(accepted).toMatchObject({ kind: "accepted", saleId: "sale-r", remaining: 0, rate: 1, powDifficulty: 0, draw: "" });
    expect(accepted.kind === "accepted" && JSON.parse(accepted.a)).toMatchObject({ productId, userId: "u1" });
    expect(accepted.kind === "accepted" && accepted.acceptedKeys).toMatch(/^\d+:/);
    expect(decodeGateReply(await gate(productId, "k1", "u1"))).toMatchObject({ kind: "replay", a: "accepted" });
    expect(decodeGateReply(await gate(productId, "k1", "u1", "other"))).toMatchObject({ kind: "conflict" });
    expect(decodeGateReply(await gate(productId, "k2", "u2"))).toMatchObject({ kind: "sold_out", remaining: 0 });

    const busy = await sale({ quantity: 5 });
    expect(decodeGateReply(await gate(busy, "a", "u1"))).toMatchObject({ kind: "accepted" });
    expect(decodeGateReply(await gate(busy, "b", "u1"))).toMatchObject({ kind: "limit_reached" });
    expect(decodeGateReply(await gate(busy, "c", "u2"))).toMatchObject({ kind: "queued", a: "1", issued: 1 });
    expect(decodeGateReply(await gate(busy, "", ""))).toMatchObject({ kind: "view", issued: 1 });

    const later = await sale({ startsAt: Date.now() + 60_000 });
    expect(decodeGateReply(await gate(later, "k", "u"))).toMatchObject({ kind: "not_started" });
    const pow = await sale({ powDifficulty: 8 });
    expect(decodeGateReply(await gate(pow, "k", "u"))).toMatchObject({ kind: "challenge", a: "8", b: "required", powDifficulty: 8 });
    expect(decodeGateReply(await gate(uniqueProduct("none"), "k", "u"))).toEqual({ kind: "unknown" });
  });
});
