import { ensureDevVars, stackConfig, stackHome, up } from "@fluxgate/stack";

export { compatibilityDate, compatibilityFlags, moduleRules, repoRoot, wranglerVars } from "@fluxgate/stack";

/** Where the stack keeps its state: the stack's own rule (FLUXGATE_HOME or <repo>/.fluxgate). */
export const fluxgateHome = () => stackHome().root;

/** The parts of the stack's state (`npm run up`) the benches need. */
export interface StackInfo {
  redisUrl: string;
  bridgeUrl: string;
  bridgeToken: string;
  originUrl: string;
  /** The origin's Prometheus /metrics (its hold sweeps, for one). */
  originMetricsUrl: string;
  /** The worker's database: where a bench sees what reached PostgreSQL. */
  databaseUrl: string;
  /** The stack's dev identity issuer (the tokens' iss; its JWKS and token endpoints). */
  issuer: { url: string; jwksUrl: string; audience: string };
  /** The stack's own edge (EDGE_ISOLATES isolates behind a round-robin). */
  edgeUrl: string;
}

/**
 * The running local stack: the stack's own `up`, which starts (or restarts) whatever is not
 * running or not healthy and leaves the rest alone, then says where each part listens.
 */
export async function ensureStack(log: (line: string) => void): Promise<StackInfo> {
  const s = await up(stackConfig(), log);
  return {
    redisUrl: s.redis.url,
    bridgeUrl: s.bridge.url,
    bridgeToken: s.bridge.token,
    originUrl: s.origin.url,
    originMetricsUrl: s.origin.metricsUrl,
    databaseUrl: s.postgres.url,
    issuer: s.issuer,
    edgeUrl: s.edge.url,
  };
}

/** The local secrets (.dev.vars), as the stack keeps them: written from .dev.vars.example when missing. */
export function readDevVars(): Record<string, string> {
  return Object.fromEntries(ensureDevVars());
}

/** Integer setting from the environment, e.g. BENCH_SECONDS=5. */
export function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return value;
}
