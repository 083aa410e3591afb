/**
 * The real Apache Kafka broker, run natively as ONE KRaft node (broker + controller).
 *
 * There is no Docker here and no Kafka in npm or Debian, so the broker comes from Maven Central:
 * `mvn dependency:copy-dependencies` on stack/kafka/pom.xml copies kafka_2.13 and its runtime
 * classpath (plus the log4j2 binding) into <FLUXGATE_HOME>/kafka/<version>/libs, a cache that
 * survives `down`. We then run `java -cp 'libs/*' kafka.Kafka server.properties` as a daemon.
 *
 * Version choice (clients: kafkajs 2.2.4, whose newest request versions predate Kafka 3.0, while
 * Kafka 4.0 dropped the oldest protocol versions, KIP-896): see KAFKA_VERSION below.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import cliProgress from "cli-progress";
import { Kafka, logLevel, type Admin, type ITopicConfig } from "kafkajs";
import { Topics } from "@fluxgate/common";
import { logFile, runningDaemon, startDaemon, stopDaemon, waitFor, type DaemonRecord } from "./daemon";
import { repoRoot, type StackHome } from "./home";

/**
 * The pinned broker version: the newest Apache Kafka release that our client, kafkajs 2.2.4,
 * passes stack/test/kafka.test.ts against. Override with FLUXGATE_KAFKA_VERSION (4.x only: the
 * pom's logging binding is log4j2's; Kafka 3.x would need reload4j + slf4j-reload4j instead).
 *
 * Tried newest first (idempotent producer with acks -1, gzip; classic consumer group with
 * commits; per-key ordering over 6 partitions; admin createTopics, fetchTopicMetadata,
 * describeCluster, fetchOffsets (+ resolveOffsets), fetchTopicOffsets, setOffsets/resetOffsets,
 * describeConfigs, describeGroups, listGroups, deleteGroups, deleteTopics):
 *   4.4.0  all green → pinned. KIP-896 (4.0) removed only request versions older than the ones
 *          kafkajs negotiates (it picks the highest common version from ApiVersions).
 *   4.1.1  all green too (not needed as the fallback, nor 3.9.1).
 * Harmless and expected on a fresh broker: kafkajs logs one "coordinator is loading" error
 * while __consumer_offsets is created on the first group join, then retries and succeeds.
 */
export const KAFKA_VERSION = process.env.FLUXGATE_KAFKA_VERSION ?? "4.4.0";

export const KAFKA_DAEMON = "kafka";

export interface KafkaOptions {
  home: StackHome;
  /** PLAINTEXT listener for clients, 127.0.0.1 only. */
  port: number;
  /** KRaft controller listener, 127.0.0.1 only. */
  controllerPort: number;
  /** -Xms = -Xmx, in MiB. */
  heapMb: number;
  version: string;
}

export const KAFKA_DEFAULTS = { port: 9092, controllerPort: 9093, heapMb: 512, version: KAFKA_VERSION } as const;

/** What `up` creates: the order stream (6 partitions, keyed) and its dead-letter topic. */
export const FLUXGATE_TOPICS: TopicSpec[] = [
  { topic: Topics.orders, numPartitions: 6 },
  { topic: Topics.deadLetters, numPartitions: 1 },
];

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configEntries?: ITopicConfig["configEntries"];
}

/** The client address of a broker started with these options. */
export const kafkaBrokers = (opts: Pick<KafkaOptions, "port"> = KAFKA_DEFAULTS): string[] => [`127.0.0.1:${opts.port}`];

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

const pomFile = join(repoRoot, "stack", "kafka", "pom.xml");
const log4jConfig = join(repoRoot, "stack", "kafka", "log4j2.properties");

/** Jar cache: under the home root, not under data/, logs/ or run/, so that `down` keeps it. */
export const kafkaLibsDir = (home: StackHome, version: string) => join(home.root, "kafka", version, "libs");
const markerFile = (libs: string) => join(libs, ".fluxgate-complete.json");

interface Marker {
  version: string;
  jars: string[];
  at: string;
}

