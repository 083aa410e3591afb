import { signedHeaders } from "@fluxgate/common";
import type { StackConfig } from "./config";
import { runningDaemon } from "./daemon";
import { redisAnswers } from "./redis";
import { ensureDevVars } from "./secrets";
import { metricsUrl, serviceNames, serviceUrl } from "./services";
import { KAFKA_VERSION, kafkaBrokers, kafkaDaemon, runningKafkaDaemons } from "./kafka";
import { readState, type StackState } from "./state";

export interface ComponentStatus {
  name: string;
  running: boolean;
  /** False when the process runs but its health check gets no answer: `npm run up` restarts it. */
  healthy?: boolean;
  /** "ours" when `up` started it (and `down` will stop it), "external" when it was already there. */
  owner: "ours" | "external" | "-";
  pid?: number;
  address: string;
  detail?: string;
}

async function health(url: string, headers: Record<string, string> = {}): Promise<{ text: string; answered: boolean }> {
  try {
    const res = await fetch(`${url}/health`, { headers, signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { status?: string; dependencies?: Record<string, { ok: boolean }> };
    const deps = Object.entries(body.dependencies ?? {}).map(([name, s]) => `${name} ${s.ok ? "up" : "DOWN"}`);
    return { text: `${body.status ?? res.status}${deps.length ? ` (${deps.join(", ")})` : ""}`, answered: true };
  } catch (error) {
    return { text: `no answer: ${(error as Error).message}`, answered: false };
  }
}

/**
 * What lets `status` read each service's /health details (anyone else gets up or down): the admin
 * token for the edge and the worker, a request signed like the edge's forwards for the origin.
 */
export async function detailsHeaders(name: string): Promise<Record<string, string>> {
  const vars = ensureDevVars();
  if (name === "origin") return signedHeaders(vars.get("ORIGIN_SIGNING_SECRET")!, { method: "GET", path: "/health", body: "" });
  if (name === "edge" || name === "worker") return { authorization: `Bearer ${vars.get("ADMIN_TOKEN")}` };
  return {};
}

async function answers(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return `${url} ${res.ok ? "up" : `answered ${res.status}`}`;
  } catch (error) {
    return `${url} no answer: ${(error as Error).message}`;
  }
}

/**
 * One row per Kafka node: of the shape `up` last started while any of it runs (so a plain
 * `npm run status` shows a cluster started with KAFKA_NODES=3), else of the configured shape.
 */
function kafkaRows(config: StackConfig, state: StackState | undefined, daemonRow: (name: string, address: string) => ComponentStatus): ComponentStatus[] {
  const running = runningKafkaDaemons(config.home);
  const started = running.length > 0 && state ? { nodes: state.kafka.nodes ?? 1, brokers: state.kafka.brokers } : undefined;
  const nodes = started?.nodes ?? config.kafka.nodes;
  const brokers = started?.brokers ?? kafkaBrokers(config.kafka);
  const version = `Apache Kafka ${state?.kafka.version ?? KAFKA_VERSION}`;
  const rows = brokers.map((address, i) => ({
    ...daemonRow(kafkaDaemon(nodes, i + 1), address),
    detail: nodes === 1 ? version : `${version}, node ${i + 1} of ${nodes}`,
  }));
  // Whatever else runs (a node of another shape, left by hand) is shown, so nothing runs unseen.
  for (const d of running) if (!rows.some((r) => r.name === d.name)) rows.push({ ...daemonRow(d.name, "?"), detail: "not of the shape `up` started" });
  return rows;
}

export async function status(config: StackConfig): Promise<ComponentStatus[]> {
  const state = readState(config.home);
  const rows: ComponentStatus[] = [];
  const daemonRow = (name: string, address: string): ComponentStatus => {
    const d = runningDaemon(config.home, name);
    return { name, running: d !== undefined, owner: d ? "ours" : "-", ...(d ? { pid: d.pid } : {}), address };
  };

  const redisRow = daemonRow("redis", state?.redis.url ?? config.redisUrl);
  if (!redisRow.running && state && !state.redis.ours && (await redisAnswers(state.redis.url))) Object.assign(redisRow, { running: true, owner: "external" });
  rows.push(redisRow);

  const pgRow = daemonRow("postgres", state?.postgres.url.replace(/:[^:@/]+@/, ":***@") ?? config.databaseUrl);
  if (!pgRow.running && state && !state.postgres.ours) Object.assign(pgRow, { running: true, owner: "external", detail: "not started by up" });
  rows.push(pgRow);

  rows.push(...kafkaRows(config, state, daemonRow));
  for (const name of serviceNames) {
    const row = daemonRow(name, serviceUrl(config, name));
    if (row.running && name !== "bridge") {
      const h = await health(row.address, await detailsHeaders(name));
      Object.assign(row, { detail: h.text, healthy: h.answered });
    }
    if (row.running && name === "origin") row.detail += `; metrics ${await answers(metricsUrl(config, "origin"))}`;
    rows.push(row);
  }
  return rows;
}

export function formatStatus(rows: ComponentStatus[]): string {
  const cells = (r: ComponentStatus) => [
    r.name,
    !r.running ? "stopped" : r.healthy === false ? "unhealthy" : "running",
    r.owner,
    String(r.pid ?? ""),
    r.address,
    r.detail ?? "",
  ];
  const table = [["part", "state", "owner", "pid", "address", "health"], ...rows.map(cells)];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
