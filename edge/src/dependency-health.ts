import type { HealthReport } from "@fluxgate/common";

/**
 * How long one look at the edge's dependencies answers /health. /health needs no sign-in, so
 * without this a flood of it would cost one billed Upstash PING and one origin call per request;
 * with it, at most one of each per isolate per window, whatever the request rate.
 */
export const HEALTH_CACHE_MS = 5_000;

/**
 * The isolate's last dependency check, shared by every /health within HEALTH_CACHE_MS of its
 * start (in flight included, so a burst waits for one check instead of starting many). Kept per
 * settings: a changed ORIGIN_URL or Upstash URL is a new config object and checks again.
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
