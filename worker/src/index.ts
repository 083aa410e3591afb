export { processBatch, type BatchInput, type BatchResult } from "./batch";
export { loadConfig, type WorkerConfig } from "./config";
export { isPoison, type BatchCommitted, type WorkerHooks } from "./consumer";
export { createPool } from "./db";
export { DlqHeaders } from "./dlq";
export { consumerLag } from "@fluxgate/common/node";
export { migrate, readMigrations } from "./migrate";
export type { DlqReason } from "./parse";
export { createWorker, type Worker } from "./worker";
