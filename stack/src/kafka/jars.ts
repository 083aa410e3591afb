import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import cliProgress from "cli-progress";
import { repoRoot, type StackHome } from "../home";
import { KAFKA_VERSION } from "./settings";
import { javaCommand, mavenCommand } from "./tools";

/** Jars come from Maven Central through this pom (kafka_2.13 and its runtime classpath). */
const pomFile = join(repoRoot, "stack", "kafka", "pom.xml");

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
