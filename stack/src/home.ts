import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: stack/src/home.ts is two levels below it. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Everything the stack writes (logs, pids, data, generated config) lives under one
 * gitignored folder, so `down` + `rm -rf .fluxgate` is a complete reset. Tests point
 * FLUXGATE_HOME elsewhere to run a second, independent stack.
 */
export interface StackHome {
  root: string;
  logs: string;
  run: string;
  data: string;
}

/** The checkout's own stack lives here; a stack elsewhere (FLUXGATE_HOME) is a second, independent one. */
export const defaultHomeRoot = join(repoRoot, ".fluxgate");

export function stackHome(root: string = process.env.FLUXGATE_HOME ?? defaultHomeRoot): StackHome {
  const home = { root, logs: join(root, "logs"), run: join(root, "run"), data: join(root, "data") };
  for (const dir of [home.logs, home.run, home.data]) mkdirSync(dir, { recursive: true });
  return home;
}

/**
 * The wrangler CLI the edge workspace depends on (hoisted wherever npm put it), run with this
 * process's Node: the project's own, not the machine's.
 */
export function wranglerCli(): string {
  const manifest = createRequire(join(repoRoot, "edge", "package.json")).resolve("wrangler/package.json");
  return join(dirname(manifest), "bin", "wrangler.js");
}
