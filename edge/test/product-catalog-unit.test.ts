import type { ScriptEvaluator } from "@fluxgate/common";
import { describe, expect, it } from "vitest";
import { scripts } from "../src/gate/scripts";
import { MAX_CATALOG_PRODUCTS, ProductCatalog } from "../src/product-catalog";
import { CATALOG_COPY_MS, UNKNOWN_PRODUCT_FLOOD_MS } from "../src/time-windows";

/**
 * Redis as the catalog and a route see it: the catalog's set and version (what catalog.lua.ts
 * returns; catalog-integration.test.ts runs the real script), and every command counted, the
 * catalog's refreshes and the routes' own lookups apart. `hold()` keeps replies back until
 * released, as a slow round trip would.
 */
function fakeRedis() {
  const state = { products: new Set<string>(), version: undefined as string | undefined, refreshes: 0, lookups: 0 };
  let held: Promise<void> | undefined;
  const evaluator: ScriptEvaluator = {
    async evalsha(sha, _keys, [known]) {
      expect(sha).toBe(scripts.catalog.sha);
      state.refreshes++;
      if (held) await held;
      const version = `v${state.version ?? ""}`;
      if (version === known) return [version];
      if (state.products.size > MAX_CATALOG_PRODUCTS) return [version, state.products.size];
      return [version, state.products.size, [...state.products]];
    },
    eval: () => Promise.reject(new Error("the script is always loaded here")),
  };
  return {
    state,
    evaluator,
    commands: () => state.refreshes + state.lookups,
    /** A sale started on another isolate (what init-sale does to the catalog). */
    startSale(productId: string) {
      state.products.add(productId);
      state.version = `sale-${state.products.size}`;
    },
    /** The route's own lookup of a product (its HMGET or gate call): whether there is a sale. */
    async read(productId: string): Promise<boolean> {
      state.lookups++;
      if (held) await held;
      return state.products.has(productId);
    },
    hold() {
      let release!: () => void;
      held = new Promise((resolve) => (release = resolve));
      return () => {
        held = undefined;
        release();
      };
    },
  };
}

type FakeRedis = ReturnType<typeof fakeRedis>;

/** What a route does with a product id: ask the catalog, then look the id up itself when told to. Resolves to "there is a sale". */
async function ask(catalog: ProductCatalog, redis: FakeRedis, productId: string): Promise<boolean> {
  if (!(await catalog.mayHaveSale(redis.evaluator, productId))) return false;
  return catalog.lookUp(
    productId,
    () => redis.read(productId),
    (found) => found,
  );
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, tick: (ms: number) => (t += ms) };
}

const randomId = () => `made-up-${crypto.randomUUID()}`;

