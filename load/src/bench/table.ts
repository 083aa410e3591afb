/** A plain-text table: first row is the header, columns padded, numbers right-aligned. */
export function table(rows: (string | number)[][], options: { alignNumbers?: boolean } = {}): string {
  const align = options.alignNumbers ?? true;
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const numeric = (s: string) => /^[-+]?[\d.,]+(×|%| ms| µs)?$/.test(s);
  const line = (r: string[]) =>
    r
      .map((c, i) => (align && numeric(c) && i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const r of cells.slice(1)) out.push(line(r));
  return out.join("\n");
}

/** A number for BENCHMARKS.md: thousands separated, exactly `digits` decimals. */
export const fmtNumber = (x: number, digits = 0) => x.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
/** One row of a Markdown table. */
export const markdownRow = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;

export const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");
export const fmtRatio = (n: number) => `${n.toFixed(2)}×`;
export const fmtMs = (n: number) => `${n} ms`;
export const fmtCodes = (codes: Record<string, number>) =>
  Object.entries(codes)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code}:${count}`)
    .join(" ");
