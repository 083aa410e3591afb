export { backoffMs } from "./backoff";
export { brokerList, ConfigError, int, kafkaBrokersFromEnv, LOCAL_DATABASE_URL, LOCAL_KAFKA_BROKERS, milliseconds, parseEnv, port } from "./config";
export { consumerLag, createKafka } from "./kafka";
export { createLogger, type Logger } from "./logger";
export { bearerAccess, createRegistry, healthRoute, metricsRoute, opsRoutes, type DetailsAccess } from "./ops";
export { runService, type NodeService } from "./service";
export { handleShutdown, type ShutdownStep } from "./shutdown";
export {
  createTracerProvider,
  endSpan,
  linkTo,
  MAX_SPAN_LINKS,
  serviceTracer,
  shutdownTracing,
  SpanKind,
  startChildSpan,
  traceparentOf,
  type Link,
  type Span,
  type Tracer,
} from "./tracing";
