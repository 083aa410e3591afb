/**
 * The stack's edge: the bundle `wrangler deploy` would upload, run as EDGE_ISOLATES isolates
 * (default 4) in one workerd behind a round-robin router on EDGE_PORT. Started by `npm run up` as
 * the "edge" daemon; `npm run dev` (plain `wrangler dev`) stays the hot-reload loop.
 *
 * Bindings: wrangler.toml [vars], every value of .dev.vars (as `wrangler dev` reads them), then
 * this stack's own addresses and dev issuer (UPSTASH_REDIS_REST_URL, ORIGIN_URL, JWT_* from the environment).
 */
import { join } from "node:path";
import { stackConfig } from "../config";
import { ensureDevVars } from "../secrets";
import { buildEdge, wranglerVars } from "./bundle";
import { edgeIsolates, startIsolates } from "./isolates";

const config = stackConfig();
const isolates = edgeIsolates();
const addresses = Object.fromEntries(
  ["UPSTASH_REDIS_REST_URL", "ORIGIN_URL", "JWT_ISSUER", "JWT_JWKS_URL", "JWT_AUDIENCE"].flatMap((name) =>
    process.env[name] ? [[name, process.env[name]!]] : [],
  ),
);

const built = await buildEdge(join(config.home.run, "edge-bundle"));
const edge = await startIsolates({
  scriptPath: built.scriptPath,
  isolates,
  bindings: { ...wranglerVars(), ...Object.fromEntries(ensureDevVars()), ...addresses },
  logPath: join(config.home.logs, "edge-workerd.log"),
  port: config.ports.edge,
});
console.log(`edge listening on ${edge.url.origin}: ${isolates} isolates (workerd, wrangler ${built.wranglerVersion} bundle), round-robin`);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping the edge`);
  await edge.dispose();
  process.exit(0);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
