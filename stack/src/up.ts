import type { StackConfig } from "./config";
import {
  ensureKafkaJars,
  ensureTopics,
  fluxgateTopics,
  KAFKA_VERSION,
  kafkaBrokers,
  replication,
  runningKafkaDaemons,
  startKafka,
  waitKafkaReady,
} from "./kafka";
import { ensurePostgres } from "./postgres";
import { ensureRedis } from "./redis";
import { withLock } from "./lock";
import { defaultHomeRoot } from "./home";
import { ensureDevVars, writeDevVarsSettings } from "./secrets";
import { edgeSettings, ensureService, metricsUrl, serviceNames, type ServiceEnv } from "./services";
import { writeState, type StackState } from "./state";
import { DEV_AUDIENCE, JWKS_PATH } from "./issuer/app";

export type Say = (line: string) => void;

/**
 * Starts whatever of the stack is not running yet, in dependency order, and waits until each
 * part is ready. Safe to run again at any time: running parts are left alone.
 */
export function up(config: StackConfig, say: Say = () => undefined): Promise<StackState> {
  return withLock(config.home, "stack", () => bringUp(config, say));
}

async function bringUp(config: StackConfig, say: Say): Promise<StackState> {
  const started = Date.now();
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const secrets = ensureDevVars();

  // Independent and slow-ish: the jar download (first run only), redis and postgres.
  const [, redis, postgres] = await Promise.all([
    ensureKafkaJars(config.home, KAFKA_VERSION),
    ensureRedis(config).then((r) => {
      say(`redis      ${r.url}${r.started ? " (started)" : ""}  ${since()}`);
      return r;
    }),
    ensurePostgres(config).then((p) => {
      say(`postgres   ${redact(p.url)}${p.started ? " (started)" : ""}  ${since()}`);
      return p;
    }),
  ]);

  const brokers = kafkaBrokers(config.kafka);
  const { nodes } = config.kafka;
  const before = new Set(runningKafkaDaemons(config.home).map((d) => d.name));
  const kafka = await startKafka({ home: config.home, ...config.kafka });
  // Three JVMs starting on two cores take longer than one.
  await waitKafkaReady(brokers, 120_000 * nodes, { home: config.home, nodes });
  await ensureTopics(brokers, fluxgateTopics(nodes));
  const startedNodes = kafka.filter((d) => !before.has(d.name)).map((d) => d.name);
  const { replicationFactor, minInSyncReplicas } = replication(nodes);
  const shape = nodes === 1 ? "KRaft" : `KRaft, ${nodes} nodes, replication factor ${replicationFactor}, min.insync.replicas ${minInSyncReplicas}`;
  const startedNote = startedNodes.length === 0 ? "" : nodes === 1 ? " (started)" : ` (started ${startedNodes.join(", ")})`;
  say(`kafka      ${brokers.join(",")} (Apache Kafka ${KAFKA_VERSION}, ${shape})${startedNote}  ${since()}`);

  const env: ServiceEnv = { redisUrl: redis.url, databaseUrl: postgres.url, kafkaBrokers: brokers.join(","), secrets };
  const urls: Record<string, string> = {};
  for (const name of serviceNames) {
    const service = await ensureService(config, name, env);
    urls[name] = service.url;
    say(`${name.padEnd(10)} ${service.url}${service.restarted ? " (restarted: its health check failed)" : service.started ? " (started)" : ""}  ${since()}`);
  }

  const state: StackState = {
    redis: { url: redis.url, ours: redis.ours },
    postgres: { url: postgres.url, ours: postgres.ours },
    kafka: { brokers, nodes, version: KAFKA_VERSION },
    bridge: { url: urls.bridge!, token: secrets.get("UPSTASH_REDIS_REST_TOKEN")! },
    issuer: { url: urls.issuer!, jwksUrl: `${urls.issuer!}${JWKS_PATH}`, audience: DEV_AUDIENCE },
    origin: { url: urls.origin!, metricsUrl: metricsUrl(config, "origin") },
    worker: { url: urls.worker! },
    edge: { url: urls.edge! },
  };
  writeState(config.home, state);
  // .dev.vars sits beside wrangler.toml, one per checkout: it follows the checkout's own stack, never
  // a second one a test runs under another FLUXGATE_HOME.
  if (config.home.root === defaultHomeRoot) writeDevVarsSettings(edgeSettings(config));
  say(`stack up in ${since()}`);
  return state;
}

const redact = (url: string) => url.replace(/:[^:@/]+@/, ":***@");