function completeLibs(libs: string): Marker | undefined {
  try {
    const marker = JSON.parse(readFileSync(markerFile(libs), "utf8")) as Marker;
    if (marker.jars.length > 0 && marker.jars.every((jar) => existsSync(join(libs, jar)))) return marker;
  } catch {
    /* no marker or a broken one: download again */
  }
  return undefined;
}

function kafkaPaths(home: StackHome) {
  const dir = join(home.data, "kafka");
  return {
    dir,
    logDir: join(dir, "logs"),
    clusterIdFile: join(dir, "cluster.id"),
    serverProperties: join(home.run, "kafka-server.properties"),
  };
}

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

const INSTALL_HINT = "install openjdk-17-jre-headless and maven: apt-get update && apt-get install -y openjdk-17-jre-headless maven";

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** `$JAVA_HOME/bin/java` when set (as Kafka's own scripts do), else `java` from PATH. */
export function javaCommand(): string {
  const fromHome = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : undefined;
  if (fromHome && existsSync(fromHome)) return fromHome;
  const java = onPath("java");
  if (!java) throw new Error(`Kafka needs Java 17+, and no 'java' was found on PATH: ${INSTALL_HINT}`);
  return java;
}

function mavenCommand(): string {
  const mvn = onPath("mvn");
  if (!mvn) throw new Error(`fetching Kafka needs Maven, and no 'mvn' was found on PATH: ${INSTALL_HINT}`);
  return mvn;
}

// ---------------------------------------------------------------------------------------------
// Jars
// ---------------------------------------------------------------------------------------------

export interface KafkaDownloadProgress {
  phase: "start" | "progress" | "done";
  version: string;
  /** Files Maven started to download ("Downloading from"), poms included. */
  started: number;
  /** Files Maven finished ("Downloaded from"). */
  finished: number;
  bytes: number;
  /** The file last finished, e.g. "kafka-server-4.4.0.jar". */
  file?: string;
  offline?: boolean;
}

export type KafkaProgressListener = (progress: KafkaDownloadProgress) => void;

const SIZE = /\((\d+(?:\.\d+)?) (B|kB|KB|MB|GB)(?: at [^)]*)?\)\s*$/;
const UNIT: Record<string, number> = { B: 1, kB: 1e3, KB: 1024, MB: 1e6, GB: 1e9 };

/** Parses one line of Maven's transfer log. Exported for the tests. */
export function parseMavenTransfer(line: string): { kind: "started" | "finished"; file: string; bytes: number } | undefined {
  const m = /^(?:\[INFO\] )?(Downloading|Downloaded) from [^:]+: (\S+)/.exec(line);
  if (!m) return undefined;
  const file = m[2]!.slice(m[2]!.lastIndexOf("/") + 1);
  if (m[1] === "Downloading") return { kind: "started", file, bytes: 0 };
  const size = SIZE.exec(line);
  return { kind: "finished", file, bytes: size ? Math.round(Number(size[1]) * UNIT[size[2]!]!) : 0 };
}

/**
 * The default progress display on stderr: a live bar when stderr is a terminal, otherwise a
 * plain line every few seconds (CI logs). It stays silent when everything comes from ~/.m2.
 */
export function consoleDownloadProgress(stream: NodeJS.WriteStream = process.stderr): KafkaProgressListener {
  const tty = Boolean(stream.isTTY);
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  return (p) => {
    if (p.phase === "start") return;
    if (p.phase === "progress") {
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              stream,
              format: `kafka ${p.version} from Maven Central {bar} {value}/{total} files | {mb} MB | {file}`,
              hideCursor: true,
              clearOnComplete: false,
              barsize: 24,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(Math.max(p.started, 1), 0, { mb: "0.0", file: "" });
        }
        bar.setTotal(Math.max(p.started, p.finished, 1));
        bar.update(p.finished, { mb: mb(p.bytes), file: p.file ?? "" });
      } else if (Date.now() - lastLine > 2000) {
        lastLine = Date.now();
        stream.write(`kafka ${p.version}: downloading from Maven Central, ${p.finished}/${p.started} files, ${mb(p.bytes)} MB\n`);
      }
      return;
    }
    // done
    if (bar) {
      bar.setTotal(Math.max(p.finished, 1));
      bar.update(p.finished, { mb: mb(p.bytes), file: "done" });
      bar.stop();
    } else if (p.finished > 0) {
      stream.write(`kafka ${p.version}: downloaded ${p.finished} files, ${mb(p.bytes)} MB\n`);
    }
  };
}

