import { runService } from "@fluxgate/common/node";
import { loadConfig } from "./config";
import { createWorker } from "./worker";

runService("worker", (logger) => createWorker(loadConfig(), logger));
