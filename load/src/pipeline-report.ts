/** Numbers and output for the pipeline bench: percentiles, a plain-text table, where results go. */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: load/src/pipeline-report.ts is two levels below it. */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Where the stack keeps its state (the same rule as stack/src/home.ts). */
export const fluxgateHome = () => process.env.FLUXGATE_HOME ?? join(repoRoot, ".fluxgate");

export const intEnv = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
};

/** Nearest-rank percentile of already sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A plain-text table: first row is the header, columns padded, numbers right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const numeric = (s: string) => /^[-+~≥<]?\s?[\d.,]+/.test(s);
  const line = (r: string[]) => r.map((c, i) => (i > 0 && numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");

/** `promise`, or a rejection after `ms` — without a timer left to keep the process alive. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
