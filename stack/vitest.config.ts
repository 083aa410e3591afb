import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "stack", environment: "node", exclude: ["test/edge-isolates/**", "**/node_modules/**"], testTimeout: 120_000, hookTimeout: 300_000 },
});