interface MavenRun {
  code: number;
  tail: string[];
}

function runMaven(mvn: string, args: string[], onLine: (line: string) => void): Promise<MavenRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(mvn, args, { cwd: join(repoRoot, "stack", "kafka"), stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const keep = (line: string) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
    };
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        keep(line);
        onLine(line);
      });
    }
    child.on("error", reject);
    child.on("close", (code) => resolveRun({ code: code ?? 1, tail }));
  });
}

/**
 * Makes sure <home.root>/kafka/<version>/libs holds the broker's complete classpath, fetching it
 * with Maven when it does not (a marker file written after a successful copy says it does).
 * Downloads show progress through `onProgress` (default: stderr). Offline works once ~/.m2 holds
 * the jars: a failed online attempt is retried with `mvn -o`. `mavenArgs` go to both attempts
 * (e.g. -Dmaven.repo.local=/tmp/m2 to measure a cold download). Returns the libs folder.
 */
export async function ensureKafkaJars(
  home: StackHome,
  version: string = KAFKA_VERSION,
  onProgress: KafkaProgressListener = consoleDownloadProgress(),
  mavenArgs: string[] = [],
): Promise<string> {
  const libs = kafkaLibsDir(home, version);
  if (completeLibs(libs)) return libs;
  const mvn = mavenCommand();
  javaCommand(); // Maven runs on it, and so will the broker: fail early with the same hint

  const staging = `${libs}.tmp-${process.pid}-${randomBytes(3).toString("hex")}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const baseArgs = [
    "-B",
    "-Dstyle.color=never",
    "-f",
    pomFile,
    "dependency:copy-dependencies",
    `-DoutputDirectory=${staging}`,
    `-Dkafka.version=${version}`,
    ...mavenArgs,
  ];
  const state: KafkaDownloadProgress = { phase: "start", version, started: 0, finished: 0, bytes: 0 };
  onProgress({ ...state });
  const onLine = (line: string) => {
    const t = parseMavenTransfer(line);
    if (!t) return;
    if (t.kind === "started") state.started++;
    else {
      state.finished++;
      state.bytes += t.bytes;
      state.file = t.file;
    }
    onProgress({ ...state, phase: "progress" });
  };

  try {
    // -U: retry what an earlier, failed run (a network blip) left marked as missing in ~/.m2, which
    // Maven would otherwise not re-attempt for a day; releases already there are not re-checked.
    const online = await runMaven(mvn, ["-U", ...baseArgs], onLine);
    if (online.code !== 0) {
      // No network (or Maven Central unreachable): everything may still be in ~/.m2.
      const offline = await runMaven(mvn, ["-o", ...baseArgs], onLine);
      if (offline.code !== 0) {
        onProgress({ ...state, phase: "done" });
        const boilerplate = /^\[ERROR\]\s*$|re-run Maven|full stack trace|For more information|\[Help \d+\] http/i;
        const why = online.tail.filter((l) => /ERROR|FAIL/.test(l) && !boilerplate.test(l)).slice(-8);
        throw new Error(
          `could not fetch Apache Kafka ${version} with Maven (mvn -f ${pomFile} dependency:copy-dependencies ` +
            `exited ${online.code}, and ${offline.code} offline):\n${(why.length ? why : online.tail.slice(-15)).join("\n")}`,
        );
      }
      state.offline = true;
    }
    const jars = readdirSync(staging).filter((f) => f.endsWith(".jar"));
    if (!jars.some((j) => j.startsWith(`kafka_2.13-${version}`))) {
      throw new Error(`Maven finished but ${staging} holds no kafka_2.13-${version}.jar (${jars.length} jars)`);
    }
    const marker: Marker = { version, jars: jars.sort(), at: new Date().toISOString() };
    writeFileSync(markerFile(staging), JSON.stringify(marker, null, 2));
    onProgress({ ...state, phase: "done" });
    // Publish atomically; another process may have won the race meanwhile.
    if (!completeLibs(libs)) {
      rmSync(libs, { recursive: true, force: true });
      try {
        renameSync(staging, libs);
      } catch (error) {
        if (!completeLibs(libs)) throw error;
      }
    }
    return libs;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Broker
// ---------------------------------------------------------------------------------------------

/** The broker configuration: one node, fast to start, loopback only. Exported for the tests. */
export function serverProperties(opts: Pick<KafkaOptions, "port" | "controllerPort">, logDir: string): string {
  const settings: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    // Static quorum: works from Kafka 3.x through 4.x and needs no --standalone formatting.
    "controller.quorum.voters": `1@127.0.0.1:${opts.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${opts.port},CONTROLLER://127.0.0.1:${opts.controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${opts.port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "log.dirs": logDir,
    "num.partitions": 1,
    "default.replication.factor": 1,
    "min.insync.replicas": 1,
    // A single node cannot hold 3 replicas of the internal topics; fewer partitions make the
    // first consumer group and the first transactional/idempotent producer come up faster.
    "offsets.topic.replication.factor": 1,
    "offsets.topic.num.partitions": 10,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "transaction.state.log.num.partitions": 4,
    "share.coordinator.state.topic.replication.factor": 1,
    "share.coordinator.state.topic.min.isr": 1,
    "group.initial.rebalance.delay.ms": 0,
    "auto.create.topics.enable": false,
    // 2 cores here: fewer threads than the defaults.
    "num.network.threads": 2,
    "num.io.threads": 4,
    "num.recovery.threads.per.data.dir": 1,
    "log.retention.hours": 24,
    "log.segment.bytes": 64 * 1024 * 1024,
  };
  return (
    "# Generated by stack/src/kafka.ts: edits are overwritten on the next start.\n" +
    Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n") +
    "\n"
  );
}

