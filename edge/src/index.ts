import { Hono } from "hono";
import type { EdgeEnv } from "./env";
import { notFound, onError } from "./errors";
import { securityHeaders } from "./http/security-headers";
import { serverTiming } from "./http/server-timing";
import { Isolate } from "./isolate";
import { admin } from "./routes/admin";
import { health } from "./routes/health";
import { holds } from "./routes/holds";
import { init } from "./routes/init";
import { order } from "./routes/order";
import { sales } from "./routes/sales";
import { steer } from "./routes/steer";
import { waitingRoom } from "./routes/waiting-room";

/** The edge as one isolate runs it: its state built once, here, and handed to every route. */
export function createEdge(isolate = new Isolate()) {
  const app = new Hono<EdgeEnv>()
    .use(securityHeaders)
    .use(serverTiming)
    .use(isolate.context())
    .route("/health", health(isolate))
    .route("/admin", admin(isolate))
    .route("/init", init(isolate))
    .route("/order", order(isolate))
    .route("/sales", sales(isolate))
    .route("/sales", steer(isolate))
    .route("/sales", holds(isolate))
    .route("/waiting-room", waitingRoom(isolate));
  app.onError(onError);
  app.notFound(notFound);
  return app;
}

export default createEdge();
