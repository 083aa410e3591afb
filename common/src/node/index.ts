export { ConfigError, parseEnv, port } from "./config";
export { createKafka } from "./kafka";
export { createLogger, type Logger } from "./logger";
export { handleShutdown, type ShutdownStep } from "./shutdown";
