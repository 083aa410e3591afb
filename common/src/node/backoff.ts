/**
 * How long to wait before attempt `attempt` (0-based) of something that keeps failing: doubling
 * from `baseMs`, capped at `maxMs`, with jitter (50–100 %) so retrying peers do not fall in step.
 */
export function backoffMs(attempt: number, maxMs: number, baseMs = 100): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16)) * (0.5 + Math.random() / 2);
}