function clusterId(file: string): string {
  if (existsSync(file)) {
    const id = readFileSync(file, "utf8").trim();
    if (id) return id;
  }
  // A Kafka Uuid: 16 random bytes, base64url without padding; Kafka avoids ids that start with '-'.
  let id: string;
  do id = randomBytes(16).toString("base64url");
  while (id.startsWith("-"));
  writeFileSync(file, `${id}\n`);
  return id;
}

function jvmArgs(opts: KafkaOptions, libs: string): string[] {
  return [
    `-Xms${opts.heapMb}m`,
    `-Xmx${opts.heapMb}m`,
    // What kafka-server-start.sh / kafka-run-class.sh use.
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${log4jConfig}`,
    `-Dkafka.logs.dir=${opts.home.logs}`,
    "-cp",
    `${libs}/*`,
  ];
}

function formatStorage(opts: KafkaOptions, libs: string, paths: ReturnType<typeof kafkaPaths>): void {
  if (existsSync(join(paths.logDir, "meta.properties"))) return;
  const id = clusterId(paths.clusterIdFile);
  const res = spawnSync(
    javaCommand(),
    [...jvmArgs({ ...opts, heapMb: 256 }, libs), "kafka.tools.StorageTool", "format", "-t", id, "-c", paths.serverProperties, "--ignore-formatted"],
    { encoding: "utf8", timeout: 120_000 },
  );
  if (res.status !== 0 || !existsSync(join(paths.logDir, "meta.properties"))) {
    throw new Error(`formatting Kafka storage in ${paths.logDir} failed (exit ${res.status ?? res.signal}):\n${`${res.stdout}\n${res.stderr}`.trim().slice(-3000)}`);
  }
}

/**
 * Starts the broker as the daemon "kafka" (fetching its jars and formatting its storage on the
 * first run). Does nothing when ours is already running. Pair with waitKafkaReady.
 */
export async function startKafka(
  options: Partial<KafkaOptions> & { home: StackHome },
  onProgress?: KafkaProgressListener,
): Promise<DaemonRecord> {
  const opts: KafkaOptions = { ...KAFKA_DEFAULTS, ...options };
  const running = runningDaemon(opts.home, KAFKA_DAEMON);
  if (running) return running;

  const libs = await ensureKafkaJars(opts.home, opts.version, onProgress);
  const paths = kafkaPaths(opts.home);
  mkdirSync(paths.logDir, { recursive: true });
  writeFileSync(paths.serverProperties, serverProperties(opts, paths.logDir));
  formatStorage(opts, libs, paths);

  return startDaemon(opts.home, {
    name: KAFKA_DAEMON,
    command: javaCommand(),
    args: [...jvmArgs(opts, libs), "kafka.Kafka", paths.serverProperties],
    cwd: paths.dir,
    env: { ...process.env, KAFKA_VERSION: opts.version },
  });
}

/** Stops the broker: SIGTERM, so it shuts down cleanly (flushes, closes the log), SIGKILL after `graceMs`. */
export async function stopKafka(home: StackHome, graceMs = 20_000): Promise<boolean> {
  return stopDaemon(home, KAFKA_DAEMON, graceMs);
}

function tailOf(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** A kafkajs client that stays quiet: connection errors while polling are expected. */
export function quietKafka(brokers: string[], clientId = "fluxgate-stack"): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 10_000,
    retry: { retries: 0 },
  });
}

