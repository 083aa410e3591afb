import { Hono } from "hono";
import { z } from "zod";
import type { EdgeEnv } from "../env";
import { lotteryCommitment, newLotterySeed, OUTBOXES_KEY, ProductId, saleKeys } from "@fluxgate/common";
import { initSaleKeys } from "../gate/init-sale.lua";
import { scripts } from "../gate/scripts";
import { forwardToOrigin } from "../forward";
import { adminOnly } from "../http/admin-auth";
import { jsonBody } from "../http/json-body";
import { KEY_FILTER_BITS_PER_KEY } from "../gate/key-filter";
import type { Isolate } from "../isolate";
import { announceOutbox } from "../outbox-registry";
import { SaleSettings } from "../sale-settings";

const InitRequest = z
  .strictObject({
    productId: ProductId,
    quantity: z.number().int().min(0).max(1_000_000_000),
    ratePerSecond: SaleSettings.ratePerSecond.default(10_000),
    burst: SaleSettings.burst.optional(),
    perUserLimit: z.number().int().min(1).max(1000).default(1),
    startsAt: z.iso.datetime({ offset: true }).optional(),
    endsAt: SaleSettings.endsAt.optional(),
    ticketTtlSeconds: SaleSettings.ticketTtlSeconds.default(60),
    /** Proof-of-work bits each fresh attempt must bring (2^bits hashes on average), 0 = off. */
    powDifficulty: z.number().int().min(0).max(32).default(0),
    /**
     * How long an accepted order's units are held for payment (the shop confirms it: POST
     * /sales/:productId/orders/:orderId/pay); unpaid, they go back to the line. 0: accepted is final.
     */
    holdSeconds: z.number().int().min(0).max(86_400).default(0),
    /** When early arrivals start entering the pre-queue, whose places a verifiable draw gives at startsAt. */
    prequeueOpensAt: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((r) => !r.endsAt || Date.parse(r.endsAt) > Math.max(Date.now(), r.startsAt ? Date.parse(r.startsAt) : 0), {
    message: "endsAt must be in the future and after startsAt",
    path: ["endsAt"],
  })
  .refine((r) => !r.prequeueOpensAt || (r.startsAt !== undefined && Date.parse(r.prequeueOpensAt) < Date.parse(r.startsAt)), {
    message: "prequeueOpensAt needs a startsAt, and must come before it",
    path: ["prequeueOpensAt"],
  })
  .refine((r) => !r.prequeueOpensAt || !r.startsAt || Date.parse(r.startsAt) > Date.now(), {
    message: "a sale with a pre-queue must start in the future",
    path: ["startsAt"],
  })
  .transform((r) => ({ ...r, burst: r.burst ?? Math.max(1, Math.floor(r.ratePerSecond)) }));

export const init = ({ memory, catalog }: Isolate) =>
  new Hono<EdgeEnv>()
    .post("/", adminOnly, async (c) => {
      const req = await jsonBody(c, InitRequest);
      const config = c.var.config;
      const redis = c.var.redis;
      const k = saleKeys(req.productId);
      const saleId = `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
      const startsAt = req.startsAt ? Date.parse(req.startsAt) : 0;
      const endsAt = req.endsAt ? Date.parse(req.endsAt) : 0;
      // The lottery's seed is committed to now, before anyone can enter, and revealed once the line is drawn.
      const prequeueOpensAt = req.prequeueOpensAt ? Math.max(1, Date.parse(req.prequeueOpensAt)) : 0;
      const seed = newLotterySeed();
      const commitment = prequeueOpensAt ? lotteryCommitment(seed) : "";
      // Load the gate (and the catalog's read) now so every purchase is a single EVALSHA, never
      // EVALSHA + EVAL. And register the sale's outbox for the relay before the sale goes live: if
      // this request is cut while it waits for the origin, what the forwards miss is still relayed.
      await Promise.all([redis.scriptLoad(scripts.gate.lua), redis.scriptLoad(scripts.catalog.lua), redis.sadd(OUTBOXES_KEY, k.outbox)]);
      const [createdAt, event, outboxId] = await scripts.initSale.run<[number, string, string]>(redis, initSaleKeys(k), [
        saleId,
        req.quantity,
        req.ratePerSecond,
        req.burst,
        req.perUserLimit,
        startsAt,
        req.ticketTtlSeconds * 1000,
        req.productId,
        KEY_FILTER_BITS_PER_KEY,
        endsAt,
        req.powDifficulty,
        prequeueOpensAt,
        commitment,
        prequeueOpensAt ? seed : "",
        prequeueOpensAt ? newLotterySeed() : "",
        req.holdSeconds * 1000,
      ]);
      // Waited for, unlike an order's: the sale event should be in Kafka before the sale's first order.
      // If the origin cannot take it now the relay delivers it, and the worker holds early orders.
      const delivered = await forwardToOrigin(config, event, outboxId);
      // The origin's relay finds every sale's outbox through the registry, woken by the event.
      await announceOutbox(redis, req.productId, "opened");
      memory.forget(req.productId);
      // What the script just wrote is this isolate's first view: the sale's first attempts are
      // answered from it (a challenge, with no command) as after any gate call.
      memory.learn(req.productId, {
        saleId,
        remaining: req.quantity,
        issued: 0,
        admitted: 0,
        rate: req.ratePerSecond,
        at: Number(createdAt),
        claimed: 0,
        endsAt,
        startsAt,
        prequeueOpensAt,
        paused: false,
        version: 0,
        held: 0,
      });
      catalog.learn(req.productId);
      memory.learnPowRequirement(req.productId, saleId, req.powDifficulty);
      return c.json({
        productId: req.productId,
        saleId,
        quantity: req.quantity,
        ratePerSecond: req.ratePerSecond,
        burst: req.burst,
        perUserLimit: req.perUserLimit,
        startsAt: new Date(startsAt || createdAt).toISOString(),
        ticketTtlSeconds: req.ticketTtlSeconds,
        endsAt: endsAt ? new Date(endsAt).toISOString() : null,
        powDifficulty: req.powDifficulty,
        holdSeconds: req.holdSeconds,
        ...(prequeueOpensAt ? { prequeueOpensAt: new Date(prequeueOpensAt).toISOString(), commitment } : {}),
        saleEvent: delivered ? "delivered" : "queued",
      });
    })
    .all("/", (c) => c.json({ error: "method not allowed: use POST" }, 405, { allow: "POST" }));
