import { LOCAL_DATABASE_URL } from "@fluxgate/common/node";
import { z } from "zod";
import { stackHome, type StackHome } from "./home";

const num = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

const StackEnv = z.object({
  REDIS_URL: z.string().default("redis://127.0.0.1:6379"),
  /** Where `up` starts its own redis-server when REDIS_URL does not answer. */
  STACK_REDIS_PORT: num(6390),
  DATABASE_URL: z.string().default(LOCAL_DATABASE_URL),
  STACK_POSTGRES_PORT: num(5433),
  /** 1 (the demo's and the tests' single node) or a KRaft cluster as production runs (3): see replication() for what it changes. */
  KAFKA_NODES: z.coerce.number().int().min(1).max(9).default(1),
  KAFKA_PORT: num(9092),
  KAFKA_CONTROLLER_PORT: num(9093),
  /** Nodes 2…N of a cluster listen from here, two ports each (client, controller): 9094/9095, 9096/9097, … */
  KAFKA_EXTRA_NODES_PORT: num(9094),
  KAFKA_HEAP_MB: num(512),
  BRIDGE_PORT: num(8079),
  /**
   * The dev identity issuer (JWKS + token endpoint) the local edge trusts. By default 12 above the
   * bridge's port (8091), so a stack whose ports were moved apart gets its own issuer too.
   */
  ISSUER_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  ORIGIN_PORT: num(3000),
  /** The origin's /metrics, apart from the port the edge calls. */
  /** Default: ORIGIN_PORT + 2 (3002), so a stack on moved ports moves it too. */
  ORIGIN_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  WORKER_PORT: num(3001),
  EDGE_PORT: num(8787),
  EDGE_INSPECTOR_PORT: num(9229),
});

export interface StackConfig {
  home: StackHome;
  redisUrl: string;
  ownRedisPort: number;
  databaseUrl: string;
  ownPostgresPort: number;
  kafka: { nodes: number; port: number; controllerPort: number; extraNodesPort: number; heapMb: number };
  ports: { bridge: number; issuer: number; origin: number; originMetrics: number; worker: number; edge: number; edgeInspector: number };
}

/** The stack's settings: defaults match the README; every port can be moved by an environment variable. */
export function stackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const e = StackEnv.parse(env);
  return {
    home: stackHome(env.FLUXGATE_HOME),
    redisUrl: e.REDIS_URL,
    ownRedisPort: e.STACK_REDIS_PORT,
    databaseUrl: e.DATABASE_URL,
    ownPostgresPort: e.STACK_POSTGRES_PORT,
    kafka: {
      nodes: e.KAFKA_NODES,
      port: e.KAFKA_PORT,
      controllerPort: e.KAFKA_CONTROLLER_PORT,
      extraNodesPort: e.KAFKA_EXTRA_NODES_PORT,
      heapMb: e.KAFKA_HEAP_MB,
    },
    ports: {
      bridge: e.BRIDGE_PORT,
      issuer: e.ISSUER_PORT ?? e.BRIDGE_PORT + 12,
      origin: e.ORIGIN_PORT,
      originMetrics: e.ORIGIN_METRICS_PORT ?? e.ORIGIN_PORT + 2,
      worker: e.WORKER_PORT,
      edge: e.EDGE_PORT,
      edgeInspector: e.EDGE_INSPECTOR_PORT,
    },
  };
}
