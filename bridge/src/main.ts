import { createLogger, handleShutdown } from "@fluxgate/common/node";
import { loadConfig } from "./config";
import { startBridge } from "./index";

const logger = createLogger("bridge");
const config = loadConfig();
const running = await startBridge({ ...config, logger });
handleShutdown(logger, [{ name: "bridge", run: () => running.close() }]);
