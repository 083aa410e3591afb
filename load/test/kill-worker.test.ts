/**
 * The demo's kill: it happens, or the demo is told it did not. Run against a stack home of its own
 * where no worker runs (as when the stack was started elsewhere, or the worker already died).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stackConfig } from "@fluxgate/stack";
import { afterAll, expect, it } from "vitest";
import { killAndRestartWorker, type ChaosEvent } from "../src/kill-worker";

const home = mkdtempSync(join(tmpdir(), "fluxgate-kill-test-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

it("refuses, and records no kill, when there is no worker to kill", async () => {
  const events: ChaosEvent[] = [];
  await expect(killAndRestartWorker(stackConfig({ ...process.env, FLUXGATE_HOME: home }), events, () => 0, 0)).rejects.toThrow(/no running worker to kill/);
  expect(events).toEqual([]);
});
