import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { beforeAll, describe, expect, it } from "vitest";
import { saleKeys } from "@fluxgate/common";
import { ADMIN, call, initSale, order, sale, uniqueProduct } from "./helpers";

const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });

describe("bad input gets a clear JSON error and changes nothing", () => {
  const productId = uniqueProduct("input");
  const good = { productId, userId: "u1", quantity: 1 };
  const inSeconds = (n: number) => new Date(Date.now() + n * 1000).toISOString();
  const initWith = (fields: Record<string, unknown>) =>
    call("/init", { method: "POST", headers: ADMIN, body: JSON.stringify({ productId, quantity: 5, ...fields }) });
  beforeAll(() => initSale({ productId, quantity: 5 }));

  const cases: [string, () => Promise<Response>, number][] = [
    ["bad JSON", () => order("{not json", { as: "u1" }), 400],
    ["no sign-in token", () => order(good, { as: null }), 401],
    ["a userId other than the signed-in buyer", () => order(good, { as: "u2" }), 403],
    ["a negative quantity", () => order({ ...good, quantity: -1 }), 400],
    ["a string quantity", () => order({ ...good, quantity: "1" }), 400],
    ["an unknown field", () => order({ ...good, price: 0 }), 400],
    ["a productId with a slash", () => order({ ...good, productId: "a/b" }), 400],
    ["a missing Idempotency-Key", () => order(good, { key: null }), 400],
    ["an empty Idempotency-Key", () => order(good, { key: "" }), 400],
    ["an Idempotency-Key of 129 characters", () => order(good, { key: "k".repeat(129) }), 400],
    ["an unknown product", () => order({ ...good, productId: uniqueProduct("nothing") }), 404],
    ["a body over 8 KiB", () => order({ ...good, userId: "x".repeat(9000) }, { as: "u1" }), 413],
    ["GET /order", () => call("/order"), 405],
    ["PUT /order", () => call("/order", { method: "PUT", body: "{}" }), 405],
    ["a forged ticket", () => order(good, { ticket: "eyJhIjoxfQ.AAAA" }), 403],
    ["POST /init without the admin token", () => call("/init", { method: "POST", body: JSON.stringify({ productId, quantity: 1 }) }), 401],
    [
      "POST /init with a wrong admin token",
      () => call("/init", { method: "POST", headers: { authorization: "Bearer nope" }, body: JSON.stringify({ productId, quantity: 1 }) }),
      401,
    ],
    ["POST /init with a negative quantity", () => call("/init", { method: "POST", headers: ADMIN, body: JSON.stringify({ productId, quantity: -5 }) }), 400],
    ["POST /init with a pre-queue but no startsAt", () => initWith({ prequeueOpensAt: inSeconds(0) }), 400],
    ["POST /init with a pre-queue opening after the start", () => initWith({ startsAt: inSeconds(60), prequeueOpensAt: inSeconds(120) }), 400],
    ["POST /init with a pre-queue and a start in the past", () => initWith({ startsAt: inSeconds(-1), prequeueOpensAt: inSeconds(-5) }), 400],
  ];

  it.each(cases)("%s", async (_, send, status) => {
    const before = await sale(productId);
    const outboxBefore = await redis.xlen(saleKeys(productId).outbox);
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const body = await res.json<{ error?: string; status?: string }>();
    expect(body.error ?? body.status).toBeTruthy();
    expect(await sale(productId)).toEqual(before);
    expect(await redis.xlen(saleKeys(productId).outbox)).toBe(outboxBefore);
  });

  it("a key reused with a different body is a 422 and takes nothing", async () => {
    const key = crypto.randomUUID();
    expect((await order(good, { key })).status).toBe(200);
    const before = await sale(productId);
    const res = await order({ ...good, quantity: 2 }, { key });
    expect(res.status).toBe(422);
    expect(await sale(productId)).toEqual(before);
  });

  it("accepts x-idempotency-key as well", async () => {
    const res = await order({ ...good, userId: "u-x" }, { key: null, headers: { "x-idempotency-key": `alt-${crypto.randomUUID()}` } });
    expect(res.status).toBe(200);
  });

  it("before startsAt, /order answers 425 with the start time", async () => {
    const later = uniqueProduct("later");
    const startsAt = new Date(Date.now() + 3_600_000).toISOString();
    await initSale({ productId: later, quantity: 5, startsAt });
    const res = await order({ productId: later, userId: "early" });
    expect(res.status).toBe(425);
    expect(await res.json()).toMatchObject({ status: "not_started", startsAt });
    expect(await sale(later)).toMatchObject({ remaining: 5 });
  });

  it("POST /init answers its settings, with defaults filled in", async () => {
    const p = uniqueProduct("init");
    const res = await call("/init", { method: "POST", headers: ADMIN, body: JSON.stringify({ productId: p, quantity: 100 }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ productId: p, quantity: 100, ratePerSecond: 10000, burst: 10000, perUserLimit: 1 });
    expect(await sale(p)).toMatchObject({ quantity: 100, remaining: 100, sold: 0, queued: 0 });
  });
});
