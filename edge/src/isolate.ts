import { DependencyHealth } from "@fluxgate/common";
import type { MiddlewareHandler } from "hono";
import { CheckedSolutions } from "./challenge/checked-solutions";
import { BuyerCalls } from "./purchase/buyer-calls";
import { ConfigReader } from "./config";
import type { EdgeEnv } from "./env";
import { JwksCache } from "./identity/jwks";
import { VerifiedTokens } from "./identity/verified-tokens";
import { SaleMemory } from "./memory";
import { ProductCatalog } from "./product-catalog";
import { GateCalls } from "./purchase/gate-calls";
import { RedisClients } from "./redis";
import { UpstashHealth } from "./upstash-health";

/**
 * Everything one isolate keeps between requests, built once (index.ts) and handed to the routes:
 * module state lives as long as the isolate, and a test that builds two of these has two isolates.
 */
export class Isolate {
  readonly memory: SaleMemory;
  /** Which products have a sale, as this isolate last read it: what a made-up product id is answered from. */
  readonly catalog: ProductCatalog;
  readonly gateCalls: GateCalls;
  readonly buyerCalls: BuyerCalls;
  readonly jwks: JwksCache;
  readonly tokens: VerifiedTokens;
  readonly solutions: CheckedSolutions;
  /** Upstash as this isolate sees it: round trips and failures (the operator's page shows them). */
  readonly upstash: UpstashHealth;
  /** The last look at Upstash and the origin, shared by the /health requests of a few seconds. */
  readonly dependencies: DependencyHealth;
  private readonly configs = new ConfigReader();
  private readonly clients: RedisClients;

  constructor(readonly now: () => number = Date.now) {
    this.memory = new SaleMemory(now);
    this.catalog = new ProductCatalog(now);
    this.gateCalls = new GateCalls(now);
    this.buyerCalls = new BuyerCalls(now);
    this.jwks = new JwksCache(now);
    this.tokens = new VerifiedTokens(now);
    this.solutions = new CheckedSolutions(now);
    this.upstash = new UpstashHealth(now);
    this.dependencies = new DependencyHealth(now);
    this.clients = new RedisClients(this.upstash);
  }

  /**
   * Puts the edge's settings and its Redis client on the context: parsed once per isolate (the
   * runtime may hand each request a new env object; only the values are compared again).
   */
  context(): MiddlewareHandler<EdgeEnv> {
    return async (c, next) => {
      const config = this.configs.read(c.env);
      c.set("config", config);
      c.set("redis", this.clients.for(config));
      await next();
    };
  }
}
