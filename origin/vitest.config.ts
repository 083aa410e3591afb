import { defineProject } from "vitest/config";

export default defineProject({ test: { name: "origin", environment: "node", testTimeout: 60000 } });
