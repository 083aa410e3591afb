import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Brings the real stack up once for every project (and down again if it started it).
    globalSetup: ["./stack/test/global-setup.ts"],
    projects: ["common", "bridge", "stack", "edge", "stack/vitest.edge-isolates.config.ts", "waiting-room", "origin", "worker", "load"],
    reporters: ["default", "./stack/test/count-reporter.ts"],
  },
});
