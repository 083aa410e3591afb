/**
 * GET /pipeline through a real origin and Kafka: what the operator's page shows between
 * "accepted" and a row in PostgreSQL, for the edge's signed requests only.
 */
import { signedHeaders } from "@fluxgate/common";
import type { Admin, Consumer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin } from "../src/origin";
import { createTopic, forward, kafka, order, SECRET, startOrigin, uniqueTag } from "./helpers";

const tag = uniqueTag();
const topic = `test.origin.pipeline.${tag}`;
const group = `test-pipeline-${tag}`;
let admin: Admin;
let origin: Origin;
let url: string;
let consumer: Consumer | undefined;

type Pipeline = { outboxBacklog: number; consumerLag: number | null };
const read = async (secret = SECRET) => fetch(`${url}/pipeline`, { headers: await signedHeaders(secret, { method: "GET", path: "/pipeline", body: "" }) });

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, topic, 1);
  ({ origin, url } = await startOrigin({ ORDERS_TOPIC: topic, WORKER_CONSUMER_GROUP: group, RELAY_OUTBOXES_KEY: `test:origin:${tag}:outboxes` }));
});

afterAll(async () => {
  await consumer?.disconnect();
  await origin?.stop();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.deleteGroups([group]).catch(() => undefined);
  await admin?.disconnect();
});

describe("GET /pipeline", () => {
  it("refuses anything the edge did not sign", async () => {
    expect((await fetch(`${url}/pipeline`)).status).toBe(401);
    expect((await read("not-the-edges-secret-at-all")).status).toBe(401);
  });

  it("reports the worker group's consumer lag on the orders topic, and the outbox backlog", async () => {
    for (let n = 1; n <= 3; n++) expect((await forward(url, order(`t-${tag}`, n))).status).toBe(202);
    // Nothing committed yet: all three wait for the worker.
    const before = await read();
    expect(before.status).toBe(200);
    expect((await before.json()) as Pipeline).toMatchObject({ outboxBacklog: 0, consumerLag: 3 });
    // The worker's group takes them and commits: the lag is gone (a reading stands for a second).
    consumer = kafka.consumer({ groupId: group });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    await consumer.run({ eachMessage: async () => void seen++ });
    for (let i = 0; i < 60 && seen < 3; i++) await new Promise((r) => setTimeout(r, 250));
    await consumer.disconnect();
    consumer = undefined;
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await (await read()).json()) as Pipeline).toMatchObject({ consumerLag: 0 });
  });
});
