import { setTimeout as sleep } from "node:timers/promises";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { Redis as Upstash, type RedisConfigNodejs } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { startBridge, type RunningBridge } from "../src/index";

/** Under the root config the stack's global setup provides its redis; standalone runs use REDIS_URL. */
function redisUrlForTests(): string {
  try {
    const stack = (inject as unknown as (key: string) => { redis?: { url?: string } } | undefined)("stack");
    if (stack?.redis?.url) return stack.redis.url;
  } catch {
    // Not provided outside the root project config.
  }
  return process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
}

const REDIS_URL = redisUrlForTests();
const TOKEN = `bridge-test-token-${randomUUID()}`;

let running: RunningBridge;
let raw: IORedis;
let prefix: string;
const key = (name: string) => `${prefix}${name}`;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

interface CallOptions {
  token?: string | null;
  base64?: boolean;
  method?: string;
  rawBody?: string;
  baseUrl?: string;
}

/** Raw HTTP, to pin down the wire format the client relies on. */
async function call(path: string, body?: unknown, options: CallOptions = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? TOKEN}`;
  if (options.base64) headers["upstash-encoding"] = "base64";
  const method = options.method ?? "POST";
  const res = await fetch(`${options.baseUrl ?? running.url}${path}`, {
    method,
    headers,
    body: method === "GET" || method === "HEAD" ? undefined : (options.rawBody ?? JSON.stringify(body)),
  });
  const text = await res.text();
  expect(res.headers.get("content-type"), `content-type of ${method} ${path}`).toMatch(/^application\/json/);
  return { status: res.status, body: JSON.parse(text) as Json, headers: res.headers };
}

const client = (options: Partial<RedisConfigNodejs> = {}) => new Upstash({ url: running.url, token: TOKEN, enableTelemetry: false, ...options });

const b64 = (text: string | Buffer) => Buffer.from(text).toString("base64");
const unb64 = (value: Json) => Buffer.from(value as string, "base64");

/** The exact error text redis itself produces, so tests can demand it verbatim. */
async function redisErrorText(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected redis to reply with an error");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  raw = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
  await raw.ping();
  running = await startBridge({ redisUrl: REDIS_URL, token: TOKEN, poolSize: 4 });
});

afterAll(async () => {
  await running?.close();
  await raw?.quit();
});

beforeEach(() => {
  prefix = `bridge-test:${randomUUID()}:`;
});

afterEach(async () => {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await raw.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  if (keys.length > 0) await raw.del(...keys);
});

describe("strings and encoding", () => {
  it("sets and gets through the real client", async () => {
    const redis = client();
    expect(await redis.set(key("plain"), "value-1")).toBe("OK");
    expect(await redis.get(key("plain"))).toBe("value-1");
    expect(await raw.get(key("plain"))).toBe("value-1");
  });

  it("round-trips non-ASCII, emoji and NUL bytes exactly", async () => {
    const redis = client();
    const values = { accents: "héllo ✓ 日本", emoji: "🚀🔥 flash-sale 🎟️", nul: "a\u0000b\u0000", mixed: "Zürich\u0000東京🙂" };
    for (const [name, value] of Object.entries(values)) {
      await redis.set(key(name), value);
      // What redis stores must be the UTF-8 bytes, not some re-encoding of them.
      expect((await raw.getBuffer(key(name)))?.equals(Buffer.from(value, "utf8")), name).toBe(true);
      expect(await redis.get(key(name)), name).toBe(value);
    }
    // Keys are binary-safe too.
    await redis.set(key("ключ-🔑"), "v");
    expect(await raw.get(key("ключ-🔑"))).toBe("v");
  });

  it("returns the exact bytes of invalid UTF-8 as base64", async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x41, 0xf0, 0x9f]);
    await raw.set(key("binary"), bytes);

    const encoded = await call("/", ["GET", key("binary")], { base64: true });
    expect(encoded.status).toBe(200);
    expect(unb64((encoded.body as { result: Json }).result).equals(bytes)).toBe(true);

    // Without the header the bytes can only come back as (lossy) UTF-8 text.
    const plain = await call("/", ["GET", key("binary")]);
    expect((plain.body as { result: string }).result).toBe(bytes.toString("utf8"));

    // The client decodes base64 with TextDecoder, so it sees the same lossy text.
    expect(await client({ automaticDeserialization: false }).get(key("binary"))).toBe(new TextDecoder().decode(bytes));
  });

  it("base64-encodes status replies like OK and PONG, and the client still reads them", async () => {
    const set = await call("/", ["SET", key("status"), "x"], { base64: true });
    expect(set.body).toEqual({ result: b64("OK") });
    const ping = await call("/", ["PING"], { base64: true });
    expect(ping.body).toEqual({ result: b64("PONG") });
    const plain = await call("/", ["PING"]);
    expect(plain.body).toEqual({ result: "PONG" });
    expect(await client().ping()).toBe("PONG");
  });

  it("keeps integers as JSON numbers and nil as null, with and without base64", async () => {
    for (const base64 of [true, false]) {
      const counter = key(`counter-${base64}`);
      const first = await call("/", ["INCR", counter], { base64 });
      expect(first.body).toEqual({ result: 1 });
      const byNumber = await call("/", ["INCRBY", counter, 41], { base64 });
      expect(byNumber.body).toEqual({ result: 42 });
      const missing = await call("/", ["GET", key(`missing-${base64}`)], { base64 });
      expect(missing.body).toEqual({ result: null });
    }
    const redis = client();
    expect(await redis.incr(key("n"))).toBe(1);
    expect(await redis.incrby(key("n"), 9)).toBe(10);
    expect(await redis.get(key("does-not-exist"))).toBeNull();
  });

  it("stringifies numbers and booleans in the body", async () => {
    await call("/", ["SET", key("num"), 12.5]);
    await call("/", ["SET", key("bool"), true]);
    expect(await raw.get(key("num"))).toBe("12.5");
    expect(await raw.get(key("bool"))).toBe("true");
  });

  it("works with the client's plain (non-base64) response encoding", async () => {
    const redis = client({ responseEncoding: false });
    await redis.set(key("plain-enc"), "héllo ✓ 日本 🚀");
    expect(await redis.get(key("plain-enc"))).toBe("héllo ✓ 日本 🚀");
    expect(await redis.lrange(key("nothing"), 0, -1)).toEqual([]);
  });

  it("answers through the in-process fetch handler without a socket", async () => {
    const res = await running.bridge.fetch(
      new Request("http://bridge.local/", {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "upstash-encoding": "base64" },
        body: JSON.stringify(["ECHO", "in-process ✓"]),
      }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: string };
    expect(unb64(body.result).toString("utf8")).toBe("in-process ✓");
  });
});

describe("collections and nested replies", () => {
  it("returns hashes and lists as redis sent them (no ioredis reshaping)", async () => {
    const redis = client();
    await redis.hset(key("hash"), { name: "tee", colour: "blü" });
    expect(await redis.hgetall(key("hash"))).toEqual({ name: "tee", colour: "blü" });

    const wire = await call("/", ["HGETALL", key("hash")], { base64: true });
    const flat = (wire.body as { result: Json[] }).result.map((v) => unb64(v).toString("utf8"));
    expect(
      Object.fromEntries([
        [flat[0], flat[1]],
        [flat[2], flat[3]],
      ]),
    ).toEqual({ name: "tee", colour: "blü" });

    await redis.rpush(key("list"), "a", "ß", "🙂");
    expect(await redis.lrange(key("list"), 0, -1)).toEqual(["a", "ß", "🙂"]);
  });

  it("handles stream replies nested three levels deep (XRANGE, XREADGROUP)", async () => {
    const redis = client();
    const stream = key("stream");
    const id1 = await redis.xadd(stream, "*", { item: "sku-ä", qty: "two" });
    const id2 = await redis.xadd(stream, "*", { item: "sku-日本" });
    const range = await redis.xrange(stream, "-", "+");
    expect(range).toEqual({ [id1]: { item: "sku-ä", qty: "two" }, [id2]: { item: "sku-日本" } });

    await redis.xgroup(stream, { type: "CREATE", group: "g", id: "0" });
    const read = await redis.xreadgroup("g", "c1", stream, ">");
    expect(read).toEqual([
      [
        stream,
        [
          [id1, ["item", "sku-ä", "qty", "two"]],
          [id2, ["item", "sku-日本"]],
        ],
      ],
    ]);

    // And on the wire every string at every depth is base64.
    await raw.xgroup("CREATE", stream, "g2", "0");
    const wire = await call("/", ["XREADGROUP", "GROUP", "g2", "c1", "COUNT", 1, "STREAMS", stream, ">"], { base64: true });
    const [[name, [[id, fields]]]] = (wire.body as { result: [[string, [[string, string[]]]]] }).result;
    expect(unb64(name).toString()).toBe(stream);
    expect(unb64(id).toString()).toBe(id1);
    expect(fields.map((f) => unb64(f).toString())).toEqual(["item", "sku-ä", "qty", "two"]);
  });

  it("returns EVAL tables with ints, strings, nested tables, status and error replies", async () => {
    const script = `return {1, "two", {3, "four", {"fünf", 6}}, redis.status_reply("PONG"), {redis.error_reply("ERR nested boom")}}`;
    const redis = client();
    expect(await redis.eval(script, [], [])).toEqual([1, "two", [3, "four", ["fünf", 6]], "PONG", ["ERR nested boom"]]);

    const wire = await call("/", ["EVAL", script, 0], { base64: true });
    const result = (wire.body as { result: Json[] }).result;
    expect(result[0]).toBe(1);
    expect(result[1]).toBe(b64("two"));
    expect(result[2]).toEqual([3, b64("four"), [b64("fünf"), 6]]);
    expect(result[3]).toBe(b64("PONG"));
    // A nested error has no slot of its own in the Upstash format: it arrives as its text.
    expect(result[4]).toEqual([b64("ERR nested boom")]);

    const plain = await call("/", ["EVAL", script, 0]);
    expect(plain.body).toEqual({ result: [1, "two", [3, "four", ["fünf", 6]], "PONG", ["ERR nested boom"]] });
  });
});

describe("pipelines", () => {
  it("runs an explicit client pipeline in order", async () => {
    const redis = client();
    const p = redis.pipeline();
    p.set(key("p"), "v");
    p.incr(key("pn"));
    p.incr(key("pn"));
    p.get(key("p"));
    p.get(key("missing"));
    expect(await p.exec()).toEqual(["OK", 1, 2, "v", null]);
  });

  it("batches concurrent calls into one request with auto-pipelining (the client default)", async () => {
    const redis = client();
    const counter = () => (redis as unknown as { pipelineCounter: number }).pipelineCounter;
    const before = counter();
    const n = 40;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => redis.incrby(key(`auto-${i}`), i + 1)));
    expect(results).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    // One HTTP round trip for all 40 commands proves the batching reached the bridge.
    expect(counter() - before).toBe(1);
    expect(await raw.get(key("auto-39"))).toBe("40");
  });

  it("embeds a failing command's error in its own entry and still runs the rest", async () => {
    await raw.set(key("text"), "abc");
    const expected = await redisErrorText(() => raw.incr(key("text")));

    const wire = await call(
      "/pipeline",
      [
        ["SET", key("pe"), "a"],
        ["INCR", key("text")],
        ["GET", key("pe")],
      ],
      { base64: true },
    );
    expect(wire.status).toBe(200);
    expect(wire.body).toEqual([{ result: b64("OK") }, { error: expected }, { result: b64("a") }]);

    const redis = client();
    const p = redis.pipeline();
    p.get(key("pe"));
    p.incr(key("text"));
    await expect(p.exec()).rejects.toThrow(expected);

    const kept = redis.pipeline();
    kept.get(key("pe"));
    kept.incr(key("text"));
    expect(await kept.exec({ keepErrors: true })).toEqual([
      { result: "a", error: undefined },
      { result: undefined, error: expected },
    ]);
  });

  it("reports a refused command as that entry's error", async () => {
    const wire = await call("/pipeline", [["PING"], ["SUBSCRIBE", "channel"]]);
    expect(wire.status).toBe(200);
    const [ping, sub] = wire.body as [{ result: string }, { error: string }];
    expect(ping).toEqual({ result: "PONG" });
    expect(sub.error).toMatch(/SUBSCRIBE/);
  });
});

describe("transactions (multi-exec)", () => {
  it("runs a client transaction", async () => {
    const redis = client();
    const tx = redis.multi();
    tx.set(key("t"), "1");
    tx.incr(key("t"));
    tx.get(key("t"));
    expect(await tx.exec()).toEqual(["OK", 2, 2]);
  });

  it("keeps runtime errors per entry, as EXEC does", async () => {
    const expected = await redisErrorText(async () => {
      await raw.set(key("probe"), "abc");
      await raw.incr(key("probe"));
    });
    const wire = await call(
      "/multi-exec",
      [
        ["SET", key("tx"), "abc"],
        ["INCR", key("tx")],
        ["GET", key("tx")],
      ],
      { base64: true },
    );
    expect(wire.status).toBe(200);
    expect(wire.body).toEqual([{ result: b64("OK") }, { error: expected }, { result: b64("abc") }]);

    const tx = client().multi();
    tx.set(key("tx2"), "abc");
    tx.incr(key("tx2"));
    await expect(tx.exec()).rejects.toThrow(expected);
  });

  it("rejects a whole transaction that redis discarded (EXECABORT) and runs none of it", async () => {
    const wire = await call("/multi-exec", [
      ["SET", key("aborted"), "1"],
      ["NOT-A-COMMAND", "x"],
    ]);
    expect(wire.status).toBe(400);
    const error = (wire.body as { error: string }).error;
    expect(error).toMatch(/^EXECABORT /);
    expect(error).toMatch(/NOT-A-COMMAND/);
    expect(await raw.exists(key("aborted"))).toBe(0);
  });

  it("refuses commands that would break the shared connection, before running anything", async () => {
    const wire = await call("/multi-exec", [
      ["SET", key("refused"), "1"],
      ["WATCH", key("refused")],
    ]);
    expect(wire.status).toBe(400);
    expect((wire.body as { error: string }).error).toMatch(/WATCH/);
    expect(await raw.exists(key("refused"))).toBe(0);
  });

  it("stays atomic while other requests hammer the same key on the shared pool", async () => {
    const counter = key("atomic");
    // The large value makes redis read each transaction in several chunks and serve other
    // connections in between, so without MULTI/EXEC the other INCRs would land inside it.
    const filler = "x".repeat(256 * 1024);
    const transactions = Array.from({ length: 60 }, (_, i) =>
      call("/multi-exec", [
        ["INCR", counter],
        ["SET", key(`filler-${i}`), filler],
        ["GET", counter],
      ]),
    );
    const singles = Array.from({ length: 120 }, () => call("/", ["INCR", counter]));
    const [txs] = await Promise.all([Promise.all(transactions), Promise.all(singles)]);
    for (const tx of txs) {
      expect(tx.status).toBe(200);
      const [incr, , get] = tx.body as [{ result: number }, unknown, { result: string }];
      // Had another INCR slipped between them, GET would be ahead of this INCR.
      expect(Number(get.result)).toBe(incr.result);
    }
    expect(await raw.get(counter)).toBe("180");
  });
});

describe("scripts", () => {
  it("falls back from EVALSHA to EVAL on NOSCRIPT and leaves the script loaded", async () => {
    // A script unique to this run is guaranteed not to be cached, without SCRIPT FLUSH
    // wiping the scripts of anything else sharing this redis.
    const source = `-- ${prefix}\nreturn {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}`;
    const sha = createHash("sha1").update(source).digest("hex");
    expect(await raw.script("EXISTS", sha)).toEqual([0]);

    const wire = await call("/", ["EVALSHA", sha, 1, key("s"), "x"]);
    expect(wire.status).toBe(400);
    expect((wire.body as { error: string }).error).toMatch(/^NOSCRIPT/);

    const redis = client();
    const script = redis.createScript<[string, string, number]>(source);
    expect(await script.exec([key("s")], ["arg-ü"])).toEqual([key("s"), "arg-ü", 1]);
    expect(script.sha1).toBe(sha);
    expect(await raw.script("EXISTS", sha)).toEqual([1]);
    expect(await redis.scriptExists(sha)).toEqual([1]);

    // Now EVALSHA itself succeeds.
    expect(await redis.evalsha(sha, [key("s")], ["again"])).toEqual([key("s"), "again", 2]);
  });
});

describe("errors", () => {
  it("turns a redis error into HTTP 400 with the text verbatim, and the client throws it", async () => {
    await raw.set(key("nan"), "not a number");
    const expected = await redisErrorText(() => raw.incr(key("nan")));

    const wire = await call("/", ["INCR", key("nan")]);
    expect(wire.status).toBe(400);
    expect(wire.body).toEqual({ error: expected });

    await expect(client().incr(key("nan"))).rejects.toThrow(expected);
    await expect(client({ enableAutoPipelining: false }).incr(key("nan"))).rejects.toThrow(expected);
  });

  it("rejects missing or wrong tokens with 401 on every route", async () => {
    for (const path of ["/", "/pipeline", "/multi-exec", "/nowhere", "/get/x"]) {
      for (const token of [null, "wrong", `${TOKEN}x`, TOKEN.slice(0, -1)]) {
        const res = await call(path, ["PING"], { token, method: path === "/get/x" ? "GET" : "POST" });
        expect(res.status, `${path} with ${token}`).toBe(401);
        expect(res.body).toEqual({ error: "Unauthorized" });
      }
    }
    const malformed = await fetch(`${running.url}/`, { method: "POST", headers: { authorization: `Basic ${TOKEN}` }, body: '["PING"]' });
    expect(malformed.status).toBe(401);
    await malformed.text();

    const intruder = new Upstash({ url: running.url, token: "wrong-token", enableTelemetry: false });
    await expect(intruder.get(key("x"))).rejects.toThrow(/Unauthorized/);
  });

  it.each([
    ["not JSON", "/", "SET a b"],
    ["a JSON object", "/", '{"command":"PING"}'],
    ["a bare string", "/", '"PING"'],
    ["an empty array", "/", "[]"],
    ["a nested array argument", "/", '["SET","k",["v"]]'],
    ["an object argument", "/", '["SET","k",{"v":1}]'],
    ["a null argument", "/", '["SET","k",null]'],
    ["a numeric command name", "/", "[42]"],
    ["a flat pipeline", "/pipeline", '["PING"]'],
    ["an empty pipeline", "/pipeline", "[]"],
    ["a pipeline entry with an object", "/pipeline", '[["PING"],["SET","k",{}]]'],
    ["a transaction with a nested argument", "/multi-exec", '[["SET","k",[1]]]'],
  ])("rejects %s with 400 JSON", async (_name, path, rawBody) => {
    const res = await call(path, undefined, { rawBody });
    expect(res.status).toBe(400);
    expect(typeof (res.body as { error: unknown }).error).toBe("string");
    expect((res.body as { error: string }).error.length).toBeGreaterThan(0);
  });

  it("answers unknown routes with 404 and wrong methods with 405, as JSON", async () => {
    const notFound = await call("/nope", ["PING"]);
    expect(notFound.status).toBe(404);
    expect((notFound.body as { error: string }).error).toMatch(/nope/);

    for (const [method, path] of [
      ["GET", "/pipeline"],
      ["GET", "/multi-exec"],
      ["PUT", "/"],
      ["DELETE", "/pipeline"],
      ["GET", "/"],
    ] as const) {
      const res = await call(path, ["PING"], { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(typeof (res.body as { error: unknown }).error).toBe("string");
    }
  });

  it("refuses connection-state commands on a single request", async () => {
    for (const command of [["SUBSCRIBE", "c"], ["SELECT", "1"], ["MULTI"]]) {
      const res = await call("/", command);
      expect(res.status, command.join(" ")).toBe(400);
      expect((res.body as { error: string }).error).toMatch(/not supported/);
    }
    // The shared connections are still healthy afterwards.
    expect((await call("/", ["PING"])).body).toEqual({ result: "PONG" });
  });
});

describe("commands Upstash refuses", () => {
  const ADMIN: string[][] = [
    ["FLUSHALL"],
    ["FLUSHDB", "ASYNC"],
    ["CONFIG", "SET", "maxmemory", "1"],
    ["CONFIG", "GET", "requirepass"],
    ["ACL", "LIST"],
    ["CLIENT", "KILL", "TYPE", "normal"],
    ["CLIENT", "REPLY", "OFF"],
    ["DEBUG", "SLEEP", "0"],
    ["SHUTDOWN", "NOSAVE"],
    ["MODULE", "LIST"],
    ["MONITOR"],
    ["SAVE"],
    ["bgsave"],
    ["REPLICAOF", "127.0.0.1", "1"],
    ["SWAPDB", "0", "1"],
  ];

  it("are refused on every path, with Upstash's error, and every key is still there", async () => {
    await raw.set(key("survivor"), "still here");
    for (const command of ADMIN) {
      const what = command.join(" ");
      const single = await call("/", command);
      expect(single.status, what).toBe(400);
      expect((single.body as { error: string }).error, what).toMatch(/^ERR .*(not allowed|not supported)/);

      const path = await call(`/${command.map(encodeURIComponent).join("/")}`, undefined, { method: "GET" });
      expect(path.status, `GET ${what}`).toBe(400);

      const pipeline = await call("/pipeline", [["PING"], command]);
      expect(pipeline.status, what).toBe(200);
      expect(pipeline.body, what).toEqual([{ result: "PONG" }, { error: expect.stringMatching(/^ERR /) }]);

      const transaction = await call("/multi-exec", [["SET", key("in-tx"), "1"], command]);
      expect(transaction.status, what).toBe(400);
      expect(await raw.exists(key("in-tx")), what).toBe(0);
    }
    expect((await call("/", ["FLUSHALL"])).body).toEqual({ error: "ERR Command is not allowed: FLUSHALL" });
    // Nothing was wiped or reconfigured: the key is there and redis still answers through the bridge.
    expect(await raw.get(key("survivor"))).toBe("still here");
    expect((await call("/", ["GET", key("survivor")])).body).toEqual({ result: "still here" });
    expect(await raw.config("GET", "maxmemory")).not.toEqual(["maxmemory", "1"]);
  });

  it("are refused through the Upstash client as a thrown error", async () => {
    await expect(client().flushall()).rejects.toThrow(/not allowed/);
    await expect(client().flushdb()).rejects.toThrow(/not allowed/);
  });
});

describe("path-style commands (curl convenience)", () => {
  it("runs GET /<command>/<args...> with percent-decoding", async () => {
    await raw.set(key("päth"), "vålue");
    const res = await call(`/get/${encodeURIComponent(key("päth"))}`, undefined, { method: "GET" });
    expect(res.body).toEqual({ result: "vålue" });
  });
});

describe("blocking commands", () => {
  it("runs BLPOP on its own connection, so other requests are not stalled behind it", async () => {
    const list = key("queue");
    const started = Date.now();
    const blpop = call("/", ["BLPOP", list, 5]);

    // While BLPOP waits, the shared pool keeps answering quickly.
    const pings = await Promise.all(Array.from({ length: 20 }, () => call("/", ["PING"])));
    expect(pings.every((p) => p.status === 200)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);

    await client().lpush(list, "job-1");
    const popped = await blpop;
    expect(popped.body).toEqual({ result: [list, "job-1"] });
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("drops the blocked redis connection when the HTTP client hangs up", async () => {
    const list = key("abandoned");
    const controller = new AbortController();
    const pending = fetch(`${running.url}/`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(["BLPOP", list, 0]),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await sleep(200);
    controller.abort();
    await pending;
    await sleep(200);
    // A BLPOP still parked on a forgotten connection would swallow this item.
    await raw.rpush(list, "must-stay");
    await sleep(200);
    expect(await raw.lrange(list, 0, -1)).toEqual(["must-stay"]);
  });

  it("returns null when a blocking command times out", async () => {
    const res = await call("/", ["BLPOP", key("empty"), "0.2"]);
    expect(res.body).toEqual({ result: null });
  });
});

describe("when redis is unreachable", () => {
  let down: RunningBridge;
  let port: number;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    port = await freePort();
    down = await startBridge({ redisUrl: `redis://127.0.0.1:${port}`, token: TOKEN, poolSize: 2 });
  });

  afterAll(async () => {
    await down?.close();
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    }
  });

  it("answers 500 JSON at once on every endpoint, and the client throws", async () => {
    for (const [path, body] of [
      ["/", ["PING"]],
      ["/pipeline", [["PING"]]],
      ["/multi-exec", [["PING"]]],
    ] as const) {
      const started = Date.now();
      const res = await call(path, body, { baseUrl: down.url });
      expect(res.status, path).toBe(500);
      expect((res.body as { error: string }).error).toMatch(/unavailable/i);
      expect(Date.now() - started, path).toBeLessThan(1_000);
    }
    const redis = new Upstash({ url: down.url, token: TOKEN, enableTelemetry: false });
    await expect(redis.get("anything")).rejects.toThrow(/unavailable/i);
  });

  const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;

  it.skipIf(!hasRedisServer)("recovers by itself once redis comes back", async () => {
    server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    const deadline = Date.now() + 10_000;
    let last: { status: number; body: Json } | undefined;
    while (Date.now() < deadline) {
      last = await call("/", ["PING"], { baseUrl: down.url });
      if (last.status === 200) break;
      await sleep(100);
    }
    expect(last).toEqual(expect.objectContaining({ status: 200, body: { result: "PONG" } }));
  });
});

describe("lifecycle", () => {
  it("close() is idempotent and frees the port", async () => {
    const extra = await startBridge({ redisUrl: REDIS_URL, token: TOKEN, poolSize: 1 });
    expect((await call("/", ["PING"], { baseUrl: extra.url })).status).toBe(200);
    await Promise.all([extra.close(), extra.close()]);
    await extra.close();
    await expect(fetch(`${extra.url}/`, { method: "POST", body: "[]" })).rejects.toThrow();
  });

  it("close() does not wait for a blocking command that would never return", async () => {
    const extra = await startBridge({ redisUrl: REDIS_URL, token: TOKEN, poolSize: 1 });
    const blocked = call("/", ["BLPOP", key("forever"), 0], { baseUrl: extra.url }).catch((error: unknown) => error);
    await sleep(200);
    const started = Date.now();
    await extra.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    // The blocked request was answered (500: its redis connection was cut), not left hanging.
    expect(await blocked).toEqual(expect.objectContaining({ status: 500 }));
  });
});
