/**
 * The edge's own handling time from its `Server-Timing: edge;dur=<ms>` header
 * (edge/src/http/server-timing.ts): wall time across I/O inside workerd, not CPU. Beside what a
 * client measured, it tells the edge's time from the client's own queueing (its connection pool,
 * its event loop, the machine's cores).
 */
export function edgeMsOf(header: string | string[] | undefined, metric = "edge"): number | undefined {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const entry of values.flatMap((v) => v.split(","))) {
    const [name, ...params] = entry.trim().split(";");
    if (name?.trim() !== metric) continue;
    const dur = params.map((p) => /^\s*dur=([\d.]+)\s*$/.exec(p)?.[1]).find((d) => d !== undefined);
    if (dur !== undefined) return Number(dur);
  }
  return undefined;
}
