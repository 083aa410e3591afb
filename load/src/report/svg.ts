/**
 * Small, dependency-free SVG charts for self-contained HTML reports: a report must open from a
 * file, offline, years later, so nothing is loaded from anywhere.
 */
export interface LineSeries {
  name: string;
  color: string;
  points: [x: number, y: number][];
}

export interface Marker {
  x: number;
  label: string;
}

/** A stretch of the x axis to shade (e.g. a pause), from `from` to `to`. */
export interface Band {
  from: number;
  to: number;
  label: string;
}

const W = 760;
const H = 260;
const PAD = { left: 56, right: 16, top: 28, bottom: 36 };
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v) ?? 10 * p;
}

function legend(series: { name: string; color: string }[]): string {
  return series
    .map(
      (s, i) =>
        `<g transform="translate(${PAD.left + i * 150},12)"><rect width="12" height="12" rx="2" fill="${s.color}"/><text x="18" y="10" font-size="12">${esc(s.name)}</text></g>`,
    )
    .join("");
}

/** Lines over a shared x axis (seconds), with optional vertical markers for events and shaded bands behind the lines. */
export function lineChart(title: string, series: LineSeries[], opts: { xLabel: string; yLabel: string; markers?: Marker[]; bands?: Band[] }): string {
  const xs = [...series.flatMap((s) => s.points.map((p) => p[0])), ...(opts.bands ?? []).map((b) => b.to)];
  const xMax = Math.max(1, ...xs);
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1]))));
  const x = (v: number) => PAD.left + (v / xMax) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / yMax) * (H - PAD.top - PAD.bottom);
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(f * yMax)}" y2="${y(f * yMax)}" stroke="#ddd"/><text x="${PAD.left - 6}" y="${y(f * yMax) + 4}" font-size="11" text-anchor="end">${Math.round(f * yMax).toLocaleString("en")}</text>`,
    )
    .join("");
  const ticks = Array.from({ length: 6 }, (_, i) => (i / 5) * xMax)
    .map((v) => `<text x="${x(v)}" y="${H - PAD.bottom + 16}" font-size="11" text-anchor="middle">${v.toFixed(v < 10 ? 1 : 0)}</text>`)
    .join("");
  const lines = series
    .filter((s) => s.points.length > 0)
    .map(
      (s) =>
        `<path fill="none" stroke="${s.color}" stroke-width="2" d="${s.points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("")}"><title>${esc(s.name)}</title></path>`,
    )
    .join("");
  const marks = (opts.markers ?? [])
    .map(
      (m) =>
        `<line x1="${x(m.x)}" x2="${x(m.x)}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#a50e0e" stroke-dasharray="4 3"/><text x="${x(m.x) + 4}" y="${PAD.top + 12}" font-size="11" fill="#a50e0e">${esc(m.label)}</text>`,
    )
    .join("");
  const shaded = (opts.bands ?? [])
    .map(
      (b) =>
        `<rect x="${x(b.from).toFixed(1)}" y="${PAD.top}" width="${Math.max(2, x(b.to) - x(b.from)).toFixed(1)}" height="${H - PAD.top - PAD.bottom}" fill="#b06000" opacity="0.18"><title>${esc(b.label)}</title></rect><text x="${(x(b.from) + 4).toFixed(1)}" y="${H - PAD.bottom - 6}" font-size="11" fill="#b06000">${esc(b.label)}</text>`,
    )
    .join("");
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${legend(series)}${shaded}${grid}${ticks}${lines}${marks}
<text x="${(W + PAD.left) / 2}" y="${H - 4}" font-size="12" text-anchor="middle">${esc(opts.xLabel)}</text>
<text x="14" y="${H / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${esc(opts.yLabel)}</text></svg></figure>`;
}

export interface BarGroup {
  label: string;
  values: { name: string; color: string; value: number }[];
}

/** Grouped bars: one group per bucket (e.g. a latency range), one bar per series. */
export function barChart(title: string, groups: BarGroup[], opts: { xLabel: string; yLabel: string }): string {
  const names = groups[0]?.values.map((v) => ({ name: v.name, color: v.color })) ?? [];
  const yMax = niceMax(Math.max(0, ...groups.flatMap((g) => g.values.map((v) => v.value))));
  const y = (v: number) => H - PAD.bottom - (v / yMax) * (H - PAD.top - PAD.bottom);
  const slot = (W - PAD.left - PAD.right) / Math.max(1, groups.length);
  const bar = (slot * 0.8) / Math.max(1, names.length);
  const grid = [0, 0.5, 1]
    .map(
      (f) =>
        `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(f * yMax)}" y2="${y(f * yMax)}" stroke="#ddd"/><text x="${PAD.left - 6}" y="${y(f * yMax) + 4}" font-size="11" text-anchor="end">${Math.round(f * yMax).toLocaleString("en")}</text>`,
    )
    .join("");
  const bars = groups
    .map((g, gi) => {
      const x0 = PAD.left + gi * slot + slot * 0.1;
      const rects = g.values
        .map(
          (v, vi) =>
            `<rect x="${(x0 + vi * bar).toFixed(1)}" y="${y(v.value).toFixed(1)}" width="${(bar - 1).toFixed(1)}" height="${(H - PAD.bottom - y(v.value)).toFixed(1)}" fill="${v.color}"><title>${esc(`${v.name} ${g.label}: ${v.value}`)}</title></rect>`,
        )
        .join("");
      return `${rects}<text x="${x0 + slot * 0.4}" y="${H - PAD.bottom + 16}" font-size="11" text-anchor="middle">${esc(g.label)}</text>`;
    })
    .join("");
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${legend(names)}${grid}${bars}
<text x="${(W + PAD.left) / 2}" y="${H - 4}" font-size="12" text-anchor="middle">${esc(opts.xLabel)}</text>
<text x="14" y="${H / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${esc(opts.yLabel)}</text></svg></figure>`;
}

export function htmlTable(head: string[], rows: (string | number)[][]): string {
  const cell = (c: string | number, tag: string) => `<${tag}>${esc(typeof c === "number" ? c.toLocaleString("en") : c)}</${tag}>`;
  return `<table><thead><tr>${head.map((h) => cell(h, "th")).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => cell(c, "td")).join("")}</tr>`).join("")}</tbody></table>`;
}

export function htmlPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;color:#111;background:#fff;max-width:60rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem}figure{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.3rem}svg{width:100%;height:auto;border:1px solid #e5e5e5;border-radius:6px;font-family:system-ui,sans-serif}
table{border-collapse:collapse;margin:1rem 0}td,th{border-bottom:1px solid #e5e5e5;padding:.3rem .8rem;text-align:right}td:first-child,th:first-child{text-align:left}
.ok{color:#146c2e;font-weight:700}.bad{color:#a50e0e;font-weight:700}pre{background:#f6f6f6;padding:.8rem;border-radius:6px;overflow:auto}</style></head><body>${body}</body></html>`;
}
