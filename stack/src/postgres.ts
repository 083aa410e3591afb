import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import type { StackConfig } from "./config";
import { runningDaemon, startDaemon, stopDaemon, waitFor } from "./daemon";
import type { Endpoint } from "./endpoint";

const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1)) || "postgres";

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function serverAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres"), connectionTimeoutMillis: 1500 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates the application database when the server has none of that name yet. */
async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (rowCount === 0) await client.query(`create database "${name.replaceAll('"', '""')}"`);
  } catch (error) {
    // Two `up`s racing both try to create it; the loser's "already exists" is fine.
    if (!(error instanceof Error && /already exists/.test(error.message))) throw error;
  } finally {
    await client.end();
  }
}

function postgresBinDir(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], "bin") : undefined;
}

/** initdb and postgres refuse to run as root: run them as the postgres user then. */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
}

/**
 * PostgreSQL at DATABASE_URL if its server answers (the database is created when missing);
 * otherwise a cluster of our own under .fluxgate/ on STACK_POSTGRES_PORT, with trust auth on loopback.
 */
export async function ensurePostgres(config: StackConfig): Promise<Endpoint> {
  const ownUrl = withDatabase(`postgres://postgres@127.0.0.1:${config.ownPostgresPort}`, databaseName(config.databaseUrl));
  let endpoint: Endpoint;
  if (runningDaemon(config.home, "postgres")) endpoint = { url: ownUrl, ours: true };
  else if (await serverAnswers(config.databaseUrl)) endpoint = { url: config.databaseUrl, ours: false };
  else endpoint = await startOwnCluster(config, ownUrl);
  await ensureDatabase(endpoint.url);
  return endpoint;
}

async function startOwnCluster(config: StackConfig, ownUrl: string): Promise<Endpoint> {
  const bin = postgresBinDir();
  if (!bin) {
    throw new Error(
      `PostgreSQL does not answer at ${config.databaseUrl} and no server is installed.\n` +
        "  Install it (apt-get install postgresql), point DATABASE_URL at a running server, or start the origin side with docker-compose.",
    );
  }
  const dataDir = join(config.home.data, "postgres");
  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    mkdirSync(dataDir, { recursive: true });
    if (process.getuid?.() === 0) chownPostgres(dataDir);
    const [cmd, args] = asPostgresUser(join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
    execFileSync(cmd, args, { stdio: "ignore" });
  }
  const [cmd, args] = asPostgresUser(join(bin, "postgres"), [
    "-D",
    dataDir,
    "-p",
    String(config.ownPostgresPort),
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    `unix_socket_directories=${dataDir}`,
  ]);
  startDaemon(config.home, { name: "postgres", command: cmd, args });
  await waitFor("postgres", () => serverAnswers(ownUrl), 30_000);
  return { url: ownUrl, ours: true, started: true };
}

function chownPostgres(...dirs: string[]): void {
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  for (const dir of dirs) chownSync(dir, uid, gid);
}

export const stopPostgres = (config: StackConfig) => stopDaemon(config.home, "postgres", 30_000);
