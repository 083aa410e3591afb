import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { unstable_readConfig } from "wrangler";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { buildEdge } from "../src/edge/bundle";
import { repoRoot, wranglerCli } from "../src/home";
import { fluxgateTopics, replication } from "../src/kafka";
import { parseVars } from "../src/secrets";

const run = promisify(execFile);
const outdir = mkdtempSync(join(tmpdir(), "fluxgate-deploy-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const wranglerEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_UPDATE_NOTIFIER: "1" };
const environments = [undefined, "production"] as const;
const readConfig = (env: (typeof environments)[number]) => unstable_readConfig({ config: join(repoRoot, "wrangler.toml"), env });

/** The artefacts a deploy ships, checked the way the deploy tools themselves read them. */
describe("the deploy path", () => {
  it("builds the bundle `wrangler deploy` would upload, its source map and the waiting room inside", async () => {
    const { scriptPath } = await buildEdge(outdir);
    // Workers' free plan refuses a script over 3 MiB gzipped; ours is a fraction of that.
    expect(statSync(scriptPath).size).toBeLessThan(3 * 1024 * 1024);
    const script = readFileSync(scriptPath, "utf8");
    expect(script).toContain("redis.call(");
    // Minified, so a stack trace is only readable through the map uploaded with it.
    expect(existsSync(`${scriptPath}.map`)).toBe(true);
    // Each page travels as a module of its own beside index.js, imported by its file name.
    for (const page of ["index.html", "operator.html"]) {
      const shipped = readdirSync(outdir).filter((file) => file.endsWith(`-${page}`));
      expect(shipped, page).toHaveLength(1);
      expect(readFileSync(join(outdir, shipped[0]!), "utf8")).toBe(readFileSync(join(repoRoot, "waiting-room", page), "utf8"));
      expect(script).toContain(basename(shipped[0]!));
    }
  }, 120_000);

  it("has worker-configuration.d.ts generated from the current wrangler.toml and runtime", async () => {
    const check = run(process.execPath, [wranglerCli(), "types", "--check", "--config", "../wrangler.toml", "--strict-vars=false"], {
      cwd: join(repoRoot, "edge"),
      env: wranglerEnv,
    });
    await expect(check, "run `npm run -w edge types`").resolves.toBeDefined();
  }, 60_000);

  it("runs on the newest compatibility date the pinned workerd knows of, not an older one", () => {
    const workerd = createRequire(wranglerCli()).resolve("workerd/package.json");
    const built = /^1\.(\d{4})(\d{2})(\d{2})\./.exec(JSON.parse(readFileSync(workerd, "utf8")).version)!;
    // workerd accepts dates up to a week past its build; falling behind its build date means wrangler moved on and this did not.
    for (const env of environments) expect(readConfig(env).compatibility_date! >= `${built[1]}-${built[2]}-${built[3]}`, env).toBe(true);
  });

  it("refuses a deploy that lacks a secret the edge needs, in every environment, and samples its logs", () => {
    const secrets = [...parseVars(readFileSync(join(repoRoot, ".dev.vars.example"), "utf8")).keys()].sort();
    for (const env of environments) {
      const config = readConfig(env);
      expect([...(config.secrets?.required ?? [])].sort(), env).toEqual(secrets);
      expect(config.observability, env).toMatchObject({ enabled: true, head_sampling_rate: expect.any(Number) });
      expect(config.upload_source_maps, env).toBe(true);
    }
    // Production has an origin of its own, reached over TLS, never the local one.
    expect(readConfig("production").vars.ORIGIN_URL).toMatch(/^https:\/\//);
  });

  describe("docker-compose.yml, as production runs it (validated by docker-compose, no engine needed)", () => {
    const compose = (...args: string[]) =>
      run("docker-compose", ["-f", join(repoRoot, "docker-compose.yml"), "--env-file", join(repoRoot, ".env.example"), ...args], { env: {} });
    type Port = string | { published: number | string; host_ip?: string };
    type Service = { profiles?: string[]; restart?: string; ports?: Port[]; healthcheck?: { test: string[] }; image?: string };
    // docker-compose 1.x prints the short form ("127.0.0.1:3000:3000/tcp"), 2.x the long one.
    const hostAddress = (port: Port) => (typeof port === "string" ? port.split(":").slice(0, -1).join(":") : `${port.host_ip}:${port.published}`);
    const services = async (...profiles: string[]) =>
      (parse((await compose(...profiles.flatMap((p) => ["--profile", p]), "config")).stdout) as { services: Record<string, Service> }).services;

    it("runs with the secrets of .env.example, and refuses to start without them", async () => {
      await expect(compose("config", "-q")).resolves.toBeDefined();
      await expect(run("docker-compose", ["-f", join(repoRoot, "docker-compose.yml"), "config", "-q"], { env: {} })).rejects.toThrow(
        /set POSTGRES_PASSWORD in \.env/,
      );
    });

    it("publishes only the origin (and the optional bridge), on 127.0.0.1; restarts every service; no JVM per healthcheck", async () => {
      const all = await services("bridge");
      const published = Object.entries(all).flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name} ${hostAddress(p)}`));
      expect(published.sort()).toEqual(["bridge 127.0.0.1:8079", "origin 127.0.0.1:3000"]);
      // The bridge stands in for Upstash, so it only runs when asked for.
      expect(all.bridge?.profiles).toEqual(["bridge"]);
      for (const [name, service] of Object.entries(all)) {
        // The one-shot topic job is the exception: `unless-stopped` would run it again forever after it succeeded.
        expect(service.restart, name).toBe(name === "kafka-topics" ? "on-failure" : "unless-stopped");
        if (name !== "kafka-topics") expect(service.healthcheck?.test.join(" "), name).not.toMatch(/\/opt\/kafka\/bin|java/);
      }
    });
  });

  describe("docker-compose.kafka-cluster.yml: Kafka as the native stack's KAFKA_NODES=3 runs it", () => {
    const cluster = (...args: string[]) =>
      run(
        "docker-compose",
        [
          "-f",
          join(repoRoot, "docker-compose.yml"),
          "-f",
          join(repoRoot, "docker-compose.kafka-cluster.yml"),
          "--env-file",
          join(repoRoot, ".env.example"),
          ...args,
        ],
        { env: {} },
      );
    type Service = { image?: string; environment?: Record<string, string | number>; volumes?: string[]; command?: string[] };

    it("runs 3 KRaft nodes with the replication the native stack derives (one definition), each on its own storage", async () => {
      await expect(cluster("config", "-q")).resolves.toBeDefined();
      const { services } = parse((await cluster("config")).stdout) as { services: Record<string, Service> };
      const nodes = ["kafka", "kafka-2", "kafka-3"].map((name) => services[name]!);
      const { replicationFactor, minInSyncReplicas } = replication(3);
      const base = (parse(readFileSync(join(repoRoot, "docker-compose.yml"), "utf8")) as { services: Record<string, Service> }).services.kafka!;
      nodes.forEach((node, i) => {
        expect(node.image, "the image of docker-compose.yml").toBe(base.image);
        expect(node.environment).toMatchObject({
          KAFKA_NODE_ID: i + 1,
          KAFKA_CONTROLLER_QUORUM_VOTERS: "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093",
          KAFKA_DEFAULT_REPLICATION_FACTOR: replicationFactor,
          KAFKA_MIN_INSYNC_REPLICAS: minInSyncReplicas,
          KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: replicationFactor,
          KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: minInSyncReplicas,
        });
      });
      expect(new Set(nodes.map((node) => node.environment!.CLUSTER_ID)).size).toBe(1);
      expect(new Set(nodes.map((node) => node.volumes!.join())).size).toBe(3);
      // The topics as `npm run up` creates them on a 3-node cluster.
      const creates = services["kafka-topics"]!.command!.join(" ").replace(/\s+/g, " ");
      for (const topic of fluxgateTopics(3)) {
        expect(creates).toContain(
          `--topic ${topic.topic} --partitions ${topic.numPartitions} --replication-factor ${topic.replicationFactor} --config min.insync.replicas=${minInSyncReplicas}`,
        );
      }
      for (const name of ["origin", "worker"]) expect(services[name]!.environment!.KAFKA_BROKERS, name).toBe("kafka:9092,kafka-2:9092,kafka-3:9092");
    });
  });
});
