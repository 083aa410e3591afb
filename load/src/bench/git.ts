import { spawnSync } from "node:child_process";
import { repoRoot } from "./env";

const git = (...args: string[]) => {
  const r = spawnSync("git", args, { cwd: repoRoot, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout.trim();
};

/** The code a bench runs: HEAD, and the tracked files that differ from it (BENCHMARKS.md itself aside). */
export function codeVersion(): { commit: string; dirty: string[] } {
  const dirty = git("status", "--porcelain", "--untracked-files=no")
    .split("\n")
    .filter((l) => l && !l.endsWith("BENCHMARKS.md"));
  return { commit: git("rev-parse", "HEAD"), dirty };
}

/** "commit `abcdef123456`", with a warning when the tree had changes. */
export const describeVersion = (v: { commit: string; dirty: string[] }) =>
  `commit \`${v.commit.slice(0, 12)}\`${v.dirty.length ? " **plus uncommitted changes**" : ""}`;
