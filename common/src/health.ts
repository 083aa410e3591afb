/** A cheap call that proves a dependency answers (PING, SELECT 1, a metadata request). */
export type Probe = () => Promise<unknown>;

export interface DependencyState {
  ok: boolean;
  ms: number;
  error?: string;
}

export interface HealthReport {
  service: string;
  status: "ok" | "degraded";
  dependencies: Record<string, DependencyState>;
}

/**
 * Runs every probe concurrently, each bounded by `timeoutMs`, so one hung dependency
 * makes /health say so instead of hanging the health check itself.
 */
export async function probeAll(service: string, probes: Record<string, Probe>, timeoutMs = 2000): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]): Promise<[string, DependencyState]> => {
      const started = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([probe(), timeout]);
        return [name, { ok: true, ms: Date.now() - started }];
      } catch (error) {
        return [name, { ok: false, ms: Date.now() - started, error: error instanceof Error ? error.message : String(error) }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const dependencies = Object.fromEntries(entries);
  return { service, status: entries.every(([, s]) => s.ok) ? "ok" : "degraded", dependencies };
}

export const healthStatusCode = (report: HealthReport) => (report.status === "ok" ? 200 : 503);
