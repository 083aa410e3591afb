import { defineProject } from "vitest/config";

export default defineProject({
  // One Chromium at a time on a 2-core machine; each test drives a real sale on the stack's edge.
  test: { name: "waiting-room", environment: "node", testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false },
});
