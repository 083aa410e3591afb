import { runService } from "@fluxgate/common/node";
import { loadConfig } from "./config";
import { startBridge, type RunningBridge } from "./index";

runService("bridge", (logger) => {
  const config = loadConfig();
  let running: RunningBridge | undefined;
  return {
    async start() {
      running = await startBridge({ ...config, logger });
      return { url: running.url };
    },
    stop: async () => running?.close(),
  };
});
