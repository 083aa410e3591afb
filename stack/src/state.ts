import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StackHome } from "./home";

/** What `up` resolved: the addresses tests, tools and `status` use, and which parts are ours. */
export interface StackState {
  redis: { url: string; ours: boolean };
  postgres: { url: string; ours: boolean };
  /** brokers: every node's client address (node 1 first); nodes: how many (absent in a state written before clusters: 1). */
  kafka: { brokers: string[]; nodes?: number; version: string };
  bridge: { url: string; token: string };
  /** The dev identity issuer: its URL is the tokens' `iss`; JWKS at jwksUrl, tokens from POST /token and /tokens. */
  issuer: { url: string; jwksUrl: string; audience: string };
  /** metricsUrl: the origin's Prometheus /metrics, on a port of its own. */
  origin: { url: string; metricsUrl: string };
  worker: { url: string };
  edge: { url: string };
}

const statePath = (home: StackHome) => join(home.root, "stack.json");

export function writeState(home: StackHome, state: StackState): void {
  writeFileSync(statePath(home), JSON.stringify(state, null, 2), { mode: 0o600 });
}

export function readState(home: StackHome): StackState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(home), "utf8")) as StackState;
  } catch {
    return undefined;
  }
}
