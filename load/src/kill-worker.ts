import { runningDaemon, up, type StackConfig } from "@fluxgate/stack";

export interface ChaosEvent {
  /** Milliseconds since the run started. */
  t: number;
  label: string;
}

/**
 * kill -9 the stack's worker, wait `downForMs`, bring it back with `up`. Rejects when there is no
 * worker of the stack's to kill, or when it did not come back: a demo then fails, it does not
 * pretend the worker was killed.
 */
export async function killAndRestartWorker(config: StackConfig, events: ChaosEvent[], since: () => number, downForMs: number): Promise<void> {
  const worker = runningDaemon(config.home, "worker");
  if (!worker) throw new Error(`no running worker to kill (none started by \`npm run up\` under ${config.home.root})`);
  process.kill(-worker.pid, "SIGKILL");
  events.push({ t: since(), label: `worker killed (kill -9, pid ${worker.pid})` });
  await new Promise((r) => setTimeout(r, downForMs));
  await up(config);
  const back = runningDaemon(config.home, "worker");
  if (!back || back.pid === worker.pid) throw new Error("the worker did not come back after the kill");
  events.push({ t: since(), label: `worker back (pid ${back.pid})` });
}
