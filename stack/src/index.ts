/** What tools outside the stack (the demo, the benches) use to drive it. */
export { audit, type AuditReport, type AuditTargets } from "./audit";
export { stackConfig, type StackConfig } from "./config";
export { runningDaemon, sleep } from "./daemon";
export { repoRoot, stackHome, wranglerCli } from "./home";
export { down } from "./down";
export { ensureDevVars } from "./secrets";
export { ensureService, stopService } from "./services";
export { readState, type StackState } from "./state";
export { up } from "./up";
