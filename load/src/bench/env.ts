import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureDevVars, repoRoot, stackHome } from "@fluxgate/stack";

export { compatibilityDate, compatibilityFlags, moduleRules, repoRoot, wranglerVars } from "@fluxgate/stack";

/** Where the stack keeps its state: the stack's own rule (FLUXGATE_HOME or <repo>/.fluxgate). */
export const fluxgateHome = () => stackHome().root;

/** The parts of .fluxgate/stack.json (written by `npm run up`) the bench needs. */
export interface StackInfo {
  redisUrl: string;
  bridgeUrl: string;
  bridgeToken: string;
  originUrl: string;
  /** The stack's dev identity issuer (the tokens' iss; its JWKS and token endpoints). */
  issuer: { url: string; jwksUrl: string; audience: string };
}

function readStackJson(): StackInfo | undefined {
  try {
    const s = JSON.parse(readFileSync(join(fluxgateHome(), "stack.json"), "utf8")) as {
      redis: { url: string };
      bridge: { url: string; token: string };
      origin: { url: string };
      issuer: StackInfo["issuer"];
    };
    return { redisUrl: s.redis.url, bridgeUrl: s.bridge.url, bridgeToken: s.bridge.token, originUrl: s.origin.url, issuer: s.issuer };
  } catch {
    return undefined;
  }
}

async function answers(stack: StackInfo): Promise<boolean> {
  try {
    const bridge = await fetch(stack.bridgeUrl, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.bridgeToken}`, "content-type": "application/json" },
      body: JSON.stringify(["PING"]),
      signal: AbortSignal.timeout(3_000),
    });
    const origin = await fetch(new URL("/health", stack.originUrl), { signal: AbortSignal.timeout(3_000) });
    await origin.body?.cancel();
    return bridge.ok && origin.ok;
  } catch {
    return false;
  }
}

/**
 * The running local stack; when it is not (fully) up, `npm run up` starts what is missing
 * (idempotent: it changes nothing that runs) and the state is read again.
 */
export async function ensureStack(log: (line: string) => void): Promise<StackInfo> {
  const known = readStackJson();
  if (known?.issuer && (await answers(known))) return known;
  log("the local stack is not answering: running `npm run up` …");
  const up = spawnSync("npm", ["run", "--silent", "up"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  if (up.status !== 0) throw new Error(`npm run up failed (exit ${up.status})`);
  const started = readStackJson();
  if (!started?.issuer || !(await answers(started))) throw new Error("the stack still does not answer after `npm run up`: see .fluxgate/logs/");
  return started;
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
