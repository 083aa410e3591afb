import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTopic, eventually, forward, kafka, order, SECRET, uniqueTag } from "../../origin/test/helpers";
import { repoRoot } from "../src/home";
import { freePort } from "./free-port";

const run = promisify(execFile);
const outdir = mkdtempSync(join(tmpdir(), "fluxgate-node-image-"));

/**
 * What stack/docker/node.Dockerfile puts in its image, built by the same script into a temporary
 * folder (there is no Docker engine here) and run the way the image runs it: plain `node` on the
 * compiled JavaScript, against the stack's Kafka, Redis and PostgreSQL.
 */
describe("the origin side's image", () => {
  const stack = inject("stack");
  const tag = uniqueTag();
  const topics = { orders: `image-orders-${tag}`, dlq: `image-dlq-${tag}` };
  const schema = `image_${tag}`;
  const admin = kafka.admin();
  const processes: ChildProcess[] = [];
  let logs = "";

  const start = async (service: "origin" | "worker", env: Record<string, string>) => {
    const child = spawn(process.execPath, [join(outdir, service, "dist", "main.js")], {
      cwd: outdir,
      // Only what the image's environment holds: no tsx loader, no repository on the module path.
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", KAFKA_BROKERS: stack.kafka.brokers.join(","), LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [child.stdout, child.stderr]) stream?.on("data", (chunk: Buffer) => (logs += `[${service}] ${chunk}`));
    processes.push(child);
  };

  beforeAll(async () => {
    await run(process.execPath, [join(repoRoot, "stack", "docker", "build-node-services.ts"), outdir], { cwd: repoRoot, timeout: 300_000 });
    await admin.connect();
    await createTopic(admin, topics.orders);
    await createTopic(admin, topics.dlq, 1);
  }, 300_000);

  afterAll(async () => {
    for (const child of processes) child.kill("SIGTERM");
    await Promise.all(processes.map((child) => new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(null)))));
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
    const db = new pg.Client({ connectionString: stack.postgres.url });
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
    rmSync(outdir, { recursive: true, force: true });
  }, 60_000);

  it("holds compiled JavaScript and production dependencies only, on the project's Node", () => {
    for (const service of ["bridge", "origin", "worker"]) expect(existsSync(join(outdir, service, "dist", "main.js")), service).toBe(true);
    for (const devTool of ["tsx", "typescript", "vitest", "esbuild", "wrangler"])
      expect(existsSync(join(outdir, "node_modules", devTool)), devTool).toBe(false);
    const node = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).devDependencies.node as string;
    const dockerfile = readFileSync(join(repoRoot, "stack", "docker", "node.Dockerfile"), "utf8");
    expect(/^ARG NODE_IMAGE=node:([\d.]+)-[a-z]+-slim$/m.exec(dockerfile)?.[1]).toBe(node);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(readFileSync(join(repoRoot, ".dockerignore"), "utf8")).toMatch(/^\.dev\.vars$/m);
  });

  it("starts the compiled origin and worker with plain node: both healthy, and an order reaches PostgreSQL", async () => {
    const [originPort, metricsPort, workerPort] = [await freePort(), await freePort(), await freePort()];
    await start("origin", {
      ORIGIN_PORT: String(originPort),
      ORIGIN_METRICS_PORT: String(metricsPort),
      REDIS_URL: stack.redis.url,
      ORIGIN_SIGNING_SECRET: SECRET,
      ORDERS_TOPIC: topics.orders,
      RELAY_OUTBOXES_KEY: `image-outboxes-${tag}`,
    });
    await start("worker", {
      WORKER_PORT: String(workerPort),
      DATABASE_URL: stack.postgres.url,
      DATABASE_SCHEMA: schema,
      ORDERS_TOPIC: topics.orders,
      DLQ_TOPIC: topics.dlq,
      CONSUMER_GROUP: `image-${tag}`,
    });
    const healthy = (port: number) => () =>
      fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
    await eventually(healthy(originPort), 60_000, 250).catch((error: Error) => {
      throw new Error(`${error.message}\n${logs}`);
    });
    await eventually(healthy(workerPort), 60_000, 250).catch((error: Error) => {
      throw new Error(`${error.message}\n${logs}`);
    });

    const productId = `image-${tag}`;
    const res = await forward(`http://127.0.0.1:${originPort}`, order(productId, 1));
    expect(res.status, logs).toBe(202);
    const db = new pg.Client({ connectionString: stack.postgres.url });
    await db.connect();
    try {
      const persisted = async () =>
        (await db.query(`SELECT user_id FROM ${schema}.orders WHERE product_id = $1`, [productId]).catch(() => ({ rows: [] }))).rows;
      await eventually(async () => (await persisted()).length > 0, 30_000, 250).catch((error: Error) => {
        throw new Error(`${error.message}\n${logs}`);
      });
      expect(await persisted()).toEqual([{ user_id: "user-1" }]);
    } finally {
      await db.end();
    }
  }, 120_000);
});
