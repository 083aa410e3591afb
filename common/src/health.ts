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

/**
 * How long one look at a service's dependencies answers its /health. /health needs no sign-in (a
 * load balancer asks it), so without this a flood of it would cost one probe of each dependency
 * per request (a billed Upstash PING, for the edge and the origin); with it, at most one per
 * window per process or isolate, whatever the request rate.
 */
export const HEALTH_CACHE_MS = 5_000;

/**
 * The last dependency check, shared by every /health within HEALTH_CACHE_MS of its start (in
 * flight included, so a burst waits for one check instead of starting many). Kept per settings:
 * another settings object (the edge's changed ORIGIN_URL or Upstash URL) checks again.
 */
export class DependencyHealth {
  private last: { settings: object; startedAt: number; report: Promise<HealthReport> } | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  check(settings: object, probe: () => Promise<HealthReport>): Promise<HealthReport> {
    const last = this.last;
    if (last && last.settings === settings && this.now() - last.startedAt < HEALTH_CACHE_MS) return last.report;
    const report = probe();
    this.last = { settings, startedAt: this.now(), report };
    return report;
  }
}
