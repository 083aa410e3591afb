import type { TestProject } from "vitest/node";
import { stackConfig } from "../src/config";
import { down } from "../src/down";
import { runningKafkaDaemons } from "../src/kafka";
import type { StackState } from "../src/state";
import { up } from "../src/up";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackState;
  }
}

/**
 * Integration tests run against the real stack. A stack the developer already started is used
 * and left running; one started here is stopped when the run ends.
 */
export default async function setup(project: TestProject) {
  const config = stackConfig();
  const wasUp = runningKafkaDaemons(config.home).length > 0;
  const state = await up(config, (line) => console.log(`[stack] ${line}`));
  project.provide("stack", state);
  return async () => {
    if (!wasUp && !process.env.KEEP_STACK) await down(config, (line) => console.log(`[stack] ${line}`));
  };
}
