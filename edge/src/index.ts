import { Hono } from "hono";
import type { EdgeEnv } from "./env";
import { notFound, onError } from "./errors";
import { serverTiming } from "./http/server-timing";
import { admin } from "./routes/admin";
import { health } from "./routes/health";
import { init } from "./routes/init";
import { order } from "./routes/order";
import { sales } from "./routes/sales";
import { waitingRoom } from "./routes/waiting-room";

const app = new Hono<EdgeEnv>()
  .use(serverTiming)
  .route("/health", health)
  .route("/admin", admin)
  .route("/init", init)
  .route("/order", order)
  .route("/sales", sales)
  .route("/waiting-room", waitingRoom);
app.onError(onError);
app.notFound(notFound);

export default app;
