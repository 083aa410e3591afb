import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

const shim = (file: string) => fileURLToPath(new URL(`./test/k6-shim/${file}`, import.meta.url));

export default defineProject({
  // The k6 scripts import k6's own modules: in Node they get the shim.
  resolve: { alias: { "k6/http": shim("http.ts"), "k6/metrics": shim("metrics.ts"), "k6/crypto": shim("crypto.ts"), k6: shim("k6.ts") } },
  test: { name: "load", environment: "node", fileParallelism: false },
});
