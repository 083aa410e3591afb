/** What tools outside the stack (the demo, the benches) use to drive it. */
export { audit, auditClean, realPathLatency, type AuditReport, type AuditTargets, type RealPathLatency } from "./audit";
export { stackConfig, type StackConfig } from "./config";
export { processesInGroup, runningDaemon, sleep } from "./daemon";
export { repoRoot, stackHome, wranglerCli } from "./home";
export { down } from "./down";
export { ensureDevVars } from "./secrets";
export { ensureService, stopService } from "./services";
export { readState, type StackState } from "./state";
export { up } from "./up";
export { buildEdge, compatibilityDate, compatibilityFlags, moduleRules, wranglerVars } from "./edge/bundle";
export { edgeIsolates, ISOLATE_HEADER, isolateOf, startIsolates, type RunningIsolates } from "./edge/isolates";
export { countingUpstash, total as totalCommands } from "./edge/command-counter";
export { mintToken, mintTokens } from "./issuer/client";
export { checkDraw, fetchPublishedDraw, type BuyerPlace, type DrawCheck, type PublishedDraw } from "./lottery/check";
