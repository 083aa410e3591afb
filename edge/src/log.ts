/**
 * The edge's structured log: one line of JSON per event. Workers Logs turns a JSON line into
 * fields an SRE can query (`traceId = …`); the local stack writes the same line to
 * .fluxgate/logs/edge-workerd.log. JSON.stringify escapes whatever a value holds, so no input can
 * split or forge a line. Only events worth a line per order are logged (an accepted order, a
 * failure): the hot path's answers from memory log nothing.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export function logEvent(level: "info" | "warn" | "error", event: string, fields: LogFields): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "info") console.log(line);
  else if (level === "warn") console.warn(line);
  else console.error(line);
}