describe("ProductCatalog: what an isolate spends on product ids it knows nothing of", () => {
  it("a flood of random ids costs a lookup and a refresh when it starts, then one refresh per window, whatever its size", async () => {
    const t = clock();
    const redis = fakeRedis();
    redis.startSale("real");
    const catalog = new ProductCatalog(t.now);
    // 10,000 ids over 5 windows, 200 every tenth of a window.
    for (let step = 0; step < 50; step++) {
      for (let i = 0; i < 200; i++) expect(await ask(catalog, redis, randomId())).toBe(false);
      t.tick(CATALOG_COPY_MS / 10);
    }
    expect(redis.state).toMatchObject({ lookups: 1, refreshes: 5 });
    // A sale it read is never refused, flood or not.
    expect(await ask(catalog, redis, "real")).toBe(true);
  });

  it("the same at once: 100 random ids arriving together cost one lookup and one refresh", async () => {
    const t = clock();
    const redis = fakeRedis();
    const catalog = new ProductCatalog(t.now, () => new Promise((resolve) => setTimeout(resolve, 1)));
    const answers = await Promise.all(Array.from({ length: 100 }, () => ask(catalog, redis, randomId())));
    expect(answers.every((found) => !found)).toBe(true);
    expect(redis.state).toMatchObject({ lookups: 1, refreshes: 1 });
  });

  it("with no flood, sales started elsewhere are found at once (no false 404), at one lookup each and no refresh", async () => {
    const t = clock();
    const redis = fakeRedis();
    const catalog = new ProductCatalog(t.now);
    redis.startSale("new-1");
    redis.startSale("new-2");
    expect(await ask(catalog, redis, "new-1")).toBe(true);
    expect(await ask(catalog, redis, "new-2")).toBe(true);
    expect(redis.state).toMatchObject({ lookups: 2, refreshes: 0 });
    // Found once, known from then on, during a flood too.
    expect(await ask(catalog, redis, randomId())).toBe(false);
    expect(await catalog.mayHaveSale(redis.evaluator, "new-1")).toBe(true);
  });

  it("a crowd for one new sale goes along with its lookup; another new sale waits for it, then is looked up too", async () => {
    const t = clock();
    const redis = fakeRedis();
    const catalog = new ProductCatalog(t.now, () => new Promise((resolve) => setTimeout(resolve, 1)));
    redis.startSale("crowded");
    redis.startSale("other");
    const release = redis.hold();
    const crowd = Array.from({ length: 20 }, () => ask(catalog, redis, "crowded"));
    const other = ask(catalog, redis, "other");
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The crowd's lookups are all under way (a route's per-sale limits apply, as before); "other" waits its turn.
    expect(redis.state.lookups).toBe(20);
    release();
    expect(await Promise.all(crowd)).toEqual(crowd.map(() => true));
    expect(await other).toBe(true);
    expect(redis.state).toMatchObject({ lookups: 21, refreshes: 0 });
  });

  it("during a flood a sale started on another isolate is missed until the copy is read again (CATALOG_COPY_MS), then found", async () => {
    const t = clock();
    const redis = fakeRedis();
    const catalog = new ProductCatalog(t.now);
    expect(await ask(catalog, redis, randomId())).toBe(false);
    expect(await ask(catalog, redis, randomId())).toBe(false);
    redis.startSale("launched");
    t.tick(CATALOG_COPY_MS - 1);
    expect(await ask(catalog, redis, "launched")).toBe(false);
    t.tick(1);
    expect(await ask(catalog, redis, "launched")).toBe(true);
  });

  it("a sale this isolate started is known at once, flood or not, at no command", async () => {
    const t = clock();
    const redis = fakeRedis();
    const catalog = new ProductCatalog(t.now);
    expect(await ask(catalog, redis, randomId())).toBe(false);
    expect(await ask(catalog, redis, randomId())).toBe(false);
    const spent = redis.commands();
    redis.startSale("mine");
    catalog.learn("mine");
    expect(await catalog.mayHaveSale(redis.evaluator, "mine")).toBe(true);
    expect(redis.commands()).toBe(spent);
  });

  it("a flood arriving in clumps starts once; once it has been quiet long enough, ids are looked up again", async () => {
    const t = clock();
    const redis = fakeRedis();
    const catalog = new ProductCatalog(t.now);
    // Clumps of 100 made-up ids every 3 s: one read of the copy per clump, one lookup in all.
    for (let clump = 0; clump < 5; clump++) {
      for (let i = 0; i < 100; i++) expect(await ask(catalog, redis, randomId())).toBe(false);
      t.tick(3 * CATALOG_COPY_MS);
    }
    expect(redis.state).toMatchObject({ lookups: 1, refreshes: 5 });
    // Quiet for a flood's length: the next unknown id is looked up itself, as with no flood.
    t.tick(UNKNOWN_PRODUCT_FLOOD_MS);
    redis.startSale("after");
    expect(await ask(catalog, redis, "after")).toBe(true);
    expect(redis.state).toMatchObject({ lookups: 2, refreshes: 5 });
  });

  it("a lookup cut off (its request gone) holds the others back no longer than a Redis call may take", async () => {
    const t = clock();
    const redis = fakeRedis();
    redis.startSale("s");
    const catalog = new ProductCatalog(t.now, async () => void t.tick(5));
    // Told to look "gone" up, and never telling what it found.
    expect(await catalog.mayHaveSale(redis.evaluator, "gone")).toBe(true);
    expect(await ask(catalog, redis, "s")).toBe(true);
  });

  it("keeps no copy of a catalog larger than its bound: during a flood every unknown id is then looked up, as without one", async () => {
    const t = clock();
    const redis = fakeRedis();
    for (let i = 0; i <= MAX_CATALOG_PRODUCTS; i++) redis.state.products.add(`p${i}`);
    redis.state.version = "big";
    const catalog = new ProductCatalog(t.now);
    for (let i = 0; i < 5; i++) expect(await ask(catalog, redis, randomId())).toBe(false);
    expect(catalog.sizes().copy).toBe(0);
    // The first miss started a flood; the copy was read once and found too large.
    expect(redis.state).toMatchObject({ lookups: 5, refreshes: 1 });
  });

  it("holds no more than the catalog and a bounded set of found sales, however many distinct ids are asked for", async () => {
    const t = clock();
    const redis = fakeRedis();
    for (let i = 0; i < 100; i++) redis.startSale(`p${i}`);
    const catalog = new ProductCatalog(t.now);
    // A million made-up ids over ten seconds.
    for (let i = 0; i < 1_000_000; i++) {
      if (i > 0 && i % 10_000 === 0) t.tick(CATALOG_COPY_MS / 10);
      await ask(catalog, redis, `made-up-${i}`);
    }
    expect(catalog.sizes()).toEqual({ copy: 100, found: 0 });
    expect(redis.state).toMatchObject({ lookups: 1, refreshes: 10 });
  });
});
