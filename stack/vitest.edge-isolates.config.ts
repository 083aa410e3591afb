import { defineProject } from "vitest/config";

/**
 * The edge's guarantees in their production shape: the deployable bundle as 4 isolates behind a
 * round-robin, so a retry seldom lands where the first try did, against the real stack.
 */
export default defineProject({
  test: { name: "edge-isolates", environment: "node", include: ["test/edge-isolates/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 180_000 },
});
