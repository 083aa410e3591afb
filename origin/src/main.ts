import { runService } from "@fluxgate/common/node";
import { loadConfig } from "./config";
import { createOrigin } from "./origin";

runService("origin", (logger) => createOrigin(loadConfig(), logger));
