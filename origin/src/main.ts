import { createLogger, handleShutdown } from "@fluxgate/common/node";
import { loadConfig } from "./config";
import { createOrigin } from "./origin";

const logger = createLogger("origin");
const origin = createOrigin(loadConfig(), logger);
handleShutdown(logger, origin.shutdownSteps);
await origin.start();
