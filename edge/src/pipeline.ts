import { signedHeaders } from "@fluxgate/common";
import type { EdgeConfig } from "./config";
import { fetchOrigin } from "./forward";

/** Where an accepted order stands on its way to PostgreSQL, as the origin sees it (origin/src/routes/pipeline.ts). */
export type Pipeline = { outboxBacklog: number; consumerLag: number | null; at: string } | { error: string };

const PATH = "/pipeline";
/** The operator's page refreshes every second: a slow origin must not hold it. */
const PIPELINE_TIMEOUT_MS = 1_000;

/** The origin's outbox backlog and the worker's consumer lag, or why they cannot be read now. */
export async function readPipeline(config: EdgeConfig): Promise<Pipeline> {
  try {
    const headers = await signedHeaders(config.ORIGIN_SIGNING_SECRET, { method: "GET", path: PATH, body: "" });
    const res = await fetchOrigin(config, PATH, { headers }, PIPELINE_TIMEOUT_MS);
    if (!res.ok) {
      await res.body?.cancel();
      return { error: `origin answered ${res.status}` };
    }
    return (await res.json()) as Pipeline;
  } catch (error) {
    return { error: `origin unreachable: ${(error as Error).message}` };
  }
}