/** The cluster id our storage was formatted with (meta.properties), if formatted. */
export function kafkaClusterId(home: StackHome): string | undefined {
  try {
    return /^cluster\.id=(.+)$/m.exec(readFileSync(join(kafkaPaths(home).logDir, "meta.properties"), "utf8"))?.[1]?.trim();
  } catch {
    return undefined;
  }
}

/**
 * Waits until the broker answers a kafkajs admin Metadata request (not merely an open port).
 * With `home` it also makes sure that the broker answering is ours: it fails at once, with the
 * end of logs/kafka.log, when our daemon has died (a port taken, a Java too old...) or when the
 * broker on that port belongs to another cluster (another Kafka already listening there).
 */
export async function waitKafkaReady(brokers: string[], timeoutMs = 90_000, opts: { home?: StackHome } = {}): Promise<void> {
  const kafka = quietKafka(brokers, "fluxgate-stack-ready");
  const { home } = opts;
  const log = home ? logFile(home, KAFKA_DAEMON) : undefined;
  let fatal: Error | undefined;
  try {
    await waitFor(
      `Kafka at ${brokers.join(",")}`,
      async () => {
        if (home && !runningDaemon(home, KAFKA_DAEMON)) {
          fatal = new Error(`Kafka exited during start-up; the end of ${log}:\n${tailOf(log!)}`);
          return true;
        }
        const admin = kafka.admin();
        try {
          await admin.connect();
          const cluster = await admin.describeCluster(); // a Metadata request
          const ours = home ? kafkaClusterId(home) : undefined;
          if (ours && cluster.clusterId !== ours) {
            fatal = new Error(
              `another Kafka (cluster ${cluster.clusterId}) answers on ${brokers.join(",")}, not ours (cluster ${ours}): ` +
                `stop it or move ours (KAFKA_PORT / KAFKA_CONTROLLER_PORT); the end of ${log}:\n${tailOf(log!, 10)}`,
            );
            return true;
          }
          return cluster.brokers.length > 0;
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      },
      timeoutMs,
      500,
    );
  } catch (error) {
    if (log && error instanceof Error) error.message += `\nthe end of ${log}:\n${tailOf(log, 15)}`;
    throw error;
  }
  if (fatal) throw fatal;
}

/** Creates the topics that are missing (replication factor 1); existing ones are left as they are. Returns those created. */
export async function ensureTopics(brokers: string[], topics: TopicSpec[] = FLUXGATE_TOPICS): Promise<string[]> {
  const admin: Admin = quietKafka(brokers, "fluxgate-stack-topics").admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return [];
    await admin.createTopics({
      topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.numPartitions, replicationFactor: 1, configEntries: t.configEntries })),
      waitForLeaders: true,
    });
    // createTopics ignores TOPIC_ALREADY_EXISTS (a concurrent creator): check that all are there now.
    const now = new Set(await admin.listTopics());
    const absent = topics.filter((t) => !now.has(t.topic)).map((t) => t.topic);
    if (absent.length) throw new Error(`Kafka did not create topics: ${absent.join(", ")}`);
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
  }
}
