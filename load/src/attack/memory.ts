import { readFileSync } from "node:fs";
import { processesInGroup, runningDaemon, stackConfig } from "@fluxgate/stack";

/**
 * The stack's edge in memory: the resident size of its workerd (every isolate of it, one process),
 * from /proc. The edge exposes nothing about an isolate's heap; what a flood of distinct names
 * may grow is bounded in code (LRU maps) and tested with a million ids (edge/test/*-unit.test.ts).
 * Undefined when the edge is not the stack's own daemon or /proc cannot say.
 */
export function edgeResidentMb(): number | undefined {
  const edge = runningDaemon(stackConfig().home, "edge");
  if (!edge) return undefined;
  let kb = 0;
  for (const pid of processesInGroup(edge.pid)) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd")) continue;
      kb += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      /* exited while we looked */
    }
  }
  return kb > 0 ? kb / 1024 : undefined;
}
